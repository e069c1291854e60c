"""How the office API refuses: one Problem body for every refusal, FastAPI's own shape for malformed input (422).

Routes raise `HTTPException(status, detail)`, whose body is exactly `Problem`; a rule that only the route
can check on the input (who must name the acting worker) raises `invalid()`, whose body is the same 422 a
bad field gets. Each route declares the answers it can really give with `answers(...)`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from bot.api.models import ActionRefused, Problem

_WHY: dict[int, str] = {
    400: "the body is not JSON text in UTF-8; nothing was changed",
    401: "missing, wrong or revoked bearer token",
    403: "this key is for another community or another worker",
    404: "no such record, or not one this key may see",
    409: "the record is not in a state that allows this; nothing was changed",
    503: "the audit log cannot be written just now; nothing was read or changed",
}

_AUTHENTICATE = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}


def answers(*statuses: int, model: type[Problem] = Problem) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that can refuse with these statuses (401 and 503 are on every route)."""
    declared: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        declared[status] = {"model": model, "description": _WHY[status]}
    return declared


# Every /api/ route authenticates and writes the audit log first.
EVERY_ROUTE: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": _WHY[401], "headers": _AUTHENTICATE},
    503: {"model": Problem, "description": _WHY[503]},
}


def refused(status: int, message: str) -> JSONResponse:
    """A ticket action's refusal: a Problem that also carries what WeCom would have answered."""
    body = ActionRefused(detail=message, message=message)
    return JSONResponse(body.model_dump(), status_code=status)


def invalid(where: tuple[str, ...], message: str) -> RequestValidationError:
    """A 422 shaped like pydantic's, for a rule that depends on more than the field itself."""
    return RequestValidationError([{"type": "value_error", "loc": where, "msg": message}])


def _printable(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


async def validation_problem(request: Request, exc: Exception) -> Response:
    """422 for malformed input under /api/, without echoing the input back.

    The input may be what made it malformed: NaN cannot be written as JSON and a lone surrogate cannot be
    encoded, so echoing it would turn a refusal into a server error.
    """
    assert isinstance(exc, RequestValidationError)
    if not request.url.path.startswith("/api/"):
        return await request_validation_exception_handler(request, exc)
    errors = [
        {
            "type": str(error.get("type", "value_error")),
            "loc": [part if isinstance(part, int) else _printable(str(part)) for part in error.get("loc", ())],
            "msg": _printable(str(error.get("msg", ""))),
        }
        for error in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    """405 under /api/ with an Allow header naming every documented method of the path.

    A path such as /api/activities has a route per method, and Starlette's 405 names none or only the
    first; the OpenAPI document knows them all.
    """
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code != 405 or not request.url.path.startswith("/api/"):
        return await http_exception_handler(request, exc)
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern, _, _ = compile_path(template)
        if pattern.match(request.url.path):
            methods |= {method.upper() for method in operations}
    return JSONResponse(
        {"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": ", ".join(sorted(methods))}
    )
