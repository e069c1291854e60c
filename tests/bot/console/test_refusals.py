"""What the console refuses: other grids' tickets, forged CSRF tokens, used login links, phones without the right."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.services import Services
from handlers.privacy import encrypt_phone
from storage.access import AuditEntry
from storage.models import Resident
from tests.bot.console.conftest import log_in, login_link, report
from tests.support.fake_api import FakeApi
from tests.support.people import Worker
from tests.support.wechat import FakeWeChat


def test_a_page_without_a_session_leads_to_the_login_page(client: TestClient) -> None:
    response = client.get("/console/tickets/ABCDEF")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")


def test_another_grids_ticket_is_not_found(client: TestClient, wechat: FakeWeChat) -> None:
    # Building 6 is 陈刚's grid (hp-2); 张丽 (hp-1) must not even learn that the code exists.
    code = report(client, wechat, "openid-grid-2", "6号楼楼道灯坏了")
    log_in(client, "zhangli")
    response = client.get(f"/console/tickets/{code}")
    assert response.status_code == 404
    assert "没有找到" in response.text
    assert code not in client.get("/console/tickets?tab=all").text
    assert client.get("/console/tickets/ZZZZZZ").status_code == 404


def test_a_forged_csrf_token_is_refused_and_changes_nothing(client: TestClient, wechat: FakeWeChat) -> None:
    code = report(client, wechat, "openid-csrf", "3号楼楼道灯坏了")
    csrf = log_in(client, "zhangli")
    forged = client.post(f"/console/tickets/{code}/act", data={"action": "accept", "csrf": csrf[:-2] + "xx"})
    assert forged.status_code == 403
    missing = client.post(f"/console/tickets/{code}/act", data={"action": "accept"})
    assert missing.status_code == 403
    assert "待接单" in client.get(f"/console/tickets/{code}").text
    accepted = client.post(f"/console/tickets/{code}/act", data={"action": "accept", "csrf": csrf})
    assert accepted.status_code == 303
    assert "处理中" in client.get(f"/console/tickets/{code}").text


def test_a_login_link_works_once(client: TestClient) -> None:
    link = login_link(client, "zhangli")
    assert client.get(link).status_code == 200  # the confirmation page does not use the link up
    assert client.post(link).status_code == 303
    client.cookies.clear()
    again = client.post(link)
    assert again.status_code == 403
    assert "已经用过或已过期" in again.text
    assert client.get("/console/tickets").status_code == 303


def test_someone_not_on_the_roster_gets_no_link(client: TestClient) -> None:
    assert "/console/link/" not in Worker(client, "stranger").say("登录")


def _give_phone(services: Services, openid: str, phone: str) -> None:
    with services.sessions.begin() as session:
        row = session.scalar(select(Resident).where(Resident.openid == openid))
        assert row is not None
        row.phone_encrypted = encrypt_phone(services.settings.secret_key, phone)


def _reveals(services: Services, worker: str) -> list[AuditEntry]:
    with services.sessions.begin() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.actor == f"console:{worker}", AuditEntry.action == "reveal")
        )
        return list(rows)


def test_without_the_right_the_phone_stays_masked_and_the_attempt_is_audited(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    # A street lamp in building 3 goes to 张丽 (the grid) and the lighting team (刘师傅) hears of it; the
    # duty worker 王晓燕 sees the whole community but neither holds the ticket nor leads it.
    code = report(client, wechat, "openid-phone", "3号楼楼道灯坏了")
    _give_phone(services, "openid-phone", "13812345678")
    csrf = log_in(client, "wangxiaoyan")
    page = client.get(f"/console/tickets/{code}")
    assert "138****5678" in page.text and "13812345678" not in page.text
    refused = client.post(f"/console/tickets/{code}/phone", headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert refused.status_code == 403 and "13812345678" not in refused.text
    assert len(_reveals(services, "wangxiaoyan")) == 1

    client.cookies.clear()
    csrf = log_in(client, "zhangli")  # holds the ticket
    assert "13812345678" not in client.get(f"/console/tickets/{code}").text  # masked until the click
    shown = client.post(f"/console/tickets/{code}/phone", headers={"X-CSRF-Token": csrf})
    assert shown.status_code == 200 and "13812345678" in shown.text
    assert len(_reveals(services, "zhangli")) == 1


def test_every_page_with_resident_data_is_audited_first(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    code = report(client, wechat, "openid-audit", "3号楼楼道灯坏了")
    log_in(client, "zhangli")
    client.get(f"/console/tickets/{code}")
    client.get("/console/tickets.csv?tab=all")
    with services.sessions.begin() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.actor == "console:zhangli")).all()
        seen = [(row.action, row.path) for row in rows]
    assert ("read", f"/console/tickets/{code}") in seen
    assert ("export", "/console/tickets.csv") in seen


def test_oauth_logs_in_the_member_wecom_names(client: TestClient, console_api: FakeApi) -> None:
    console_api.login_as = "zhangli"
    start = client.get("/console/oauth?next=/console/tickets?tab=all")
    assert start.status_code == 302
    authorize = start.headers["location"]
    assert "scope=snsapi_base" in authorize and authorize.endswith("#wechat_redirect")
    back = httpx.get(authorize.split("#")[0], follow_redirects=False).headers["location"]
    done = client.get(back.replace(str(client.base_url), ""))
    assert done.status_code == 303 and done.headers["location"] == "/console/tickets?tab=all"
    assert "张丽" in client.get("/console/tickets").text
    # The same code again (a replayed redirect) is refused by WeCom, and so by us.
    client.cookies.clear()
    assert client.get(back.replace(str(client.base_url), "")).status_code == 400  # no state cookie any more
