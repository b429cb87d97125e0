"""Logging for the entry point: one format, quiet libraries (no residents' text from their debug
logs unless asked), and the bot token never printed."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

_TOKEN_SHAPE = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{20,}\b")
_MASK = "<BOT_TOKEN>"


class RedactTokenFilter(logging.Filter):
    """Replaces the bot token (and anything shaped like one) in every record that passes."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return _TOKEN_SHAPE.sub(_MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if clean != message:
            record.msg, record.args = clean, None
        return True


# Our own packages log at LOG_LEVEL; every other logger (python-telegram-bot's ``telegram`` and
# ``telegram.ext``, httpx, httpcore, aiosqlite, apscheduler, asyncio, aiohttp...) inherits the
# root's LOG_LEVEL_LIBRARIES. At DEBUG those write request bodies and SQL parameters, that is
# residents' reports with their phone numbers, unmasked: they get it only when asked for.
OWN_LOGGERS = ("bot", "handlers", "storage", "bench")
# These log every request (its URL holds the token) or every job run even at INFO: WARNING
# unless library debug logs are asked for.
NOISY_LOGGERS = ("httpx", "httpcore", "apscheduler", "aiohttp.access")


def setup_logging(level: str, secrets: Iterable[str] = (), library_level: str = "INFO") -> None:
    """basicConfig for the process; called from the CLI only. ``level`` is LOG_LEVEL (ours),
    ``library_level`` LOG_LEVEL_LIBRARIES (everyone else's, never below ``level``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokenFilter(secrets))
    ours = _level(level)
    libraries = max(ours, _level(library_level))
    logging.basicConfig(level=libraries, handlers=[handler], force=True)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(ours)
    noisy = libraries if libraries <= logging.DEBUG else max(logging.WARNING, libraries)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(noisy)
    # python-telegram-bot logs a non-JSON answer (a wrong BOT_API_BASE_URL) with its whole body
    # and a traceback, then raises it anyway: the raised error is what we report, in one line.
    quiet = libraries if libraries <= logging.DEBUG else logging.CRITICAL
    logging.getLogger("telegram.request").setLevel(quiet)


def _level(name: str) -> int:
    value = logging.getLevelName(name.upper())
    return value if isinstance(value, int) else logging.INFO
