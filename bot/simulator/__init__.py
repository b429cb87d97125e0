"""A local Telegram Bot API server for the demo, the tests and the benchmarks.

* :class:`Simulator` (``core``) — the Bot API state and rules, no HTTP;
* :class:`SimulatorRequest` (``transport``) — python-telegram-bot talks to it in-process;
* :func:`start_server` (``server``) — the same over HTTP on 127.0.0.1, plus a JSON control API;
* ``entities`` — the entities Telegram computes for a text, and ``parse_mode=HTML``.

Run one by itself with ``python -m bot.simulator``.
"""

from __future__ import annotations

from .core import Simulator
from .entities import EntityParseError, find_entities, parse_html, utf16_len
from .models import (
    ApiCall,
    ApiError,
    FaultPlan,
    RateLimits,
    SimChat,
    SimulatedTimeout,
    SimUser,
    UploadedFile,
)
from .server import SimServer, start_server
from .transport import SimulatorRequest

__all__ = [
    "ApiCall",
    "ApiError",
    "EntityParseError",
    "FaultPlan",
    "RateLimits",
    "SimChat",
    "SimServer",
    "SimUser",
    "SimulatedTimeout",
    "Simulator",
    "SimulatorRequest",
    "UploadedFile",
    "find_entities",
    "parse_html",
    "start_server",
    "utf16_len",
]
