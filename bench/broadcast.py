"""The daily digest to many groups under Telegram's limits, through the real ``linlitong run``.

    python -m bench.broadcast [--groups 1000] [--lead 5] [--keep DIR]

A simulator with Telegram's flood limits on (``RateLimits()``: 30 messages a second overall,
20 a minute per group; more answers 429 with retry_after) is served on 127.0.0.1. ``--groups``
groups get the bot as a member, and each is bound to a grid straight in the database
(``storage.grids.bind_grid``) before the bot starts. The bot's clock starts ``--lead`` seconds
before DIGEST_TIME (CLOCK_START at normal speed, TICK_INTERVAL=1s), so the first tick after
18:00 queues one digest per group. Measured from the simulator's record of calls:

* completion: from the first digest sendMessage to the last accepted one, ÷ the minimum the
  global limit allows (groups ÷ 30 a second; 1,000 groups: 33.3 s) — target ≤ 1.10;
* lost: groups that got no digest — target 0 (and doubled: groups that got two);
* 429s left unhandled: digest sends refused with 429 whose group never got its digest
  afterwards — target 0 (the total of 429s is printed too).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.live import (
    bind_in_database,
    bot_process,
    build_town,
    machine,
    work_folder,
)
from bot.simulator import RateLimits, Simulator

logger = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Shanghai")  # the default TIMEZONE
DIGEST_AT = datetime(2026, 11, 26, 18, 0, tzinfo=TZ)  # a Thursday: no weekly charts
DIGEST_MARK = "日报"  # in every grid digest's title
TARGET_RATIO = 1.10


@dataclass
class Deliveries:
    """Digest sends read from ``sim.calls``: per chat, the accepted ones and the 429s."""

    groups: set[int]
    first_attempt: float | None = None
    last_accepted: float | None = None
    accepted: Counter[int] = field(default_factory=Counter)
    refused_429: list[tuple[int, float]] = field(default_factory=list)
    other_errors: Counter[str] = field(default_factory=Counter)
    attempts: list[float] = field(default_factory=list)  # arrival of every digest send
    _cursor: int = 0
    _accepted_at: dict[int, float] = field(default_factory=dict)

    def scan(self, sim: Simulator) -> None:
        calls = sim.calls
        while self._cursor < len(calls):
            call = calls[self._cursor]
            if call.method.lower() == "sendmessage":
                if call.result is None and call.error is None and not call.timed_out:
                    return  # in flight: read it at the next scan
                self._read(call.params, call.result, call.error, call.at)
            self._cursor += 1

    def _read(self, params: dict[str, object], result: object, error: object, at: float) -> None:
        if DIGEST_MARK not in str(params.get("text", "")):
            return
        chat_id = int(str(params.get("chat_id")))
        if chat_id not in self.groups:
            return
        if self.first_attempt is None:
            self.first_attempt = at
        self.attempts.append(at)
        code = getattr(error, "error_code", None)
        if error is None and result is not None:
            self.accepted[chat_id] += 1
            self._accepted_at.setdefault(chat_id, at)
            self.last_accepted = at
        elif code == 429:
            self.refused_429.append((chat_id, at))
        else:
            self.other_errors[f"{code} {getattr(error, 'description', error)}"] += 1

    def complete(self) -> bool:
        return len(self.accepted) >= len(self.groups)

    def longest_pause(self) -> tuple[float, int]:
        """The longest gap between two digest sends, and how many sends came before it."""
        pairs = itertools.pairwise(self.attempts)
        gaps = [(b - a, n + 1) for n, (a, b) in enumerate(pairs)]
        return max(gaps, default=(0.0, 0))

    @property
    def unhandled_429(self) -> int:
        """429s after which the group never got its digest."""
        return sum(
            1 for chat_id, at in self.refused_429 if self._accepted_at.get(chat_id, -1.0) < at
        )


async def run(args: argparse.Namespace, folder: Path) -> Deliveries:
    sim = Simulator(limits=RateLimits())
    town = build_town(sim, args.groups)
    database = folder / "bot.db"
    await bind_in_database(database, town.groups, town.admin.id)
    deliveries = Deliveries({chat.id for chat in town.groups})
    minimum = args.groups / RateLimits().global_per_second
    clock_start = DIGEST_AT - timedelta(seconds=args.lead)
    settings = {
        "CLOCK_START": clock_start.isoformat(),
        "DIGEST_TIME": DIGEST_AT.strftime("%H:%M"),
        "TIMEZONE": str(TZ),
        "TICK_INTERVAL": "1s",
        "QUIET_HOURS": "off",
    }
    log = folder / "bot.log"
    async with bot_process(
        sim, folder, log, admin=town.admin, database=database, settings=settings
    ):

        def done() -> bool:
            deliveries.scan(sim)
            return deliveries.complete()

        try:
            await sim.wait_for(done, timeout=args.lead + 30 + 3 * minimum)
        except TimeoutError:
            logger.warning("%d groups without a digest", args.groups - len(deliveries.accepted))
        await asyncio.sleep(3)  # anything sent twice would come now
        deliveries.scan(sim)
    return deliveries


def report(deliveries: Deliveries, groups: int) -> None:
    minimum = groups / RateLimits().global_per_second
    if deliveries.first_attempt is None or deliveries.last_accepted is None:
        print("no digest was sent")
        return
    seconds = deliveries.last_accepted - deliveries.first_attempt
    lost = groups - len(deliveries.accepted)
    doubled = sum(1 for n in deliveries.accepted.values() if n > 1)
    print(
        f"digests    {len(deliveries.accepted)}/{groups} groups in {seconds:.2f} s from the first"
        f" send to the last; minimum {minimum:.2f} s at 30/s:"
        f" ratio {seconds / minimum:.3f} (target ≤ {TARGET_RATIO})"
    )
    print(f"lost       {lost} (target 0); doubled {doubled}")
    pause, before = deliveries.longest_pause()
    print(f"pause      longest gap between two digest sends {pause:.2f} s, after send {before}")
    print(
        f"429s       {len(deliveries.refused_429)} answered, {deliveries.unhandled_429} left"
        f" unhandled (target 0); other errors: {dict(deliveries.other_errors) or 'none'}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast", description=__doc__)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument(
        "--lead", type=float, default=5.0, help="seconds of bot time before DIGEST_TIME at start"
    )
    parser.add_argument("--keep", type=Path, help="keep the database and the bot log here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    args = _parser().parse_args(argv)
    print(f"machine: {machine()}")
    with work_folder(args.keep, "linlitong-broadcast-") as folder:
        report(asyncio.run(run(args, folder)), args.groups)
    return 0


if __name__ == "__main__":
    sys.exit(main())
