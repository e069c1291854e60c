"""`shegong household` (一户一档 and 报平安) and `shegong device` (keys for water meters and door sensors)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli import common

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from storage.households import Household
    from storage.models import Community

household_app = typer.Typer(help="Household files (一户一档) and the daily 报平安.", no_args_is_help=True)
device_app = typer.Typer(help="Keys for a household's devices (POST /api/signals).", no_args_is_help=True)

CommunityOpt = Annotated[str, typer.Option("--community", help="community code")]
AddressOpt = Annotated[str, typer.Option("--address", help="e.g. 3号楼2单元502")]
WorkerOpt = Annotated[str, typer.Option("--worker", help="your WeCom userid (the household's grid worker or a leader)")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _household(session: Session, community_code: str, address: str, *, create: bool) -> tuple[Community, Household]:
    from intents.rules import parse_address
    from storage import repositories as repo
    from storage.households import household_at

    community = repo.community_by_code(session, code=community_code)
    if community is None:
        raise _fail(f"no community with code {community_code!r}")
    parsed = parse_address(address)
    if not parsed or not parsed.get("building") or not parsed.get("room"):
        raise _fail(f"--address: give building and room, e.g. 3号楼2单元502 (got {address!r})", 2)
    household = household_at(
        session, community.id, parsed["building"], parsed.get("unit"), parsed["room"], create=create
    )
    if household is None:
        raise _fail(f"no household at {address} in {community_code}")
    return community, household


def _allowed(community: Community, household: Household, worker: str) -> None:
    from handlers.wellbeing.files import may_read

    if not may_read(community, household, worker):
        raise _fail(f"{worker!r} is not this household's grid worker or a community leader")


def _audit(session: Session, community: Community, household: Household, worker: str, what: str) -> None:
    from storage import access
    from storage.models import utcnow

    access.record(
        session,
        actor=f"cli:{worker}",
        key_id=None,
        community_id=community.id,
        action="read" if what == "show" else "change",
        method="CLI",
        path=f"household/{household.id}/{what}",
        query={},
        now=utcnow(),
    )


@household_app.command("show")
def show(community: CommunityOpt, address: AddressOpt, worker: WorkerOpt, reveal: bool = False) -> None:
    """The household's whole file: members, contacts, consent, 报平安 days and the log (the read is audited)."""
    from handlers.wellbeing.files import read_file

    settings = common.settings()
    with common.session() as session:
        found, household = _household(session, community, address, create=False)
        _allowed(found, household, worker)
        _audit(session, found, household, worker, "show")
        typer.echo(
            json.dumps(
                read_file(session, settings.secret_key, found, household, reveal=reveal).as_dict(),
                ensure_ascii=False,
                indent=2,
            )
        )


@household_app.command("consent")
def consent(
    community: CommunityOpt,
    address: AddressOpt,
    worker: WorkerOpt,
    given_by: Annotated[str, typer.Option("--given-by", help="who consented, e.g. 张秀英本人")],
    wording: Annotated[
        str, typer.Option("--wording", help="the words they agreed to (default: the standard text)")
    ] = "",
) -> None:
    """Record the household's separate consent for sensitive fields, with its time and wording."""
    from handlers.wellbeing.files import record_consent
    from storage.models import utcnow

    with common.session() as session:
        found, household = _household(session, community, address, create=True)
        _allowed(found, household, worker)
        _audit(session, found, household, worker, "consent")
        record_consent(session, household, given_by=f"{given_by}（{worker} 登记）", wording=wording, now=utcnow())
    typer.echo("consent recorded")


@household_app.command("withdraw")
def withdraw(community: CommunityOpt, address: AddressOpt, worker: WorkerOpt) -> None:
    """Withdraw the consent: every sensitive field of the household is deleted."""
    from handlers.wellbeing.files import FileError, withdraw_consent
    from storage.models import utcnow

    with common.session() as session:
        found, household = _household(session, community, address, create=False)
        _allowed(found, household, worker)
        _audit(session, found, household, worker, "withdraw")
        try:
            cleared = withdraw_consent(session, household, by=f"worker:{worker}", now=utcnow())
        except FileError as exc:
            raise _fail(str(exc)) from exc
    typer.echo(f"consent withdrawn; sensitive fields of {cleared} member(s) deleted")


