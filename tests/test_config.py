from __future__ import annotations

import logging
from datetime import time, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import (
    DEFAULT_API_BASE_URL,
    SettingProblem,
    Settings,
    SettingsError,
    load_settings,
)
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


# -- what a deployer reads when a setting is wrong -------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8081", "https://api.telegram.org/bot/", "api.telegram.org/bot"]
)
def test_a_base_url_must_end_with_bot(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("BOT_API_BASE_URL", url)
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None)
    assert caught.value.lines() == [
        "BOT_API_BASE_URL 应以 /bot 结尾，例如 https://api.telegram.org/bot（令牌会直接接在其后）"
    ]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8081/bot", "https://example.org/tg/bot", ""])
def test_a_local_bot_api_server_is_accepted(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("BOT_API_BASE_URL", url)
    settings, problems = load_settings(env_file=None)
    assert problems == () and settings.bot_api_base_url == (url or DEFAULT_API_BASE_URL)


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("DIGEST_TIME", "6pm", "DIGEST_TIME 应为 HH:MM，例如 18:00"),
        ("DIGEST_TIME", "25:00", "DIGEST_TIME 应为 HH:MM，例如 18:00"),
        ("DIGEST_TIME", "18:00:00", "DIGEST_TIME 应为 HH:MM，例如 18:00"),
        (
            "QUIET_HOURS",
            "22:00-7pm",
            "QUIET_HOURS 应为 HH:MM-HH:MM，例如 22:00-07:00；不需要时写 off",
        ),
        (
            "ADMIN_IDS",
            "me",
            "ADMIN_IDS 应为 Telegram 用户 ID（数字），多个用逗号分隔，例如 12345678,87654321",
        ),
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE 应为时区名，例如 Asia/Shanghai"),
        ("LANGUAGE", "fr", "LANGUAGE 应为 zh 或 en，或 auto（私聊时按对方 Telegram 的语言回复）"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL 应为 DEBUG、INFO、WARNING、ERROR 或 CRITICAL"),
        ("REMINDER_LEAD", "half an hour", "REMINDER_LEAD 应为时长，例如 30s、15m、2h、3d 或 1h30m"),
        ("POLL_TIMEOUT", "99", "POLL_TIMEOUT 应为 0 到 50 之间的整数（秒），例如 10"),
        ("PAID_BROADCAST", "maybe", "PAID_BROADCAST 应为 true 或 false"),
        (
            "CLOCK_START",
            "2026-11-26T08:00",
            "CLOCK_START 应为带时区的时间，例如 2026-11-26T08:00:00+08:00，或留空",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting_and_its_format(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, line: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None)
    assert caught.value.lines() == [line]


def test_every_setting_has_a_line_of_its_own_or_the_general_one() -> None:
    texts = Texts("zh")
    for field in Settings.model_fields:
        line = SettingProblem(field, "some detail").explain(texts)
        assert line.startswith(field.upper()), line
        assert "Value error" not in line and "invalid literal" not in line


def test_the_lines_follow_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("LANGUAGE=en\nDIGEST_TIME=6pm\n", "utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=env)
    assert caught.value.lines() == ["DIGEST_TIME takes HH:MM, e.g. 18:00"]


def test_a_setting_the_command_does_not_need_falls_back_to_its_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text("DIGEST_TIME=6pm\nDATABASE_PATH=/srv/l.db\nLANGUAGE=en\n", "utf-8")
    settings, problems = load_settings({"database_path"}, env_file=env)
    assert settings.database_path == Path("/srv/l.db") and settings.language == "en"
    assert settings.digest_time == time(18, 0)
    assert [p.name for p in problems] == ["DIGEST_TIME"]
    with pytest.raises(SettingsError):
        load_settings({"database_path", "digest_time"}, env_file=env)
