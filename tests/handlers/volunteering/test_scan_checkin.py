"""Checking in by scanning the venue's QR code: a WeChat scene code made when the activity is created."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
import segno
from fastapi.testclient import TestClient

from bot.services import Services
from bot.settings import Settings
from handlers.clock import FixedClock
from handlers.volunteering.activities import create_activity_with_qr
from storage import activities as arepo
from storage import repositories as repo
from tests.conftest import make_settings
from tests.handlers.volunteering.conftest import T0, talk
from tests.support.fake_api import FakeApi

QR_CREATE = "/cgi-bin/qrcode/create"


@pytest.fixture
def settings(db_url: str, tmp_path: Path, api: FakeApi) -> Settings:
    return make_settings(db_url, tmp_path, reply_budget_seconds=60.0, wechat_api_base=api.base)


def create(services: Services, community: int) -> arepo.Activity:
    with services.sessions.begin() as session:
        activity = create_activity_with_qr(
            session,
            data_dir=services.settings.data_dir,
            title="楼道清扫",
            kind="volunteer",
            starts_at=T0 + timedelta(hours=1),
            ends_at=T0 + timedelta(hours=3),
            now=T0,
            community_id=community,
        )
        activity_id = activity.id
    services.redraw_checkin_qr(activity_id=activity_id, now=T0)
    with services.sessions.begin() as session:
        stored = session.get(arepo.Activity, activity_id)
        assert stored is not None
        session.expunge(stored)
        return stored


def png_of(content: str, tmp_path: Path) -> bytes:
    path = tmp_path / "expected.png"
    segno.make(content, error="m").save(str(path), scale=8, border=2)
    return path.read_bytes()


def test_the_venue_qr_is_a_wechat_scene_code(services: Services, community: int, api: FakeApi, tmp_path: Path) -> None:
    activity = create(services, community)
    (call,) = api.sent(QR_CREATE)
    assert call.body["action_name"] == "QR_STR_SCENE"
    assert call.body["action_info"]["scene"]["scene_str"] == f"checkin-{activity.id}"
    assert call.body["expire_seconds"] == 3 * 3600 + 3600  # until an hour after the end
    assert activity.qr_path is not None
    assert Path(activity.qr_path).read_bytes() == png_of(f"http://weixin.qq.com/q/fake-checkin-{activity.id}", tmp_path)


def test_without_the_api_the_qr_carries_the_code_to_type(
    services: Services, community: int, api: FakeApi, tmp_path: Path
) -> None:
    api.down = True
    activity = create(services, community)
    assert activity.qr_path is not None
    assert Path(activity.qr_path).read_bytes() == png_of(f"签到 {activity.checkin_code}", tmp_path)


def test_scanning_checks_in_and_a_newcomer_follows_and_checks_in_at_once(
    client: TestClient, services: Services, community: int, clock: FixedClock
) -> None:
    activity = create(services, community)
    clock.advance(timedelta(minutes=40))  # 20 minutes before the start: inside the check-in window
    wang = talk(client, "openid-wang")
    wang.say("你好")
    assert "签到成功" in wang.post(wang.wechat.event("openid-wang", "SCAN", f"checkin-{activity.id}"))
    again = wang.wechat.event("openid-wang", "SCAN", f"checkin-{activity.id}", create_time=int(time.time()) + 5)
    assert "已经签到过了" in wang.post(again)

    newcomer = talk(client, "openid-new")
    reply = newcomer.post(newcomer.wechat.event("openid-new", "subscribe", f"qrscene_checkin-{activity.id}"))
    assert "和平社区" in reply and "签到成功" in reply
    with services.sessions.begin() as session:
        resident = repo.resident_by_openid(session, openid="openid-new")
        assert resident is not None and resident.active and resident.community_id == community
        assert arepo.open_attendance(session, resident_id=resident.id) is not None

    stale = wang.post(wang.wechat.event("openid-wang", "SCAN", "checkin-999999", create_time=int(time.time()) + 9))
    assert "已经结束或取消" in stale


def test_an_activity_made_through_the_api_gets_a_scene_code(
    client: TestClient, services: Services, community: int, api: FakeApi, tmp_path: Path
) -> None:
    body = {"title": "议事会", "kind": "meeting", "start": "2026-12-01T09:00+08:00", "end": "2026-12-01T10:00+08:00"}
    made = client.post("/api/activities", json=body, headers={"Authorization": "Bearer admin-token-for-tests"})
    assert made.status_code == 201, made.text
    data = made.json()
    (call,) = api.sent(QR_CREATE)
    assert call.body["action_info"]["scene"]["scene_str"] == f"checkin-{data['id']}"
    assert Path(data["qr_path"]).read_bytes() == png_of(f"http://weixin.qq.com/q/fake-checkin-{data['id']}", tmp_path)
