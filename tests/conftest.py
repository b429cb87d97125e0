"""Shared fixtures. The one fake of Telegram is bot.simulator; see tests/telegram.py."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from tests.harness import Harness, harness


def pytest_configure(config: pytest.Config) -> None:
    # python-telegram-bot 22 warns on every RetryAfter unless the timedelta behaviour is chosen;
    # `linlitong run` chooses it too (bot/cli.py)
    os.environ.setdefault("PTB_TIMEDELTA", "true")


@pytest.fixture(autouse=True)
def _clean_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come only from what a test sets: the machine's env (LANGUAGE!) must not leak in."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as running_bot:
        yield running_bot
