"""The message entities Telegram attaches to a text, computed the way its servers do.

Telegram detects ``mention``, ``hashtag``, ``cashtag``, ``bot_command``, ``url`` and ``email``
entities in every text and caption (tdlib, ``td/telegram/MessageEntity.cpp``: ``match_mentions``,
``match_bot_commands``, ``match_hashtags``, ``match_cashtags``, ``match_urls``), then drops every
entity that intersects an earlier one (sorted by offset, longest first).  Offsets and lengths are
counted in UTF-16 code units, so an emoji outside the BMP counts 2.

The rules reproduced here, the ones our tag parsing depends on:

* a hashtag starts at ``#`` not preceded by a *hashtag letter* (a Unicode letter — CJK included —,
  a decimal digit, ``_``, U+200C, U+00B7 or U+0D80..U+0DFF) and runs over hashtag letters;
  it is dropped when the run is followed directly by another ``#`` or contains no letter, and it
  is cut after 256 letters.  So ``请处理#报修`` and ``#报修#充电`` carry no hashtag, ``＃报修``
  (full-width) never does, and ``#报修北瑞小区，…`` is one hashtag up to the comma;
* a bot command is ``/`` + 1..64 of ``[A-Za-z0-9_]`` + optionally ``@`` and a 3..32 character
  username, neither preceded nor followed by a word character, ``/``, ``<`` or ``>``;
* a mention is ``@`` + 4..32 of ``[A-Za-z0-9_]`` (3-letter ``@gif``, ``@vid``, ``@pic`` too),
  not preceded nor followed by a word character.

URL detection is a simplified version of tdlib's: ``http://``, ``https://`` and ``ftp://`` URLs
with ASCII or Unicode host names, and bare domains (``example.com/path``) whose top-level domain
is in a short list of common ones.  IP-address hosts, internationalised bare domains and
``tg://`` links are not detected.  Phone numbers and bank cards are never reported (the Bot API
does not report bank cards; tdlib does not find phone numbers either).

``parse_html`` implements the ``parse_mode=HTML`` subset the Bot API accepts, with tdlib's error
texts (raised as :class:`EntityParseError`, which the API turns into
``400 Bad Request: can't parse entities: …``).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

JSON = dict[str, Any]

MAX_HASHTAG_LETTERS = 256

# tdlib MessageEntity::get_type_priority: lower sorts first when offset and length are equal.
_PRIORITY: dict[str, int] = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}
_DEFAULT_PRIORITY = 50
_VALID_SHORT_USERNAMES = frozenset({"gif", "vid", "pic"})
_BAD_PATH_END = ".:;,('?!`"
_COMMON_TLDS = frozenset(
    [
        "com",
        "net",
        "org",
        "edu",
        "gov",
        "mil",
        "int",
        "info",
        "biz",
        "name",
        "pro",
        "mobi",
        "app",
        "dev",
        "io",
        "me",
        "co",
        "ai",
        "tv",
        "cc",
        "xyz",
        "site",
        "online",
        "top",
        "club",
        "shop",
        "store",
        "tech",
        "cloud",
        "link",
        "live",
        "news",
        "blog",
        "wiki",
        "page",
        "one",
        "cn",
        "hk",
        "tw",
        "mo",
        "jp",
        "kr",
        "sg",
        "my",
        "th",
        "vn",
        "in",
        "ru",
        "ua",
        "by",
        "kz",
        "de",
        "fr",
        "uk",
        "it",
        "es",
        "pt",
        "nl",
        "be",
        "ch",
        "at",
        "se",
        "no",
        "fi",
        "dk",
        "pl",
        "cz",
        "ie",
        "eu",
        "us",
        "ca",
        "mx",
        "br",
        "ar",
        "au",
        "nz",
        "za",
        "tr",
        "ir",
        "il",
        "ae",
        "sa",
        "eg",
        "ng",
        "ke",
    ]
)


class EntityParseError(ValueError):
    """A text with ``parse_mode`` set could not be parsed; ``str(exc)`` is tdlib's reason."""


