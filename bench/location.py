"""How well the location reader hears residents' addresses: ``python -m bench.location``.

Reads the annotated set ``tests/data/addresses.tsv`` (resident messages with the estate,
building, unit and room an officer would write in the ledger; an empty column for a part that is
not there), parses every message as the bot does (``parse_report`` with the default categories)
and prints the share read exactly per field, the share with building, unit and room all exact
(the figure tests/test_location_set.py holds at ≥ 97 %), and every miss.

The file: one header line, then ``text<TAB>estate<TAB>building<TAB>unit<TAB>room``; lines
starting with ``//`` name a group of cases (a city's style) and are skipped.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.categories import CategoryCatalog
from bot.parsing import Location, parse_report

logger = logging.getLogger(__name__)

ADDRESSES = Path(__file__).resolve().parent.parent / "tests" / "data" / "addresses.tsv"
FIELDS = ("estate", "building", "unit", "room")
_COLUMNS = ("text", *FIELDS)


@dataclass(frozen=True)
class AddressCase:
    line: int
    text: str
    expected: Location


@dataclass(frozen=True)
class Miss:
    case: AddressCase
    got: Location

    def fields(self) -> tuple[str, ...]:
        return tuple(f for f in FIELDS if _value(self.got, f) != _value(self.case.expected, f))

    def describe(self) -> str:
        parts = ", ".join(
            f"{f} {_value(self.case.expected, f) or '-'}≠{_value(self.got, f) or '-'}"
            for f in self.fields()
        )
        return f"line {self.case.line}: {self.case.text!r}: {parts}"


@dataclass
class Score:
    cases: int = 0
    exact: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    address_exact: int = 0
    """Building, unit and room all exact."""
    misses: list[Miss] = field(default_factory=list)

    def share(self, name: str) -> float:
        count = self.address_exact if name == "address" else self.exact[name]
        return count / self.cases if self.cases else 0.0

    def address_misses(self) -> list[Miss]:
        return [m for m in self.misses if set(m.fields()) - {"estate"}]


def _value(location: Location, name: str) -> str:
    return getattr(location, name) or ""


def load_cases(path: Path = ADDRESSES) -> list[AddressCase]:
    cases: list[AddressCase] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    if tuple(lines[0].split("\t")) != _COLUMNS:
        raise ValueError(f"{path}: the first line must be {'<TAB>'.join(_COLUMNS)}")
    for number, raw in enumerate(lines[1:], start=2):
        if not raw.strip() or raw.startswith("//"):
            continue
        columns = raw.split("\t")
        if len(columns) != len(_COLUMNS):
            raise ValueError(f"{path}:{number}: {len(columns)} columns, not {len(_COLUMNS)}")
        text, *values = columns
        cases.append(AddressCase(number, text, Location(*(v or None for v in values))))
    return cases


def score(cases: Iterable[AddressCase], catalog: CategoryCatalog | None = None) -> Score:
    catalog = catalog or CategoryCatalog.default()
    result = Score()
    for case in cases:
        got = parse_report(case.text, catalog).location
        result.cases += 1
        right = {f: _value(got, f) == _value(case.expected, f) for f in FIELDS}
        for name, ok in right.items():
            result.exact[name] += ok
        result.address_exact += right["building"] and right["unit"] and right["room"]
        if not all(right.values()):
            result.misses.append(Miss(case, got))
    return result


def report(result: Score, *, source: Path = ADDRESSES, misses: bool = True) -> str:
    lines = [f"{result.cases} addresses ({source.name})"]
    for name in FIELDS:
        lines.append(f"  {name:<9} {result.share(name):7.1%}  ({result.exact[name]})")
    lines.append(
        f"  building+unit+room exact {result.share('address'):7.1%}  ({result.address_exact})"
    )
    if misses:
        lines.append(f"misses ({len(result.misses)}; estate-only ones included):")
        lines.extend(f"  {m.describe()}" for m in result.misses)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--file", type=Path, default=ADDRESSES, help="an annotated TSV")
    parser.add_argument("--quiet", action="store_true", help="the figures only, no misses")
    args = parser.parse_args(argv)
    print(report(score(load_cases(args.file)), source=args.file, misses=not args.quiet))


if __name__ == "__main__":
    main()
