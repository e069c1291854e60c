"""The points ledger under retries and concurrency: one award per check-out, one voucher per last item."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli.main import app as cli
from bot.services import Services
from bot.settings import get_settings
from handlers.clock import FixedClock
from handlers.volunteering.activities import create_activity_with_qr
from handlers.volunteering.checkin import check_out
from handlers.volunteering.points import new_voucher_code
from handlers.volunteering.rules import PointsRules, credited_minutes, points_for_stay
from storage import activities as arepo
from storage import ledger as lrepo
from storage import rewards as rrepo
from tests.handlers.volunteering.conftest import T0, assert_ledger_balances, resident_id, talk

HEADERS = {"Authorization": "Bearer admin-token-for-tests"}


def run_together(*jobs: Callable[[], object]) -> list[object]:
    """Start the jobs at the same moment on separate threads; results (or exceptions) in order."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(i: int, job: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[i] = job()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def give_points(services: Services, rid: int, amount: int, community: int | None, key: str) -> None:
    with services.sessions.begin() as session:
        lrepo.post_entry(
            session,
            resident_id=rid,
            community_id=community,
            unit="points",
            amount=amount,
            kind="award",
            reason="测试发放",
            now=T0,
            source_key=key,
        )


def checked_in_resident(services: Services, openid: str) -> tuple[int, arepo.Activity]:
    rid = resident_id(services, openid)
    with services.sessions.begin() as session:
        activity = create_activity_with_qr(
            session,
            data_dir=services.settings.data_dir,
            title="陪老人聊天",
            kind="volunteer",
            starts_at=T0,
            ends_at=T0 + timedelta(hours=2),
            now=T0,
            time_bank=True,
        )
        arepo.check_in(session, activity_id=activity.id, resident_id=rid, community_id=None, now=T0)
    return rid, activity


def test_two_concurrent_check_outs_pay_once(services: Services) -> None:
    rid, _ = checked_in_resident(services, "openid-qian")
    leave = T0 + timedelta(hours=1, minutes=40)

    def checkout() -> str:
        with services.sessions.begin() as session:
            return check_out(session, resident_id=rid, now=leave).status

    results = run_together(checkout, checkout, checkout)
    assert sorted(map(str, results)) == ["done", "none", "none"]
    with services.sessions.begin() as session:
        assert lrepo.balance(session, resident_id=rid) == 7  # 1.5 h at 5 an hour, rounded down
        assert lrepo.balance(session, resident_id=rid, unit="minutes") == 90  # time bank
        awards = [e for e in lrepo.entries_for(session, resident_id=rid) if e.kind == "award"]
        assert len(awards) == 2
    assert_ledger_balances(services)


def test_concurrent_check_out_messages_pay_once(
    client: TestClient, services: Services, community: int, clock: FixedClock
) -> None:
    rid, _ = checked_in_resident(services, "openid-feng")
    clock.advance(timedelta(hours=2))
    feng = talk(client, "openid-feng")
    replies = run_together(lambda: feng.say("签退"), lambda: feng.say("签退"))
    assert sum("签退成功" in str(r) for r in replies) == 1, replies
    with services.sessions.begin() as session:
        assert lrepo.balance(session, resident_id=rid) == 10
    assert_ledger_balances(services)


def test_the_same_award_key_never_pays_twice(services: Services) -> None:
    rid = resident_id(services, "openid-he")
    key = lrepo.award_key(resident_id=rid, activity_id=1, kind="points")
    give_points(services, rid, 10, None, key)
    give_points(services, rid, 10, None, key)
    with services.sessions.begin() as session:
        assert lrepo.balance(session, resident_id=rid) == 10


def test_last_item_in_stock_goes_to_one_of_two_residents(services: Services, community: int) -> None:
    a, b = resident_id(services, "openid-x"), resident_id(services, "openid-y")
    for rid in (a, b):
        give_points(services, rid, 50, community, f"seed:{rid}")
    with services.sessions.begin() as session:
        rrepo.sync_rewards(session, community_id=community, items=[{"name": "食堂券", "points_price": 20, "stock": 1}])
        reward_id = rrepo.find_reward(session, community_id=community, name="食堂券").id  # type: ignore[union-attr]

    def redeem(rid: int) -> Callable[[], object]:
        def run() -> object:
            with services.sessions.begin() as session:
                return rrepo.redeem_reward(
                    session,
                    resident_id=rid,
                    community_id=community,
                    reward_id=reward_id,
                    now=T0,
                    new_code=new_voucher_code,
                ).code

        return run

    results = run_together(redeem(a), redeem(b))
    assert sum(isinstance(r, str) for r in results) == 1, results
    assert sum(isinstance(r, rrepo.OutOfStock) for r in results) == 1, results
    with services.sessions.begin() as session:
        assert session.scalars(select(rrepo.Voucher)).all().__len__() == 1
        assert session.get(rrepo.Reward, reward_id).stock == 0  # type: ignore[union-attr]
        assert sorted(lrepo.balance(session, resident_id=r) for r in (a, b)) == [30, 50]
    assert_ledger_balances(services)