@dataclass(frozen=True)
class _Found:
    """An entity candidate, in code-point positions of the text."""

    type: str
    start: int
    end: int
    extra: tuple[tuple[str, Any], ...] = ()


# ---------------------------------------------------------------------------------------------
# UTF-16 helpers


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (what Telegram's offsets count)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def utf16_offsets(text: str) -> list[int]:
    """``result[i]`` is the UTF-16 offset of code point ``i``; ``result[len(text)]`` the total."""
    out = [0] * (len(text) + 1)
    pos = 0
    for i, ch in enumerate(text):
        out[i] = pos
        pos += 2 if ord(ch) > 0xFFFF else 1
    out[len(text)] = pos
    return out


def entity_text(text: str, entity: JSON) -> str:
    """The part of ``text`` an entity covers (offset/length are UTF-16 code units)."""
    raw = text.encode("utf-16-le")
    start = int(entity["offset"]) * 2
    end = start + int(entity["length"]) * 2
    return raw[start:end].decode("utf-16-le", errors="replace")


def sort_key(entity: JSON) -> tuple[int, int, int]:
    """tdlib's entity order: offset ascending, then length descending, then type priority."""
    priority = _PRIORITY.get(str(entity["type"]), _DEFAULT_PRIORITY)
    return (int(entity["offset"]), -int(entity["length"]), priority)


# ---------------------------------------------------------------------------------------------
# character classes (tdlib's is_word_character / is_hashtag_letter)


def _category(ch: str) -> str:
    return unicodedata.category(ch)


_WORD_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl", "No"})
_HASHTAG_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nd"})


def is_word_character(ch: str) -> bool:
    """A letter, any number, or ``_`` (tdlib ``is_word_character``)."""
    return ch == "_" or _category(ch) in _WORD_CATEGORIES


def is_hashtag_letter(ch: str) -> bool:
    """A character a hashtag may contain (tdlib ``is_hashtag_letter``)."""
    if ch in "_\u200c\u00b7" or 0x0D80 <= ord(ch) <= 0x0DFF:
        return True
    return _category(ch) in _HASHTAG_CATEGORIES


def _is_letter(ch: str) -> bool:
    return _category(ch).startswith("L")


def _is_ascii_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _is_separator(ch: str) -> bool:
    return _category(ch).startswith("Z") or ch in "\t\n\r\x0b\x0c"


# ---------------------------------------------------------------------------------------------
# matchers; each returns (start, end) code-point spans


def _ascii_word_run(text: str, pos: int) -> int:
    while pos < len(text) and _is_ascii_word(text[pos]):
        pos += 1
    return pos


def match_hashtags(text: str) -> list[tuple[int, int]]:
    """Spans of ``#hashtags`` by tdlib's rules (see the module docstring)."""
    found: list[tuple[int, int]] = []
    pos = text.find("#")
    while pos != -1:
        span = _hashtag_at(text, pos)
        if span is not None:
            found.append(span)
        pos = text.find("#", pos + 1)
    return found


def _hashtag_at(text: str, pos: int) -> tuple[int, int] | None:
    if pos > 0 and is_hashtag_letter(text[pos - 1]):
        return None
    end = pos + 1
    cut = None
    letters = 0
    was_letter = False
    while end < len(text) and is_hashtag_letter(text[end]):
        if letters < MAX_HASHTAG_LETTERS:
            was_letter |= _is_letter(text[end])
            letters += 1
            if letters == MAX_HASHTAG_LETTERS:
                cut = end + 1
        end += 1
    if letters == 0 or not was_letter:
        return None
    if end < len(text) and text[end] == "#":
        return None
    return (pos, cut if cut is not None else end)


def match_cashtags(text: str) -> list[tuple[int, int]]:
    """``$USD``-style cashtags: ``$`` + 1..8 capital letters (or ``1INCH``)."""
    found: list[tuple[int, int]] = []
    pos = text.find("$")
    while pos != -1:
        prev_ok = pos == 0 or not (is_hashtag_letter(text[pos - 1]) or text[pos - 1] == "$")
        if prev_ok:
            start = pos + 1
            if text.startswith("1INCH", start):
                end = start + 5
            else:
                end = start
                while end < len(text) and "A" <= text[end] <= "Z":
                    end += 1
            size = end - start
            nxt = text[end] if end < len(text) else ""
            if 1 <= size <= 8 and not (nxt and (is_hashtag_letter(nxt) or nxt == "$")):
                found.append((pos, end))
        pos = text.find("$", pos + 1)
    return found


def match_mentions(text: str) -> list[tuple[int, int]]:
    """``@username`` mentions (tdlib ``match_mentions`` + ``find_mentions``)."""
    found: list[tuple[int, int]] = []
    pos = text.find("@")
    while pos != -1:
        if pos == 0 or not is_word_character(text[pos - 1]):
            end = _ascii_word_run(text, pos + 1)
            name = text[pos + 1 : end]
            nxt = text[end] if end < len(text) else ""
            long_enough = len(name) >= 4 or name.lower() in _VALID_SHORT_USERNAMES
            if 2 <= len(name) <= 32 and long_enough and not (nxt and is_word_character(nxt)):
                found.append((pos, end))
        pos = text.find("@", pos + 1)
    return found


def _command_boundary(ch: str) -> bool:
    return is_word_character(ch) or ch in "/<>"


def match_bot_commands(text: str) -> list[tuple[int, int]]:
    """``/command`` and ``/command@botname`` (tdlib ``match_bot_commands``)."""
    found: list[tuple[int, int]] = []
    pos = text.find("/")
    while pos != -1:
        span = _command_at(text, pos)
        if span is not None:
            found.append(span)
        pos = text.find("/", pos + 1)
    return found


def _command_at(text: str, pos: int) -> tuple[int, int] | None:
    if pos > 0 and _command_boundary(text[pos - 1]):
        return None
    end = _ascii_word_run(text, pos + 1)
    if not 1 <= end - (pos + 1) <= 64:
        return None
    if end < len(text) and text[end] == "@":
        name_end = _ascii_word_run(text, end + 1)
        if not 3 <= name_end - (end + 1) <= 32:
            return None
        end = name_end
    if end < len(text) and _command_boundary(text[end]):
        return None
    return (pos, end)


def is_email_address(candidate: str) -> bool:
    """tdlib ``is_email_address``: a conservative check of ``user@domain.tld``."""
    user, sep, domain = candidate.partition("@")
    if not sep or not domain or not user:
        return False
    parts = re.split(r"[.+]", user)
    if len(parts) >= 12 or any(len(p) >= 27 for p in parts[:-1]):
        return False
    if not parts[-1] or len(parts[-1]) >= 36:
        return False
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", user):
        return False
    labels = domain.split(".")
    if not 2 <= len(labels) <= 7:
        return False
    tld = labels[-1]
    if not (2 <= len(tld) <= 8 and tld.isascii() and tld.isalpha()):
        return False
    return all(
        re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,28}[A-Za-z0-9])?", p) for p in labels[:-1]
    )


