"""Every module imports on its own, as `python -c "import X"` would: no import cycle can come back.

One subprocess imports each module first in turn, with every module of ours forgotten before the next,
so the order of imports inside our packages is exactly that of a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "storage", "intents", "knowledge_base")

_PROBE = """
import importlib, json, sys, traceback
ours = {packages!r}
failures = {{}}
for name in {modules!r}:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ours]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failures[name] = traceback.format_exc(limit=3)
print(json.dumps(failures))
"""


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            # Alembic's env and revision scripts run only inside Alembic.
            if "migrations" in parts:
                continue
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_module_imports_alone() -> None:
    modules = _modules()
    assert "handlers.tickets.actions" in modules and "bot.cli.main" in modules
    probe = _PROBE.format(packages=PACKAGES, modules=modules)
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert failures == {}, "\n".join(f"{name}:\n{trace}" for name, trace in failures.items())


def test_the_key_command_imports_on_a_fresh_interpreter() -> None:
    """`shegong key issue` once failed on a cycle between bot.tickets and handlers."""
    done = subprocess.run(
        [sys.executable, "-c", "import bot.cli.access, handlers.tickets.workflow, bot.cli.main"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
