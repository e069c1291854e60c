"""活动 in the console: a worker creates and edits an activity, sees who signed up and who checked in, and
signs an elder up (or cancels their place) on their behalf; bad input and other communities are refused."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.services import Services
from storage.access import AuditEntry
from storage.activities import Activity, ActivitySignup
from storage.models import Resident
from tests.bot.console.conftest import log_in, resident
from tests.support.wechat import FakeWeChat


def _named(services: Services, openid: str, name: str, building: str, unit: str, room: str) -> None:
    with services.sessions.begin() as session:
        row = session.scalar(select(Resident).where(Resident.openid == openid))
        assert row is not None
        row.display_name, row.building, row.unit, row.room = name, building, unit, room


def _create(client: TestClient, csrf: str, **changes: str) -> int:
    form = {
        "title": "重阳节包饺子",
        "kind": "volunteer",
        "place": "社区活动室",
        "start": "2030-10-15T09:00",
        "end": "2030-10-15T11:30",
        "capacity": "2",
        "csrf": csrf,
    } | changes
    created = client.post("/console/activities/new", data=form)
    assert created.status_code == 303, created.text
    match = re.search(r"/console/activities/(\d+)", created.headers["location"])
    assert match
    return int(match.group(1))


def _signups(services: Services, activity_id: int) -> tuple[int, int]:
    with services.sessions.begin() as session:
        activity = session.get(Activity, activity_id)
        assert activity is not None
        count = session.scalar(select(func.count()).where(ActivitySignup.activity_id == activity_id))
        return activity.joined, int(count or 0)


def test_a_worker_creates_an_activity_a_resident_joins_and_an_elder_is_signed_up_on_her_behalf(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    csrf = log_in(client, "zhangli")
    activity_id = _create(client, csrf)
    page = client.get(f"/console/activities/{activity_id}")
    assert page.status_code == 200 and "重阳节包饺子" in page.text and "签到码" in page.text
    assert "重阳节包饺子" in client.get("/console/activities").text

    joiner = resident(client, wechat, "openid-act-1")
    _named(services, "openid-act-1", "王大爷", "3", "2", "301")
    assert "报名" in joiner.say("报名 包饺子")
    resident(client, wechat, "openid-act-2")
    _named(services, "openid-act-2", "李奶奶", "4", "1", "102")

    page = client.get(f"/console/activities/{activity_id}")
    assert "王大爷" in page.text and "3号楼2单元301室" in page.text
    found = client.get(f"/console/activities/{activity_id}?find=4-1-102")
    assert "李奶奶" in found.text
    nobody = client.get(f"/console/activities/{activity_id}?find=100%25")
    assert "没有找到" in nobody.text
    with services.sessions.begin() as session:
        elder = session.scalar(select(Resident.id).where(Resident.openid == "openid-act-2"))
        other = session.scalar(select(Resident.id).where(Resident.openid == "openid-act-1"))
    signed = client.post(f"/console/activities/{activity_id}/signups", data={"resident_id": elder, "csrf": csrf})
    assert "已为李奶奶报名" in client.get(signed.headers["location"]).text
    assert _signups(services, activity_id) == (2, 2)

    # Full at two; lowering the limit below the sign-ups is refused and changes nothing.
    lower = client.post(
        f"/console/activities/{activity_id}",
        data={
            "title": "重阳节包饺子",
            "kind": "volunteer",
            "start": "2030-10-15T09:00",
            "end": "2030-10-15T11:30",
            "capacity": "1",
            "csrf": csrf,
        },
    )
    assert "不能少于报名人数" in client.get(lower.headers["location"]).text
    cancelled = client.post(
        f"/console/activities/{activity_id}/signups", data={"resident_id": other, "cancel": "1", "csrf": csrf}
    )
    assert "已为王大爷取消报名" in client.get(cancelled.headers["location"]).text
    assert _signups(services, activity_id) == (1, 1)
    again = client.post(
        f"/console/activities/{activity_id}/signups", data={"resident_id": other, "cancel": "1", "csrf": csrf}
    )
    assert "没有报名" in client.get(again.headers["location"]).text
    assert _signups(services, activity_id) == (1, 1)

    edited = client.post(
        f"/console/activities/{activity_id}",
        data={
            "title": "重阳节包饺子（改到下午）",
            "kind": "volunteer",
            "place": "二楼",
            "start": "2030-10-15T14:00",
            "end": "2030-10-15T16:00",
            "capacity": "",
            "csrf": csrf,
        },
    )
    assert "已保存" in client.get(edited.headers["location"]).text
    with services.sessions.begin() as session:
        activity = session.get(Activity, activity_id)
        assert activity is not None and activity.title == "重阳节包饺子（改到下午）" and activity.capacity is None
    poster = client.get(f"/console/activities/{activity_id}/poster")
    assert poster.status_code == 200 and "签到 " in poster.text
    qr = client.get(f"/console/activities/{activity_id}/qr.png")
    assert qr.status_code == 200 and qr.content[:4] == b"\x89PNG"
    with services.sessions.begin() as session:
        audited = [r.path for r in session.scalars(select(AuditEntry).where(AuditEntry.actor == "console:zhangli"))]
    assert f"/console/activities/{activity_id}" in audited


def test_bad_input_is_named_and_writes_nothing(client: TestClient, services: Services) -> None:
    csrf = log_in(client, "zhangli")
    with services.sessions.begin() as session:
        before = session.scalar(select(func.count(Activity.id)))
    for changes, says in (
        ({"end": "2030-10-15T08:00"}, "结束时间要晚于开始时间"),
        ({"start": "明天上午"}, "开始和结束时间请按"),
        ({"capacity": "99999999"}, "人数上限请填"),
        ({"capacity": "-3"}, "人数上限请填"),
        ({"title": "  "}, "请填写活动名称"),
        ({"kind": "party"}, "请选择活动类型"),
    ):
        form = {
            "title": "讲座",
            "kind": "meeting",
            "start": "2030-10-15T09:00",
            "end": "2030-10-15T10:00",
            "csrf": csrf,
        } | changes
        answer = client.post("/console/activities/new", data=form)
        assert answer.status_code == 400 and says in answer.text, (changes, answer.text)
    with services.sessions.begin() as session:
        assert session.scalar(select(func.count(Activity.id))) == before


def test_another_communitys_activity_is_not_found_and_a_forged_token_is_refused(
    client: TestClient, services: Services
) -> None:
    csrf = log_in(client, "lijianguo")  # 幸福里社区
    theirs = _create(client, csrf, title="幸福里合唱")
    client.cookies.clear()
    csrf = log_in(client, "zhangli")
    assert client.get(f"/console/activities/{theirs}").status_code == 404
    assert client.get(f"/console/activities/{theirs}/poster").status_code == 404
    assert "幸福里合唱" not in client.get("/console/activities").text
    mine = _create(client, csrf)
    forged = client.post(
        f"/console/activities/{mine}",
        data={
            "title": "改名",
            "kind": "volunteer",
            "start": "2030-10-15T09:00",
            "end": "2030-10-15T11:30",
            "csrf": "forged",
        },
    )
    assert forged.status_code == 403
    with services.sessions.begin() as session:
        activity = session.get(Activity, mine)
        assert activity is not None and activity.title == "重阳节包饺子"
