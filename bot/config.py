"""Settings, loaded once from the environment and ``.env`` (pydantic-settings)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.durations import parse_duration
from bot.texts import Language, Texts, keys

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
# LANGUAGE: one language for everything, or ``auto``: private replies in each person's Telegram
# language (zh for zh-*, en otherwise); groups, scheduled messages and the CLI in the default, zh.
LanguageSetting = Literal["zh", "en", "auto"]
DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"


def _parse_ids(value: Any) -> Any:
    if isinstance(value, str):
        parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
        return [int(p) for p in parts]
    if isinstance(value, int):
        return [value]
    return value


_CLOCK_TIME = re.compile(r"(\d{1,2})(?::(\d{2}))?")


def _parse_clock_time(value: Any) -> Any:
    if isinstance(value, str):
        match = _CLOCK_TIME.fullmatch(value.strip())
        if match is None or int(match[1]) > 23 or int(match[2] or 0) > 59:
            raise ValueError(f"not a time of day like 18:00: {value!r}")
        return time(int(match[1]), int(match[2] or 0))
    return value


ClockTime = Annotated[time, BeforeValidator(_parse_clock_time)]

# -- webhook mode: Telegram's rules for the URL and the secret ---------------------------------

DEFAULT_WEBHOOK_LISTEN = "127.0.0.1:8443"
DEFAULT_WEB_LISTEN = "127.0.0.1:8080"
WEBHOOK_PORTS = frozenset({443, 80, 88, 8443})  # the only ports Telegram posts to
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LISTEN = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^\s:\[\]/]+)):(?P<port>\d{1,5})")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_webhook_url(text: str) -> str:
    """An https URL Telegram can post to; http only for a loopback host (a local Bot API server,
    the simulator), which may also use any port."""
    parts = urlsplit(text)
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host or any(c.isspace() for c in text):
        raise ValueError("must be an https:// URL")
    loopback = _is_loopback(host)
    if parts.scheme == "http" and not loopback:
        raise ValueError("must be https:// (http:// only for 127.0.0.1 or localhost)")
    try:
        port = parts.port or 443
    except ValueError:
        raise ValueError("has an invalid port") from None
    if not loopback and port not in WEBHOOK_PORTS:
        raise ValueError("Telegram posts only to ports 443, 80, 88 and 8443")
    return text


def split_listen(text: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8443`` for IPv6) as (host, port); ValueError if it is not one."""
    match = _LISTEN.fullmatch(text)
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise ValueError("must be host:port, e.g. 127.0.0.1:8443")
    return match["v6"] or match["host"], int(match["port"])


class QuietHours(tuple[time, time]):
    """A daily window such as 22:00-07:00; it may wrap past midnight."""

    def contains(self, moment: time) -> bool:
        start, end = self
        if start == end:
            return False
        if start < end:
            return start <= moment < end
        return moment >= start or moment < end


def _parse_quiet_hours(value: Any) -> Any:
    if isinstance(value, QuietHours):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in {"", "off", "none"}:
            return QuietHours((time(0), time(0)))
        start, sep, end = text.partition("-")
        if not sep:
            raise ValueError("QUIET_HOURS looks like 22:00-07:00 (or 'off')")
        return QuietHours((_parse_clock_time(start), _parse_clock_time(end)))
    raise ValueError("QUIET_HOURS looks like 22:00-07:00 (or 'off')")