def test_two_redemptions_cannot_spend_the_same_points(services: Services, community: int) -> None:
    rid = resident_id(services, "openid-z")
    give_points(services, rid, 30, community, "seed")
    with services.sessions.begin() as session:
        rrepo.sync_rewards(session, community_id=community, items=[{"name": "理发券", "points_price": 30, "stock": 5}])
        reward_id = rrepo.find_reward(session, community_id=community, name="理发券").id  # type: ignore[union-attr]

    def redeem() -> object:
        with services.sessions.begin() as session:
            return rrepo.redeem_reward(
                session, resident_id=rid, community_id=community, reward_id=reward_id, now=T0, new_code=new_voucher_code
            ).code

    results = run_together(redeem, redeem)
    assert sum(isinstance(r, str) for r in results) == 1
    assert sum(isinstance(r, lrepo.InsufficientBalance) for r in results) == 1
    assert_ledger_balances(services)


def test_redeem_by_message_and_a_voucher_is_used_only_once(
    client: TestClient, services: Services, community: int, clock: FixedClock
) -> None:
    zhao = talk(client, "openid-zhao")
    zhao.say("你好")
    rid = resident_id(services, "openid-zhao")
    assert "还差" in zhao.say("兑换 食堂券")
    give_points(services, rid, 45, community, "seed")
    balance = zhao.say("积分")
    assert "45 积分" in balance and "食堂券：20 积分" in balance
    reply = zhao.say("兑换 食堂券")
    assert "兑换成功" in reply
    code = reply.split("兑换码：")[1].split("\n")[0]
    assert "兑完" in zhao.say("兑换 食堂券")  # the only one in stock is gone

    first = client.post(f"/api/vouchers/{code}/use", json={"worker": "wangxiaoyan"}, headers=HEADERS)
    assert first.status_code == 200, first.text
    second = client.post(f"/api/vouchers/{code}/use", json={"worker": "lijianguo"}, headers=HEADERS)
    assert second.status_code == 409 and "used" in second.text
    assert client.post(f"/api/vouchers/{code}/use", json={"worker": "x"}).status_code == 401
    assert (
        client.post(
            f"/api/vouchers/{code}/use", json={"worker": "x"}, headers={"Authorization": "Bearer wrong"}
        ).status_code
        == 401
    )
    with services.sessions.begin() as session, pytest.raises(rrepo.VoucherRefused) as refused:
        rrepo.use_voucher(session, code=code.lower(), worker="w", now=T0)
    assert refused.value.reason == "used"
    assert "25 积分" in zhao.say("积分")
    assert_ledger_balances(services)