_EMAIL_RE = re.compile(r"[A-Za-z0-9_.+-]+@(?:[A-Za-z0-9_-]+\.)+[A-Za-z]{2,8}")


def match_emails(text: str) -> list[tuple[int, int]]:
    """E-mail addresses (also after ``mailto:``)."""
    found: list[tuple[int, int]] = []
    for m in _EMAIL_RE.finditer(text):
        start, end = m.span()
        if start > 0 and (is_word_character(text[start - 1]) or text[start - 1] in "/@"):
            continue
        if end < len(text) and (is_word_character(text[end]) or text[end] in "@"):
            continue
        if is_email_address(m.group()):
            found.append((start, end))
    return found


_PROTO_URL_RE = re.compile(r"(?i)\b(?:https?|ftp)://")
_BARE_HOST_RE = re.compile(r"(?<![\w/#@.$-])((?:[A-Za-z0-9_~-]+\.)+([A-Za-z]{2,24}))")


def _url_path_char(ch: str) -> bool:
    if ch in '\n<>"\u00ab\u00bb':
        return False
    code = ord(ch)
    if 0x2000 <= code <= 0x206F:
        return code in (0x200C, 0x200D) or 0x2010 <= code <= 0x2015
    return not _is_separator(ch)


def _host_char(ch: str) -> bool:
    if ord(ch) < 0xC0:
        return ch.isascii() and (ch.isalnum() or ch in "._-~")
    return _url_path_char(ch) and ch not in "/?#"


