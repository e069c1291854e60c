"""Loads the WeChat webhook the way WeChat does and compares it with a bare FastAPI + wechatpy echo.

Starts two servers on 127.0.0.1 (free ports, one worker each): an echo webhook that verifies the
signature, parses with wechatpy and answers the same text (the ceiling), and `shegong serve` in
development mode on a fresh database (a temporary SQLite file, or a dedicated PostgreSQL database
`shegong_bench` that is created, migrated, loaded with examples/community.yaml and dropped again).
Then it sends signed plaintext-mode XML, a unique MsgId each, from a pool of residents who already
chose their community, with wrk (or an asyncio load generator when wrk is absent), and prints req/s,
the ratio to the echo, p50/p99 latency and the server's CPU milliseconds per message, under load and
one message at a time.

    .venv/bin/python benchmarks/webhook.py [--backend sqlite|postgres|both] [--requests N] [--seconds S]
"""

import argparse
import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOKEN = "bench-token-0123456789"
NONCE = "benchnonce"
ACCOUNT = "gh_bench"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE = "shegong_bench"
# The `shegong` command, run from its module so a stale console script cannot get in the way.
SHEGONG = [sys.executable, "-m", "bot.cli.main"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Scenario:
    name: str
    # One text per resident (so "查询 CODE" carries that resident's own ticket code).
    texts: tuple[str, ...]
    # A reply that does not contain this counts as a failure.
    expect: str


@dataclass(frozen=True)
class Result:
    requests: int
    failures: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# --- the echo server (run as `webhook.py echo --port P`) -----------------------------------------


def run_echo(port: int) -> None:
    # FastAPI reads the endpoint's annotations at run time, so this module keeps them unstringified.
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import PlainTextResponse, Response
    from wechatpy import parse_message
    from wechatpy.exceptions import InvalidSignatureException
    from wechatpy.replies import TextReply
    from wechatpy.utils import check_signature

    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.post("/wechat")
    async def echo(request: Request, signature: str = "", timestamp: str = "", nonce: str = "") -> Response:
        try:
            check_signature(TOKEN, signature, timestamp, nonce)
        except InvalidSignatureException:
            return PlainTextResponse("forbidden", status_code=403)
        msg = parse_message(await request.body())
        reply = TextReply(content=getattr(msg, "content", ""), message=msg)
        return Response(reply.render(), media_type="application/xml")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- servers ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} not ready after {timeout:.0f} s")


@contextlib.contextmanager
def running(command: list[str], port: int, *, env: dict[str, str], cwd: Path, log: Path) -> Iterator[int]:
    """The server's pid while it runs; stopped (and its log kept) afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_ready(port, proc)
            yield proc.pid
        except Exception:
            sys.stderr.write(log.read_text(encoding="utf-8", errors="replace")[-4000:])
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line; here the line starts at field 3.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# --- the database ----------------------------------------------------------------------------------


def server_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHEGONG_")}
    env.update(
        SHEGONG_ENV="development",
        SHEGONG_DATABASE_URL=database_url,
        SHEGONG_DATA_DIR=str(data_dir),
        SHEGONG_WECHAT_TOKEN=TOKEN,
        SHEGONG_WECHAT_APP_ID="wxbench000000000",
        PYTHONPATH=str(ROOT),
    )
    return env


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {BENCH_DATABASE}"))
    try:
        yield make_url(admin_url).set(database=BENCH_DATABASE).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"))
        admin.dispose()


def prepare(env: dict[str, str], cwd: Path, residents: int) -> list[tuple[str, str]]:
    """Migrate, load the demo communities, and seed residents with a community and a ticket each."""
    for command in (["migrate"], ["community", "load", str(ROOT / "examples" / "community.yaml")]):
        subprocess.run([*SHEGONG, *command], env=env, cwd=cwd, check=True, capture_output=True)

    from storage import repositories as repo
    from storage import tickets as store
    from storage.db import make_engine, make_sessionmaker

    engine = make_engine(env["SHEGONG_DATABASE_URL"])
    now = datetime.now(UTC)
    pool: list[tuple[str, str]] = []
    with make_sessionmaker(engine).begin() as session:
        community = repo.community_by_code(session, code="heping")
        assert community is not None, "examples/community.yaml has no community 'heping'"
        for number in range(residents):
            resident = repo.get_or_create_resident(session, openid=f"oBench{number:022d}")
            resident.community_id = community.id
            ticket = store.create_ticket(
                session,
                community_id=community.id,
                reporter_id=resident.id,
                category="lighting",
                colour="blue",
                description="3号楼楼道灯坏了",
                place="3号楼",
                building="3",
                unit=None,
                assignee="zhangli",
                due_at=now + timedelta(days=7),
                remind_at=now + timedelta(days=5),
                now=now,
                actor="resident",
            )
            pool.append((resident.openid, ticket.code))
    engine.dispose()
    return pool


# --- load ------------------------------------------------------------------------------------------


def query_string(n: int = 0) -> str:
    """A signed callback URL; like WeChat, a fresh nonce per message (plaintext mode refuses a URL seen
    before with another message)."""
    timestamp = str(int(time.time()))
    nonce = f"{NONCE}{n}"
    signature = hashlib.sha1("".join(sorted((TOKEN, timestamp, nonce))).encode()).hexdigest()
    return f"/wechat?signature={signature}&timestamp={timestamp}&nonce={nonce}&openid=x"


def message_xml(sender: str, text: str, msg_id: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


WRK_PATHS = 30_000


def _lua_string(value: str) -> str:
    return '"' + "".join(f"\\{b}" for b in value.encode("utf-8")) + '"'


WRK_SCRIPT = """
local senders = {%(senders)s}
local texts = {%(texts)s}
local expect = %(expect)s
local paths = {%(paths)s}
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  sent = 0
  answered = 0
  failures = 0
