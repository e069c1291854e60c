"""报平安: how long the daily prompt run takes for 10,000 enrolled residents, and one escalation step for all.

    .venv/bin/python benchmarks/safecheck.py [--residents 10000] [--postgres URL | --sqlite]

Seeds one community with N residents (half inside their 48 h window, half outside, so half the prompts are
customer-service messages and half template messages), all enrolled for 08:00, then times the scheduler's
run at 08:00 (every prompt queued in the outbox) and at 09:00 (every second prompt). Target: under 60 s of
scheduler time. The outbox then sends them at its own pace; the figure printed for that is WeChat's limit.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE = "shegong_bench_safecheck"
# 08:00 China time on 1 December 2026.
PROMPT_AT = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


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
    from sqlalchemy import insert, select

    from storage import repositories as repo
    from storage.db import make_engine, make_sessionmaker
    from storage.models import Resident
    from storage.safecheck import Enrolment

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        community = repo.upsert_community(
            session,
            code="heping",
            name="和平社区",
            qr_scene="101",
            config={"duty": {"name": "王晓燕", "wecom_userid": "wangxiaoyan"}, "checkin_template_id": "TPL-checkin"},
        )
        community_id = community.id
    created = PROMPT_AT - timedelta(days=30)
    with sessions.begin() as session:
        session.execute(
            insert(Resident),
            [
                {
                    "openid": f"o-bench-{i:06d}",
                    "community_id": community_id,
                    "active": True,
                    "building": str(1 + i % 8),
                    "room": str(101 + i % 600),
                    # Half wrote yesterday evening (window open), half a week ago (template message).
                    "last_inbound_at": PROMPT_AT - (timedelta(hours=14) if i % 2 else timedelta(days=7)),
                    "created_at": created,
                }
                for i in range(count)
            ],
        )
        ids = session.scalars(select(Resident.id).where(Resident.openid.like("o-bench-%"))).all()
        session.execute(
            insert(Enrolment),
            [
                {
                    "community_id": community_id,
                    "resident_id": rid,
                    "name": "",
                    "prompt_minute": 8 * 60,
                    "status": "active",
                    "enrolled_by": "bench",
                    "last_contact_at": PROMPT_AT - timedelta(days=1),
                    "created_at": created,
                }
                for rid in ids
            ],
        )
    engine.dispose()


def measure(url: str, count: int) -> None:
    from sqlalchemy import func, select

    from bot.scheduler import run_safecheck
    from bot.services import Services
    from bot.settings import Settings
    from storage.migrate import upgrade
    from storage.models import OutboxMessage

    upgrade(url)
    started = time.perf_counter()
    seed(url, count)
    print(f"seeded {count} enrolled residents in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, database_url=url, data_dir=Path(tmp), secret_key="bench-secret", embedded_worker=False
        )
        services = Services(settings, clock=lambda: PROMPT_AT)
        try:
            for label, at in (("08:00 prompts", PROMPT_AT), ("09:00 second prompts", PROMPT_AT + timedelta(hours=1))):
                cpu, wall = time.process_time(), time.perf_counter()
                report = run_safecheck(services, now=at)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                print(
                    f"{label}: {wall:.1f} s wall, {cpu:.1f} s CPU in the scheduler; "
                    f"{report.prompted} prompts, {report.steps} steps ({count / wall:.0f} residents/s)"
                )
            with services.sessions.begin() as session:
                rows = session.execute(
                    select(OutboxMessage.channel, func.count()).group_by(OutboxMessage.channel)
                ).all()
            print("queued in the outbox: " + ", ".join(f"{channel} {n}" for channel, n in sorted(rows)))
            templates = sum(n for channel, n in rows if channel == "wechat_template")
            print(f"template messages use {templates / 100_000:.0%} of WeChat's 100,000 a day")
        finally:
            services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="an admin URL; a scratch database is made")
    parser.add_argument("--sqlite", action="store_true", help="an embedded SQLite file instead of PostgreSQL")
    args = parser.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            measure(f"sqlite:///{tmp}/bench.db", args.residents)
        return
    with postgres_database(args.postgres) as url:
        measure(url, args.residents)


if __name__ == "__main__":
    main()
