"""`shegong key` (workers' own API keys) and `shegong audit` (who read or changed what through the API)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from bot.cli import common
from handlers.clock import CHINA_TZ

key_app = typer.Typer(help="Workers' own keys for the office API, each bound to a community.", no_args_is_help=True)
audit_app = typer.Typer(help="The record of API reads, exports and changes.", no_args_is_help=True)


@key_app.command("issue")
def key_issue(
    worker: Annotated[str, typer.Argument(help="the worker's WeCom userid")],
    community: Annotated[str | None, typer.Option("--community", help="community code the key is limited to")] = None,
    all_communities: Annotated[
        bool, typer.Option("--all-communities", help="a key for the office that sees every community")
    ] = False,
    label: Annotated[str, typer.Option("--label", help="a note, e.g. whose laptop")] = "",
) -> None:
    """Issue a key; it is printed once and only its digest is kept."""
    from handlers.tickets.routing import routing_for
    from storage import access
    from storage.models import Community, utcnow

    if (community is None) == (not all_communities):
        typer.echo("give either --community CODE or --all-communities", err=True)
        raise typer.Exit(2)
    with common.session() as session:
        community_id = common.community_id(session, community)
        if community_id is not None:
            found = session.get(Community, community_id)
            known = routing_for(found).workers()
            if worker not in known:
                typer.echo(
                    f"{worker!r} is not a worker of community {community!r} (its file names: "
                    f"{', '.join(sorted(known)) or 'nobody'})",
                    err=True,
                )
                raise typer.Exit(1)
        try:
            issued = access.issue_key(session, worker=worker, community_id=community_id, label=label, now=utcnow())
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from exc
    scope = f"community {community}" if community else "every community"
    typer.echo(f"key {issued.id} for {worker} ({scope}); send it as 'Authorization: Bearer <key>':")
    typer.echo(issued.key)


@key_app.command("list")
def key_list() -> None:
    """Every key: id, worker, community, when issued, last used, revoked."""
    from storage import access

    with common.session() as session:
        for key, code in access.list_keys(session):
            state = f"revoked {_local(key.revoked_at)}" if key.revoked_at else "live"
            typer.echo(
                f"{key.id}\t{key.worker}\t{code or '(all)'}\tissued {_local(key.created_at)}\t"
                f"last used {_local(key.last_used_at) or '-'}\t{state}\t{key.label}"
            )


@key_app.command("revoke")
def key_revoke(key_id: Annotated[int, typer.Argument(help="the id shown by 'shegong key list'")]) -> None:
    """Revoke a key at once; requests with it are refused from now on."""
    from storage import access
    from storage.models import utcnow

    with common.session() as session:
        key = access.revoke_key(session, key_id=key_id, now=utcnow())
        if key is None:
            typer.echo(f"no key {key_id}", err=True)
            raise typer.Exit(1)
        typer.echo(f"key {key_id} ({key.worker}) revoked")


@audit_app.command("list")
def audit_list(
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000, help="how many, newest first")] = 50,
    actor: Annotated[str | None, typer.Option("--actor", help="e.g. worker:zhangli or admin")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """The newest API requests: when, who, what, and the answer's status."""
    from storage import access

    with common.session() as session:
        for entry in access.recent_entries(session, limit=limit, actor=actor):
            row = {
                "at": entry.at.isoformat(),
                "actor": entry.actor,
                "action": entry.action,
                "method": entry.method,
                "path": entry.path,
                "query": entry.query,
                "status": entry.status,
            }
            if as_json:
                typer.echo(json.dumps(row, ensure_ascii=False))
            else:
                query = "&".join(f"{k}={v}" for k, v in entry.query.items())
                typer.echo(
                    f"{_local(entry.at)}\t{entry.actor}\t{entry.action}\t{entry.method} {entry.path}"
                    f"{'?' + query if query else ''}\t{entry.status if entry.status is not None else '-'}"
                )


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