def _extend_url(text: str, end: int) -> int:
    """From the end of a host, take a ``:port`` and a path/query/fragment like tdlib does."""
    port = re.match(r":0*(\d{1,5})(?!\d)", text[end:])
    if port and int(port.group(1)) <= 65535:
        end += port.end()
    if end < len(text) and text[end] in "/?#":
        path_end = end + 1
        while path_end < len(text) and _url_path_char(text[path_end]):
            path_end += 1
        while path_end > end + 1 and text[path_end - 1] in _BAD_PATH_END:
            path_end -= 1
        if text[end] == "/" or path_end > end + 1:
            end = path_end
    while end > 0 and text[end - 1] == ".":
        end -= 1
    return end


def _valid_host(host: str, has_protocol: bool) -> bool:
    labels = host.split(".")
    if len(labels) < 2 or any(not label for label in labels):
        return False
    if has_protocol and len(labels) == 4 and all(_is_ipv4_part(label) for label in labels):
        return True
    tld = labels[-1]
    if len(tld) <= 1 or "_" in tld or "-" in tld:
        return False
    if "_" in labels[-2]:
        return False
    if not has_protocol and tld.lower() not in _COMMON_TLDS:
        return False
    return any(not ch.isdigit() for ch in host.replace(".", ""))


def _is_ipv4_part(label: str) -> bool:
    return label.isdigit() and int(label) <= 255 and not (len(label) > 1 and label[0] == "0")


def match_urls(text: str) -> list[tuple[int, int]]:
    """``http(s)://`` / ``ftp://`` URLs and bare ``domain.tld/path`` with a common TLD."""
    found: list[tuple[int, int]] = []
    for m in _PROTO_URL_RE.finditer(text):
        host_end = m.end()
        while host_end < len(text) and _host_char(text[host_end]):
            host_end += 1
        host = text[m.end() : host_end].rstrip(".")
        if not _valid_host(host, has_protocol=True):
            continue
        found.append((m.start(), _extend_url(text, m.end() + len(host))))
    for m in _BARE_HOST_RE.finditer(text):
        start = m.start()
        if any(s <= start < e for s, e in found):
            continue
        if start > 0 and (is_word_character(text[start - 1]) or text[start - 1] in "/#@"):
            continue
        if not _valid_host(m.group(1), has_protocol=False):
            continue
        found.append((start, _extend_url(text, m.end())))
    return found


# ---------------------------------------------------------------------------------------------
# putting it together


def _to_entities(text: str, found: Iterable[_Found]) -> list[JSON]:
    offsets = utf16_offsets(text)
    out: list[JSON] = []
    for f in found:
        entity: JSON = {
            "type": f.type,
            "offset": offsets[f.start],
            "length": offsets[f.end] - offsets[f.start],
        }
        entity.update(dict(f.extra))
        if entity["length"] > 0:
            out.append(entity)
    return out


def remove_intersecting(entities: list[JSON]) -> list[JSON]:
    """Sort in tdlib's order and keep only entities that do not intersect an earlier one."""
    kept: list[JSON] = []
    last_end = 0
    for entity in sorted(entities, key=sort_key):
        if entity["offset"] >= last_end:
            kept.append(entity)
            last_end = entity["offset"] + entity["length"]
    return kept


