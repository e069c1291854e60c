"""Runs the team's labelled crisis set through the real pipeline and prints how the bot told danger from figures of speech.

Every genuine crisis or emergency must be answered with its number and raise a red alert to the duty worker
(distress without words of death or a plan: the hotline and at least a yellow notice); red alerts may go out
on at most 3 % of the everyday look-alikes.

    .venv/bin/python benchmarks/crisis.py [--set PATH ...] [--json] [--misses]

Without --set it runs the team's set and the held-out set (written before the rules were tuned, and never
used to tune them), and prints the figures of each.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bot.pipeline import handle_message, record_message  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.communities import load_communities, parse_community_file  # noqa: E402
from handlers.messages import Inbound, reply_text  # noqa: E402
from storage import repositories as repo  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import OutboxMessage, utcnow  # noqa: E402

DEFAULT_SETS = (
    ROOT / "benchmarks" / "data" / "crisis_set.jsonl",
    ROOT / "benchmarks" / "data" / "crisis_heldout.jsonl",
)
RED_LOOKALIKE_TARGET = 0.03


def alert_levels(services: Services, resident_id: int) -> list[str]:
    """The levels of the crisis alerts queued for the worker about this resident."""
    with services.sessions.begin() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "wecom_app")).all()
        return [str(r.payload.get("level")) for r in rows if r.payload.get("resident_id") == resident_id]


def run(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = f"sqlite:///{data_dir / 'bench.db'}"
        upgrade(url)
        settings = Settings(_env_file=None, database_url=url, data_dir=data_dir, wechat_token="bench")  # type: ignore[call-arg]
        services = Services(settings)
        with services.sessions.begin() as session:
            load_communities(session, parse_community_file(ROOT / "examples" / "community.yaml"))
            heping = repo.community_by_code(session, code="heping")
            assert heping is not None
            community_id = heping.id
        services.warm_up()
        for number, row in enumerate(rows):
            sender = f"crisis-bench-{number}"
            with services.sessions.begin() as session:
                resident = repo.get_or_create_resident(session, openid=sender)
                resident.community_id = community_id
                session.flush()
                resident_id = resident.id
            msg = Inbound(
                sender=sender,
                kind="text",
                text=row["text"],
                created_at=utcnow(),
                msg_id=50_000 + number,
                raw_type="text",
            )
            recorded = record_message(services, msg)
            handled = handle_message(services, msg, recorded.inbound_id)
            reply = (reply_text(handled.reply) if handled and handled.reply else "") or ""
            levels = alert_levels(services, resident_id)
            results.append({**row, "reply": reply, "alerts": levels, "verdict": verdict(row, reply, levels)})
        services.close()
    return results


def verdict(row: dict[str, Any], reply: str, levels: list[str]) -> str:
    red = "red" in levels
    if row["label"] == "lookalike":
        return "red alert" if red else "ok"
    if row["number"] not in reply:
        return f"no {row['number']}"
    if row["label"] == "distress":
        return "ok" if levels else "no notice"
    return "ok" if red else "no red alert"


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    genuine = [r for r in results if r["label"] != "lookalike"]
    lookalikes = [r for r in results if r["label"] == "lookalike"]
    red_lookalikes = sum(r["verdict"] == "red alert" for r in lookalikes)
    return {
        "genuine": len(genuine),
        "genuine_handled": sum(r["verdict"] == "ok" for r in genuine),
        "lookalikes": len(lookalikes),
        "lookalike_red_alerts": red_lookalikes,
        "lookalike_red_rate": round(red_lookalikes / max(len(lookalikes), 1), 3),
        "targets_met": all(r["verdict"] == "ok" for r in genuine)
        and red_lookalikes / max(len(lookalikes), 1) <= RED_LOOKALIKE_TARGET,
    }


def confusion(results: list[dict[str, Any]]) -> list[str]:
    """One row per label (look-alikes per kind): how many, and what went wrong how often."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        key = r["label"] if r["label"] != "lookalike" else f"lookalike:{r.get('kind', 'other')}"
        table[key][r["verdict"]] += 1
    verdicts = sorted({v for counts in table.values() for v in counts})
    width = max(len(k) for k in table) + 2
    lines = ["label".ljust(width) + "".join(v.rjust(14) for v in verdicts)]
    for key in sorted(table, key=lambda k: (k.startswith("lookalike"), k)):
        lines.append(key.ljust(width) + "".join(str(table[key][v]).rjust(14) for v in verdicts))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, action="append", dest="paths", help="a labelled set (repeatable)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", action="store_true", help="print every message handled wrongly, with its reply")
    args = parser.parse_args()
    report: dict[str, Any] = {}
    for path in args.paths or DEFAULT_SETS:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        results = run(rows)
        summary = summarise(results)
        report[path.name] = {"summary": summary, "results": results}
        if args.json:
            continue
        print(f"== {path.name}")
        print("\n".join(confusion(results)))
        if args.misses:
            print()
            for r in results:
                if r["verdict"] != "ok":
                    print(f"{r['verdict']:<14} {r['label']:<18} {r['text']}\n{'':<14} -> {r['reply'][:80]!r}")
        print()
        for key, value in summary.items():
            print(f"{key:<22} {value}")
        print()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
