"""The console in real headless Chromium against a real server: a worker logs in from WeCom's OAuth redirect,
sees a resident's new report, accepts it, replies, resolves it and exports the list. A screenshot of each
page is written to the test's own folder.
"""

from __future__ import annotations

import csv
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from bot.app import create_app
from bot.services import Services
from handlers.communities import load_communities, parse_community_file
from tests.bot.console.conftest import EXAMPLE, console_settings, drain
from tests.support.fake_api import FakeApi
from tests.support.people import Resident
from tests.support.wechat import FakeWeChat

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@dataclass(frozen=True)
class Live:
    base: str
    services: Services


@contextmanager
def live_console(db_url: str, tmp_path: Path, api: FakeApi) -> Iterator[Live]:
    """The whole app under uvicorn in a thread, on a free loopback port, with its lifespan."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = console_settings(db_url, tmp_path, api, public_url=base)
    services = Services(settings)
    with services.sessions.begin() as session:
        load_communities(session, parse_community_file(EXAMPLE))
    server = uvicorn.Server(uvicorn.Config(create_app(settings, services), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Live(base, services)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        services.close()


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path, console_api: FakeApi) -> Iterator[Live]:
    with live_console(sqlite_url, tmp_path, console_api) as running:
        yield running


def test_a_worker_handles_a_report_from_login_to_export(
    live: Live, console_api: FakeApi, tmp_path: Path, wechat: FakeWeChat
) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = tmp_path / "screenshots"
    shots.mkdir()
    console_api.login_as = "zhangli"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="zh-CN")
        page.goto(f"{live.base}/console/tickets")
        expect(page.get_by_role("heading", name="登录工作台")).to_be_visible()
        page.screenshot(path=shots / "01-login.png", full_page=True)

        # WeCom's OAuth: to the (fake) authorize page and back with a code that getuserinfo turns into 张丽.
        page.get_by_role("link", name="用企业微信身份登录").click()
        # The browser keeps WeCom's "#wechat_redirect" fragment through the redirects, as WeCom's does.
        page.wait_for_url(re.compile(r".*/console/tickets(#wechat_redirect)?$"))
        expect(page.locator("header")).to_contain_text("张丽")
        assert console_api.sent("/cgi-bin/auth/getuserinfo")

        # A resident reports through the real signed webhook; the list shows the new ticket.
        with httpx.Client(base_url=live.base) as http:
            resident = Resident(http, wechat, "openid-browser")  # type: ignore[arg-type]
            resident.join("101")
            answer = resident.say("3号楼楼道灯坏了，晚上黑乎乎的")
        code = answer.split("工单号 ")[1][:6]
        page.get_by_role("link", name="待接单").click()
        row = page.locator("tr", has_text=code)
        expect(row).to_be_visible()
        expect(row).to_contain_text("剩")
        page.screenshot(path=shots / "02-tickets.png", full_page=True)

        row.get_by_role("link", name=code).click()
        expect(page.get_by_role("heading", name=f"工单 {code}")).to_be_visible()
        expect(page.locator(".said")).to_contain_text("3号楼楼道灯坏了")
        page.get_by_role("button", name="接单").click()
        expect(page.locator(".notice")).to_contain_text("已接单")

        page.locator("textarea[name=text]").fill("师傅下午三点来换灯泡。")
        page.get_by_role("button", name="发送给居民").click()
        expect(page.locator(".notice")).to_contain_text("客服消息")
        page.screenshot(path=shots / "03-ticket.png", full_page=True)
        drain(live.services)
        replies = [
            c.body["text"]["content"]
            for c in console_api.sent("/cgi-bin/message/custom/send")
            if c.body["touser"] == "openid-browser"
        ]
        assert any("师傅下午三点来换灯泡" in text for text in replies), replies

        page.locator("form", has=page.get_by_role("button", name="办结")).locator("textarea").fill("已更换灯泡。")
        page.get_by_role("button", name="办结").click()
        expect(page.locator(".notice")).to_contain_text("已办结")
        expect(page.locator(".timeline")).to_contain_text("回复居民")

        page.goto(f"{live.base}/console/tickets?tab=all")
        expect(page.locator("tr", has_text=code)).to_contain_text("已办结")
        with page.expect_download() as download:
            page.get_by_role("link", name="导出 CSV").click()
        saved = shots.parent / "tickets.csv"
        download.value.save_as(saved)
        rows = list(csv.reader(saved.read_text(encoding="utf-8-sig").splitlines()))
        assert rows[0][0] == "工单号" and any(r[0] == code and "张丽" in r for r in rows[1:]), rows

        phone = browser.new_page(viewport={"width": 375, "height": 740}, locale="zh-CN", is_mobile=True)
        phone.context.add_cookies(page.context.cookies())
        phone.goto(f"{live.base}/console/tickets?tab=all")
        expect(phone.locator("tr", has_text=code)).to_be_visible()
        phone.screenshot(path=shots / "04-tickets-phone.png", full_page=True)
        phone.goto(f"{live.base}/console/tickets/{code}")
        phone.screenshot(path=shots / "05-ticket-phone.png", full_page=True)
        browser.close()
    assert len(list(shots.glob("*.png"))) == 5
