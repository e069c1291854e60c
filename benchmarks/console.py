"""The console's ticket list and dashboard with 20,000 tickets on PostgreSQL: how long the server takes to answer.

    .venv/bin/python benchmarks/console.py [--tickets 20000] [--requests 30] [--postgres URL]

Each request goes through the whole app in process (session cookie, audit row, counts of the four tabs,
one page of 50, the template; for the dashboard every chart's figures over twelve weeks), for a grid
worker, a community leader and the street office. Target: under 300 ms each.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE = "shegong_bench_console"
PAGES = (
    "/console/tickets?tab=mine",
    "/console/tickets?tab=unassigned",
    "/console/tickets?tab=overdue",
    "/console/tickets?tab=all",
    "/console/tickets?tab=all&category=lighting&colour=red",
    "/console/dashboard",
)
VIEWERS = ("zhangli", "zhoushuji", "heping-street")


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


def seed(url: str, count: int) -> None:
    from sqlalchemy import insert

    from handlers.communities import load_communities, parse_community_file
    from handlers.tickets.rules import CATEGORIES
    from storage import repositories as repo
    from storage.db import make_engine, make_sessionmaker
    from storage.migrate import upgrade
    from storage.tickets import STATUSES, Ticket

    upgrade(url)
    engine = make_engine(url)
    rng = random.Random(12)
    now = datetime.now(UTC)
    with make_sessionmaker(engine).begin() as session:
        load_communities(session, parse_community_file(ROOT / "examples" / "community.yaml"))
        communities = [c.id for c in repo.list_communities(session)]
        reporters = [repo.get_or_create_resident(session, openid=f"bench-{n}").id for n in range(500)]
        grid = {str(b): "zhangli" if b <= 4 else "chengang" for b in range(1, 9)}
        rows = []
        for n in range(count):
            building = str(rng.randint(1, 8))
            created = now - timedelta(minutes=rng.randint(0, 90 * 24 * 60))
            status = rng.choice(STATUSES)
            done = status in ("resolved", "closed")
            rows.append(
                {
                    "code": f"B{n:06d}"[:8],
                    "community_id": communities[0] if rng.random() < 0.7 else rng.choice(communities),
                    "reporter_id": rng.choice(reporters),
                    "category": rng.choice(CATEGORIES),
                    "colour": rng.choice(("red", "yellow", "blue", "blue")),
                    "status": status,
                    "resolved_at": created + timedelta(hours=rng.randint(1, 200)) if done else None,
                    "rating": rng.choice((None, 2, 4, 5, 5)) if done else None,
                    "building": building,
                    "place": f"{building}号楼",
                    "description": "楼道灯坏了，晚上看不见路",
                    "assignee": grid[building],
                    "escalation_level": 0,
                    "due_at": created + timedelta(days=rng.choice((1, 3, 7))),
                    "remind_at": created + timedelta(days=1),
                    "reminded": False,
                    "chain_exhausted": False,
                    "created_at": created,
                    "updated_at": created,
                }
            )
        for start in range(0, len(rows), 2000):
            session.execute(insert(Ticket), rows[start : start + 2000])
    engine.dispose()


def measure(url: str, requests: int) -> None:
    from fastapi.testclient import TestClient

    from bot.app import create_app
    from bot.console.auth import COOKIE
    from bot.services import Services
    from bot.settings import Settings
    from storage import console as store

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            data_dir=Path(data_dir),
            embedded_worker=False,
            secret_key="bench-secret-key",
        )
        services = Services(settings)
        client = TestClient(create_app(settings, services))
        print(f"{'viewer':<15} {'page':<58} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
        for viewer in VIEWERS:
            with services.sessions.begin() as session:
                opened = store.open_session(
                    session, worker=viewer, via="dev", now=datetime.now(UTC), ttl=timedelta(hours=1)
                )
            client.cookies.set(COOKIE, opened.token, path="/console")
            for path in PAGES:
                client.get(path)  # warm the caches and the connection pool
                times = []
                for _ in range(requests):
                    started = time.perf_counter()
                    answer = client.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    assert answer.status_code == 200, answer.text[:300]
                times.sort()
                p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
                print(f"{viewer:<15} {path:<58} {statistics.median(times):7.1f} {p95:7.1f} {times[-1]:7.1f}")
            client.cookies.clear()
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="an admin URL; a scratch database is made")
    args = parser.parse_args()
    with postgres_database(args.postgres) as url:
        started = time.perf_counter()
        seed(url, args.tickets)
        print(f"seeded {args.tickets} tickets in {time.perf_counter() - started:.1f} s")
        measure(url, args.requests)


if __name__ == "__main__":
    main()
