"""Ingest throughput: LinliTong against a bare python-telegram-bot bot, in the same run.

    python -m bench.ingest [--messages 1000] [--per-group 10] [--runs all|issue]
                           [--repeat N] [--baseline DIR] [--keep DIR] [--profile DIR]

Each bot runs as its own process against a fresh simulator served on 127.0.0.1. Each gets the
same world — ``messages / per-group`` groups, each bound first with ``/bind`` and answered —
then ``messages`` tagged reports (``#报修 {n}号楼楼道灯不亮``) injected at once, spread round-robin
over the groups. Measured: from injecting the first report until every report has its receipt
(a bot message replying to it, or a combined receipt linking it), as seen by the simulator.
Printed: each throughput (reports/s), the ratios (target: LinliTong ≥ 0.8 × bare), how each bot
acknowledged the reports (single replies, combined receipts) and the 429s Telegram answered.

The runs, in order:

* ``linlitong`` and ``bare`` — what the issue asks for: ``linlitong run`` with its default
  settings and ``python -m bench.bare_bot`` (replies "收到" to every message, no rate limiter),
  simulator flood limits off. LinliTong still keeps Telegram's free ~30 messages a second
  itself (combining a group's receipts when that makes them wait); the bare bot sends as fast
  as it can, which Telegram would answer with 429s.
* ``linlitong-paid`` — ``linlitong run`` with PAID_BROADCAST=true, simulator limits on:
  messages past the free rate go at once as paid broadcasts; what LinliTong's own work costs.
* ``bare-limited`` — the bare bot with python-telegram-bot's ``AIORateLimiter``, simulator
  limits on: a bare bot that keeps Telegram's limits.
* ``linlitong-paid-httpx`` — ``linlitong-paid`` with TELEGRAM_HTTP=httpx: python-telegram-bot's
  own HTTP client (the bare bot's) instead of ``bot.transport``; what LinliTong's own work
  costs beside the same client.

Ten reports per group keeps each group inside Telegram's 20 messages a minute (with its /bind
answer). ``--runs issue`` runs only the first two (or name the runs: ``--runs
linlitong-paid,bare``); ``--repeat N`` runs every one N times, in
rounds, and takes the ratios of the median throughputs. ``--baseline DIR`` adds, after each
LinliTong run, the same run of the code in DIR (another checkout, e.g. ``git archive HEAD | tar
-x -C DIR``), named ``…@baseline``: before and after in one run, on the machine as it is then.
``--profile DIR`` samples each bot with py-spy while it ingests and prints where its time went.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import statistics
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from bench.live import (
    MORNING,
    ReceiptLog,
    Town,
    bare_command,
    bind_by_command,
    bot_process,
    build_town,
    cpu_seconds,
    linlitong_command,
    machine,
    work_folder,
)
from bench.sampling import sampling, summary
from bot.simulator import Simulator
from bot.simulator.models import RateLimits

logger = logging.getLogger(__name__)

TARGET_RATIO = 0.8


@dataclass(frozen=True)
class Outcome:
    name: str
    messages: int
    groups: int
    seconds: float  # first injection to the last receipt
    acknowledged: int
    replies: int
    combined_messages: int
    combined_receipts: int
    bot_cpu: float  # CPU seconds of the bot process between the first report and the last receipt
    simulator_cpu: float  # of this process (the simulator and the bench), same window
    floods: int  # 429s the simulator answered

    @property
    def throughput(self) -> float:
        return self.acknowledged / self.seconds if self.seconds > 0 else math.nan


@dataclass(frozen=True)
class Run:
    name: str
    command: list[str]
    limits: bool  # the simulator enforces Telegram's flood limits
    env: dict[str, str]


RUNS = (
    Run("linlitong", linlitong_command(), False, MORNING),
    Run("bare", bare_command(), False, {}),
    Run("linlitong-paid", linlitong_command(), True, {**MORNING, "PAID_BROADCAST": "true"}),
    Run("bare-limited", bare_command(), True, {"BARE_RATE_LIMITER": "1"}),
    Run(
        "linlitong-paid-httpx",
        linlitong_command(),
        True,
        {**MORNING, "PAID_BROADCAST": "true", "TELEGRAM_HTTP": "httpx"},
    ),
)


async def measure(
    run: Run,
    *,
    messages: int,
    per_group: int,
    folder: Path,
    round_: int = 1,
    profile: Path | None = None,
) -> Outcome:
    """One bot, one fresh simulator: bind every group, inject every report, wait for receipts."""
    name, command = run.name, run.command
    sim = Simulator(limits=RateLimits() if run.limits else None)
    town = build_town(sim, math.ceil(messages / per_group))
    # each run its own database: a reused one would take the new simulator's reports (same
    # chats, same message ids) for Telegram redelivering old ones
    folder = folder / f"round-{round_}"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{name}.log"
    async with bot_process(
        sim,
        folder,
        log,
        command=command,
        admin=town.admin,
        database=folder / f"{name}.db",
        settings=run.env,
    ) as process:
        await bind_by_command(sim, town, within=60 + len(town.groups) / 5)
        profiling: AbstractAsyncContextManager[None] = (
            sampling(process.pid, profile / f"{name}.txt") if profile else nullcontext()
        )
        await asyncio.sleep(1.5)  # the bind answers' second of the global budget passes
        calls = len(sim.calls)
        async with profiling:
            receipts, started, bot_cpu, simulator_cpu = await _inject_and_wait(
                sim, town, process.pid, messages=messages, name=name
            )
        floods = sum(
            1 for c in sim.calls[calls:] if c.error is not None and c.error.error_code == 429
        )
    last = max(receipts.acknowledged.values(), default=started)
    return Outcome(
        name,
        messages,
        len(town.groups),
        last - started,
        len(receipts.acknowledged),
        receipts.replies,
        receipts.combined_messages,
        receipts.combined_receipts,
        bot_cpu,
        simulator_cpu,
        floods,
    )


async def _inject_and_wait(
    sim: Simulator, town: Town, pid: int, *, messages: int, name: str
) -> tuple[ReceiptLog, float, float, float]:
    """Every report at once, then until each has its receipt; (receipts, start, CPU seconds)."""
    receipts = ReceiptLog(sim)
    # CPU time says whether a bot waited or worked: on two cores, the bot's process and the
    # simulator's (this one) have about one each.
    cpu_before, sim_before = cpu_seconds(pid), time.process_time()
    started = time.monotonic()
    for n in range(messages):
        chat = town.groups[n % len(town.groups)]
        resident = town.residents[n % len(town.residents)]
        report = sim.send_text(chat, resident, f"#报修 {n + 1}号楼楼道灯不亮")
        receipts.expect(chat.id, int(report["message_id"]), time.monotonic())
    try:
        await sim.wait_for(receipts.complete, timeout=60 + messages / 5)
    except TimeoutError:
        logger.warning("%s: %d reports still without a receipt", name, receipts.missing)
    bot_cpu = cpu_seconds(pid) - cpu_before
    simulator_cpu = time.process_time() - sim_before
    receipts.scan()
    return receipts, started, bot_cpu, simulator_cpu


def _baseline(run: Run, code: Path) -> tuple[Run, ...]:
    """The same LinliTong run with the code in ``code`` first on its import path."""
    if run.command != linlitong_command():
        return ()
    env = {**run.env, "PYTHONPATH": str(code.resolve())}
    return (Run(f"{run.name}@baseline", run.command, run.limits, env),)


def report(outcome: Outcome) -> None:
    print(
        f"{outcome.name:<10} {outcome.acknowledged}/{outcome.messages} reports acknowledged over"
        f" {outcome.groups} groups in {outcome.seconds:.2f} s: {outcome.throughput:.1f} reports/s"
        f" ({outcome.replies} single replies, {outcome.combined_receipts} in"
        f" {outcome.combined_messages} combined receipts);"
        f" CPU per report: bot {outcome.bot_cpu / outcome.messages * 1000:.2f} ms,"
        f" simulator {outcome.simulator_cpu / outcome.messages * 1000:.2f} ms;"
        f" {outcome.floods} answered 429"
    )


async def run(args: argparse.Namespace, folder: Path) -> None:
    print(f"machine: {machine()}")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    runs: tuple[Run, ...]
    if args.runs == "all":
        runs = RUNS
    elif args.runs == "issue":
        runs = RUNS[:2]
    else:
        names = args.runs.split(",")
        runs = tuple(run for run in RUNS if run.name in names)
        if len(runs) != len(names):
            raise SystemExit(f"--runs: all, issue, or names among {[r.name for r in RUNS]}")
    if args.baseline is not None:
        runs = tuple(twin for run in runs for twin in (run, *_baseline(run, args.baseline)))
    throughputs: dict[str, list[float]] = {run.name: [] for run in runs}
    for round_ in range(args.repeat):
        if args.repeat > 1:
            print(f"round {round_ + 1} of {args.repeat}")
        for run in runs:
            outcome = await measure(
                run,
                messages=args.messages,
                per_group=args.per_group,
                folder=folder,
                round_=round_ + 1,
                profile=args.profile,
            )
            report(outcome)
            throughputs[run.name].append(outcome.throughput)
    # The bare bot's throughput varies from run to run far more than LinliTong's: with rounds,
    # the ratios are of the medians.
    median = {name: statistics.median(values) for name, values in throughputs.items()}
    if args.repeat > 1:
        for name, values in throughputs.items():
            runs_text = ", ".join(f"{v:.1f}" for v in values)
            print(f"median     {name}: {median[name]:.1f} reports/s ({runs_text})")
    pairs = [
        ("linlitong", "bare", f"target ≥ {TARGET_RATIO}"),
        ("linlitong-paid", "bare", "paid broadcast against the unlimited bare bot; target ≥ 0.7"),
        ("linlitong-paid-httpx", "bare", "the same, through httpx as the bare bot"),
        ("linlitong@baseline", "bare", "the baseline's code"),
        ("linlitong-paid@baseline", "bare", "the baseline's code, paid broadcast"),
        ("linlitong", "bare-limited", "both keeping Telegram's free rate"),
        ("linlitong-paid", "bare-limited", "paid broadcast against the bare bot keeping limits"),
    ]
    for top, bottom, what in pairs:
        if top in median and bottom in median:
            print(f"ratio      {top} / {bottom} = {median[top] / median[bottom]:.2f} ({what})")
    if args.profile is not None:
        for run in runs:
            print(summary(args.profile / f"{run.name}.txt", top=args.profile_top))
    print(f"logs in {folder if args.keep else 'a removed temporary folder'}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--messages", type=int, default=1000, help="tagged reports per bot")
    parser.add_argument("--per-group", type=int, default=10, help="reports per group")
    parser.add_argument(
        "--runs",
        default="all",
        help="all; issue (linlitong and bare); or names, comma-separated (linlitong-paid,bare)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of every run; ratios of the medians"
    )
    parser.add_argument(
        "--profile", type=Path, help="sample each bot with py-spy while it ingests; raw stacks here"
    )
    parser.add_argument("--profile-top", type=int, default=30, help="functions in each summary")
    parser.add_argument(
        "--baseline", type=Path, help="also run LinliTong from this checkout, after each run"
    )
    parser.add_argument("--keep", type=Path, help="keep databases and bot logs in this folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    args = _parser().parse_args(argv)
    with work_folder(args.keep, "linlitong-ingest-") as folder:
        asyncio.run(run(args, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
