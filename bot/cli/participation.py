"""`shegong proposal` and `shegong vote`: the workers' commands for proposals and votes."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bot.cli import common

proposal_app = typer.Typer(
    help="Residents' proposals: publish, refuse, schedule the meeting, decide.", no_args_is_help=True
)
vote_app = typer.Typer(help="Votes: open one, enter paper ballots, see the result.", no_args_is_help=True)

Worker = Annotated[str, typer.Option("--worker", help="the WeCom userid acting")]


def _proposal_id(text: str) -> int:
    digits = text.strip().removeprefix("P").removeprefix("p")
    if not digits.isdigit():
        typer.echo(f"not a proposal number: {text!r} (e.g. P12 or 12)", err=True)
        raise typer.Exit(2)
    return int(digits)


def _vote_id(text: str) -> int:
    digits = text.strip().removeprefix("V").removeprefix("v")
    if not digits.isdigit():
        typer.echo(f"not a vote number: {text!r} (e.g. V3 or 3)", err=True)
        raise typer.Exit(2)
    return int(digits)


def _finish(result: object) -> None:
    from handlers.participation.proposals import WorkerResult

    assert isinstance(result, WorkerResult)
    if not result.ok:
        typer.echo(result.message, err=True)
        raise typer.Exit(1)
    typer.echo(result.message)


@proposal_app.command("list")
def proposal_list(
    community: Annotated[str | None, typer.Option("--community", help="community code")] = None,
    status: Annotated[str | None, typer.Option("--status", help="submitted, published, on_agenda, ...")] = None,
) -> None:
    from handlers.participation.proposals import proposal_json
    from storage import participation as store

    with common.session() as session:
        rows = store.list_proposals(session, community_id=common.community_id(session, community), status=status)
        for proposal in rows:
            typer.echo(json.dumps(proposal_json(session, proposal), ensure_ascii=False))


@proposal_app.command("publish")
def proposal_publish(proposal: str, worker: Worker) -> None:
    """Publish a proposal so residents can support it."""
    from handlers.participation.proposals import publish_proposal
    from storage.models import utcnow

    with common.transaction() as (services, session):
        result = publish_proposal(
            session, services.settings, proposal_id=_proposal_id(proposal), worker=worker, now=utcnow()
        )
    _finish(result)


@proposal_app.command("refuse")
def proposal_refuse(
    proposal: str, worker: Worker, reason: Annotated[str, typer.Option("--reason", help="the proposer is told")]
) -> None:
    """Refuse a proposal with a reason the proposer sees."""
    from handlers.participation.proposals import refuse_proposal
    from storage.models import utcnow

    with common.transaction() as (services, session):
        result = refuse_proposal(
            session,
            services.settings,
            proposal_id=_proposal_id(proposal),
            worker=worker,
            reason=reason,
            now=utcnow(),
        )
    _finish(result)


@proposal_app.command("meeting")
def proposal_meeting(
    proposal: str,
    worker: Worker,
    start: Annotated[str, typer.Option("--start", help="ISO start time (China time if no zone)")],
    end: Annotated[str, typer.Option("--end", help="ISO end time")],
    place: Annotated[str, typer.Option("--place", help="where")] = "",
) -> None:
    """Schedule the residents' council meeting for a proposal on the agenda (a meeting activity)."""
    from handlers.participation.proposals import schedule_meeting
    from storage.models import utcnow

    starts_at, ends_at = common.parse_time(start, "--start"), common.parse_time(end, "--end")
    with common.transaction() as (services, session):
        result = schedule_meeting(
            session,
            services.settings,
            proposal_id=_proposal_id(proposal),
            worker=worker,
            starts_at=starts_at,
            ends_at=ends_at,
            place=place,
            now=utcnow(),
        )
    _finish(result)


@proposal_app.command("decide")
def proposal_decide(
    proposal: str,
    worker: Worker,
    decision: Annotated[str, typer.Option("--decision", help="the decision and what follows")],
) -> None:
    """Record the council's decision; the proposer and every supporter are told."""
    from handlers.participation.proposals import decide_proposal
    from storage.models import utcnow

    with common.transaction() as (services, session):
        result = decide_proposal(
            session,
            services.settings,
            proposal_id=_proposal_id(proposal),
            worker=worker,
            decision=decision,
            now=utcnow(),
        )
    _finish(result)


@vote_app.command("open")
def vote_open(
    community: Annotated[str, typer.Option("--community", help="community code")],
    question: Annotated[str, typer.Option("--question", help="what residents decide")],
    option: Annotated[list[str], typer.Option("--option", help="an option; give 2 to 10")],
    closes: Annotated[str, typer.Option("--closes", help="ISO closing time (China time if no zone)")],
    worker: Worker,
    building: Annotated[list[str] | None, typer.Option("--building", help="a building that may vote")] = None,
) -> None:
    """Open a vote; the residents who may vote are told how to."""
    from handlers.participation.votes import VoteRefused, open_vote, vote_json
    from storage.models import utcnow

    closes_at = common.parse_time(closes, "--closes")
    try:
        with common.session() as session:
            community_id = common.community_id(session, community)
            assert community_id is not None
            vote = open_vote(
                session,
                community_id=community_id,
                question=question,
                options=option,
                buildings=building or [],
                closes_at=closes_at,
                worker=worker,
                now=utcnow(),
            )
            data = vote_json(vote)
    except VoteRefused as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(data, ensure_ascii=False))


@vote_app.command("paper")
def vote_paper(
    vote: str,
    worker: Worker,
    building: Annotated[str, typer.Option("--building")],
    room: Annotated[str, typer.Option("--room")],
    choice: Annotated[int, typer.Option("--choice", help="the option number on the ballot")],
    unit: Annotated[str, typer.Option("--unit")] = "",
) -> None:
    """Enter a paper ballot from a household without WeChat (once per household)."""
    from handlers.participation.votes import VoteRefused, enter_paper_ballot
    from storage.models import utcnow

    try:
        with common.session() as session:
            message = enter_paper_ballot(
                session,
                vote_id=_vote_id(vote),
                building=building,
                unit=unit,
                room=room,
                choice=choice,
                worker=worker,
                now=utcnow(),
            )
    except VoteRefused as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(message)


@vote_app.command("show")
def vote_show(vote: str) -> None:
    """A vote, with its totals once it has closed."""
    from handlers.participation.votes import vote_json
    from storage import participation as store

    with common.session() as session:
        found = store.vote_by_id(session, vote_id=_vote_id(vote))
        if found is None:
            typer.echo(f"no vote {vote}", err=True)
            raise typer.Exit(1)
        typer.echo(json.dumps(vote_json(found), ensure_ascii=False))
