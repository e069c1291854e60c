"""Puts the office API on the app: every resource's router, and its answer to malformed input."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from bot.api import activities, ledger, tickets, volunteers, vouchers
from bot.api.errors import validation_problem


def include_api(app: FastAPI) -> None:
    for module in (tickets, activities, ledger, vouchers, volunteers):
        app.include_router(module.router)
    app.add_exception_handler(RequestValidationError, validation_problem)
