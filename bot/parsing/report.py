"""A resident's message read whole: the deciding tag, labels, body, location, numbers."""

from __future__ import annotations

from collections import OrderedDict
from contextlib import suppress
from dataclasses import dataclass

from bot.categories import CategoryCatalog
from bot.parsing.contacts import id_numbers_of, phones_of, sensitive_spans
from bot.parsing.location import Location, read_location
from bot.parsing.tags import TagHit, body_of, labels_of, says_nothing, tags_in_scan
from bot.parsing.text import blank_spans, scan_copy, url_spans

__all__ = ["ParsedReport", "parse_report"]


@dataclass(frozen=True)
class ParsedReport:
    category: str | None
    tag: str | None
    labels: tuple[str, ...]
    tags: tuple[TagHit, ...]
    body: str
    location: Location
    phones: tuple[str, ...]
    id_numbers: tuple[str, ...]
    needs_detail: bool
    """A known tag, but the body says nothing: empty, only punctuation/emoji, only tag words of
    the catalogue in force or courtesy words (``#报修 报修！``, ``#报修 请尽快处理，谢谢``)."""

    @property
    def is_report(self) -> bool:
        return self.category is not None


# The last messages read, per catalogue: one group message is read by the intake and again by
# the offers' hearing (is it tagged?), and the same text again on a redelivery. A reading is
# immutable and depends on nothing but the text and the catalogue (compared by identity: the
# catalogue is loaded once per process).
_RECENT = 32
_recent: OrderedDict[tuple[int, str], tuple[CategoryCatalog, ParsedReport]] = OrderedDict()


def parse_report(text: str, catalog: CategoryCatalog) -> ParsedReport:
    """``text`` read with the tags and words of ``catalog`` (the categories in force)."""
    key = (id(catalog), text)
    found = _recent.get(key)
    if found is not None and found[0] is catalog:
        with suppress(KeyError):  # (another thread may have dropped it meanwhile)
            _recent.move_to_end(key)
        return found[1]
    parsed = _parse(text, catalog)
    _recent[key] = (catalog, parsed)
    while len(_recent) > _RECENT:
        with suppress(KeyError):
            _recent.popitem(last=False)
    return parsed


def _parse(text: str, catalog: CategoryCatalog) -> ParsedReport:
    scan = scan_copy(text)
    hits = tags_in_scan(scan, catalog)
    decider = next((h for h in hits if h.category is not None), None)
    category = catalog.get(decider.category) if decider and decider.category else None
    body = body_of(text, scan, hits)
    sensitive = sensitive_spans(scan)
    # The location is read without the known tags, but an unknown tag may name the place:
    # '#北瑞小区 路灯坏了'.
    located = blank_spans(
        scan,
        [(h.start, h.end if h.category else h.start + 1) for h in hits]
        + [(f.start, f.end) for f in sensitive],
    )
    return ParsedReport(
        category=category.key if category else None,
        tag=category.tag if category else None,
        labels=labels_of(hits, decider),
        tags=hits,
        body=body,
        location=read_location(
            blank_spans(located, url_spans(located)),
            catalog,
            labels=frozenset(h.start + 1 for h in hits if not h.category),
        ),
        phones=phones_of(sensitive),
        id_numbers=id_numbers_of(sensitive),
        needs_detail=category is not None and says_nothing(body, hits, catalog),
    )
