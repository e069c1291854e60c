"""The try-it page (development only): a resident's phone and a worker's WeCom, each message going through
the real /wechat and /wecom code as signed, encrypted XML built by the server, in a real browser too."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.outbox import drain_once, make_senders
from bot.services import Services
from bot.settings import Settings
from handlers.communities import load_communities, parse_community_file
from storage.models import OutboxMessage, utcnow
from tests.conftest import AES_KEY, make_settings
from tests.support.people import CORP_ID, WECOM_AES_KEY, WECOM_TOKEN

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "community.yaml"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def tryit_settings(db_url: str, tmp_path: Path, **overrides: object) -> Settings:
    """Development as `make run` has it: keys for both callbacks, no API credentials (nothing is sent)."""
    values: dict[str, object] = {
        "wechat_app_secret": "",
        "wecom_secret": "",
        "wechat_aes_key": AES_KEY,
        "wecom_corp_id": CORP_ID,
        "wecom_token": WECOM_TOKEN,
        "wecom_aes_key": WECOM_AES_KEY,
    }
    return make_settings(db_url, tmp_path, **(values | overrides))


@pytest.fixture
def services(sqlite_url: str, tmp_path: Path) -> Iterator[Services]:
    services = Services(tryit_settings(sqlite_url, tmp_path))
    with services.sessions.begin() as session:
        load_communities(session, parse_community_file(EXAMPLE))
    yield services
    services.close()


def drain(services: Services) -> None:
    senders = make_senders(services)
    while drain_once(services, senders, now=utcnow()):
        pass


def text_of(bubbles: list[str]) -> str:
    return "\n".join(re.sub(r"<[^>]+>", " ", b) for b in bubbles)


def test_a_resident_and_a_worker_talk_through_the_real_callbacks(client: TestClient, services: Services) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "和平社区" in page.text and "张丽" in page.text
    said = client.post("/tryit/resident", data={"scene": "101", "text": "3号楼楼道灯坏了"}).json()["bubbles"]
    shown = text_of(said)
    assert "扫了社区的二维码" in shown and "3号楼楼道灯坏了" in shown and "工单号" in shown
    code = re.search(r"工单号 ([A-Z0-9]{6})", shown)
    assert code is not None
    drain(services)  # the development senders record each message as sent, without any network
    feed = client.get("/tryit/feed", params={"userid": "zhangli"}).json()
    assert code.group(1) in text_of(feed["worker"]) and "接单" in text_of(feed["worker"])
    answer = text_of(client.post("/tryit/worker", data={"userid": "zhangli", "text": "接单"}).json()["bubbles"])
    assert f"已接单：{code.group(1)}" in answer
    drain(services)
    later = client.get("/tryit/feed", params={"userid": "zhangli", "r": feed["r"], "w": feed["w"]}).json()
    assert "已有工作人员接单" in text_of(later["resident"])
    # Scanning the same community again sends no second subscribe.
    again = text_of(
        client.post("/tryit/resident", data={"scene": "101", "text": "查询 " + code.group(1)}).json()["bubbles"]
    )
    assert "扫了社区的二维码" not in again and "处理中" in again


def test_a_button_on_the_worker_card_goes_through_the_wecom_callback(client: TestClient, services: Services) -> None:
    assert client.get("/").status_code == 200  # the page gives this browser its resident
    said = text_of(client.post("/tryit/resident", data={"scene": "101", "text": "3号楼楼道灯坏了"}).json()["bubbles"])
    code = re.search(r"工单号 ([A-Z0-9]{6})", said)
    assert code is not None
    drain(services)
    card = client.get("/tryit/feed", params={"userid": "zhangli"}).json()["worker"][0]
    task = re.search(r"data-task='([^']+)'", card)
    assert task is not None, card
    clicked = client.post(
        "/tryit/click",
        data={"userid": "zhangli", "task_id": task.group(1), "key": f"accept:{code.group(1)}", "label": "接单"},
    ).json()["bubbles"]
    assert "点了“接单”" in text_of(clicked)
    drain(services)
    with services.sessions.begin() as session:
        texts = [r.payload for r in session.query(OutboxMessage).filter(OutboxMessage.recipient == "zhangli")]
    assert any("已接单" in str(p.get("text")) for p in texts)


def test_production_serves_no_try_it_page(services: Services) -> None:
    production = services.settings.model_copy(update={"env": "production"})
    with TestClient(create_app(production, services)) as client:
        assert client.get("/").status_code == 404
        assert client.post("/tryit/resident", data={"scene": "101", "text": "你好"}).status_code == 404


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_in_a_browser_a_report_reaches_the_worker_who_accepts_and_the_resident_is_told(
    sqlite_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    settings = tryit_settings(sqlite_url, tmp_path, embedded_worker=True)
    services = Services(settings)
    with services.sessions.begin() as session:
        load_communities(session, parse_community_file(EXAMPLE))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_app(settings, services), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page.goto(f"{base}/")
            resident, worker = page.locator("#resident-chat"), page.locator("#worker-chat")
            page.locator("#scene").select_option(label="和平社区")
            page.locator("#resident-text").fill("楼道灯坏了")
            page.locator("#resident-text").press("Enter")
            expect(resident).to_contain_text("楼道灯坏了")
            if "工单号" not in (resident.text_content() or ""):
                # The bot asks where; the resident answers as people do.
                expect(resident.locator(".bubble.bot").last).to_contain_text("哪")
                page.locator("#resident-text").fill("3号楼")
                page.locator("#resident-text").press("Enter")
            expect(resident).to_contain_text("工单号", timeout=15_000)
            expect(worker.locator(".card")).to_contain_text("新工单", timeout=15_000)
            page.screenshot(path=tmp_path / "tryit-card.png", full_page=True)
            page.locator("#worker-text").fill("接单")
            page.locator("#worker-text").press("Enter")
            expect(worker).to_contain_text("已接单：", timeout=15_000)
            expect(resident).to_contain_text("已有工作人员接单", timeout=15_000)
            page.screenshot(path=tmp_path / "tryit-told.png", full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        services.close()