_MATCHERS: tuple[tuple[str, Callable[[str], list[tuple[int, int]]]], ...] = (
    ("mention", match_mentions),
    ("bot_command", match_bot_commands),
    ("hashtag", match_hashtags),
    ("cashtag", match_cashtags),
    ("email", match_emails),
    ("url", match_urls),
)


def find_entities(text: str, *, skip_bot_commands: bool = False) -> list[JSON]:
    """The entities Telegram detects by itself in ``text`` (UTF-16 offsets, tdlib order)."""
    found = [
        _Found(kind, start, end)
        for kind, matcher in _MATCHERS
        if not (skip_bot_commands and kind == "bot_command")
        for start, end in matcher(text)
    ]
    return remove_intersecting(_to_entities(text, found))


_OPAQUE_TYPES = frozenset({"pre", "code", "text_link", "text_mention", "custom_emoji"})


def merge_entities(text: str, explicit: list[JSON]) -> list[JSON]:
    """Explicit (formatting) entities plus the detected ones that do not clash with them.

    Detected entities inside ``code``/``pre``/``text_link`` spans, or overlapping any explicit
    entity of those kinds, are dropped, as Telegram does for bot messages.
    """
    opaque = [e for e in explicit if e["type"] in _OPAQUE_TYPES]

    def clashes(entity: JSON) -> bool:
        start, end = entity["offset"], entity["offset"] + entity["length"]
        return any(start < o["offset"] + o["length"] and o["offset"] < end for o in opaque)

    detected = [e for e in find_entities(text) if not clashes(e)]
    return sorted([*explicit, *detected], key=sort_key)


