"""Workers' own API keys see only their community and act only as their owner; every request is audited."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from bot.cli import main as cli
from bot.services import Services
from bot.settings import get_settings
from storage import access
from storage import repositories as repo
from storage.access import AuditEntry, WorkerKey
from storage.models import utcnow
from tests.support.people import Resident
from tests.support.wechat import FakeWeChat

from .conftest import ADMIN
from .test_journey import actions, code_in


def issue(services: Services, worker: str, community: str | None) -> dict[str, str]:
    with services.sessions.begin() as session:
        community_id = None
        if community is not None:
            found = repo.community_by_code(session, code=community)
            assert found is not None
            community_id = found.id
        issued = access.issue_key(session, worker=worker, community_id=community_id, now=utcnow())
    return {"Authorization": f"Bearer {issued.key}"}


def audit(services: Services) -> list[tuple[str, str, str, str, int | None]]:
    with services.sessions.begin() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [(r.actor, r.action, r.method, r.path, r.status) for r in rows]


@pytest.fixture
def two_communities(client: TestClient, wechat: FakeWeChat, resident: Resident) -> tuple[str, str]:
    """A ticket in 和平社区 (scene 101) and one in 幸福里社区 (scene 102)."""
    heping = code_in(resident.say("3号楼东边的路灯坏了"))
    neighbour = Resident(client, wechat, "openid-xingfu")
    neighbour.join("102")
    xingfu = code_in(neighbour.say("5号楼楼道灯坏了"))
    return heping, xingfu


def test_a_community_key_sees_only_its_community(
    client: TestClient, services: Services, two_communities: tuple[str, str]
) -> None:
    heping, xingfu = two_communities
    zhangli = issue(services, "zhangli", "heping")
    listed = client.get("/api/tickets", headers=zhangli).json()["tickets"]
    assert [t["code"] for t in listed] == [heping]
    assert client.get(f"/api/tickets/{heping}", headers=zhangli).status_code == 200
    # Another community's ticket looks like no ticket at all, and cannot be listed by asking for it.
    assert client.get(f"/api/tickets/{xingfu}", headers=zhangli).status_code == 404
    assert client.get("/api/tickets", params={"community": "xingfu"}, headers=zhangli).status_code == 403
    assert client.post(f"/api/tickets/{xingfu}/accept", headers=zhangli, json={}).status_code == 404
    assert actions(services, xingfu) == ["created"]
    # The admin token still sees both.
    assert {t["code"] for t in client.get("/api/tickets", headers=ADMIN).json()["tickets"]} == {heping, xingfu}


def test_a_key_acts_as_its_owner_only(client: TestClient, services: Services, two_communities: tuple[str, str]) -> None:
    heping, _ = two_communities
    zhangli = issue(services, "zhangli", "heping")
    posing = client.post(f"/api/tickets/{heping}/accept", headers=zhangli, json={"worker": "chengang"})
    assert posing.status_code == 403
    assert actions(services, heping) == ["created"]
    accepted = client.post(f"/api/tickets/{heping}/accept", headers=zhangli, json={})
    assert accepted.status_code == 200 and accepted.json()["ticket"]["assignee"] == "zhangli"
    # The admin token must say who is acting.
    assert client.post(f"/api/tickets/{heping}/progress", headers=ADMIN, json={"note": "x"}).status_code == 422


def test_revoked_and_unknown_keys_are_refused(client: TestClient, services: Services) -> None:
    zhangli = issue(services, "zhangli", "heping")
    assert client.get("/api/tickets", headers=zhangli).status_code == 200
    with services.sessions.begin() as session:
        key = session.scalars(select(WorkerKey)).one()
        assert key.last_used_at is not None
        access.revoke_key(session, key_id=key.id, now=utcnow())
    assert client.get("/api/tickets", headers=zhangli).status_code == 401
    assert client.get("/api/tickets", headers={"Authorization": "Bearer sgk_made-up"}).status_code == 401
    with services.sessions.begin() as session:
        stored = session.scalars(select(WorkerKey)).one()
        assert stored.digest != zhangli["Authorization"].removeprefix("Bearer ")  # only the digest is kept


def test_every_request_is_audited_with_its_outcome(
    client: TestClient, services: Services, two_communities: tuple[str, str]
) -> None:
    heping, xingfu = two_communities
    zhangli = issue(services, "zhangli", "heping")
    client.get("/api/tickets", headers=zhangli)
    client.get(f"/api/tickets/{xingfu}", headers=zhangli)
    client.post(f"/api/tickets/{heping}/progress", headers=zhangli, json={"note": "已联系电工"})
    client.get("/api/volunteers/report", params={"month": "2026-11"}, headers=ADMIN)
    client.get("/api/tickets", headers={"Authorization": "Bearer wrong"})
    assert audit(services) == [
        ("worker:zhangli", "read", "GET", "/api/tickets", 200),
        ("worker:zhangli", "read", "GET", f"/api/tickets/{xingfu}", 404),
        ("worker:zhangli", "change", "POST", f"/api/tickets/{heping}/progress", 200),
        ("admin", "export", "GET", "/api/volunteers/report", 200),
    ]


def test_nothing_is_read_when_the_audit_log_cannot_be_written(
    client: TestClient, services: Services, two_communities: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> AuditEntry:
        raise OperationalError("INSERT INTO audit_log", {}, Exception("disk full"))

    monkeypatch.setattr(access, "record", broken)
    refused = client.get("/api/tickets", headers=ADMIN)
    assert refused.status_code == 503 and "tickets" not in refused.json()


def test_volunteer_routes_are_scoped_too(client: TestClient, services: Services) -> None:
    zhangli = issue(services, "zhangli", "heping")
    assert client.get("/api/activities", params={"community": "xingfu"}, headers=zhangli).status_code == 403
    assert client.get("/api/volunteers/report", params={"month": "2026-11"}, headers=zhangli).status_code == 200
    body = {
        "title": "议事会",
        "kind": "meeting",
        "start": "2026-12-01T09:00:00+08:00",
        "end": "2026-12-01T10:00:00+08:00",
    }
    made = client.post("/api/activities", headers=zhangli, json=body | {"community": "xingfu"})
    assert made.status_code == 403
    made = client.post("/api/activities", headers=zhangli, json=body)
    assert made.status_code == 201
    assert client.post("/api/ledger/999999/reverse", headers=zhangli, json={"reason": "x"}).status_code == 404


def test_keys_are_issued_listed_and_revoked_from_the_command_line(
    services: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("SHEGONG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHEGONG_DATABASE_URL", services.settings.database_url)
    monkeypatch.setenv("SHEGONG_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.chdir(tmp_path)  # no stray .env
    get_settings.cache_clear()
    runner = CliRunner()
    refused = runner.invoke(cli.app, ["key", "issue", "lijianguo", "--community", "heping"])
    assert refused.exit_code == 1 and "not a worker of community" in refused.output
    assert runner.invoke(cli.app, ["key", "issue", "zhangli"]).exit_code == 2
    issued = runner.invoke(cli.app, ["key", "issue", "zhangli", "--community", "heping", "--label", "办公室电脑"])
    assert issued.exit_code == 0, issued.output
    key = issued.output.strip().splitlines()[-1]
    assert key.startswith("sgk_")
    listed = runner.invoke(cli.app, ["key", "list"])
    assert "zhangli\theping" in listed.output and "live" in listed.output and key not in listed.output
    key_id = listed.output.split("\t", 1)[0]
    assert runner.invoke(cli.app, ["key", "revoke", key_id]).exit_code == 0
    assert "revoked" in runner.invoke(cli.app, ["key", "list"]).output
    assert runner.invoke(cli.app, ["key", "revoke", "424242"]).exit_code == 1
    assert runner.invoke(cli.app, ["audit", "list"]).exit_code == 0
    # The command-line export of volunteers' hours is on the audit log too.
    report = runner.invoke(cli.app, ["volunteer", "report", "--month", "2026-11", "--community", "heping"])
    assert report.exit_code == 0, report.output
    newest = runner.invoke(cli.app, ["audit", "list", "--limit", "1", "--json"]).output
    assert '"action": "export"' in newest and '"path": "volunteer report"' in newest and '"actor": "cli:' in newest
    get_settings.cache_clear()