def test_a_sold_out_reward_is_restocked_from_the_command_line(
    client: TestClient, services: Services, community: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    zhao = talk(client, "openid-zhao")
    zhao.say("你好")
    give_points(services, resident_id(services, "openid-zhao"), 60, community, "seed")
    assert "兑换成功" in zhao.say("兑换 食堂券")
    assert "兑完" in zhao.say("兑换 食堂券")
    monkeypatch.setenv("SHEGONG_DATABASE_URL", services.settings.database_url)
    monkeypatch.setenv("SHEGONG_DATA_DIR", str(services.settings.data_dir))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        refused = runner.invoke(cli, ["reward", "stock", "食堂券", "--community", "heping", "--add", "-1"])
        assert refused.exit_code == 1 and "only 0 left" in refused.output
        assert runner.invoke(cli, ["reward", "stock", "茶叶", "--community", "heping", "--add", "5"]).exit_code == 1
        assert runner.invoke(cli, ["reward", "stock", "食堂券", "--community", "nowhere", "--add", "5"]).exit_code == 1
        restocked = runner.invoke(cli, ["reward", "stock", "食堂券", "--community", "heping", "--add", "10"])
        assert restocked.exit_code == 0 and "库存 10" in restocked.output, restocked.output
        assert "食堂券\t20 分\t库存 10" in runner.invoke(cli, ["reward", "list", "--community", "heping"]).output
    finally:
        get_settings.cache_clear()
    assert "兑换成功" in zhao.say("兑换 食堂券")
    with services.sessions.begin() as session:
        assert rrepo.find_reward(session, community_id=community, name="食堂券").stock == 9  # type: ignore[union-attr]
    assert_ledger_balances(services)


def test_a_worker_corrects_an_entry_only_by_reversing_it_once(
    client: TestClient, services: Services, community: int
) -> None:
    rid = resident_id(services, "openid-lu")
    give_points(services, rid, 15, community, "seed")
    with services.sessions.begin() as session:
        entry_id = lrepo.entries_for(session, resident_id=rid)[0].id
    assert (
        client.post(f"/api/ledger/{entry_id}/reverse", json={"reason": "", "worker": "w"}, headers=HEADERS).status_code
        == 422
    )
    done = client.post(
        f"/api/ledger/{entry_id}/reverse", json={"reason": "重复登记", "worker": "wangxiaoyan"}, headers=HEADERS
    )
    assert done.status_code == 201 and done.json()["amount"] == -15
    again = client.post(f"/api/ledger/{entry_id}/reverse", json={"reason": "再来", "worker": "w"}, headers=HEADERS)
    assert again.status_code == 409
    with services.sessions.begin() as session:
        assert lrepo.balance(session, resident_id=rid) == 0
        assert [e.amount for e in lrepo.entries_for(session, resident_id=rid)] == [15, -15]
    assert_ledger_balances(services)


def test_a_reversal_never_takes_the_balance_below_zero(services: Services, community: int) -> None:
    rid = resident_id(services, "openid-ma")
    give_points(services, rid, 20, community, "seed")
    with services.sessions.begin() as session:
        rrepo.sync_rewards(session, community_id=community, items=[{"name": "食堂券", "points_price": 20, "stock": 3}])
        reward = rrepo.find_reward(session, community_id=community, name="食堂券")
        assert reward is not None
        rrepo.redeem_reward(
            session, resident_id=rid, community_id=community, reward_id=reward.id, now=T0, new_code=new_voucher_code
        )
        award = lrepo.entries_for(session, resident_id=rid)[0]
    with services.sessions.begin() as session, pytest.raises(lrepo.InsufficientBalance):
        lrepo.reverse_entry(session, entry_id=award.id, reason="发错了", worker="w", now=T0)
    assert_ledger_balances(services)


def test_points_rules() -> None:
    rules = PointsRules()
    start, end = T0, T0 + timedelta(hours=2)
    assert credited_minutes(T0 - timedelta(minutes=20), T0 + timedelta(minutes=89), start, end) == 60
    assert credited_minutes(T0 + timedelta(hours=3), T0 + timedelta(hours=4), start, end) == 0
    assert credited_minutes(T0, T0 + timedelta(hours=9), start, end) == 120

    def points(kind: str, stayed: timedelta) -> int:
        return points_for_stay(
            kind, checked_in_at=T0, checked_out_at=T0 + stayed, starts_at=start, ends_at=end, rules=rules
        )

    assert points("volunteer", timedelta(minutes=95)) == 7
    assert points("meeting", timedelta(minutes=29)) == 0
    assert points("meeting", timedelta(minutes=30)) == 10
    assert points("skill_share", timedelta(hours=2)) == 15
    custom = PointsRules(volunteer_points_per_hour=8)
    assert (
        points_for_stay("volunteer", checked_in_at=T0, checked_out_at=end, starts_at=start, ends_at=end, rules=custom)
        == 16
    )


def test_time_bank_credits_are_spent_on_help_once_and_never_below_zero(
    client: TestClient, services: Services, community: int, clock: FixedClock
) -> None:
    from storage.models import OutboxMessage

    elder = talk(client, "openid-elder")
    elder.say("你好")
    rid = resident_id(services, "openid-elder")
    with services.sessions.begin() as session:
        lrepo.post_entry(
            session,
            resident_id=rid,
            community_id=community,
            unit="minutes",
            amount=150,
            kind="award",
            reason="帮邻居买菜",
            now=T0,
            source_key="seed-minutes",
        )
    assert "时间银行" in elder.say("时间银行")  # how to use it, and the balance
    too_much = elder.say("用时间银行 3小时 陪我去医院")
    assert "还不够" in too_much
    xml = elder.wechat.text("openid-elder", "用时间银行 一个半小时 陪我去医院复查", msg_id=77001)
    replies = [elder.post(xml) for _ in range(3)]  # WeChat's retries
    assert "1.5小时" in replies[0] and "陪我去医院复查" in replies[0]
    assert replies[0] == replies[1] == replies[2]
    with services.sessions.begin() as session:
        assert lrepo.balance(session, resident_id=rid, unit="minutes") == 60
        alerts = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "wecom_app")).all()
        assert sum("时间银行求助" in str(a.payload) for a in alerts) == 1
    assert_ledger_balances(services)