class Settings(BaseSettings):
    """Every setting; each one is documented in .env.example."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    bot_token: SecretStr | None = None
    bot_api_base_url: str = DEFAULT_API_BASE_URL
    database_path: Path = Path("data/linlitong.db")
    # postgresql://user:password@host:port/dbname selects PostgreSQL; unset, SQLite at DATABASE_PATH
    database_url: SecretStr | None = None
    admin_ids: Annotated[list[int], NoDecode, BeforeValidator(_parse_ids)] = Field(
        default_factory=list
    )
    timezone: str = "Asia/Shanghai"
    digest_time: ClockTime = time(18, 0)
    quiet_hours: Annotated[QuietHours, NoDecode, BeforeValidator(_parse_quiet_hours)] = Field(
        default_factory=lambda: QuietHours((time(22, 0), time(7, 0)))
    )
    categories_file: Path | None = None
    language: LanguageSetting = "zh"
    log_level: str = "INFO"
    # third-party loggers (they write residents' text at DEBUG); bot.logs.setup_logging
    log_level_libraries: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
    ] = "INFO"
    tick_interval: Duration = timedelta(seconds=30)
    reminder_lead: Duration = timedelta(minutes=30)
    followup_delay: Duration = timedelta(hours=1)
    followup_remind: Duration = timedelta(hours=24)
    followup_close: Duration = timedelta(hours=72)
    unbound_hint_interval: Duration = timedelta(days=1)
    album_window: Duration = timedelta(minutes=10)
    # an untagged message that reads like a problem gets a 登记提示 at most this often per group
    offer_interval: Duration = timedelta(minutes=2)
    poll_timeout: int = Field(default=10, ge=0, le=50)
    # Telegram's paid broadcast: past the free ~30 messages a second, send at once and pay
    paid_broadcast: bool = False
    # the HTTP client of the bot's requests: LinliTong's own (bot.transport) or httpx
    telegram_http: Annotated[
        Literal["builtin", "httpx"],
        BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
    ] = "builtin"
    # demos only: business time runs this many times faster than the wall, from CLOCK_START
    clock_speed: float = Field(default=1.0, gt=0)
    clock_start: datetime | None = None
    # Webhook mode (`linlitong run --webhook`, or WEBHOOK_URL set): Telegram POSTs each update to
    # WEBHOOK_URL with WEBHOOK_SECRET in a header; a proxy forwards it to WEBHOOK_LISTEN
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = DEFAULT_WEBHOOK_LISTEN
    webhook_max_connections: int = Field(default=40, ge=1, le=100)
    # how often a webhook instance looks for updates another instance kept but did not handle
    inbox_poll: Duration = timedelta(seconds=1)
    # The staff web page (`linlitong web`): where it listens, the address its links use, and the
    # key that signs its login links (unset: derived from BOT_TOKEN, so bot and page agree)
    web_listen: str = DEFAULT_WEB_LISTEN
    web_base_url: str | None = None
    web_secret: SecretStr | None = None

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _webhook_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return _checked_webhook_url(text) if text else None
        return value

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _webhook_secret(cls, value: Any) -> Any:
        # Telegram's rule for secret_token; the value never goes into the message
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            if not _WEBHOOK_SECRET.fullmatch(text):
                raise ValueError("1-256 characters of A-Z, a-z, 0-9, _ and -")
            return text
        return value

    @field_validator("webhook_listen", "web_listen", mode="before")
    @classmethod
    def _listen(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            default = (
                DEFAULT_WEB_LISTEN if info.field_name == "web_listen" else DEFAULT_WEBHOOK_LISTEN
            )
            host, port = split_listen(value.strip() or default)
            return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return value

    @field_validator("web_base_url", mode="before")
    @classmethod
    def _web_base_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().rstrip("/")
            if not text:
                return None
            parts = urlsplit(text)
            if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
                raise ValueError("must be the page's public address, e.g. https://grid.example.cn")
            return text
        return value

    @field_validator("web_secret", mode="before")
    @classmethod
    def _web_secret(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            if len(text) < 32:
                raise ValueError(
                    "needs at least 32 characters; make one with `openssl rand -hex 32`"
                )
            return text
        return value

    @field_validator("inbox_poll")
    @classmethod
    def _positive_poll(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be more than 0s, e.g. 1s")
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            if not re.fullmatch(r"postgres(?:ql)?://[^\s/]+/[^\s/?]+(?:\?\S*)?", text):
                raise ValueError(
                    "must look like postgresql://user:password@host:5432/dbname (or be empty for "
                    "SQLite at DATABASE_PATH)"
                )
            return text
        return value

    @property
    def database(self) -> Path | str:
        """Where the data lives: a ``postgresql://`` URL when DATABASE_URL is set, else the file."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return self.database_path

    @field_validator("bot_api_base_url", mode="before")
    @classmethod
    def _api_base_url(cls, value: Any) -> Any:
        # python-telegram-bot appends the token right after it: https://api.telegram.org/bot<token>
        if isinstance(value, str):
            text = value.strip() or DEFAULT_API_BASE_URL
            if not re.fullmatch(r"https?://[^\s/]+(?:/\S*)?/bot", text):
                raise ValueError("must end with /bot, e.g. https://api.telegram.org/bot")
            return text
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from exc
        return value

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> Any:
        # LANGUAGE is also gettext's variable (e.g. "en_US:en"): read a locale list by its first
        # entry, and fall back to Chinese for a locale we have no texts for.
        if isinstance(value, str) and ("_" in value or ":" in value or "." in value):
            first = value.split(":")[0].split("_")[0].split(".")[0].lower()
            return first if first in {"zh", "en"} else "zh"
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("LOG_LEVEL is one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("bot_token", "categories_file", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("clock_start")
    @classmethod
    def _aware_start(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("CLOCK_START needs a time zone, e.g. 2026-11-26T08:00:00+08:00")
        return value

    @field_validator("clock_start", mode="before")
    @classmethod
    def _blank_start(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def webhook_address(self) -> tuple[str, int]:
        """WEBHOOK_LISTEN as (host, port): where the webhook server listens."""
        return split_listen(self.webhook_listen)

    @property
    def web_address(self) -> tuple[str, int]:
        """WEB_LISTEN as (host, port): where `linlitong web` listens."""
        return split_listen(self.web_listen)

    @property
    def web_url(self) -> str:
        """The page's public address without a trailing slash (WEB_BASE_URL, else WEB_LISTEN's)."""
        if self.web_base_url is not None:
            return self.web_base_url
        host, port = self.web_address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def web_key(self) -> bytes:
        """The key that signs login links: WEB_SECRET, else one derived from BOT_TOKEN."""
        if self.web_secret is not None:
            return self.web_secret.get_secret_value().encode()
        return hmac.new(self.token().encode(), b"linlitong web login v1", hashlib.sha256).digest()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def default_language(self) -> Language:
        """What groups, scheduled messages and the command line speak (zh under ``auto``)."""
        if self.language == "auto":
            return "zh"
        return self.language

    @property
    def auto_language(self) -> bool:
        """Whether private replies follow each person's Telegram language (LANGUAGE=auto)."""
        return self.language == "auto"

    def token(self) -> str:
        """The bot token; only the application builder asks for it."""
        if self.bot_token is None:
            raise ValueError("BOT_TOKEN is not set")
        return self.bot_token.get_secret_value()


# -- loading, and saying what is wrong in the deployer's words ---------------------------------


@dataclass(frozen=True)
class SettingProblem:
    """One setting that cannot be used: its field and pydantic's reason."""

    field: str
    detail: str

    @property
    def name(self) -> str:
        """As the deployer writes it in .env: ``DIGEST_TIME``."""
        return self.field.upper()

    def explain(self, texts: Texts) -> str:
        """One line naming the setting and the format it expects."""
        key = f"settings.{self.field}"
        if key not in keys():
            info = Settings.model_fields.get(self.field)
            key = (
                "settings.duration" if info and info.annotation is timedelta else "settings.invalid"
            )
        return texts(key, name=self.name, detail=self.detail)


class SettingsError(ValueError):
    """Settings a command needs are unusable; ``lines()`` explains each in ``language``."""

    def __init__(self, problems: tuple[SettingProblem, ...], language: Language) -> None:
        super().__init__("; ".join(f"{p.name}: {p.detail}" for p in problems))
        self.problems = problems
        self.language = language

    def lines(self) -> list[str]:
        texts = Texts(self.language)
        return [problem.explain(texts) for problem in self.problems]


def load_settings(
    needed: Collection[str] | None = None, *, env_file: Path | str | None = ".env"
) -> tuple[Settings, tuple[SettingProblem, ...]]:
    """Settings from the environment and ``env_file``, judged by what a command ``needs``.

    ``needed`` names the fields the command uses (None: all of them). A bad value in one of
    them raises :class:`SettingsError`; a bad value elsewhere is replaced by its default and
    returned as a problem to mention, so that ``linlitong db backup`` still works with a
    mistyped DIGEST_TIME.
    """
    try:
        return Settings(_env_file=env_file), ()
    except ValidationError as exc:
        problems = _problems(exc)
    defaults = {
        p.field: Settings.model_fields[p.field].get_default(call_default_factory=True)
        for p in problems
        if p.field in Settings.model_fields
    }
    fallback = Settings(_env_file=env_file, **defaults)
    blocking = tuple(p for p in problems if needed is None or p.field in needed)
    if blocking:
        raise SettingsError(blocking, fallback.default_language)
    return fallback, problems


def _problems(exc: ValidationError) -> tuple[SettingProblem, ...]:
    found: dict[str, SettingProblem] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "settings"
        detail = str(error["msg"]).removeprefix("Value error, ")
        found.setdefault(field, SettingProblem(field, detail))
    return tuple(found.values())