@household_app.command("member")
def member(
    community: CommunityOpt,
    address: AddressOpt,
    worker: WorkerOpt,
    name: Annotated[str, typer.Option("--name")],
    phone: Annotated[str | None, typer.Option("--phone")] = None,
    birth_year: Annotated[int | None, typer.Option("--birth-year")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="a tag from the community file; repeatable")] = None,
    health: Annotated[str | None, typer.Option("--health", help="health notes (sensitive)")] = None,
    needs: Annotated[str, typer.Option("--needs", help="notes on needs")] = "",
) -> None:
    """Add a member without WeChat (sensitive fields need the household's consent first)."""
    from handlers.wellbeing.files import FileError, add_member
    from storage.models import utcnow

    settings = common.settings()
    with common.session() as session:
        found, household = _household(session, community, address, create=True)
        _allowed(found, household, worker)
        try:
            added = add_member(
                session,
                settings.secret_key,
                found,
                household,
                name=name,
                phone=phone,
                birth_year=birth_year,
                tags=tag or [],
                health=health,
                needs=needs,
                by=f"worker:{worker}",
                now=utcnow(),
            )
        except FileError as exc:
            raise _fail(str(exc), 2) from exc
        typer.echo(f"member {added.id} added to household {household.id} ({household.label})")


@household_app.command("contact")
def contact(
    community: CommunityOpt,
    address: AddressOpt,
    worker: WorkerOpt,
    role: Annotated[str, typer.Option("--role", help="family, neighbour, volunteer or building_head")],
    name: Annotated[str, typer.Option("--name")],
    phone: Annotated[str | None, typer.Option("--phone")] = None,
    wecom: Annotated[str | None, typer.Option("--wecom", help="their WeCom userid, if a worker")] = None,
    openid: Annotated[
        str | None, typer.Option("--openid", help="their WeChat openid, if they follow the account")
    ] = None,
) -> None:
    """Add an emergency contact: a WeChat resident, a WeCom worker, or just a name and phone."""
    from handlers.wellbeing.files import FileError, add_contact
    from storage import repositories as repo
    from storage.models import utcnow

    settings = common.settings()
    with common.session() as session:
        found, household = _household(session, community, address, create=True)
        _allowed(found, household, worker)
        resident = repo.resident_by_openid(session, openid=openid) if openid else None
        if openid and resident is None:
            raise _fail(f"no resident with openid {openid!r}")
        try:
            added = add_contact(
                session,
                settings.secret_key,
                household,
                role=role,
                name=name,
                phone=phone,
                resident=resident,
                wecom_userid=wecom,
                by=f"worker:{worker}",
                now=utcnow(),
            )
        except FileError as exc:
            raise _fail(str(exc), 2) from exc
        typer.echo(f"contact {added.id} added")


@household_app.command("enrol")
def enrol(
    community: CommunityOpt,
    address: AddressOpt,
    worker: WorkerOpt,
    at: Annotated[str, typer.Option("--at", help="time of the daily prompt, e.g. 08:00")],
    member_id: Annotated[int | None, typer.Option("--member", help="a member without WeChat")] = None,
    openid: Annotated[str | None, typer.Option("--openid", help="a resident on WeChat")] = None,
    name: Annotated[str, typer.Option("--name", help="what the prompt calls them, e.g. 张阿姨")] = "",
) -> None:
    """Enrol a resident or member for the daily 报平安."""
    from handlers.wellbeing.checkins import CheckinError
    from handlers.wellbeing.checkins import enrol as enrol_one
    from handlers.wellbeing.rules import parse_time_of_day
    from storage import repositories as repo
    from storage.household_files import HouseholdMember
    from storage.models import utcnow

    minute = parse_time_of_day(at)
    if minute is None:
        raise _fail(f"--at: not a time of day ({at!r}); e.g. 08:00", 2)
    with common.session() as session:
        found, household = _household(session, community, address, create=True)
        _allowed(found, household, worker)
        resident = repo.resident_by_openid(session, openid=openid) if openid else None
        member_row = session.get(HouseholdMember, member_id) if member_id else None
        if (openid and resident is None) or (
            member_id and (member_row is None or member_row.household_id != household.id)
        ):
            raise _fail("no such resident or member in this household")
        try:
            enrolment = enrol_one(
                session,
                community=found,
                household=household,
                resident=resident,
                member=member_row,
                name=name,
                minute=minute,
                by=f"worker:{worker}",
                now=utcnow(),
            )
        except CheckinError as exc:
            raise _fail(str(exc), 2) from exc
        typer.echo(f"enrolment {enrolment.id}: every day at {at}")


