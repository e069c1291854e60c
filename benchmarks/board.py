"""How long the public notice board, the monthly report page and its PDF take, for a community with many
allocations, spending records and objections (SQLite in a temporary directory, no network).

    .venv/bin/python benchmarks/board.py [--allocations 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.board_pdf import report_pdf  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.board.report import monthly_report  # noqa: E402
from handlers.board.rules import PURPOSES  # noqa: E402
from handlers.board.services import publish_allocation, record_budget, record_spending  # noqa: E402
from handlers.communities import load_communities, parse_community_file  # noqa: E402
from handlers.volunteering.rules import month_of  # noqa: E402
from storage import board as store  # noqa: E402
from storage import repositories as repo  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import utcnow  # noqa: E402


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--allocations", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        settings = Settings(_env_file=None, database_url=url, data_dir=Path(tmp) / "var", embedded_worker=False)  # type: ignore[call-arg]
        services = Services(settings)
        now = utcnow()
        with services.sessions.begin() as session:
            load_communities(session, parse_community_file(ROOT / "examples" / "community.yaml"))
            heping = repo.community_by_code(session, code="heping")
            assert heping is not None
            record_budget(
                session,
                community=heping,
                period="2026",
                title="公益金",
                source="government",
                amount_fen=10**10,
                worker="bench",
                now=now,
            )
            resident = repo.get_or_create_resident(session, openid="openid-bench")
            for n in range(args.allocations):
                row = publish_allocation(
                    session,
                    community=heping,
                    title=f"项目{n}",
                    purpose=PURPOSES[n % len(PURPOSES)],
                    amount_fen=1_000_000,
                    beneficiaries="居民",
                    worker="bench",
                    now=now - timedelta(days=n % 20),
                )
                for k in range(3):
                    record_spending(
                        session,
                        community=heping,
                        allocation_id=row.id,
                        amount_fen=1000,
                        note=f"支出{k}",
                        spent_at=now,
                        worker="bench",
                        now=now,
                    )
                store.add_objection(session, allocation_id=row.id, resident_id=resident.id, reason="理由", now=now)
        with TestClient(create_app(settings, services)) as client:
            board = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                assert client.get("/board/heping").status_code == 200
                board.append(time.perf_counter() - started)
            report_page = []
            month = month_of(now)
            for _ in range(args.repeat):
                started = time.perf_counter()
                assert client.get(f"/board/heping/report/{month}").status_code == 200
                report_page.append(time.perf_counter() - started)
        pdf, size = [], 0
        for _ in range(max(3, args.repeat // 4)):
            started = time.perf_counter()
            with services.sessions.begin() as session:
                community = repo.community_by_code(session, code="heping")
                assert community is not None
                size = len(report_pdf(monthly_report(session, community=community, month=month)))
            pdf.append(time.perf_counter() - started)
        services.close()
    print(f"{args.allocations} allocations, {3 * args.allocations} spending records, {args.allocations} objections")
    print(f"GET /board/heping: {_ms(board)}")
    print(f"GET /board/heping/report/{month}: {_ms(report_page)}")
    print(f"report PDF: {_ms(pdf)}, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
