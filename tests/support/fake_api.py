"""A fake WeChat / WeCom API server on loopback that records every request and can be told to fail."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    at: float = 0.0  # time.monotonic() on arrival
    # False when it reached nobody: a failure answered, or a repeat WeCom's duplicate check dropped
    delivered: bool = True


@dataclass
class FakeApi:
    calls: list[Call] = field(default_factory=list)
    # path -> list of errcodes to answer, one per call, before answering success
    failures: dict[str, list[int]] = field(default_factory=dict)
    down: bool = False  # answer HTTP 502 to everything
    token_counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    base: str = ""
    # path -> seconds to wait before answering: the request is acted on at once, the answer comes late
    delays: dict[str, float] = field(default_factory=dict)
    # WeCom web login: the member the fake authorize page signs in, and the codes it handed out.
    login_as: str = ""
    login_codes: dict[str, str] = field(default_factory=dict)
    # Template cards: the response_codes WeCom handed out and not yet used (each is good once).
    response_codes: set[str] = field(default_factory=set)
    code_counter: int = 0

    def authorize(self, call: Call) -> str:
        """WeCom's OAuth page: back to redirect_uri with a fresh code for `login_as` (where to redirect)."""
        with self.lock:
            self.calls.append(call)
            code = f"code-{len(self.calls)}"
            self.login_codes[code] = self.login_as
        separator = "&" if "?" in call.query["redirect_uri"] else "?"
        return f"{call.query['redirect_uri']}{separator}{urlencode({'code': code, 'state': call.query['state']})}"

    def sent(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def deliveries(self, path: str) -> list[Call]:
        """The requests to `path` that reached someone: what a worker or resident would have seen."""
        return [c for c in self.calls if c.path == path and c.delivered]

    def _duplicate(self, call: Call) -> bool:
        """WeCom's enable_duplicate_check: the same JSON delivered within duplicate_check_interval is dropped."""
        if not call.body.get("enable_duplicate_check"):
            return False
        interval = float(call.body.get("duplicate_check_interval", 1800))
        return any(
            c.delivered and c.path == call.path and c.body == call.body and call.at - c.at < interval
            for c in self.calls
        )

    def answer(self, call: Call) -> tuple[int, dict[str, Any]]:
        with self.lock:
            call.at = time.monotonic()
            call.delivered = not self._duplicate(call)
            self.calls.append(call)
            if self.down:
                call.delivered = False
                return 502, {}
            queued = self.failures.get(call.path)
            if queued:
                call.delivered = False
                return 200, {"errcode": queued.pop(0), "errmsg": "fake failure"}
            if call.path in ("/cgi-bin/stable_token", "/cgi-bin/gettoken"):
                self.token_counter += 1
                return 200, {"access_token": f"token-{self.token_counter}", "expires_in": 7200}
            if call.path == "/cgi-bin/auth/getuserinfo":
                userid = self.login_codes.pop(call.query.get("code", ""), None)  # a code is good once
                if userid is None:
                    return 200, {"errcode": 40029, "errmsg": "invalid code"}
                return 200, {"errcode": 0, "errmsg": "ok", "userid": userid}
            if call.path == "/cgi-bin/qrcode/create":
                scene = call.body["action_info"]["scene"]["scene_str"]
                return 200, {
                    "ticket": f"ticket-{scene}",
                    "expire_seconds": call.body["expire_seconds"],
                    "url": f"http://weixin.qq.com/q/fake-{scene}",
                }
            if call.path == "/cgi-bin/message/send" and call.body.get("msgtype") == "template_card":
                code = f"rc-send-{len(self.calls)}"
                self.response_codes.add(code)
                return 200, {"errcode": 0, "errmsg": "ok", "msgid": len(self.calls), "response_code": code}
            if call.path == "/cgi-bin/message/update_template_card":
                if call.body.get("response_code") not in self.response_codes:
                    call.delivered = False
                    return 200, {"errcode": 40029, "errmsg": "invalid response_code"}
                self.response_codes.discard(call.body["response_code"])  # good once
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": len(self.calls)}

    def click_code(self) -> str:
        """A response_code as WeCom puts in a card click's callback (good for one update)."""
        with self.lock:
            self.code_counter += 1
            code = f"rc-click-{self.code_counter}"
            self.response_codes.add(code)
            return code


@contextmanager
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            parsed = urlparse(self.path)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            if parsed.path == "/connect/oauth2/authorize":
                self.send_response(302)
                self.send_header("location", api.authorize(Call(self.command, parsed.path, query, body)))
                self.send_header("content-length", "0")
                self.end_headers()
                return
            status, answer = api.answer(Call(self.command, parsed.path, query, body))
            time.sleep(api.delays.get(parsed.path, 0.0))
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except ConnectionError:
                pass  # the client gave up waiting (its timeout): the request was acted on all the same

        do_GET = _handle
        do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


def card_title(body: dict[str, Any]) -> str | None:
    """The title of a WeCom card as the worker sees it: a textcard's or a template card's; None otherwise."""
    if "textcard" in body:
        return str(body["textcard"]["title"])
    if "template_card" in body:
        return str(body["template_card"]["main_title"]["title"])
    return None


def card_text(body: dict[str, Any]) -> str:
    """Everything a WeCom card shows (title, lines, facts), to look for words in."""
    if "textcard" in body:
        return f"{body['textcard']['title']}\n{body['textcard']['description']}"
    card = body.get("template_card") or {}
    facts = "\n".join(f"{item['keyname']}：{item['value']}" for item in card.get("horizontal_content_list", []))
    main = card.get("main_title", {})
    return f"{main.get('title', '')}\n{main.get('desc', '')}\n{card.get('sub_title_text', '')}\n{facts}"
