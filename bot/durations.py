"""Durations as people and config files write them: ``30s``, ``15m``, ``2h``, ``3d``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])", re.IGNORECASE)


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Parse ``90s``, ``30m``, ``1h30m``, ``3d`` or a bare number of seconds into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().replace(" ", "")
        if not text:
            raise ValueError("empty duration")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif re.fullmatch(rf"(?:{_PART.pattern})+", text, re.IGNORECASE):
            seconds = sum(float(n) * _UNITS[u.lower()] for n, u in _PART.findall(text))
        else:
            raise ValueError(f"not a duration: {value!r} (use s, m, h or d, e.g. 30m, 2h, 3d)")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling: ``timedelta(hours=2)`` -> ``2h``; used in settings and docs."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
