"""How well untagged problems are heard: recall on problems, false offers on chatter.

    python -m bench.offers [--misses]

Reads the labelled corpus (bot/data/offers_problems.tsv, bot/data/offers_chatter.tsv, shipped
in the package because the n-gram model of ``bot.classify`` trains on them) and runs
``bot.classify.read_message`` with the default categories on every line. A line is *held out*
when ``crc32(text) % 5 == 0`` (about 20 %): the lexicon was tuned on the others only, and the
held-out row reads them with an n-gram model trained without them. ``cv`` is 5-fold
cross-validation of the n-gram model (fold = ``crc32 % 5``) over the corpus and the later
batches (the lexicon is fixed; it was tuned on all but the held-out lines). ``later`` is
bot/data/offers_blind.tsv: batches written after the lexicon, blind only at first (their
first-pass figures are in its header and in bench/README.md). ``blind2`` is
tests/data/offers_blind2.tsv: written after the lexicon and never tuned on, by lexicon or
model (not shipped, so the model never sees it). Also reported: how often
the category a problem was labelled with is the first offered, and among the (up to three)
offered. ``--misses`` lists the tuning lines it gets wrong (never the held-out ones, so that
tuning cannot peek at them). Targets: recall ≥ 85 %, false offers ≤ 3 %.
"""

from __future__ import annotations

import argparse
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.categories import CategoryCatalog
from bot.classify import Ngrams, read_message

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bot" / "data"
PROBLEMS = DATA / "offers_problems.tsv"
CHATTER = DATA / "offers_chatter.tsv"
BLIND = DATA / "offers_blind.tsv"  # written after the lexicon; see its header
BLIND2 = ROOT / "tests" / "data" / "offers_blind2.tsv"  # never tuned on; see its header
FOLDS = 5
RECALL_TARGET = 0.85
FALSE_OFFER_TARGET = 0.03


@dataclass(frozen=True)
class Line:
    label: str  # a category key (problems) or a kind of chatter
    text: str
    problem: bool

    @property
    def fold(self) -> int:
        return zlib.crc32(self.text.encode()) % FOLDS

    @property
    def held_out(self) -> bool:
        return self.fold == 0


def load(path: Path, *, problem: bool) -> list[Line]:
    """``label<TAB>text`` lines; ``#`` starts a comment line; ``\\n`` in a text is a line break."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        label, text = raw.split("\t", 1)
        lines.append(Line(label, text.replace("\\n", "\n"), problem))
    return lines


def corpus() -> list[Line]:
    return load(PROBLEMS, problem=True) + load(CHATTER, problem=False)


def blind(path: Path = BLIND) -> list[Line]:
    """``batch<TAB>problem|chatter<TAB>text`` lines (the batches written after the lexicon)."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            batch, kind, text = raw.split("\t", 2)
            lines.append(Line(f"batch {batch}", text.replace("\\n", "\n"), kind == "problem"))
    return lines


def blind2() -> list[Line]:
    return blind(BLIND2)


def model_without(left_out: Sequence[Line]) -> Ngrams:
    """An n-gram model trained on the shipped files less ``left_out``."""
    skip = {(x.problem, x.text) for x in left_out}
    shipped = corpus() + blind()
    return Ngrams((x.problem, x.text) for x in shipped if (x.problem, x.text) not in skip)


@dataclass(frozen=True)
class Figures:
    problems: int
    heard: int
    chatter: int
    offered: int
    first_right: int
    among_right: int

    @property
    def recall(self) -> float:
        return self.heard / self.problems if self.problems else 0.0

    @property
    def false_offers(self) -> float:
        return self.offered / self.chatter if self.chatter else 0.0

    def line(self, name: str) -> str:
        return (
            f"{name:<9} recall {self.recall:6.1%} ({self.heard}/{self.problems})   "
            f"false offers {self.false_offers:5.1%} ({self.offered}/{self.chatter})   "
            f"category first {self.first_right}/{self.heard}, offered {self.among_right}/"
            f"{self.heard}"
        )

    def meets_targets(self) -> bool:
        return self.recall >= RECALL_TARGET and self.false_offers <= FALSE_OFFER_TARGET


def measure(
    lines: Iterable[Line], catalog: CategoryCatalog | None = None, model: Ngrams | None = None
) -> Figures:
    """Figures over ``lines`` (``model``: the n-gram model, by default the shipped one)."""
    catalog = catalog or CategoryCatalog.default()
    problems = heard = chatter = offered = first = among = 0
    for line in lines:
        reading = read_message(line.text, catalog, model)
        if line.problem:
            problems += 1
            if reading.is_problem:
                heard += 1
                first += reading.categories[:1] == (line.label,)
                among += line.label in reading.categories
        else:
            chatter += 1
            offered += reading.is_problem
    return Figures(problems, heard, chatter, offered, first, among)


def measure_held_out(lines: Sequence[Line]) -> Figures:
    """The held-out lines, read with a model that never saw them."""
    held = split(lines, "held-out")
    return measure(held, model=model_without(held))


def cross_validate(lines: Sequence[Line]) -> Figures:
    """Each fold read with a model trained on the other folds, the figures summed."""
    parts = []
    for fold in range(FOLDS):
        test = [x for x in lines if x.fold == fold]
        parts.append(measure(test, model=model_without(test)))
    return Figures(*(sum(getattr(f, k) for f in parts) for k in Figures.__dataclass_fields__))


def split(lines: Sequence[Line], name: str) -> list[Line]:
    if name == "held-out":
        return [x for x in lines if x.held_out]
    if name == "tuning":
        return [x for x in lines if not x.held_out]
    return list(lines)


def misses(lines: Sequence[Line]) -> list[str]:
    """The tuning lines read wrongly, with the cues that decided (never held-out lines)."""
    catalog = CategoryCatalog.default()
    found = []
    for line in split(lines, "tuning"):
        reading = read_message(line.text, catalog)
        if reading.is_problem != line.problem:
            what = "missed" if line.problem else "offered"
            cues = " ".join(reading.cues)
            found.append(f"{what:7} {reading.score:5.1f} [{line.label}] {line.text!r}  {cues}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.offers", description=__doc__)
    parser.add_argument("--misses", action="store_true", help="list the tuning lines read wrongly")
    args = parser.parse_args(argv)
    lines = corpus()
    started = time.perf_counter()
    figures = {name: measure(split(lines, name)) for name in ("all", "tuning")}
    elapsed = time.perf_counter() - started
    figures["held-out"] = measure_held_out(lines)
    figures["cv"] = cross_validate(lines + blind())
    for name, result in figures.items():
        print(result.line(name).split("   category")[0] if name == "cv" else result.line(name))
    print(measure(blind()).line("later").split("   category")[0], "(tuned on since: see its file)")
    print(measure(blind2()).line("blind2").split("   category")[0], "(never tuned on)")
    per_message = elapsed / (2 * len(lines)) * 1e6
    print(f"targets: recall ≥ {RECALL_TARGET:.0%}, false offers ≤ {FALSE_OFFER_TARGET:.0%}; ")
    print(f"read in {per_message:.0f} µs a message on this machine")
    if args.misses:
        print("\n".join(misses(lines)))
    return 0 if figures["all"].meets_targets() else 1


if __name__ == "__main__":
    raise SystemExit(main())
