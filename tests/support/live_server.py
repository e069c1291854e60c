"""The app under a real uvicorn server on loopback, in a thread, for what only a socket shows: a body streamed
in chunks, the access log, the memory a request costs while it arrives.

TestClient hands the app the whole body at once, so a size limit that counts while reading cannot be seen
through it.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from bot.logs import UVICORN_LOG_CONFIG


@dataclass(frozen=True)
class Live:
    host: str
    port: int


@contextmanager
def live_server(app: FastAPI, *, access_log: bool = False) -> Iterator[Live]:
    """Serve `app` (without its lifespan: nothing to warm up) until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", access_log=access_log, log_config=UVICORN_LOG_CONFIG, log_level="info")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.01)
    try:
        yield Live("127.0.0.1", sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass(frozen=True)
class Sent:
    status: int
    head: str  # status line and headers of the answer
    body_bytes_sent: int


def send_streaming(
    live: Live, path: str, *, total: int, headers: dict[str, str] | None = None, chunked: bool = True
) -> Sent:
    """POST `total` bytes of body (chunked, or with a Content-Length), stopping as soon as the server answers;
    a server that reads everything before answering is sent everything."""
    piece = b"<" * 64 * 1024
    lines = [f"POST {path} HTTP/1.1", f"Host: {live.host}", "Content-Type: application/octet-stream"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    sent = 0
    answer = b""
    with socket.create_connection((live.host, live.port), timeout=30) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            while sent < total:
                readable, _, _ = select.select([conn], [], [], 0)
                if readable:
                    break
                chunk = piece[: total - sent]
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                sent += len(chunk)
            else:
                if chunked:
                    conn.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed the connection while the body was still coming
        try:
            while b"\r\n\r\n" not in answer:
                data = conn.recv(65536)
                if not data:
                    break
                answer += data
        except ConnectionResetError:
            pass
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    status = int(head.split(" ", 2)[1]) if head.startswith("HTTP/") else 0
    return Sent(status=status, head=head, body_bytes_sent=sent)


def resident_memory() -> int:
    """This process's resident set size in bytes."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_memory_growth() -> Iterator[list[int]]:
    """Samples this process's resident memory every few milliseconds; the list holds the peak growth after."""
    baseline = resident_memory()
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], resident_memory())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    growth = [0]
    try:
        yield growth
    finally:
        stop.set()
        sampler.join()
        growth[0] = max(peak[0], resident_memory()) - baseline
