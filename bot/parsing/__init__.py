"""Resident message text -> tags, category, body, location, private numbers.

Pure functions: no telegram import, no I/O, and no function here raises on any ``str``. They run
on every group message, so they are built from linear regexes (no nested unbounded repeats) and
bounded scans: a 200-character message parses in about 0.08 ms, a full 4096-character one in
under 1 ms, and 100 KB of adversarial text in tens of milliseconds (about 0.1 s when it is all
digits and separators, where every digit group may start a phone or ID number).

Everything works on a *scan copy* of the text (``text``) in which full-width ASCII, the
ideographic space, dash variants and ①–⑨ are folded to ASCII one character for one character,
so every index found in it is an index into the original text. The body keeps the resident's own
characters; location fields come out in ASCII digits. Every word list that depends on the
categories comes from the catalogue passed in (CATEGORIES_FILE included), never the defaults.

One module per part, each with its decisions on the ambiguous cases in its docstring:

* ``tags``      tags (``#报修``, glued, full-width, bracketed), labels, the body, filler words
* ``location``  estate, building, unit, room; Chinese numerals
* ``contacts``  phones, landlines, ID numbers, masking
* ``report``    ``parse_report``: all of the above for one message
* ``text``      the scan copy and what the parts share
* ``care``      关爱走访's one-line forms (/care add, /visit) and the words for outcomes and ways
"""

from __future__ import annotations

from bot.parsing.contacts import find_id_numbers, find_phones, mask_sensitive
from bot.parsing.location import Location, chinese_numeral_to_int, parse_location
from bot.parsing.report import ParsedReport, parse_report
from bot.parsing.tags import TagHit, find_tags

__all__ = [
    "Location",
    "ParsedReport",
    "TagHit",
    "chinese_numeral_to_int",
    "find_id_numbers",
    "find_phones",
    "find_tags",
    "mask_sensitive",
    "parse_location",
    "parse_report",
]