def strip_text(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Drop leading/trailing whitespace like Telegram does, shifting and clipping entities."""
    whitespace = " \t\r\n\x0b\x0c"
    lead = len(text) - len(text.lstrip(whitespace))
    stripped = text.strip(whitespace)
    shift = utf16_len(text[:lead])
    total = utf16_len(stripped)
    out: list[JSON] = []
    for entity in entities:
        start = max(0, entity["offset"] - shift)
        end = min(total, entity["offset"] + entity["length"] - shift)
        if end > start:
            out.append({**entity, "offset": start, "length": end - start})
    return stripped, out


# ---------------------------------------------------------------------------------------------
# parse_mode=HTML

_SUPPORTED_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji"}
    | {"span", "pre", "code", "blockquote"}
)
_SIMPLE_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_HTML_SPACE = " \t\r\n\x0b\x0c"


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int  # UTF-16 offset in the output
    out_index: int  # index into the output character list
    expandable: bool = False


class _HtmlParser:
    """A port of tdlib's ``parse_html``: same accepted tags, same error messages."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.raw = source.encode("utf-8")
        self.out: list[str] = []
        self.utf16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[JSON] = []

    # byte offsets in tdlib's messages are UTF-8 byte offsets
    def byte_offset(self, index: int) -> int:
        return len(self.src[:index].encode("utf-8"))

    def char(self, i: int) -> str:
        return self.src[i] if i < len(self.src) else ""

    def emit(self, ch: str) -> None:
        self.out.append(ch)
        self.utf16 += 2 if ord(ch) > 0xFFFF else 1

    def parse(self) -> tuple[str, list[JSON]]:
        i = 0
        while i < len(self.src):
            ch = self.src[i]
            if ch == "&":
                decoded, i_next = decode_html_entity(self.src, i)
                if decoded is not None:
                    self.emit(decoded)
                    i = i_next
                    continue
            if ch != "<":
                self.emit(ch)
                i += 1
                continue
            i = self.end_tag(i) if self.char(i + 1) == "/" else self.start_tag(i)
        if self.stack:
            raise EntityParseError(
                f"Can't find end tag corresponding to start tag {self.stack[-1].name}"
            )
        return "".join(self.out), sorted(self.entities, key=sort_key)

    def start_tag(self, begin: int) -> int:
        i = begin + 1
        while self.char(i) and self.char(i) not in _HTML_SPACE and self.char(i) != ">":
            i += 1
        if not self.char(i):
            raise EntityParseError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        name = self.src[begin + 1 : i].lower()
        if name not in _SUPPORTED_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {self.byte_offset(begin)}'
            )
        tag = _OpenTag(name, "", self.utf16, len(self.out))
        i = self.attributes(tag, begin, i)
        if name == "span" and tag.argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset(begin)}'
            )
        self.stack.append(tag)
        return i + 1

    def attributes(self, tag: _OpenTag, begin: int, i: int) -> int:
        while self.char(i) != ">":
            while self.char(i) and self.char(i) in _HTML_SPACE:
                i += 1
            if self.char(i) == ">":
                break
            if not self.char(i):
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {self.byte_offset(begin)}"
                )
            attr_begin = i
            while self.char(i) and self.char(i) not in _HTML_SPACE and self.char(i) not in "=>":
                i += 1
            attr = self.src[attr_begin:i]
            if not attr:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{tag.name}" at byte offset '
                    f"{self.byte_offset(begin)}"
                )
            while self.char(i) and self.char(i) in _HTML_SPACE:
                i += 1
            if self.char(i) != "=":
                if tag.name == "blockquote" and attr.lower() == "expandable":
                    tag.expandable = True
                    continue
                raise EntityParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag.name}" at byte offset {self.byte_offset(begin)}'
                )
            value, i = self.attribute_value(tag, begin, i + 1)
            self.apply_attribute(tag, attr, value)
        return i

    def attribute_value(self, tag: _OpenTag, begin: int, i: int) -> tuple[str, int]:
        while self.char(i) and self.char(i) in _HTML_SPACE:
            i += 1
        if not self.char(i):
            raise EntityParseError(
                f'Unclosed start tag "{tag.name}" at byte offset {self.byte_offset(begin)}'
            )
        quote = self.char(i)
        if quote not in "'\"":
            token_begin = i
            while self.char(i) and (_is_ascii_alnum(self.char(i)) or self.char(i) in ".-"):
                i += 1
            if self.char(i) not in _HTML_SPACE + ">" or not self.char(i):
                raise EntityParseError(
                    f"Unexpected end of name token at byte offset {self.byte_offset(token_begin)}"
                )
            return self.src[token_begin:i].lower(), i
        i += 1
        value: list[str] = []
        while self.char(i) and self.char(i) != quote:
            if self.char(i) == "&":
                decoded, i_next = decode_html_entity(self.src, i)
                if decoded is not None:
                    value.append(decoded)
                    i = i_next
                    continue
            value.append(self.char(i))
            i += 1
        if self.char(i) == quote:
            i += 1
        if not self.char(i):
            raise EntityParseError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        return "".join(value), i

    @staticmethod
    def apply_attribute(tag: _OpenTag, attr: str, value: str) -> None:
        if tag.name == "a" and attr == "href":
            tag.argument = value
        elif tag.name == "code" and attr == "class" and value.startswith("language-"):
            tag.argument = value[len("language-") :]
        elif tag.name == "span" and attr == "class" and value.startswith("tg-"):
            tag.argument = value[3:]
        elif tag.name == "tg-emoji" and attr == "emoji-id":
            tag.argument = value

    def end_tag(self, begin: int) -> int:
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {self.byte_offset(begin)}")
        i = begin + 2
        while self.char(i) and self.char(i) not in _HTML_SPACE and self.char(i) != ">":
            i += 1
        name = self.src[begin + 2 : i].lower()
        while self.char(i) and self.char(i) in _HTML_SPACE:
            i += 1
        if self.char(i) != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {self.byte_offset(begin)}")
        tag = self.stack[-1]
        if name and name != tag.name:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {self.byte_offset(begin)}, "
                f'expected "</{tag.name}>", found "</{name}>"'
            )
        self.stack.pop()
        if self.utf16 > tag.offset:
            self.close(tag)
        return i + 1

    def close(self, tag: _OpenTag) -> None:
        offset, length = tag.offset, self.utf16 - tag.offset
        base: JSON = {"offset": offset, "length": length}
        if tag.name in _SIMPLE_TAGS:
            self.entities.append({"type": _SIMPLE_TAGS[tag.name], **base})
        elif tag.name == "blockquote":
            kind = "expandable_blockquote" if tag.expandable else "blockquote"
            self.entities.append({"type": kind, **base})
        elif tag.name == "tg-emoji":
            if not tag.argument.isdigit() or int(tag.argument) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            self.entities.append({"type": "custom_emoji", **base, "custom_emoji_id": tag.argument})
        elif tag.name == "a":
            self.close_link(tag, base)
        else:
            self.close_code(tag, base)

    def close_link(self, tag: _OpenTag, base: JSON) -> None:
        url = tag.argument or "".join(self.out[tag.out_index :])
        user = re.fullmatch(r"tg://user\?id=(\d+)", url.strip())
        if user:
            self.entities.append(
                {"type": "text_mention", **base, "user": {"id": int(user.group(1))}}
            )
            return
        checked = checked_link(url)
        if checked:
            self.entities.append({"type": "text_link", **base, "url": checked})

    def close_code(self, tag: _OpenTag, base: JSON) -> None:
        last = self.entities[-1] if self.entities else None
        same_span = (
            last is not None
            and last["offset"] == base["offset"]
            and last["length"] == base["length"]
        )
        if tag.name == "pre":
            if last is not None and same_span and last["type"] == "code" and last.get("language"):
                last["type"] = "pre"
            else:
                self.entities.append({"type": "pre", **base})
            return
        if last is not None and same_span and last["type"] == "pre" and tag.argument:
            last["language"] = tag.argument
        else:
            entity: JSON = {"type": "code", **base}
            if tag.argument:
                entity["language"] = tag.argument
            self.entities.append(entity)


