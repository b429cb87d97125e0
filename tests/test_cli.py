"""The CLI as an operator uses it."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from storage import Storage
from storage.db import load_migrations


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        check=False,
    )


def test_run_without_token_exits_2_and_explains(tmp_path: Path) -> None:
    result = run_cli("run", env={"DATABASE_PATH": str(tmp_path / "x.db")})
    assert result.returncode == 2
    assert "BOT_TOKEN" in result.stderr and "@BotFather" in result.stderr
    assert "linlitong demo" in result.stderr


def test_invalid_setting_exits_2_naming_it(tmp_path: Path) -> None:
    result = run_cli("run", env={"BOT_TOKEN": "1:x", "TIMEZONE": "Nowhere/City"})
    assert result.returncode == 2 and "TIMEZONE" in result.stderr


def test_no_command_prints_help() -> None:
    result = run_cli()
    assert result.returncode == 2 and "demo" in result.stdout


def test_db_migrate_check_backup_and_grid_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "data" / "l.db"
    monkeypatch.setenv("DATABASE_PATH", str(db))
    assert main(["db", "migrate"]) == 0
    assert f"schema version {len(load_migrations())}" in capsys.readouterr().out
    assert main(["db", "check"]) == 0
    assert ": ok" in capsys.readouterr().out
    assert main(["grid", "list"]) == 0
    assert "no chats are bound" in capsys.readouterr().out

    async def bind() -> None:
        storage = await Storage.open(db)
        await storage.grids.bind_grid(
            chat_id=-1001,
            title="北瑞小区一网格",
            grid="第一网格",
            community="通顺社区",
            street=None,
            by=1,
            now=datetime.now(UTC),
        )
        await storage.close()

    asyncio.run(bind())
    assert main(["grid", "list"]) == 0
    listing = capsys.readouterr().out
    assert "第一网格" in listing and "通顺社区" in listing and "-1001" in listing
    assert main(["db", "backup", str(tmp_path / "backup.db")]) == 0
    with sqlite3.connect(tmp_path / "backup.db") as copy:
        assert copy.execute("SELECT COUNT(*) FROM chats").fetchone() == (1,)
    assert main(["db", "backup", str(db)]) == 2


def test_check_reports_a_missing_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "absent.db"))
    assert main(["db", "check"]) == 1


def test_a_newer_database_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "l.db"
    monkeypatch.setenv("DATABASE_PATH", str(db))
    assert main(["db", "migrate"]) == 0
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', '2030-01-01')")
    assert main(["db", "check"]) == 1
    assert "upgrade LinliTong" in capsys.readouterr().err
