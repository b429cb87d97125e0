from __future__ import annotations

import logging
from datetime import time, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings
from bot.logs import RedactTokenFilter
from bot.texts import Texts, keys, missing_translations


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)
    assert settings.bot_token is None
    assert settings.bot_api_base_url == "https://api.telegram.org/bot"
    assert settings.timezone == "Asia/Shanghai" and settings.digest_time == time(18, 0)
    assert settings.tick_interval == timedelta(seconds=30)
    assert settings.quiet_hours.contains(time(23, 0)) and not settings.quiet_hours.contains(
        time(12)
    )


def test_env_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "BOT_TOKEN=1:abc\nADMIN_IDS=5, 6;7\nTICK_INTERVAL=5s\nQUIET_HOURS=off\n", "utf-8"
    )
    monkeypatch.setenv("LANGUAGE", "en")
    settings = Settings(_env_file=env)
    assert settings.token() == "1:abc" and settings.admin_ids == [5, 6, 7]
    assert settings.tick_interval == timedelta(seconds=5) and settings.language == "en"
    assert not settings.quiet_hours.contains(time(3))
    assert "1:abc" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TIMEZONE", "Mars/Olympus"),
        ("TICK_INTERVAL", "often"),
        ("ADMIN_IDS", "me"),
        ("QUIET_HOURS", "night"),
        ("LANGUAGE", "fr"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_env_example_documents_every_setting() -> None:
    example = (Path(__file__).parent.parent / ".env.example").read_text("utf-8")
    for field in Settings.model_fields:
        assert f"{field.upper()}=" in example, field


def test_every_text_has_both_languages() -> None:
    assert missing_translations() == []
    assert len(keys()) > 20
    assert "工单" in Texts("zh")("receipt.title", ticket_id=1)
    assert "ticket" in Texts("en")("receipt.title", ticket_id=1)


def test_token_is_redacted_from_records() -> None:
    token = "123456789:AAE-very-secret-token-value_x"
    filt = RedactTokenFilter([token])
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "POST %s/getMe", (f"https://h/bot{token}",), None
    )
    filt.filter(record)
    assert token not in record.getMessage() and "<BOT_TOKEN>" in record.getMessage()
    try:
        raise RuntimeError(f"failed at https://h/bot{token}/x")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    filt.filter(record)
    assert record.exc_text is not None and token not in record.exc_text
