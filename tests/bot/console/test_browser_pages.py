"""The console's other pages in real headless Chromium against a real server: 警报与咨询, 活动, 志愿者与能人库,
积分, 知识库 and 数据看板, each used as a worker would, with a screenshot of each in the test's own folder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.services import Services
from handlers.privacy import encrypt_phone
from storage import ledger as lrepo
from storage.models import Resident, utcnow
from storage.volunteers import register_volunteer
from tests.bot.console.test_browser import CHROMIUM, CHROMIUM_ARGS, Live, live_console
from tests.support.fake_api import FakeApi
from tests.support.people import Resident as WeChatResident
from tests.support.wechat import FakeWeChat

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path, console_api: FakeApi) -> Iterator[Live]:
    with live_console(sqlite_url, tmp_path, console_api) as running:
        yield running


def _resident(live: Live, wechat: FakeWeChat, openid: str, name: str, building: str) -> tuple[WeChatResident, int]:
    http = httpx.Client(base_url=live.base)
    someone = WeChatResident(http, wechat, openid)  # type: ignore[arg-type]
    someone.join("101")
    with live.services.sessions.begin() as session:
        row = session.scalar(select(Resident).where(Resident.openid == openid))
        assert row is not None
        row.display_name, row.building, row.unit, row.room = name, building, "2", "301"
        row.phone_encrypted = encrypt_phone(live.services.settings.secret_key, "13900001111")
        return someone, row.id


def _seed_points_and_volunteer(services: Services, resident_id: int) -> int:
    with services.sessions.begin() as session:
        community_id = session.scalar(select(Resident.community_id).where(Resident.id == resident_id))
        register_volunteer(
            session,
            resident_id=resident_id,
            community_id=community_id,
            name="王大爷",
            phone_encrypted=encrypt_phone(services.settings.secret_key, "13900001111"),
            skills={"repair": "会修收音机、电风扇"},
            availability="工作日下午",
            now=utcnow(),
        )
        entry = lrepo.post_entry(
            session,
            resident_id=resident_id,
            community_id=community_id,
            unit="points",
            amount=30,
            kind="award",
            reason="重阳节志愿服务",
            now=utcnow(),
        )
        assert entry is not None
        return entry.id


def test_a_duty_worker_uses_every_page(live: Live, console_api: FakeApi, tmp_path: Path, wechat: FakeWeChat) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = tmp_path / "screenshots"
    shots.mkdir()
    console_api.login_as = "wangxiaoyan"
    someone, resident_id = _resident(live, wechat, "openid-pages", "王大爷", "3")
    assert "12356" in someone.say("我不想活了 活着没意思")
    _seed_points_and_volunteer(live.services, resident_id)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.goto(f"{live.base}/console/alerts")
        page.get_by_role("link", name="用企业微信身份登录").click()
        page.wait_for_url(re.compile(r".*/console/alerts(#wechat_redirect)?$"))

        # 警报与咨询: the red alert, acknowledged, then closed with what was done.
        row = page.locator("tr", has_text="我不想活了")
        expect(row).to_contain_text("待确认")
        page.screenshot(path=shots / "10-alerts.png", full_page=True)
        row.get_by_role("link").click()
        expect(page.locator("main")).to_contain_text("王大爷")
        page.get_by_role("button", name="显示完整号码").click()
        expect(page.locator("#phone")).to_contain_text("13900001111")
        page.get_by_role("button", name="确认收到").click()
        expect(page.locator(".notice")).to_contain_text("已确认收到")
        page.locator("textarea[name=note]").fill("已电话联系，女儿已到家陪着")
        page.get_by_role("button", name="关闭").click()
        expect(page.locator(".notice")).to_contain_text("已关闭")
        page.screenshot(path=shots / "11-alert.png", full_page=True)

        # 活动: create one, then sign 王大爷 up on his behalf.
        page.get_by_role("link", name="活动").first.click()
        page.get_by_role("link", name="新建活动").click()
        page.locator("input[name=title]").fill("重阳节包饺子")
        page.locator("select[name=kind]").select_option("volunteer")
        page.locator("input[name=place]").fill("社区活动室")
        page.locator("input[name=start]").fill("2030-10-15T09:00")
        page.locator("input[name=end]").fill("2030-10-15T11:30")
        page.get_by_role("button", name="创建").click()
        expect(page.locator(".notice")).to_contain_text("已创建")
        page.locator("input[name=find]").fill("王大爷")
        page.get_by_role("button", name="查找居民").click()
        page.get_by_role("button", name="为他报名").click()
        expect(page.locator(".notice")).to_contain_text("已为王大爷报名")
        expect(page.locator("table.signups")).to_contain_text("3号楼2单元301室")
        page.screenshot(path=shots / "12-activity.png", full_page=True)
        with page.expect_popup() as popup:
            page.get_by_role("link", name=re.compile("打印海报")).click()
        poster = popup.value
        poster.wait_for_load_state()
        assert poster.locator("img").evaluate("img => img.complete && img.naturalWidth") > 0  # the QR drew
        poster.screenshot(path=shots / "13-poster.png", full_page=True)
        poster.close()

        # 志愿者与能人库: found by what he can do.
        page.get_by_role("link", name="志愿者与能人库").click()
        page.locator("input[name=q]").fill("收音机")
        page.get_by_role("button", name="查找").click()
        expect(page.locator("table.volunteers")).to_contain_text("王大爷")
        page.screenshot(path=shots / "14-volunteers.png", full_page=True)

        # 积分: his ledger, an entry reversed by click and reason.
        page.get_by_role("link", name="积分").click()
        page.locator("input[name=find]").fill("王大爷")
        page.get_by_role("button", name="查找").click()
        page.get_by_role("link", name="王大爷").click()
        expect(page.locator(".balance")).to_contain_text("30 分")
        entry = page.locator("table.ledger tr", has_text="重阳节志愿服务")
        entry.locator("input[name=reason]").fill("当天没有到场")
        entry.get_by_role("button", name="冲正").click()
        expect(page.locator(".notice")).to_contain_text("已冲正：-30 分")
        expect(page.locator(".balance")).to_contain_text("0 分")
        page.screenshot(path=shots / "15-ledger.png", full_page=True)

        # 知识库: a new entry, its preview as the resident will read it, and the bot answering with it.
        page.get_by_role("link", name="知识库").click()
        page.get_by_role("link", name="新建条目").click()
        page.locator("input[name=question]").fill("社区的共享轮椅在哪里借")
        page.locator("textarea[name=answer]").fill("共享轮椅在居委会一楼值班室，带上身份证登记就能借。")
        expect(page.locator("#preview")).to_contain_text("居委会一楼值班室")
        expect(page.locator("#preview")).to_contain_text("12345")
        page.screenshot(path=shots / "16-kb-entry.png", full_page=True)
        page.get_by_role("button", name="保存为新条目").click()
        expect(page.locator(".notice")).to_contain_text("已新建")
        live.services.live_knowledge.refresh()
        # Another resident asks (the first is still in the crisis conversation, which answers only that).
        neighbour, _ = _resident(live, wechat, "openid-pages-2", "李奶奶", "4")
        assert "居委会一楼值班室" in neighbour.say("社区的共享轮椅在哪里借")

        page.get_by_role("link", name="数据看板").click()
        # 数据看板: every chart with something counted is drawn by ECharts on a canvas; the rest say 暂无数据.
        charts, empty = page.locator(".chart"), page.locator(".chart-empty")
        expect(page.locator(".chart, .chart-empty")).to_have_count(10)
        count = charts.count()
        assert count >= 2  # this afternoon's tickets, by category and by colour
        expect(page.locator('.chart[data-drawn="1"] canvas')).to_have_count(count)
        expect(empty.first).to_contain_text("暂无数据")
        drawn: Any = page.evaluate(
            "() => [...document.querySelectorAll('.chart')].map(el => echarts.getInstanceByDom(el) ? 1 : 0)"
        )
        assert drawn == [1] * count
        page.screenshot(path=shots / "17-dashboard.png", full_page=True)
        phone = browser.new_page(viewport={"width": 375, "height": 740}, locale="zh-CN", is_mobile=True)
        phone.context.add_cookies(page.context.cookies())
        phone.goto(f"{live.base}/console/dashboard")
        expect(phone.locator('.chart[data-drawn="1"] canvas')).to_have_count(count)
        phone.screenshot(path=shots / "18-dashboard-phone.png", full_page=True)
        browser.close()
    assert len(list(shots.glob("*.png"))) == 9
