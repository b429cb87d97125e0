"""Shared fixtures. The one fake of Telegram is bot.simulator; see tests/telegram.py."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from storage import Storage
from tests import pg
from tests.harness import Harness, harness

BACKENDS = ("sqlite", "postgresql")
CHROMIUM = Path("/usr/bin/chromium")  # what the `browser` tests drive (.ci/run installs it)


def pytest_configure(config: pytest.Config) -> None:
    # python-telegram-bot 22 warns on every RetryAfter unless the timedelta behaviour is chosen;
    # `linlitong run` chooses it too (bot/cli.py)
    os.environ.setdefault("PTB_TIMEDELTA", "true")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A `browser` test without Debian's Chromium: skipped, or failed when it is required."""
    if item.get_closest_marker("browser") is None or CHROMIUM.exists():
        return
    if os.environ.get("LINLITONG_REQUIRE_BROWSER"):
        pytest.fail(f"Chromium is required (LINLITONG_REQUIRE_BROWSER) but {CHROMIUM} is missing")
    pytest.skip(f"{CHROMIUM} is not installed; .ci/run installs Debian's chromium")


@pytest.fixture(autouse=True)
def _clean_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come only from what a test sets: the machine's env (LANGUAGE!) must not leak in."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses a database runs on both engines (LINLITONG_TEST_BACKENDS narrows it)."""
    if "backend" in metafunc.fixturenames:
        chosen = os.environ.get("LINLITONG_TEST_BACKENDS", ",".join(BACKENDS)).split(",")
        backends = [b.strip() for b in chosen if b.strip() in BACKENDS]
        if metafunc.definition.get_closest_marker("sqlite_only"):
            backends = [b for b in backends if b == "sqlite"]
        metafunc.parametrize("backend", backends)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pg.PostgresServer | None]:
    with pg.server() as server:
        yield server


@pytest.fixture
def database(
    backend: str, tmp_path: Path, postgres_server: pg.PostgresServer | None
) -> Iterator[Path | str]:
    """A fresh, empty database on ``backend``: an SQLite path, or a PostgreSQL URL."""
    if backend == "sqlite":
        yield tmp_path / "bot.db"
        return
    if postgres_server is None:
        if os.environ.get("LINLITONG_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (LINLITONG_REQUIRE_POSTGRES) but not installed")
        pytest.skip("PostgreSQL is not installed (initdb not found); .ci/run installs it")
    url = postgres_server.lease()
    yield url
    postgres_server.give_back(url)


@pytest.fixture
async def storage(database: Path | str) -> AsyncIterator[Storage]:
    """The repositories on a fresh database (both engines)."""
    opened = await Storage.open(database)
    yield opened
    await opened.close()


@pytest.fixture
async def bot(tmp_path: Path, database: Path | str) -> AsyncIterator[Harness]:
    async with harness(tmp_path, database=database) as running_bot:
        yield running_bot
