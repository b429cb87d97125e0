"""What every part of the parser shares: the scan copy, blanking spans, URLs, per-catalogue caches.

The *scan copy* of a text folds full-width ASCII (``＃３号楼``), the ideographic space, dash
variants and ①–⑨ to plain ASCII one character for one character, so every index found in the
scan copy is an index into the original text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from bot.categories import CategoryCatalog

T = TypeVar("T")


def _scan_table() -> dict[int, str]:
    # Every mapping is one character to one character: indices stay valid in the original text.
    # Full-width ASCII folds, except the punctuation nearly every Chinese message has (the
    # patterns accept both forms), so that most messages need no translation at all.
    common = "，！？：；（）"
    table = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F) if chr(cp) not in common}
    table[0x3000] = " "  # ideographic space
    for cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE58, 0xFE63):
        table[cp] = "-"
    for i in range(9):
        table[0x2460 + i] = str(i + 1)  # ①..⑨
    return table


_SCAN_TABLE = _scan_table()
_FOLDABLE = re.compile("[" + "".join(chr(cp) for cp in sorted(_SCAN_TABLE)) + "]")


def scan_copy(text: str) -> str:
    # translate() costs ~0.1 µs a character; most messages have nothing to fold.
    return text.translate(_SCAN_TABLE) if _FOLDABLE.search(text) else text


_URL = re.compile(r"(?:(?:https?|ftp)://|www\.)[!-~]+", re.IGNORECASE)


def blank_spans(scan: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return scan
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if end <= pos:
            continue
        start = max(start, pos)
        out.append(scan[pos:start])
        out.append(" " * (end - start))
        pos = end
    out.append(scan[pos:])
    return "".join(out)


def url_spans(scan: str) -> list[tuple[int, int]]:
    if "://" not in scan and "www." not in scan.lower():
        return []  # the URL regex is slow to fail on every position of a long message
    return [m.span() for m in _URL.finditer(scan)]


def is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


class PerCatalog(Generic[T]):
    """What ``build`` makes of a catalogue (compiled patterns, word lists), made once per catalogue.

    Looked up by the catalogue's identity, not its hash: this runs on every message, and the
    application holds one catalogue for its whole life."""

    _LIMIT = 32

    def __init__(self, build: Callable[[CategoryCatalog], T]) -> None:
        self._build = build
        self._cache: dict[int, tuple[CategoryCatalog, T]] = {}

    def __call__(self, catalog: CategoryCatalog) -> T:
        cached = self._cache.get(id(catalog))
        if cached is not None and cached[0] is catalog:
            return cached[1]
        value = self._build(catalog)
        if len(self._cache) > self._LIMIT:
            self._cache.clear()
        self._cache[id(catalog)] = (catalog, value)
        return value
