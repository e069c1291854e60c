"""WeCom text commands as a worker types them: their list, a bare 接单, 转派 by name, a ticket already taken."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bot.services import Services
from storage import tickets as store
from tests.support.fake_api import FakeApi
from tests.support.wechat import FakeWeChat

from .conftest import code_in, customs_to, drain, resident, worker


def holder(services: Services, code: str) -> tuple[str | None, str]:
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        assert ticket is not None
        return ticket.assignee, ticket.status


def test_my_tickets_lists_what_the_worker_holds(client: TestClient, wechat: FakeWeChat) -> None:
    zhangli = worker(client, "zhangli")
    assert "没有未办结的工单" in zhangli.say("我的工单")
    first = code_in(resident(client, wechat, "openid-a").say("3号楼东边的路灯坏了"))
    second = code_in(resident(client, wechat, "openid-b").say("2号楼门口垃圾没人清运"))
    listed = zhangli.say("我的工单")
    assert first in listed and second in listed and "3号楼" in listed
    assert first in zhangli.say("列表")
    assert "没有未办结的工单" in worker(client, "chengang").say("我的工单 ")


def test_a_bare_accept_takes_the_oldest_waiting_ticket_in_reach(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    first = code_in(resident(client, wechat, "openid-a").say("3号楼东边的路灯坏了"))
    second = code_in(resident(client, wechat, "openid-b").say("4号楼门口垃圾没人清运"))
    other_grid = code_in(resident(client, wechat, "openid-c").say("6号楼门口垃圾没人清运"))
    zhangli = worker(client, "zhangli")
    assert first in zhangli.say("接单") and holder(services, first) == ("zhangli", "accepted")
    assert second in zhangli.say("接单。") and holder(services, second) == ("zhangli", "accepted")
    # Grid 2's ticket is not hers to take.
    assert "暂时没有您可以接的" in zhangli.say("接单")
    assert holder(services, other_grid) == ("chengang", "open")
    # The leader sees the whole community.
    assert other_grid in worker(client, "zhoushuji").say("接单")


def test_a_second_accept_names_the_holder_and_the_resident_hears_once(
    client: TestClient, services: Services, api: FakeApi, wechat: FakeWeChat
) -> None:
    someone = resident(client, wechat)
    code = code_in(someone.say("3号楼东边的路灯坏了"))
    assert "已接单" in worker(client, "zhangli").say(f"接单 {code}")
    second = worker(client, "liushifu").say(f"接单 {code}")
    assert "已由 张丽 接单" in second and "已接单：" not in second
    assert holder(services, code) == ("zhangli", "accepted")
    drain(services)
    assert len([t for t in customs_to(api, someone.openid) if "已有工作人员接单" in t]) == 1


def test_transfer_by_name_and_refusals_of_an_unknown_or_ambiguous_name(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    code = code_in(resident(client, wechat).say("3号楼东边的路灯坏了"))
    zhangli = worker(client, "zhangli")
    unknown = zhangli.say(f"转派 {code} 王师傅")
    assert "“王师傅”不是本社区登记的工作人员" in unknown and "刘师傅" in unknown
    ambiguous = zhangli.say(f"转派 {code} 师傅")
    assert "位工作人员叫“师傅”" in ambiguous and "liushifu" in ambiguous and "sunshifu" in ambiguous
    assert holder(services, code) == ("zhangli", "open")
    assert "已转派给 物业电工班 刘师傅" in zhangli.say(f"转派 {code} 刘师傅 电路问题")
    assert holder(services, code) == ("liushifu", "open")
    assert "已经由 物业电工班 刘师傅 负责" in zhangli.say(f"转派 {code} liushifu")


def test_help_names_the_new_commands(client: TestClient) -> None:
    helped = worker(client, "zhangli").say("你好")
    assert "我的工单" in helped and "转派 工单号 姓名" in helped
