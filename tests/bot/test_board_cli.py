"""`shegong board` and `shegong report` through typer's CliRunner: a worker records the board, is refused an
early "effective", publishes the demand split, and writes the monthly report as a PDF that opens, holds its
Chinese text and draws its charts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from bot.cli import main as cli
from bot.services import Services
from bot.settings import get_settings
from handlers.board.charts import PALETTE
from handlers.volunteering.rules import month_of
from storage import repositories as repo
from storage import tickets as store
from storage.migrate import upgrade
from storage.models import utcnow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "community.yaml"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, runner: CliRunner) -> Iterator[str]:
    for name in list(os.environ):
        if name.startswith("SHEGONG_"):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SHEGONG_DATABASE_URL", url)
    monkeypatch.setenv("SHEGONG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    upgrade(url)
    loaded = runner.invoke(cli.app, ["community", "load", str(EXAMPLE)])
    assert loaded.exit_code == 0, loaded.output
    yield url
    get_settings.cache_clear()


def seed_rated_tickets(scores: list[int], categories: list[str]) -> None:
    services = Services(get_settings())
    now = utcnow()
    try:
        with services.sessions.begin() as session:
            heping = repo.community_by_code(session, code="heping")
            assert heping is not None
            for n, (score, category) in enumerate(zip(scores, categories, strict=True)):
                resident = repo.get_or_create_resident(session, openid=f"openid-cli-{n}")
                ticket = store.create_ticket(
                    session,
                    community_id=heping.id,
                    reporter_id=resident.id,
                    category=category,
                    colour="blue",
                    description="问题",
                    place="3号楼",
                    building="3",
                    unit=None,
                    assignee="zhangli",
                    due_at=now + timedelta(days=1),
                    remind_at=now,
                    now=now - timedelta(minutes=5),
                    actor="system",
                )
                ticket.status, ticket.resolved_at = "closed", now - timedelta(minutes=1)
                store.add_event(session, ticket=ticket, actor="system", action="rated", data={"score": score}, now=now)
    finally:
        services.close()


def run(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli.app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_a_worker_runs_the_board_from_the_command_line(runner: CliRunner, database: str) -> None:
    common = ["--community", "heping", "--worker", "wangxiaoyan"]
    assert "社区公益金" in run(
        runner, "board", "budget", *common, "--title", "社区公益金", "--source", "government", "--amount", "100000"
    )
    published = run(
        runner,
        "board",
        "allocate",
        *common,
        "--title",
        "楼道照明改造",
        "--purpose",
        "facilities",
        "--amount",
        "8000.5",
        "--beneficiaries",
        "1-4号楼居民",
    )
    assert "A1 published" in published and "异议 A1" in published
    early = runner.invoke(cli.app, ["board", "effective", "A1", *common])
    assert early.exit_code == 1 and "公示期" in early.output
    wrong = runner.invoke(
        cli.app,
        ["board", "allocate", *common, "--title", "x", "--purpose", "fun", "--amount", "1", "--beneficiaries", "y"],
    )
    assert wrong.exit_code == 2 and "--purpose must be one of" in wrong.output
    assert "8,000.50 元" in run(runner, "board", "list", "--community", "heping")

    seed_rated_tickets([5, 4, 2], ["lighting", "lighting", "parking"])
    suggested = run(runner, "board", "suggest", "--community", "heping", "--set", "elderly=3000")
    assert "设施维修: 2 tickets" in suggested and "停车交通: 1 tickets" in suggested
    assert "reserve 5,000 元" in suggested and "养老助老: (set by hand) -> 3,000 元" in suggested
    over = runner.invoke(
        cli.app, ["board", "suggest", "--community", "heping", "--set", "elderly=30000", "--publish", "--worker", "w"]
    )
    assert over.exit_code == 1 and "应急储备" in over.output
    done = run(runner, "board", "suggest", "--community", "heping", "--publish", "--worker", "wangxiaoyan")
    assert "A2 published: 弹性资金：设施维修" in done and "A3 published: 弹性资金：停车交通" in done


def test_the_monthly_report_is_a_pdf_with_its_charts_and_chinese_text(
    runner: CliRunner, database: str, tmp_path: Path
) -> None:
    month = month_of(utcnow())
    seed_rated_tickets([5, 5, 4, 1], ["lighting", "lift", "lighting", "noise"])
    run(
        runner,
        "board",
        "budget",
        "--community",
        "heping",
        "--worker",
        "w",
        "--title",
        "公益金",
        "--source",
        "residents",
        "--amount",
        "5000",
    )
    run(
        runner,
        "board",
        "allocate",
        "--community",
        "heping",
        "--worker",
        "w",
        "--title",
        "长者助餐",
        "--purpose",
        "elderly",
        "--amount",
        "2000",
        "--beneficiaries",
        "独居老人",
    )
    out = tmp_path / "report.pdf"
    assert "wrote" in run(runner, "report", "--month", month, "--community", "heping", "--pdf", str(out))
    reader = PdfReader(out)
    text = "".join(page.extract_text() for page in reader.pages)
    for words in (
        "和平社区",
        "工作报告",
        "按时办结率",
        "居民满意率",
        "75.0%",
        "本月工单（按类别）",
        "资金用途",
        "长者助餐",
    ):
        assert words in text, words
    assert reader.metadata is not None and "和平社区" in str(reader.metadata.title)
    # The charts are vector drawings: the bars and the pie slices are filled in the palette's colours.
    ops = b"".join(page.get_contents().get_data() for page in reader.pages)  # type: ignore[union-attr]
    for colour in PALETTE[:2]:
        red, green, blue = (int(colour[k : k + 2], 16) / 255 for k in (1, 3, 5))
        assert f"{red:.6f} {green:.6f} {blue:.6f} rg".replace("0.", ".").encode() in ops, colour

    text_report = run(runner, "report", "--month", month, "--community", "heping")
    assert "satisfaction: 75.0% of 4 ratings" in text_report
    bad = runner.invoke(cli.app, ["report", "--month", "2026-13", "--community", "heping"])
    assert bad.exit_code == 2 and "2026-11" in bad.output