end
function request()
  sent = sent + 1
  local n = id * 1000000 + sent
  local i = (n %% #senders) + 1
  local body = "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[" .. senders[i] ..
    "]]></FromUserName><CreateTime>" .. os.time() .. "</CreateTime><MsgType><![CDATA[text]]></MsgType>" ..
    "<Content><![CDATA[" .. texts[i] .. "]]></Content><MsgId>" .. string.format("%%d", %(base)d + n) ..
    "</MsgId></xml>"
  return wrk.format("POST", paths[(n %% #paths) + 1], {["Content-Type"] = "text/xml"}, body)
end
function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 or not string.find(body, expect, 1, true) then
    failures = failures + 1
  end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("failures")
  end
  io.write(string.format("BENCH requests=%%d failures=%%d errors=%%d us=%%d p50=%%d p99=%%d\\n",
    summary.requests, bad, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.duration, latency:percentile(50), latency:percentile(99)))
end
"""


def load_with_wrk(
    port: int, senders: list[str], scenario: Scenario, *, connections: int, requests: int, seconds: float, base: int
) -> tuple[int, int, float, float, float]:
    # wrk runs for its duration whatever the count: a thread stopped early would not shorten the
    # time it divides by, so `requests` bounds only the asyncio generator.
    del requests
    threads = 2 if connections >= 2 else 1
    script = WRK_SCRIPT % {
        "senders": ",".join(_lua_string(s) for s in senders),
        "texts": ",".join(_lua_string(t) for t in scenario.texts),
        "expect": _lua_string(scenario.expect),
        # wrk's Lua has no SHA-1: signed URLs are made here, one per request it may send (they wrap
        # around after that many, and a wrapped URL is refused as a replay).
        "paths": ",".join(f'"{query_string(base + n)}"' for n in range(WRK_PATHS)),
        "base": base,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(int(seconds), 1)}s",
                "--timeout",
                "10s",
                "-s",
                handle.name,
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    match = re.search(r"BENCH requests=(\d+) failures=(\d+) errors=(\d+) us=(\d+) p50=(\d+) p99=(\d+)", out)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    done, failures, errors, micros, p50, p99 = (int(g) for g in match.groups())
    return done, failures + errors, micros / 1e6, p50 / 1000, p99 / 1000


async def _load_async(
    port: int, senders: list[str], scenario: Scenario, *, connections: int, requests: int, seconds: float, base: int
) -> tuple[int, int, float, float, float]:
    """A keep-alive HTTP/1.1 client on raw asyncio streams: lighter than an HTTP library, so the
    generator takes less of the two cores from the server it measures."""
    expect = scenario.expect.encode("utf-8")
    latencies: list[float] = []
    failures = 0
    counter = iter(range(requests))
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for n in counter:
                if time.perf_counter() > deadline:
                    return
                i = n % len(senders)
                body = message_xml(senders[i], scenario.texts[i], base + n).encode("utf-8")
                path = query_string(base + n)
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                started = time.perf_counter()
                writer.write(head + body)
                status_line = await reader.readuntil(b"\r\n")
                headers = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", headers)
                answer = await reader.readexactly(int(length.group(1))) if length else b""
                latencies.append(time.perf_counter() - started)
                if b" 200 " not in status_line or expect not in answer:
                    failures += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0.0
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else 0.0
    return len(latencies), failures, elapsed, p50, p99


def measure(
    pid: int, port: int, pool: list[tuple[str, str]], scenario: Scenario, *, tool: str, **load: int | float
) -> Result:
    senders = [openid for openid, _ in pool]
    cpu_before = cpu_seconds(pid)
    if tool == "wrk":
        done, failures, seconds, p50, p99 = load_with_wrk(port, senders, scenario, **load)  # type: ignore[arg-type]
    else:
        done, failures, seconds, p50, p99 = asyncio.run(_load_async(port, senders, scenario, **load))  # type: ignore[arg-type]
    cpu = cpu_seconds(pid) - cpu_before
    return Result(done, failures, seconds, p50, p99, cpu * 1000 / max(done, 1))


# --- the run ---------------------------------------------------------------------------------------


def scenarios(pool: list[tuple[str, str]]) -> list[Scenario]:
    every = len(pool)
    return [
        Scenario("积分", ("积分",) * every, "积分"),
        Scenario("查询 CODE", tuple(f"查询 {code}" for _, code in pool), "工单"),
        Scenario("你好", ("你好",) * every, "有什么可以帮您"),
        Scenario("FAQ question", ("公司把我辞退了一分钱补偿都不给",) * every, "补偿"),
    ]


_msg_ids = iter(range(1, 10**6))


def run_backend(backend: str, args: argparse.Namespace, tool: str) -> list[tuple[str, Result, Result, Result]]:
    with tempfile.TemporaryDirectory(prefix="shegong-bench-") as tmp:
        work = Path(tmp)
        with contextlib.ExitStack() as stack:
            if backend == "sqlite":
                url = f"sqlite:///{work / 'shegong.db'}"
            else:
                url = stack.enter_context(postgres_database(args.postgres_url))
            env = server_env(url, work / "var")
            print(f"[{backend}] preparing the database ...", file=sys.stderr)
            pool = prepare(env, work, args.residents)
            echo_port, shegong_port = free_port(), free_port()
            echo_pid = stack.enter_context(
                running(
                    [sys.executable, __file__, "echo", "--port", str(echo_port)],
                    echo_port,
                    env=env,
                    cwd=work,
                    log=work / "echo.log",
                )
            )
            print(f"[{backend}] starting shegong serve (first start builds the indexes) ...", file=sys.stderr)
            command = [*SHEGONG, "serve", "--port", str(shegong_port)]
            shegong_pid = stack.enter_context(running(command, shegong_port, env=env, cwd=work, log=work / "serve.log"))
            rows = []
            for scenario in scenarios(pool):
                print(f"[{backend}] {scenario.name} ...", file=sys.stderr)

                # The echo answers with the text it was sent.
                echoed = Scenario(scenario.name, scenario.texts, f"[{scenario.texts[0][:2]}")

                def load(
                    pid: int, port: int, connections: int, requests: int, seconds: float, sent: Scenario = scenario
                ) -> Result:
                    return measure(
                        pid,
                        port,
                        pool,
                        sent,
                        tool=tool,
                        connections=connections,
                        requests=requests,
                        seconds=seconds,
                        base=next(_msg_ids) * 10**9,
                    )

                load(shegong_pid, shegong_port, args.connections, 200, 3)  # warm up this path
                echo = load(echo_pid, echo_port, args.connections, args.requests * 10, args.seconds, echoed)
                loaded = load(shegong_pid, shegong_port, args.connections, args.requests, args.seconds)
                one_by_one = load(shegong_pid, shegong_port, 1, args.sequential, args.seconds)
                rows.append((scenario.name, echo, loaded, one_by_one))
            served = (work / "serve.log").read_text(encoding="utf-8", errors="replace")
            errors = [line for line in served.splitlines() if re.match(r"^(ERROR|\w+(Error|Exception)\b)", line)]
            if errors:
                print(f"[{backend}] the server logged {len(errors)} errors, the first: {errors[:4]}", file=sys.stderr)
            return rows


def print_table(backend: str, rows: list[tuple[str, Result, Result, Result]], connections: int) -> None:
    print(f"\n{backend}: one worker each, {connections} connections, unique MsgIds")
    header = (
        f"{'message':<14}{'echo req/s':>11}{'req/s':>9}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'CPU ms/msg':>12}{'seq CPU ms':>12}{'seq p50':>9}{'failed':>8}{'echo failed':>12}"
    )
    print(header)
    print("-" * len(header))
    for name, echo, loaded, one in rows:
        ratio = loaded.rate / echo.rate if echo.rate else 0.0
        failed = loaded.failures + one.failures
        pad = 14 - sum(2 if ord(c) > 0x2E80 else 1 for c in name) + len(name)
        print(
            f"{name:<{pad}}{echo.rate:>11.0f}{loaded.rate:>9.1f}{ratio:>7.1%}{loaded.p50_ms:>9.1f}{loaded.p99_ms:>9.1f}"
            f"{loaded.cpu_ms:>12.1f}{one.cpu_ms:>12.1f}{one.p50_ms:>9.1f}{failed:>8}{echo.failures:>12}"
        )


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "echo":
        parser = argparse.ArgumentParser()
        parser.add_argument("mode")
        parser.add_argument("--port", type=int, required=True)
        run_echo(parser.parse_args().port)
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--requests",
        type=int,
        default=2000,
        help="messages per load run at most (the asyncio generator; wrk runs for --seconds)",
    )
    parser.add_argument("--seconds", type=float, default=15, help="seconds per load run (at most)")
    parser.add_argument("--sequential", type=int, default=200, help="messages sent one at a time")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--residents", type=int, default=200, help="residents in the pool")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES, help="an admin URL; the benchmark uses its own database"
    )
    args = parser.parse_args()
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "python")
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    tables = [(backend, run_backend(backend, args, tool)) for backend in backends]
    print(f"\nload generator: {tool}; CPU ms/msg is the server process's user+system time per message")
    for backend, rows in tables:
        print_table(backend, rows, args.connections)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
