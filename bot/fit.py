"""Fitting our HTML into Telegram's limits without breaking a tag or an entity (pure).

Telegram counts a message's length after parsing (tags gone, ``&amp;`` one character) in UTF-16
code units: 4,096 for a text, 1,024 for a caption. Residents write up to 4,096 themselves, so
any view that quotes them plus a header can pass the limit; these helpers cut at a token
boundary, close the tags left open, and say that something was cut.
"""

from __future__ import annotations

import html
import re

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CUT_MARKER = "…"

_TOKEN = re.compile(r"<[^<>]*>|&#?[0-9A-Za-z]+;|[^<&]+|[<&]")
_TAG_NAME = re.compile(r"^</?\s*([A-Za-z][\w-]*)")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_length(markup: str) -> int:
    """What Telegram counts: the text once tags are parsed away, in UTF-16 code units."""
    return utf16_len(plain(markup))


def plain(markup: str) -> str:
    """The visible text of our HTML: tags dropped, entities unescaped."""
    return "".join(_visible(token) for token in _TOKEN.findall(markup))


def fit(markup: str, limit: int = TEXT_LIMIT, marker: str = CUT_MARKER) -> str:
    """``markup`` if Telegram accepts its length, else its head and ``marker`` (escaped here)."""
    if visible_length(markup) <= limit:
        return markup
    room = limit - utf16_len(marker) - 1
    head, _ = cut(markup, room)
    return f"{head.rstrip()}\n{html.escape(marker, quote=False)}"


def cut(markup: str, limit: int) -> tuple[str, str]:
    """Split so that the head shows at most ``limit`` units; tags open at the cut are closed in
    the head and opened again in the tail, so both parse on their own."""
    used = 0
    head: list[str] = []
    open_tags: list[tuple[str, str]] = []  # (name, the opening tag as written)
    tokens = _TOKEN.findall(markup)
    for index, token in enumerate(tokens):
        if token.startswith("<") and len(token) > 1:
            _track(open_tags, token)
            head.append(token)
            continue
        size = utf16_len(_visible(token))
        if used + size <= limit:
            head.append(token)
            used += size
            continue
        if token.startswith("&") or len(token) == 1:
            rest = token
        else:  # a run of plain text: keep what fits of it
            kept = _prefix_within(token, limit - used)
            head.append(kept)
            rest = token[len(kept) :]
        closing = "".join(f"</{name}>" for name, _ in reversed(open_tags))
        reopening = "".join(opening for _, opening in open_tags)
        tail = reopening + rest + "".join(tokens[index + 1 :])
        return "".join(head) + closing, tail
    return markup, ""


def _visible(token: str) -> str:
    if token.startswith("<") and len(token) > 1:
        return ""
    if token.startswith("&") and len(token) > 1:
        return html.unescape(token)
    return token


def _track(open_tags: list[tuple[str, str]], tag: str) -> None:
    match = _TAG_NAME.match(tag)
    if match is None:
        return
    name = match.group(1).lower()
    if not tag.startswith("</"):
        open_tags.append((name, tag))
        return
    for position in range(len(open_tags) - 1, -1, -1):
        if open_tags[position][0] == name:
            del open_tags[position]
            return


def _prefix_within(text: str, units: int) -> str:
    """The longest prefix of ``text`` of at most ``units`` UTF-16 code units (never half a
    surrogate pair)."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            return text[:index]
    return text


def fit_plain(text: str, limit: int = TEXT_LIMIT, marker: str = CUT_MARKER) -> str:
    """The same for text sent without parse mode."""
    if utf16_len(text) <= limit:
        return text
    return f"{_prefix_within(text, limit - utf16_len(marker) - 1).rstrip()}\n{marker}"


def split(markup: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut a long text at line ends into parts Telegram accepts; a line longer than a whole
    message is cut at a token boundary, its open tags closed and opened again."""
    parts: list[str] = []
    current, used = "", 0
    for whole in markup.split("\n"):
        line = whole
        while visible_length(line) > limit:
            if current:
                parts.append(current)
                current, used = "", 0
            head, line = cut(line, limit)
            parts.append(head)
        size = visible_length(line)
        if current and used + 1 + size > limit:
            parts.append(current)
            current, used = "", 0
        current, used = (f"{current}\n{line}", used + 1 + size) if current else (line, size)
    if current or not parts:
        parts.append(current)
    return parts
