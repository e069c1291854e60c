"""`shegong board` (the public notice board: budgets, allocations, spending, demand, improvement tasks) and
`shegong report` (the monthly report for the residents' council, as text or PDF)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli import common
from handlers.board.rules import POOL_NAMES, PURPOSE_NAMES, SOURCE_NAMES, format_yuan, yuan_to_fen

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from storage.models import Community

board_app = typer.Typer(help="The public notice board: budgets, allocations, spending, demand.", no_args_is_help=True)

CommunityOpt = Annotated[str, typer.Option("--community", help="community code")]
WorkerOpt = Annotated[str, typer.Option("--worker", help="your WeCom userid (who did this)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


@contextmanager
def _board(code: str) -> Iterator[tuple[Session, Community, datetime]]:
    """One transaction, the community and the clock's time; a refusal is printed and nothing is written."""
    from handlers.board.services import BoardRefused
    from storage import repositories as repo

    services = common.services()
    try:
        with services.sessions.begin() as session:
            community = repo.community_by_code(session, code=code)
            if community is None:
                typer.echo(f"no community with code {code!r}", err=True)
                raise typer.Exit(1)
            yield session, community, services.clock()
    except BoardRefused as exc:
        typer.echo(f"refused: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        services.close()


def _fen(text: str, option: str) -> int:
    try:
        return yuan_to_fen(text)
    except ValueError as exc:
        typer.echo(f"{option}: an amount in yuan, e.g. 12000 or 99.50 ({text!r})", err=True)
        raise typer.Exit(2) from exc


def _choice(value: str, known: dict[str, str], option: str) -> str:
    if value not in known:
        typer.echo(f"{option} must be one of: {', '.join(f'{k} ({v})' for k, v in known.items())}", err=True)
        raise typer.Exit(2)
    return value


@board_app.command("budget")
def budget(
    community: CommunityOpt,
    title: Annotated[str, typer.Option("--title", help="e.g. 社区公益金")],
    source: Annotated[str, typer.Option("--source", help="government | company | residents | foundation")],
    amount: Annotated[str, typer.Option("--amount", help="yuan")],
    worker: WorkerOpt,
    period: Annotated[str, typer.Option("--period", help='"2026" or "2026-Q4"')] = "2026",
    note: Annotated[str, typer.Option("--note")] = "",
) -> None:
    """Record money the community has, and where it comes from."""
    from handlers.board.services import record_budget

    source = _choice(source, SOURCE_NAMES, "--source")
    fen = _fen(amount, "--amount")
    with _board(community) as (session, place, now):
        row = record_budget(
            session,
            community=place,
            period=period,
            title=title,
            source=source,
            amount_fen=fen,
            note=note,
            worker=worker,
            now=now,
        )
        typer.echo(f"budget #{row.id}: {row.title} {format_yuan(row.amount_fen)} ({SOURCE_NAMES[row.source]})")


@board_app.command("allocate")
def allocate(
    community: CommunityOpt,
    title: Annotated[str, typer.Option("--title", help="what the money is for")],
    purpose: Annotated[str, typer.Option("--purpose", help=", ".join(PURPOSE_NAMES))],
    amount: Annotated[str, typer.Option("--amount", help="yuan")],
    beneficiaries: Annotated[str, typer.Option("--beneficiaries", help="who benefits")],
    worker: WorkerOpt,
    pool: Annotated[str, typer.Option("--pool", help="base | flexible | reserve")] = "base",
    note: Annotated[str, typer.Option("--note")] = "",
) -> None:
    """Publish an allocation on the board; it can take effect once its notice period is over."""
    from handlers.board.services import local_day, publish_allocation

    purpose = _choice(purpose, PURPOSE_NAMES, "--purpose")
    pool = _choice(pool, POOL_NAMES, "--pool")
    fen = _fen(amount, "--amount")
    with _board(community) as (session, place, now):
        row = publish_allocation(
            session,
            community=place,
            title=title,
            purpose=purpose,
            pool=pool,
            amount_fen=fen,
            beneficiaries=beneficiaries,
            note=note,
            worker=worker,
            now=now,
        )
        typer.echo(f"{row.number} published: {row.title} {format_yuan(row.amount_fen)}")
        typer.echo(
            f"notice period until {local_day(row.notice_ends_at)}; residents object with “异议 {row.number} 理由”"
        )


@board_app.command("effective")
def effective(
    community: CommunityOpt,
    number: Annotated[str, typer.Argument(help="the allocation, e.g. A5")],
    worker: WorkerOpt,
) -> None:
    """Mark an allocation effective: refused while its notice period runs."""
    from handlers.board.services import mark_effective

    with _board(community) as (session, place, now):
        row = mark_effective(session, community=place, allocation_id=_number(number), now=now)
        typer.echo(f"{row.number} is effective")


@board_app.command("objections")
def objections(
    community: CommunityOpt,
    number: Annotated[str, typer.Argument(help="the allocation, e.g. A5")],
) -> None:
    """Residents' objections to an allocation, oldest first (who objected is not shown)."""
    from handlers.board.services import allocation_in, local_day
    from storage import board as store

    with _board(community) as (session, place, _):
        allocation = allocation_in(session, community=place, allocation_id=_number(number))
        found = store.objections_for(session, allocation_id=allocation.id)
        typer.echo(f"{allocation.number} {allocation.title}: {len(found)} objections")
        for row in found:
            typer.echo(f"  {local_day(row.created_at)} {row.reason}")


@board_app.command("progress")
def progress(
    community: CommunityOpt,
    number: Annotated[str, typer.Argument(help="the allocation, e.g. A5")],
    percent: Annotated[int, typer.Option("--percent", min=0, max=100, help="0-100")],
    worker: WorkerOpt,
) -> None:
    """Record how far an allocation has got."""
    from handlers.board.services import set_progress

    with _board(community) as (session, place, now):
        row = set_progress(session, community=place, allocation_id=_number(number), progress=percent, now=now)
        typer.echo(f"{row.number}: {row.progress}%")


@board_app.command("spend")
def spend(
    community: CommunityOpt,
    number: Annotated[str, typer.Argument(help="the allocation, e.g. A5")],
    amount: Annotated[str, typer.Option("--amount", help="yuan")],
    note: Annotated[str, typer.Option("--note", help="what was bought or paid")],
    worker: WorkerOpt,
    when: Annotated[str | None, typer.Option("--when", help="ISO time (China time if no zone); default now")] = None,
) -> None:
    """Record a spending under an allocation (never more than the allocation in all)."""
    from handlers.board.services import record_spending

    fen = _fen(amount, "--amount")
    spent_at = common.parse_time(when, "--when") if when else None
    with _board(community) as (session, place, now):
        row = record_spending(
            session,
            community=place,
            allocation_id=_number(number),
            amount_fen=fen,
            note=note,
            spent_at=spent_at or now,
            worker=worker,
            now=now,
        )
        typer.echo(f"A{row.allocation_id}: spent {format_yuan(row.amount_fen)} ({row.note})")


def _number(text: str) -> int:
    digits = text.strip().upper().removeprefix("A")
    if not digits.isdigit() or not 0 < int(digits) < 2**31:
        typer.echo(f"an allocation is written like A5, not {text!r}", err=True)
        raise typer.Exit(2)
    return int(digits)


@board_app.command("list")
def list_board(community: CommunityOpt, as_json: JsonOpt = False) -> None:
    """What the public board shows."""
    from dataclasses import asdict

    from handlers.board.services import board_view

    with _board(community) as (session, place, now):
        view = board_view(session, community=place, now=now)
    if as_json:
        typer.echo(json.dumps(asdict(view), ensure_ascii=False, indent=2))
        return
    typer.echo(f"{view.name}: budget {format_yuan(view.budget_fen)}, allocated {format_yuan(view.allocated_fen)}")
    for a in view.allocations:
        state = f"notice, {a.days_left} days left" if a.in_notice else a.status
        typer.echo(
            f"{a.number} {a.title} {format_yuan(a.amount_fen)} [{a.purpose_name}] {state}; "
            f"{a.progress}% · {a.objections} objections"
        )


@board_app.command("suggest")
def suggest(
    community: CommunityOpt,
    budget_yuan: Annotated[str | None, typer.Option("--budget", help="yuan; default: every budget recorded")] = None,
    adjust: Annotated[
        list[str] | None, typer.Option("--set", help="purpose=yuan, to change a line (repeatable)")
    ] = None,
    publish: Annotated[bool, typer.Option("--publish", help="publish the (adjusted) split as allocations")] = False,
    worker: Annotated[str, typer.Option("--worker", help="your WeCom userid (with --publish)")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Last quarter's demand and the suggested split of the flexible budget; --set and --publish to act on it."""
    from dataclasses import asdict

    from handlers.board.demand import publish_split, suggest_split

    total = _fen(budget_yuan, "--budget") if budget_yuan else None
    changes: dict[str, int] = {}
    for item in adjust or []:
        purpose, _, yuan = item.partition("=")
        changes[_choice(purpose.strip(), PURPOSE_NAMES, "--set")] = _fen(yuan, "--set")
    if publish and not worker:
        typer.echo("--publish needs --worker (who publishes)", err=True)
        raise typer.Exit(2)
    with _board(community) as (session, place, now):
        found = suggest_split(session, community=place, now=now, total_fen=total)
        amounts = {line.purpose: line.amount_fen for line in found.lines} | changes
        if as_json:
            typer.echo(json.dumps(asdict(found) | {"adjusted": amounts}, ensure_ascii=False, indent=2, default=str))
        else:
            typer.echo(
                f"budget {format_yuan(found.total_fen)}: base {format_yuan(found.base_fen)}, "
                f"flexible {format_yuan(found.flexible_fen)} (of which reserve {format_yuan(found.reserve_fen)})"
            )
            for line in found.lines:
                typer.echo(
                    f"  {line.name}: {line.tickets} tickets, {line.questions} questions, {line.proposals} proposals"
                    f" ({line.share:g}%) -> {format_yuan(amounts[line.purpose])}"
                )
            for purpose in sorted(set(changes) - {line.purpose for line in found.lines}):
                typer.echo(f"  {PURPOSE_NAMES[purpose]}: (set by hand) -> {format_yuan(changes[purpose])}")
            if not found.lines:
                typer.echo("  no tickets or questions last quarter: nothing to suggest")
        if publish:
            rows = publish_split(session, community=place, suggestion=found, amounts=amounts, worker=worker, now=now)
            for row in rows:
                typer.echo(f"{row.number} published: {row.title} {format_yuan(row.amount_fen)}")


@board_app.command("tasks")
def tasks(community: CommunityOpt, as_json: JsonOpt = False) -> None:
    """Satisfaction improvement tasks: the rate that opened each beside the rate since."""
    from storage import satisfaction as sstore

    with _board(community) as (session, place, _):
        found = sstore.tasks_for(session, community_id=place.id)
        lines = [
            {
                "number": t.number,
                "scope": t.scope,
                "name": t.scope_name,
                "status": t.status,
                "opened": f"{t.rate_opened:g}% of {t.ratings_opened}",
                "since": f"{t.rate_latest:g}% of {t.ratings_latest}" if t.rate_latest is not None else "-",
                "review": t.review_at.isoformat(),
                "tickets": [x.get("code") for x in t.tickets],
            }
            for t in found
        ]
    if as_json:
        typer.echo(json.dumps(lines, ensure_ascii=False, indent=2))
        return
    for line in lines:
        typer.echo(
            f"{line['number']} {line['scope']} {line['name']} {line['status']}: opened at {line['opened']}, "
            f"since {line['since']}; review {line['review'][:10]}; tickets {', '.join(map(str, line['tickets']))}"
        )
    if not lines:
        typer.echo("no improvement tasks")


def report_command(
    month: Annotated[str, typer.Option("--month", help="e.g. 2026-11")],
    community: CommunityOpt,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="write the report as a PDF with its charts here")] = None,
) -> None:
    """The monthly report for the residents' council: tickets, satisfaction, volunteering, points, money."""
    from handlers.board.report import monthly_report, parse_month

    try:
        parse_month(month)
    except ValueError as exc:
        typer.echo(f"--month: {exc}", err=True)
        raise typer.Exit(2) from exc
    with _board(community) as (session, place, _):
        report = monthly_report(session, community=place, month=month)
    if pdf is not None:
        from bot.board_pdf import report_pdf

        data = report_pdf(report)
        try:
            pdf.write_bytes(data)
        except OSError as exc:
            typer.echo(f"--pdf: cannot write {pdf}: {exc.strerror}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"wrote {pdf} ({len(data)} bytes)")
        return
    typer.echo(report.title)
    typer.echo(f"tickets: {report.reported} reported, {report.handled} handled, {report.on_time_rate}% on time")
    typer.echo(f"satisfaction: {report.satisfaction_rate}% of {report.ratings} ratings")
    typer.echo(f"volunteering: {report.volunteer_hours} hours by {report.volunteers} people")
    typer.echo(f"points: {report.points_awarded} awarded, {report.points_redeemed} redeemed")
    typer.echo(f"money: budget {format_yuan(report.budget_fen)}, allocated {format_yuan(report.allocated_fen)}")
