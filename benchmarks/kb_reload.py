"""How long a server takes to answer with a knowledge-base change made elsewhere, over the team's entries:
the first build, a start-up from the saved index, and the rebuild after a worker adds one entry.

    .venv/bin/python benchmarks/kb_reload.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot import knowledge as live_knowledge  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers import knowledge  # noqa: E402
from handlers.clock import system_clock  # noqa: E402
from knowledge_base.entries import Entry  # noqa: E402
from storage.migrate import upgrade  # noqa: E402


def _timed(server: Services) -> float:
    started = time.perf_counter()
    server.live_knowledge.warm_up()
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        settings = Settings(_env_file=None, database_url=url, data_dir=Path(tmp), wechat_token="bench")  # type: ignore[call-arg]
        live_knowledge.encoder_for(settings.embedding_model)  # the model's weights load once per process

        first = Services(settings)
        build = _timed(first)
        entries = len(first.knowledge)
        live_knowledge._built.clear()
        second = Services(settings)
        startup = _timed(second)

        added = Entry(
            id="bench-1", domain="service", collection="local", question="居住证怎么办理", answer="到社区警务室登记。"
        )
        with second.sessions.begin() as session:
            knowledge.add_entry(session, added, now=system_clock())
        started = time.perf_counter()
        second.live_knowledge.refresh()
        rebuild = time.perf_counter() - started
        assert second.knowledge.get("bench-1", "local") is not None
        for server in (first, second):
            server.close()
    print(f"entries:                          {entries}")
    print(f"first build:                      {build:.2f} s")
    print(f"start-up from the saved index:    {startup:.2f} s")
    print(f"rebuild after one added entry:    {rebuild:.2f} s (plus up to SHEGONG_KB_CHECK_SECONDS to notice)")


if __name__ == "__main__":
    main()