def decode_html_entity(text: str, pos: int) -> tuple[str | None, int]:
    """Decode ``&lt;``/``&gt;``/``&amp;``/``&quot;``/``&#NN;``/``&#xHH;`` at ``text[pos]``.

    Returns ``(None, pos)`` when there is no entity tdlib would decode (the ``&`` stays as is).
    """
    m = re.match(r"&(?:#x([0-9A-Fa-f]*)|#([0-9]*)|([A-Za-z]*));?", text[pos:])
    if m is None:
        return None, pos
    if m.group(3) is not None and m.group(1) is None and m.group(2) is None:
        named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(m.group(3))
        return (named, pos + m.end()) if named else (None, pos)
    digits = m.group(1) if m.group(1) is not None else m.group(2)
    base = 16 if m.group(1) is not None else 10
    body_len = m.end() - (1 if m.group().endswith(";") else 0)
    if not digits or body_len >= 10:
        return None, pos
    code = int(digits, base)
    if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None, pos
    return chr(code), pos + m.end()


def checked_link(url: str) -> str:
    """Roughly tdlib's ``LinkManager::get_checked_link``: add a scheme and a ``/`` path."""
    url = url.strip()
    if not url or any(ch in url for ch in ' \n<>"'):
        return ""
    if url.startswith("tg://"):
        return url
    m = re.match(r"(?i)^([a-z][a-z0-9+.-]*)://", url)
    if m is None:
        url = "http://" + url
    elif m.group(1).lower() not in {"http", "https", "ftp", "ton"}:
        return ""
    scheme_end = url.index("://") + 3
    rest = url[scheme_end:]
    if not re.search(r"[/?#]", rest):
        url += "/"
    return url


def parse_html(text: str) -> tuple[str, list[JSON]]:
    """Parse Bot API ``parse_mode=HTML`` text into ``(plain_text, entities)``.

    Raises :class:`EntityParseError` with tdlib's message for malformed or unsupported markup.
    The entities are the formatting ones only; add the detected ones with
    :func:`merge_entities`.
    """
    return _HtmlParser(text).parse()
