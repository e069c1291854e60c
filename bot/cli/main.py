"""The `shegong` command: serve, worker, migrate, chat, ask, and community management."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli import common
from bot.cli.access import audit_app, key_app
from bot.cli.board import board_app, report_command
from bot.cli.households import device_app, household_app
from bot.cli.kb import kb_app
from bot.cli.participation import proposal_app, vote_app
from bot.cli.volunteers import activity_app, points_app, reward_app, volunteer_app, voucher_app

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.services import Services
    from bot.settings import Settings

app = typer.Typer(
    help="shegong: the AI social worker for residential communities.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
community_app = typer.Typer(help="Load and check community files.", no_args_is_help=True)
app.add_typer(community_app, name="community")
app.add_typer(kb_app, name="kb")
app.add_typer(activity_app, name="activity")
app.add_typer(points_app, name="points")
app.add_typer(voucher_app, name="voucher")
app.add_typer(volunteer_app, name="volunteer")
app.add_typer(reward_app, name="reward")
app.add_typer(key_app, name="key")
app.add_typer(audit_app, name="audit")
app.add_typer(household_app, name="household")
app.add_typer(device_app, name="device")
app.add_typer(board_app, name="board")
app.command("report")(report_command)
app.add_typer(proposal_app, name="proposal")
app.add_typer(vote_app, name="vote")


@app.command()
def migrate() -> None:
    """Bring the database to the newest schema, then load the team's knowledge-base files into it."""
    from bot.cli.kb import sync_command
    from storage.migrate import upgrade

    settings = common.settings()
    upgrade(settings.database_url)
    typer.echo("database is up to date")
    sync_command()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="server processes (the embedded SQLite default: 1)")] = 1,
    access_log: Annotated[bool, typer.Option(help="log every request (a reverse proxy usually does)")] = False,
) -> None:
    """Run the web server (the WeChat webhook); in the embedded default it also drains the outbox."""
    import logging

    import uvicorn

    from bot.logs import UVICORN_LOG_CONFIG

    common.setup_logging()
    settings, generated = common.settings_and_generated()
    _refuse_unready_database(settings)
    for warning in settings.warnings():
        logging.getLogger("shegong").warning(warning)
    if settings.is_development:
        typer.echo(f"development mode; WeChat token: {settings.wechat_token}")
        typer.echo(f"admin token: {settings.admin_token}")
        if generated:
            typer.echo(f"(generated and kept in {settings.data_dir / 'dev-secrets.env'})")
    # An import string, not an app object, so that uvicorn can start the same app in every process;
    # each reads the settings (and the development secrets just kept) for itself.
    uvicorn.run(
        "bot.cli.main:web_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
        log_config=UVICORN_LOG_CONFIG,  # keep our handler: one line per event, with the request id
    )


def _refuse_unready_database(settings: Settings) -> None:
    """Stop with one line when the database cannot be served: unreachable, never migrated, or behind."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import make_engine
    from storage.migrate import schema_problem

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            problem = schema_problem(connection)
    except SQLAlchemyError as exc:
        problem = f"the database cannot be reached ({type(exc).__name__}: {str(exc).strip().splitlines()[0]})"
    finally:
        engine.dispose()
    if problem is not None:
        typer.echo(f"{problem}; run `shegong migrate` first", err=True)
        raise typer.Exit(1)


def web_app() -> FastAPI:
    """The app `shegong serve` runs, built once in each server process."""
    from bot.app import create_app

    common.setup_logging()  # a worker process uvicorn started has not run `serve` itself
    return create_app(common.settings())


@app.command()
def worker() -> None:
    """Drain the outbox and run scheduled checks (production runs one or more of these)."""
    from bot.outbox import OutboxWorker
    from bot.scheduler import scheduled_jobs
    from bot.services import Services

    common.setup_logging()
    settings = common.settings()
    _refuse_unready_database(settings)
    services = Services(settings)
    outbox = OutboxWorker(services)
    outbox.periodic.extend(scheduled_jobs(services))
    typer.echo("worker started; Ctrl-C to stop")
    with contextlib.suppress(KeyboardInterrupt):
        outbox.run_forever()


def _converse(user: str, text: str, settings: Settings) -> dict[str, object]:
    from bot.pipeline import handle_message, record_message
    from handlers.messages import Inbound, reply_text
    from storage.models import utcnow

    services = _services_for(settings)
    msg = Inbound(sender=user, kind="text", text=text, created_at=utcnow(), msg_id=time.time_ns() >> 1, raw_type="text")
    recorded = record_message(services, msg)
    handled = handle_message(services, msg, recorded.inbound_id)
    if handled is None:
        return {"reply": "", "intent": "unknown", "confidence": 0.0, "status": "duplicate"}
    reply = handled.reply
    return {
        "reply": (reply_text(reply) if reply else "") or "",
        "intent": handled.classification.intent.value,
        "confidence": round(handled.classification.confidence, 3),
        "status": handled.status,
    }


# `chat` sends many messages: build the services (and load the models) once per database.
_SERVICES: dict[tuple[str, str], Services] = {}


def _services_for(settings: Settings) -> Services:
    from bot.services import Services

    key = (settings.database_url, str(settings.data_dir))
    if key not in _SERVICES:
        _SERVICES[key] = Services(settings)
    return _SERVICES[key]


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="what the resident says")],
    user: Annotated[str, typer.Option("--user", help="resident id (an OpenID or any name)")] = "cli-user",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Send one message through the real dispatcher and database, and print the reply."""
    result = _converse(user, text, common.settings())
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        typer.echo(str(result["reply"]))


@app.command()
def chat(
    user: Annotated[str, typer.Option("--user", help="resident id (an OpenID or any name)")] = "cli-user",
) -> None:
    """Talk to the bot in the terminal, with the same dispatcher and database as WeChat."""
    settings = common.settings()
    typer.echo("和社工小帮手聊天（输入 exit 退出）")
    for line in sys.stdin if not sys.stdin.isatty() else iter(lambda: input("> "), None):
        text = line.strip()
        if text in ("exit", "quit", "退出"):
            break
        if not text:
            continue
        typer.echo(str(_converse(user, text, settings)["reply"]))


@community_app.command("load")
def community_load(path: Annotated[Path, typer.Argument(help="community YAML file")]) -> None:
    """Validate a community file and load it; nothing is written if any line is wrong."""
    from bot.services import Services
    from handlers.communities import CommunityFileError, load_communities, parse_community_file

    settings = common.settings()
    try:
        spec = parse_community_file(path)
    except (CommunityFileError, OSError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    services = Services(settings)
    with services.sessions.begin() as session:
        codes = load_communities(session, spec)
    typer.echo(f"loaded {len(codes)} communities: {', '.join(codes)}")


@community_app.command("check")
def community_check(path: Annotated[Path, typer.Argument(help="community YAML file")]) -> None:
    """Validate a community file without loading it."""
    from handlers.communities import CommunityFileError, parse_community_file

    try:
        spec = parse_community_file(path)
    except (CommunityFileError, OSError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"ok: {len(spec.communities)} communities")


if __name__ == "__main__":
    app()
