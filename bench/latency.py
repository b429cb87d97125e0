"""Receipt latency at a steady rate of reports, through the real ``linlitong run`` process.

    python -m bench.latency [--rate 50] [--seconds 20] [--groups 200] [--modes free,paid]
                            [--keep DIR]

For each mode a fresh simulator with Telegram's flood limits on is served on 127.0.0.1 and
``linlitong run`` polls it (POLL_TIMEOUT=1): ``free`` with the default settings (Telegram's free
~30 messages a second), ``paid`` with PAID_BROADCAST=true (messages past the free rate go with
``allow_paid_broadcast``, up to 1,000 a second). ``--groups`` groups are bound with ``/bind``
first; then reports are injected on a fixed schedule — report n at start + n / rate on the
monotonic clock — round-robin over the groups, so that no group gets more than Telegram's 20
messages a minute (200 groups at 50/s: 15 a minute each). For each report: the time from
injection (the update is in the simulator's queue) to the arrival in the simulator of the
sendMessage that acknowledges it (a reply, or a combined receipt linking it). Printed:
p50/p95/p99/max and the count (target: p99 ≤ 100 ms), the 429s Telegram answered and the
messages paid for.

Also printed, to check the simulator's side: when ``getUpdates`` handed each report out. A long
poll that is waiting when a report is injected must return it at once; the delay of those
reports is shown apart from the ones that arrived while the bot was busy (no poll waiting).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.live import (
    MORNING,
    HandOuts,
    Key,
    ReceiptLog,
    Town,
    bind_by_command,
    bot_process,
    build_town,
    machine,
    ms,
    percentile,
    work_folder,
)
from bot.simulator import Simulator
from bot.simulator.models import RateLimits

logger = logging.getLogger(__name__)

TARGET_P99 = 0.100
GROUP_PER_MINUTE = 20


@dataclass
class Injection:
    """What the schedule did: reports injected, how late the injector ran, polls waiting."""

    receipts: ReceiptLog
    handouts: HandOuts
    polled: set[Key]  # reports injected while a getUpdates was waiting for them
    max_lag: float
    seconds: float


async def inject(
    sim: Simulator, town: Town, handouts: HandOuts, *, rate: float, seconds: float
) -> Injection:
    """Report n at start + n / rate (monotonic); each one's injection time is recorded."""
    receipts = ReceiptLog(sim)
    polled: set[Key] = set()
    loop = asyncio.get_running_loop()
    count = int(rate * seconds)
    start = loop.time()
    max_lag = 0.0
    for n in range(count):
        due = start + n / rate
        if (delay := due - loop.time()) > 0:
            await asyncio.sleep(delay)
        max_lag = max(max_lag, loop.time() - due)
        chat = town.groups[n % len(town.groups)]
        resident = town.residents[n % len(town.residents)]
        waiting = handouts.waiting_polls > 0
        report = sim.send_text(chat, resident, f"#报修 {n + 1}号楼楼道灯不亮")
        key = (chat.id, int(report["message_id"]))
        receipts.expect(*key, time.monotonic())
        if waiting:
            polled.add(key)
    return Injection(receipts, handouts, polled, max_lag, loop.time() - start)


def distribution(values: Sequence[float]) -> str:
    return (
        f"p50 {ms(percentile(values, 50))}, p95 {ms(percentile(values, 95))},"
        f" p99 {ms(percentile(values, 99))}, max {ms(max(values, default=float('nan')))}"
        f" (n={len(values)})"
    )


def report(done: Injection, *, rate: float) -> None:
    receipts, handouts = done.receipts, done.handouts
    latencies = receipts.latencies()
    count = len(receipts.injected)
    print(
        f"injected   {count} reports at {count / done.seconds:.1f}/s (asked {rate:g}/s;"
        f" injector at most {ms(done.max_lag)} late)"
    )
    print(
        f"receipts   {len(latencies)}/{count} ({receipts.replies} replies,"
        f" {receipts.combined_receipts} in {receipts.combined_messages} combined)"
    )
    print(f"latency    {distribution(latencies)}; target p99 ≤ {ms(TARGET_P99)}")
    handed = {k: t - receipts.injected[k] for k, t in handouts.at.items() if k in receipts.injected}
    waited = [d for k, d in handed.items() if k in done.polled]
    busy = [d for k, d in handed.items() if k not in done.polled]
    print(f"hand-out   with a poll waiting: {distribution(waited)}")
    print(f"hand-out   no poll waiting (the bot was busy): {distribution(busy)}")
    after = [
        receipts.acknowledged[k] - handouts.at[k] for k in receipts.acknowledged if k in handouts.at
    ]
    print(f"in the bot hand-out to receipt: {distribution(after)}")


async def measure(args: argparse.Namespace, folder: Path, mode: str) -> None:
    """One mode against a fresh simulator with Telegram's limits on."""
    print(f"mode       {mode}" + (" (PAID_BROADCAST=true)" if mode == "paid" else ""))
    sim = Simulator(limits=RateLimits())
    town = build_town(sim, args.groups)
    handouts = HandOuts(sim)  # before the first poll, so that every poll is seen
    log = folder / f"bot-{mode}.log"
    extra = {**MORNING, "PAID_BROADCAST": "true" if mode == "paid" else "false"}
    async with bot_process(
        sim, folder, log, admin=town.admin, database=folder / f"{mode}.db", settings=extra
    ):
        await bind_by_command(sim, town, within=60 + args.groups / 5)
        await asyncio.sleep(1.5)  # let the bind answers settle before the clock starts
        calls = len(sim.calls)
        paid = sim.paid_messages
        done = await inject(sim, town, handouts, rate=args.rate, seconds=args.seconds)
        within = 30 + args.rate * args.seconds / 20
        try:
            await sim.wait_for(done.receipts.complete, timeout=within)
        except TimeoutError:
            logger.warning("%d reports still without a receipt", done.receipts.missing)
        done.receipts.scan()
        floods = sum(
            1 for c in sim.calls[calls:] if c.error is not None and c.error.error_code == 429
        )
        paid = sim.paid_messages - paid
    report(done, rate=args.rate)
    print(f"telegram   {floods} answered 429; {paid} messages sent as paid broadcast")


async def run(args: argparse.Namespace, folder: Path) -> None:
    print(f"machine: {machine()}")
    per_minute = args.rate * min(args.seconds, 60) / args.groups
    print(
        f"schedule   {args.rate:g} reports/s for {args.seconds:g} s over {args.groups} groups:"
        f" ≤ {per_minute:.1f} reports a group a minute (Telegram allows {GROUP_PER_MINUTE})"
    )
    for mode in args.modes.split(","):
        if mode not in ("free", "paid"):
            raise SystemExit(f"unknown mode {mode!r}: free or paid")
        await measure(args, folder, mode)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__)
    parser.add_argument("--rate", type=float, default=50.0, help="reports a second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the schedule runs")
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument(
        "--modes", default="free,paid", help="free (Telegram's free rate), paid (PAID_BROADCAST)"
    )
    parser.add_argument("--keep", type=Path, help="keep the database and the bot log here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    # a bot stopped between modes may leave a request half-read: not a server error
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    args = _parser().parse_args(argv)
    with work_folder(args.keep, "linlitong-latency-") as folder:
        asyncio.run(run(args, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
