"""Runs ../shared/data/dev_messages.jsonl through the real pipeline and prints what the issue measures:
crisis replies with a hotline, topic words in question replies, grievances recognised, the intent of
every message, and the time for classification plus retrieval of one message (p50/p99), and start-up.

    .venv/bin/python benchmarks/messages.py [--messages PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot import knowledge as live_knowledge  # noqa: E402
from bot.knowledge import intent_model_for  # noqa: E402
from bot.pipeline import handle_message, record_message  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.communities import load_communities, parse_community_file  # noqa: E402
from handlers.messages import Inbound, reply_text  # noqa: E402
from storage.db import make_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import utcnow  # noqa: E402

DEFAULT_MESSAGES = ROOT.parent / "shared" / "data" / "dev_messages.jsonl"
EXPECTED_INTENT = {
    "faq_legal": "legal",
    "faq_psych": "psych",
    "service": "service",
    "crisis": ("crisis", "emergency"),
    "grievance": "grievance",
    "volunteer_signup": "volunteer_signup",
    "points": "points",
    "status": "ticket_status",
    "greeting": "greeting",
}
HOTLINES = ("12356", "110", "120", "119", "12338")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=Path, default=DEFAULT_MESSAGES)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.messages.read_text(encoding="utf-8").splitlines() if line.strip()]

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = f"sqlite:///{data_dir / 'bench.db'}"
        upgrade(url)
        # A realistic deployment has its community loaded; one community, so nobody is asked which.
        engine = make_engine(url)
        with make_sessionmaker(engine).begin() as session:
            spec = parse_community_file(ROOT / "examples" / "community.yaml")
            load_communities(session, spec.model_copy(update={"communities": spec.communities[:1]}))
        engine.dispose()
        settings = Settings(_env_file=None, database_url=url, data_dir=data_dir, wechat_token="bench")  # type: ignore[call-arg]
        # Build once (what `shegong kb reindex` does at deploy time), then time a start-up from the saved index.
        first = Services(settings)
        first.live_knowledge.warm_up()  # loads the team's entries into the database and saves the index
        first.close()
        intent_model_for(settings.embedding_model, data_dir)
        live_knowledge._built.clear()
        intent_model_for.__globals__["_models"].clear()
        started = time.perf_counter()
        services = Services(settings)
        services.warm_up()
        startup = time.perf_counter() - started

        # Latency of the part that grows with the knowledge base: classification plus retrieval.
        timings = []
        for _ in range(3):
            for row in rows:
                t0 = time.perf_counter()
                services.classifier.classify(row["text"])
                services.knowledge.search(row["text"], k=5)
                timings.append((time.perf_counter() - t0) * 1000)

        results = []
        for number, row in enumerate(rows):
            msg = Inbound(
                sender=f"bench-{number}",
                kind="text",
                text=row["text"],
                created_at=utcnow(),
                msg_id=10_000 + number,
                raw_type="text",
            )
            recorded = record_message(services, msg)
            handled = handle_message(services, msg, recorded.inbound_id)
            assert handled is not None
            reply = (reply_text(handled.reply) if handled.reply else "") or ""
            expected = EXPECTED_INTENT.get(row["kind"])
            wanted = expected if isinstance(expected, tuple) else (expected,)
            intent_ok = handled.classification.intent.value in wanted
            words = row.get("any_of") or []
            words_ok = any(word in reply for word in words) if words else True
            results.append(
                {
                    "kind": row["kind"],
                    "text": row["text"],
                    "intent": handled.classification.intent.value,
                    "intent_ok": intent_ok,
                    "words_ok": words_ok,
                    "reply": reply,
                }
            )
        services.close()

    crisis = [r for r in results if r["kind"] == "crisis"]
    questions = [r for r in results if r["kind"] in ("faq_legal", "faq_psych", "service")]
    grievances = [r for r in results if r["kind"] == "grievance"]
    summary = {
        "messages": len(results),
        "crisis_with_hotline": f"{sum(any(h in r['reply'] for h in HOTLINES) for r in crisis)}/{len(crisis)}",
        "question_topic_words": round(sum(r["words_ok"] for r in questions) / max(len(questions), 1), 3),
        "grievances_recognised": f"{sum(r['intent_ok'] for r in grievances)}/{len(grievances)}",
        "intent_accuracy": round(sum(r["intent_ok"] for r in results) / len(results), 3),
        "latency_ms_p50": round(statistics.median(timings), 1),
        "latency_ms_p99": round(percentile(timings, 99), 1),
        "startup_s": round(startup, 2),
    }
    if args.json:
        print(json.dumps({"summary": summary, "results": results}, ensure_ascii=False, indent=1))
    else:
        for r in results:
            flag = "ok " if r["intent_ok"] and r["words_ok"] else "MISS"
            print(f"{flag} {r['kind']:<16} -> {r['intent']:<16} {r['text']}")
        print()
        for key, value in summary.items():
            print(f"{key:<24} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
