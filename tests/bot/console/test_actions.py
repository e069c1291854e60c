"""Acting from the console: bulk actions, a reply that cannot reach the resident, reopening, odd filters."""

from __future__ import annotations

import csv
from datetime import timedelta
from urllib.parse import unquote_plus

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.services import Services
from handlers.privacy import encrypt_phone
from storage import tickets as store
from storage.models import Resident
from tests.bot.console.conftest import log_in, report
from tests.support.wechat import FakeWeChat


def _status(services: Services, code: str) -> str:
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        assert ticket is not None
        return ticket.status


def test_bulk_accept_takes_what_the_worker_may_and_names_what_it_left(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    mine = [report(client, wechat, f"openid-bulk-{n}", f"{n}号楼楼道灯坏了") for n in (1, 2)]
    other = report(client, wechat, "openid-bulk-6", "6号楼楼道灯坏了")  # 陈刚's grid
    csrf = log_in(client, "zhangli")
    done = client.post(
        "/console/tickets/bulk",
        data={"action": "accept", "codes": [*mine, other], "csrf": csrf, "back": "/console/tickets?tab=unassigned"},
    )
    assert done.status_code == 303
    notice = unquote_plus(done.headers["location"])
    assert "已处理 2 件" in notice and f"没有找到工单 {other}" in notice
    assert [_status(services, c) for c in mine] == ["accepted", "accepted"]
    assert _status(services, other) == "open"


def test_bulk_without_a_choice_changes_nothing(client: TestClient, services: Services, wechat: FakeWeChat) -> None:
    code = report(client, wechat, "openid-bulk-none", "3号楼楼道灯坏了")
    csrf = log_in(client, "zhangli")
    answer = client.post("/console/tickets/bulk", data={"action": "", "codes": [code], "csrf": csrf})
    assert answer.status_code == 303 and "请先勾选工单" in unquote_plus(answer.headers["location"])
    answer = client.post("/console/tickets/bulk", data={"action": "transfer", "codes": [code], "csrf": csrf})
    assert "转派请选择" in unquote_plus(answer.headers["location"])
    assert _status(services, code) == "open"


def test_a_reply_that_cannot_reach_the_resident_says_so(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    code = report(client, wechat, "openid-quiet", "3号楼楼道灯坏了")
    with services.sessions.begin() as session:
        resident = session.scalar(select(Resident).where(Resident.openid == "openid-quiet"))
        assert resident is not None and resident.last_inbound_at is not None
        resident.last_inbound_at -= timedelta(hours=49)  # the 48 h window has closed; no template is set
        resident.window_event_at = None
    csrf = log_in(client, "zhangli")
    answer = client.post(f"/console/tickets/{code}/reply", data={"text": "明天上午来修。", "csrf": csrf})
    assert answer.status_code == 303
    assert "居民暂时收不到消息" in unquote_plus(answer.headers["location"])
    page = client.get(answer.headers["location"])
    assert "居民暂时收不到消息" in page.text and "居民没有收到" in page.text
    assert "没有登记电话，请上门联系（" in page.text  # no number on file: where to find them
    # With a number on file, the worker who holds the ticket is given all of it, and never in the address.
    with services.sessions.begin() as session:
        resident = session.scalar(select(Resident).where(Resident.openid == "openid-quiet"))
        assert resident is not None
        resident.phone_encrypted = encrypt_phone(services.settings.secret_key, "13800138000")
    answer = client.post(f"/console/tickets/{code}/reply", data={"text": "下午来修。", "csrf": csrf})
    assert "138" not in answer.headers["location"]
    assert "请电话联系 13800138000" in client.get(answer.headers["location"]).text
    empty = client.post(f"/console/tickets/{code}/reply", data={"text": "  ", "csrf": csrf})
    assert "请写上要回复居民的话" in unquote_plus(empty.headers["location"])


def test_a_resolved_ticket_can_be_reopened(client: TestClient, services: Services, wechat: FakeWeChat) -> None:
    code = report(client, wechat, "openid-reopen", "3号楼楼道灯坏了")
    csrf = log_in(client, "zhangli")
    client.post(f"/console/tickets/{code}/act", data={"action": "resolve", "note": "已换灯泡", "csrf": csrf})
    assert _status(services, code) == "resolved"
    again = client.post(f"/console/tickets/{code}/act", data={"action": "resolve", "csrf": csrf})
    assert "不能再办结" in unquote_plus(again.headers["location"])
    client.post(f"/console/tickets/{code}/act", data={"action": "reopen", "note": "又不亮了", "csrf": csrf})
    assert _status(services, code) == "reopened"
    assert "重新打开" in client.get(f"/console/tickets/{code}").text


def test_odd_filters_are_named_and_ignored(client: TestClient, wechat: FakeWeChat) -> None:
    code = report(client, wechat, "openid-filters", "3号楼楼道灯坏了")
    log_in(client, "zhangli")
    page = client.get("/console/tickets?tab=nonsense&from=yesterday&colour=purple&community=nowhere&page=-3")
    assert page.status_code == 200
    assert "不是日期" in page.text and "“purple”不是可选的值" in page.text and "没有您能查看的社区" in page.text
    assert code in page.text  # the unknown tab is read as 我的
    partial = client.get(
        "/console/tickets?tab=all&building=3", headers={"HX-Request": "true", "HX-Target": "ticket-rows"}
    )
    assert code in partial.text and "<html" not in partial.text
    assert code not in client.get("/console/tickets?tab=all&building=4").text


def test_the_csv_keeps_a_residents_words_from_becoming_a_formula(client: TestClient, wechat: FakeWeChat) -> None:
    report(client, wechat, "openid-formula", "=HYPERLINK(1) 3号楼楼道灯坏了")
    log_in(client, "zhangli")
    answer = client.get("/console/tickets.csv?tab=all")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(answer.content.decode("utf-8-sig").splitlines()))
    assert rows[1][-1].startswith("'=HYPERLINK")
