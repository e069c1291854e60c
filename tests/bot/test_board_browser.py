"""The public notice board, its QR poster and the monthly report in real headless Chromium against a real
server: a resident objects through the signed webhook and the board counts it; the ECharts pie and the
progress bars are drawn; screenshots of each page are written to the test's own folder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from handlers.board.services import publish_allocation, record_budget, record_spending, set_progress
from handlers.volunteering.rules import month_of
from storage import repositories as repo
from storage import tickets as store
from storage.models import utcnow
from tests.bot.console.test_browser import CHROMIUM, CHROMIUM_ARGS, Live, live_console
from tests.conftest import AES_KEY, APP_ID, TOKEN
from tests.support.fake_api import FakeApi
from tests.support.people import Resident
from tests.support.wechat import FakeWeChat

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture
def console_api(api: FakeApi) -> FakeApi:
    api.login_as = ""
    return api


@pytest.fixture
def wechat() -> FakeWeChat:
    return FakeWeChat(TOKEN, APP_ID, AES_KEY)


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path, console_api: FakeApi) -> Iterator[Live]:
    with live_console(sqlite_url, tmp_path, console_api) as running:
        yield running


def seed(live: Live) -> int:
    now = utcnow()
    with live.services.sessions.begin() as session:
        heping = repo.community_by_code(session, code="heping")
        assert heping is not None
        record_budget(
            session,
            community=heping,
            period="2026",
            title="街道拨款",
            source="government",
            amount_fen=30_000_000,
            worker="wangxiaoyan",
            now=now,
        )
        record_budget(
            session,
            community=heping,
            period="2026",
            title="物业公司捐助",
            source="company",
            amount_fen=5_000_000,
            worker="wangxiaoyan",
            now=now,
        )
        done = publish_allocation(
            session,
            community=heping,
            title="长者食堂补贴",
            purpose="elderly",
            amount_fen=9_000_000,
            beneficiaries="70岁以上老人",
            worker="wangxiaoyan",
            now=now - timedelta(days=20),
        )
        done.status, done.effective_at = "effective", now - timedelta(days=13)
        set_progress(session, community=heping, allocation_id=done.id, progress=60, now=now)
        record_spending(
            session,
            community=heping,
            allocation_id=done.id,
            amount_fen=2_400_000,
            note="十月餐费补贴",
            spent_at=now - timedelta(days=3),
            worker="wangxiaoyan",
            now=now,
        )
        fresh = publish_allocation(
            session,
            community=heping,
            title="儿童游乐设施",
            purpose="children",
            amount_fen=6_000_000,
            beneficiaries="小区里的孩子和家长",
            worker="wangxiaoyan",
            now=now,
        )
        # This month's reports, handled and rated: the report's bar chart and satisfaction pie.
        for n, (category, score) in enumerate([("lighting", 5), ("lighting", 4), ("lift", 5), ("noise", 2)]):
            reporter = repo.get_or_create_resident(session, openid=f"openid-board-rater-{n}")
            ticket = store.create_ticket(
                session,
                community_id=heping.id,
                reporter_id=reporter.id,
                category=category,
                colour="blue",
                description="问题",
                place="3号楼",
                building="3",
                unit=None,
                assignee="zhangli",
                due_at=now + timedelta(days=1),
                remind_at=now,
                now=now - timedelta(minutes=5),
                actor="system",
            )
            ticket.status, ticket.resolved_at = "closed", now - timedelta(minutes=1)
            store.add_event(session, ticket=ticket, actor="system", action="rated", data={"score": score}, now=now)
        return fresh.id


def test_the_board_poster_and_report_in_a_real_browser(live: Live, tmp_path: Path, wechat: FakeWeChat) -> None:
    from playwright.sync_api import expect, sync_playwright

    number = seed(live)
    with httpx.Client(base_url=live.base) as http:
        resident = Resident(http, wechat, "openid-board-browser")  # type: ignore[arg-type]
        resident.join("101")
        answer = resident.say(f"异议 A{number} 游乐设施离老人活动区太近，孩子跑来跑去容易撞到老人")
    assert "收到" in answer

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # A phone: the board is read in WeChat's browser after scanning the poster.
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN", device_scale_factor=2)
        page.goto(f"{live.base}/board/heping")
        expect(page.get_by_role("heading", name="和平社区 资源分配公示")).to_be_visible()
        card = page.locator(f"#A{number}")
        expect(card).to_contain_text("公示中，还剩 7 天")
        expect(card.locator(".objections")).to_have_text("1")
        expect(page.locator("#purpose-chart canvas")).to_be_visible()
        expect(page.locator("#source-chart canvas")).to_be_visible()
        bar = page.locator(".allocation", has_text="长者食堂补贴").locator(".bar > i")
        assert bar.evaluate("el => el.style.width") == "60%"
        expect(page.locator(".allocation", has_text="长者食堂补贴")).to_contain_text("十月餐费补贴")
        assert "撞到老人" not in page.content()
        page.screenshot(path=shots / "01-board-phone.png", full_page=True)

        page.goto(f"{live.base}/board/heping/poster")
        expect(page.locator(".poster h1")).to_contain_text("资源分配公示")
        assert page.locator(".poster img").evaluate("img => img.complete && img.naturalWidth > 100")
        page.screenshot(path=shots / "02-poster.png", full_page=True)

        wide = browser.new_page(viewport={"width": 1100, "height": 900}, locale="zh-CN")
        wide.goto(f"{live.base}/board/heping/report/{month_of(utcnow())}")
        expect(wide.get_by_role("heading", level=1)).to_contain_text("工作报告")
        for chart in ("categories-chart", "satisfaction-chart", "allocations-chart"):
            expect(wide.locator(f"#{chart} canvas")).to_be_visible()
        expect(wide.locator("table")).to_contain_text("儿童游乐设施")
        expect(wide.locator(".figure", has_text="居民满意率")).to_contain_text("75.0%")
        wide.screenshot(path=shots / "03-report.png", full_page=True)
        wide.emulate_media(media="print")
        wide.screenshot(path=shots / "04-report-print.png", full_page=True)
        browser.close()
    assert all(
        (shots / name).stat().st_size > 10_000 for name in ("01-board-phone.png", "02-poster.png", "03-report.png")
    )


def test_an_unknown_community_or_month_is_a_page_in_chinese_with_404(live: Live) -> None:
    with httpx.Client(base_url=live.base) as http:
        for path in ("/board/nowhere", "/board/Bad%20Code!", "/board/nowhere/poster", "/board/heping/report/2026-13"):
            missing = http.get(path)
            assert missing.status_code == 404, path
            assert missing.headers["content-type"].startswith("text/html"), path
            assert "没有找到这个社区的公示栏" in missing.text, path
        assert "<script>" not in http.get("/board/%3Cscript%3E").text
        assert http.get("/board/heping/qr.png").headers["content-type"] == "image/png"
        assert http.get("/static/echarts/LICENSE").status_code == 200
