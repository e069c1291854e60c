"""Puts the office API on the app: every resource's router, its answer to malformed input and its 405s."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.api import activities, board, households, ledger, participation, signals, tickets, volunteers, vouchers
from bot.api.errors import method_not_allowed, validation_problem


def include_api(app: FastAPI) -> None:
    for module in (tickets, activities, ledger, vouchers, volunteers, households, signals, participation, board):
        app.include_router(module.router)
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(StarletteHTTPException, method_not_allowed)
