"""What every `shegong` command shares: settings, logging, one transaction per command, common options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import typer

from bot.settings import ConfigError, Settings, get_settings
from handlers.clock import CHINA_TZ

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.services import Services


def settings_and_generated() -> tuple[Settings, dict[str, str]]:
    """The settings, with development secrets filled in, and which of those were generated just now."""
    try:
        settings = get_settings()
        settings.restrict_new_files()
        return settings.with_development_secrets()
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


def settings() -> Settings:
    return settings_and_generated()[0]


def setup_logging() -> None:
    from bot import logs

    logs.configure()


def services() -> Services:
    from bot.services import Services

    return Services(settings())


@contextmanager
def transaction() -> Iterator[tuple[Services, Session]]:
    """The services and one transaction for a command; the database connections are closed after it,
    however it ends."""
    built = services()
    try:
        with built.sessions.begin() as open_session:
            yield built, open_session
    finally:
        built.close()


@contextmanager
def session() -> Iterator[Session]:
    """One transaction for a command, for commands that need nothing else of the services."""
    with transaction() as (_, open_session):
        yield open_session


def community_id(session: Session, code: str | None) -> int | None:
    from storage import repositories as repo

    if not code:
        return None
    community = repo.community_by_code(session, code=code)
    if community is None:
        typer.echo(f"no community with code {code!r}", err=True)
        raise typer.Exit(1)
    return community.id


def parse_time(value: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        typer.echo(f"{option}: not an ISO time ({value!r}); e.g. 2026-11-28T09:00", err=True)
        raise typer.Exit(2) from exc
    # Workers write local times; a time without a zone is China time.
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)
