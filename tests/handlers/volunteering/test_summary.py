"""This month's hours and points: one route answers it, whatever the classifier made of the words."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.services import Services
from storage import repositories as repo
from tests.handlers.volunteering.conftest import Clock, talk

NO_HOURS = "11月还没有记录到服务时长"


@pytest.mark.parametrize("text", ["我这个月的时长", "本月积分多少", "这个月的志愿服务时长", "这个月活动时间有多少"])
def test_a_month_summary_is_answered_whatever_the_intent(
    client: TestClient, services: Services, community: int, clock: Clock, text: str
) -> None:
    assert NO_HOURS in talk(client, "openid-month").say(text)


def test_points_and_redemptions_that_mention_the_month_are_not_summaries(
    client: TestClient, services: Services, community: int, clock: Clock
) -> None:
    resident = talk(client, "openid-points")
    assert "您现在有 0 积分" in resident.say("积分")
    assert "没找到“本月积分券”" in resident.say("兑换 本月积分券")


def test_a_stored_config_that_no_longer_validates_still_answers(
    client: TestClient, services: Services, community: int, clock: Clock
) -> None:
    resident = talk(client, "openid-stale")
    assert "食堂券：20 积分" in resident.say("积分")
    with services.sessions.begin() as session:
        row = repo.community_by_code(session, code="heping")
        assert row is not None
        # As a config written before stock had a bound would look.
        rewards = [{"name": "食堂券", "points_price": 20, "stock": 99999999999}]
        row.config = dict(row.config) | {"rewards": rewards}
    reply = resident.say("积分")
    assert "您现在有 0 积分" in reply
    assert "食堂券：20 积分" in reply  # the catalogue the database holds is kept, not wiped
