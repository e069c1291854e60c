"""`shegong activity`, `shegong points`, `shegong voucher` and `shegong volunteer`: the workers' commands."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bot.cli import common
from handlers.volunteering.rules import ACTIVITY_KINDS, month_bounds

activity_app = typer.Typer(help="Create and list activities.", no_args_is_help=True)
points_app = typer.Typer(help="Correct the points ledger.", no_args_is_help=True)
voucher_app = typer.Typer(help="Vouchers residents redeemed their points for.", no_args_is_help=True)
volunteer_app = typer.Typer(help="Volunteers and their hours.", no_args_is_help=True)
reward_app = typer.Typer(help="The rewards catalogue and its stock.", no_args_is_help=True)


@activity_app.command("create")
def activity_create(
    title: Annotated[str, typer.Option("--title", help="what residents see")],
    kind: Annotated[str, typer.Option("--kind", help="meeting | volunteer | skill_share")],
    start: Annotated[str, typer.Option("--start", help="ISO start time (China time if no zone)")],
    end: Annotated[str, typer.Option("--end", help="ISO end time")],
    place: Annotated[str, typer.Option("--place", help="where")] = "",
    community: Annotated[str | None, typer.Option("--community", help="community code")] = None,
    capacity: Annotated[int | None, typer.Option("--capacity", help="places; none means unlimited")] = None,
    latitude: Annotated[
        float | None, typer.Option("--lat", help="venue latitude: check-in then needs a location")
    ] = None,
    longitude: Annotated[float | None, typer.Option("--lng", help="venue longitude")] = None,
    radius: Annotated[int | None, typer.Option("--radius", help="metres around the venue")] = None,
    time_bank: Annotated[bool, typer.Option("--time-bank", help="also credit time-bank minutes")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Create an activity; prints its check-in code and the QR image written for it."""
    from handlers.volunteering.activities import activity_json, create_activity_with_qr
    from storage.models import utcnow

    if kind not in ACTIVITY_KINDS:
        typer.echo(f"--kind must be one of {', '.join(ACTIVITY_KINDS)}", err=True)
        raise typer.Exit(2)
    try:
        with common.transaction() as (services, session):
            activity = create_activity_with_qr(
                session,
                data_dir=services.settings.data_dir,
                title=title,
                kind=kind,
                starts_at=common.parse_time(start, "--start"),
                ends_at=common.parse_time(end, "--end"),
                now=utcnow(),
                community_id=common.community_id(session, community),
                place=place,
                capacity=capacity,
                latitude=latitude,
                longitude=longitude,
                radius_m=radius,
                time_bank=time_bank,
                created_by="cli",
            )
            data = activity_json(activity)
        path = services.redraw_checkin_qr(activity_id=data["id"], now=utcnow())
        data["qr_path"] = path or data["qr_path"]
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
    else:
        typer.echo(
            f"activity {data['id']}: {data['title']}; check-in code {data['checkin_code']}; QR {data['qr_path']}"
        )


@activity_app.command("list")
def activity_list(
    community: Annotated[str | None, typer.Option("--community", help="community code")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The most recent activities, newest first."""
    from handlers.volunteering.activities import activity_json
    from storage import activities as arepo

    with common.session() as session:
        rows = [
            activity_json(a)
            for a in arepo.list_activities(session, community_id=common.community_id(session, community))
        ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        typer.echo(
            f"{row['id']}\t{row['checkin_code']}\t{row['status']}\t{row['start']}\t{row['joined']}\t{row['title']}"
        )


@points_app.command("reverse")
def points_reverse(
    entry_id: Annotated[int, typer.Argument(help="the ledger entry to undo")],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the ledger)")],
    worker: Annotated[str, typer.Option("--worker", help="who is correcting it")] = "cli",
) -> None:
    """Correct an entry by appending its opposite; the original stays."""
    from storage import ledger as lrepo
    from storage.models import utcnow

    try:
        with common.session() as session:
            entry = lrepo.reverse_entry(session, entry_id=entry_id, reason=reason, worker=worker, now=utcnow())
            typer.echo(f"entry {entry.id} reverses {entry_id}: {entry.amount:+d} {entry.unit}")
    except lrepo.LedgerError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from exc


@voucher_app.command("use")
def voucher_use(
    code: Annotated[str, typer.Argument(help="the code the resident shows")],
    worker: Annotated[str, typer.Option("--worker", help="who hands the reward over")] = "cli",
    community: Annotated[str | None, typer.Option("--community", help="refuse vouchers of other communities")] = None,
) -> None:
    """核销: mark a voucher used; a second use is refused."""
    from storage import rewards as rrepo
    from storage.models import utcnow

    try:
        with common.session() as session:
            rrepo.use_voucher(
                session, code=code, worker=worker, now=utcnow(), community_id=common.community_id(session, community)
            )
        typer.echo(f"voucher {code.upper()} used")
    except rrepo.VoucherRefused as exc:
        typer.echo(f"refused: voucher {code.upper()} {exc.reason}", err=True)
        raise typer.Exit(1) from exc


@reward_app.command("list")
def reward_list(community: Annotated[str, typer.Option("--community", help="community code")]) -> None:
    """The community's rewards: name, price in points, stock left."""
    from storage import rewards as rrepo

    with common.session() as session:
        community_id = common.community_id(session, community)
        assert community_id is not None
        for reward in rrepo.rewards_for(session, community_id=community_id):
            typer.echo(f"{reward.name}\t{reward.points_price} 分\t库存 {reward.stock}")


@reward_app.command("stock")
def reward_stock(
    name: Annotated[str, typer.Argument(help="the reward's name as in the community file")],
    community: Annotated[str, typer.Option("--community", help="community code")],
    add: Annotated[int, typer.Option("--add", help="how many more; negative writes stock off")],
) -> None:
    """Restock a reward (the community file seeds stock only when an item first appears)."""
    from storage import ledger as lrepo
    from storage import rewards as rrepo

    try:
        with common.session() as session:
            community_id = common.community_id(session, community)
            assert community_id is not None
            reward = rrepo.change_stock(session, community_id=community_id, name=name, by=add)
            typer.echo(f"{reward.name}: 库存 {reward.stock}")
    except lrepo.LedgerError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from exc


@volunteer_app.command("report")
def volunteer_report(
    month: Annotated[str, typer.Option("--month", help="e.g. 2026-11")],
    community: Annotated[str | None, typer.Option("--community", help="community code")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Hours per volunteer for one month (stays checked out in that month, China time); audited as an export."""
    import getpass

    from storage import access
    from storage import activities as arepo
    from storage.models import utcnow

    try:
        start, end = month_bounds(month)
    except ValueError as exc:
        typer.echo("--month must look like 2026-11", err=True)
        raise typer.Exit(2) from exc
    with common.session() as session:
        community_id = common.community_id(session, community)
        # An export of volunteers' names: on the audit log like the API's, in the same transaction.
        access.record(
            session,
            actor=f"cli:{getpass.getuser()}",
            key_id=None,
            community_id=community_id,
            action="export",
            method="CLI",
            path="volunteer report",
            query={"month": month, "community": community or ""},
            now=utcnow(),
        )
        lines = arepo.hours_report(session, community_id=community_id, start=start, end=end)
    rows = [{"name": x.name, "hours": x.minutes / 60, "sessions": x.sessions, "points": x.points} for x in lines]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    typer.echo(f"{month}: {len(rows)} volunteers, {sum(x.minutes for x in lines) / 60:g} hours")
    for row in rows:
        typer.echo(f"{row['name']}\t{row['hours']:g} h\t{row['sessions']} sessions\t{row['points']} points")