def _enrolment(session: Session, community: str, address: str, worker: str) -> list[object]:
    from storage import safecheck as sc

    found, household = _household(session, community, address, create=False)
    _allowed(found, household, worker)
    enrolments = sc.enrolments_of_household(session, household_id=household.id)
    if not enrolments:
        raise _fail("nobody in this household is enrolled")
    return list(enrolments)


@household_app.command("pause")
def pause(
    community: CommunityOpt,
    address: AddressOpt,
    worker: WorkerOpt,
    until: Annotated[str, typer.Option("--until", help="last day without prompts, e.g. 2026-12-10")],
) -> None:
    """Pause the household's 报平安 up to and including a date."""
    from datetime import date

    from handlers.wellbeing.checkins import CheckinError
    from handlers.wellbeing.checkins import pause as pause_one
    from storage.models import utcnow
    from storage.safecheck import Enrolment

    try:
        last = date.fromisoformat(until)
    except ValueError as exc:
        raise _fail(f"--until: not a date ({until!r}); e.g. 2026-12-10", 2) from exc
    with common.session() as session:
        for enrolment in _enrolment(session, community, address, worker):
            assert isinstance(enrolment, Enrolment)
            try:
                pause_one(session, enrolment, until=last, by=f"worker:{worker}", now=utcnow())
            except CheckinError as exc:
                raise _fail(str(exc), 2) from exc
    typer.echo(f"paused until {until}")


@household_app.command("end")
def end(community: CommunityOpt, address: AddressOpt, worker: WorkerOpt) -> None:
    """End the household's 报平安."""
    from handlers.wellbeing.checkins import end as end_one
    from storage.models import utcnow
    from storage.safecheck import Enrolment

    with common.session() as session:
        for enrolment in _enrolment(session, community, address, worker):
            assert isinstance(enrolment, Enrolment)
            end_one(session, enrolment, by=f"worker:{worker}", now=utcnow())
    typer.echo("ended")


@household_app.command("checkin")
def checkin(
    community: CommunityOpt,
    address: AddressOpt,
    worker: WorkerOpt,
    how: Annotated[str, typer.Option("--how", help="phone or visit")] = "phone",
) -> None:
    """Record today's check-in for the household after phoning or visiting (kept with who and how)."""
    from handlers.wellbeing.checkins import check_in_for
    from storage.models import utcnow
    from storage.safecheck import Enrolment

    if how not in ("phone", "visit"):
        raise _fail("--how: phone or visit", 2)
    with common.session() as session:
        found, household = _household(session, community, address, create=False)
        _audit(session, found, household, worker, "checkin")
        for enrolment in _enrolment(session, community, address, worker):
            assert isinstance(enrolment, Enrolment)
            typer.echo(check_in_for(session, enrolment, by=f"worker:{worker}", how=how, now=utcnow()))


@device_app.command("issue")
def device_issue(
    community: CommunityOpt,
    address: AddressOpt,
    label: Annotated[str, typer.Option("--label", help="e.g. 水表, 门磁")] = "",
) -> None:
    """Issue a device key for the household; printed once, only its digest is kept."""
    from storage.household_files import issue_device_key
    from storage.models import utcnow

    with common.session() as session:
        _, household = _household(session, community, address, create=True)
        key_id, key = issue_device_key(session, household_id=household.id, label=label, now=utcnow())
    typer.echo(
        f"device key {key_id} for {household.label}; send it as 'Authorization: Bearer <key>' to POST /api/signals:"
    )
    typer.echo(key)
