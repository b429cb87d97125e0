"""How long the ledger (台账) export takes, and how much memory it needs.

    python -m bench.export_ledger [--tickets 100000] [--grids 100] [--keep DIR]

Seeds a temporary database (bench.seed), then exports it as xlsx and as csv, each in a fresh
process so that its peak RSS (``ru_maxrss``) is the export's own; a third process that only
imports and opens the database gives the baseline. While each export runs, a task on the same
event loop ticks every 10 ms and the longest gap between ticks is reported: what a bot sharing
the loop would have felt. Numbers are measured, never asserted. ``python-loop`` is the time of a
fixed pure-Python loop, to compare machines; CPU seconds say more than wall time on a busy one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

TICK = 0.01


def _python_loop_seconds() -> float:
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _ticker(gaps: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(TICK)
        now = time.perf_counter()
        gaps.append(now - last - TICK)
        last = now


async def _child(fmt: str, db: Path, output: Path) -> dict[str, Any]:
    """One export (or none, for the baseline) in this process; returns what it measured."""
    from bot.categories import CategoryCatalog
    from bot.export import write_ledger
    from storage import Storage

    storage = await Storage.open(db)
    try:
        if fmt == "none":
            return {"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
        gaps: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(gaps, stop))
        started, cpu_before = time.perf_counter(), _cpu_seconds()
        rows = await write_ledger(
            storage,
            "xlsx" if fmt == "xlsx" else "csv",
            output,
            catalog=CategoryCatalog.default(),
            tz=ZoneInfo("Asia/Shanghai"),  # the default TIMEZONE
            now=datetime.now(UTC),
        )
        seconds = time.perf_counter() - started
        stop.set()
        await ticker
    finally:
        await storage.close()
    return {
        "rows": rows,
        "seconds": seconds,
        "cpu_seconds": _cpu_seconds() - cpu_before,
        "max_loop_gap_ms": 1000 * max(gaps, default=0.0),
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def _run_child(fmt: str, db: Path, output: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.export_ledger", "--child", fmt, str(db), str(output)],
        capture_output=True,
        text=True,
        check=True,
    )
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def _seed(db: Path, grids: int, tickets: int) -> str:
    # In its own process too: Linux carries ru_maxrss across fork and exec, so a parent grown by
    # seeding would hand its peak to every export process it starts.
    command = [sys.executable, "-m", "bench.seed", "--db", str(db)]
    command += ["--grids", str(grids), "--tickets", str(tickets)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def _bench(tickets: int, grids: int, folder: Path) -> None:
    db = folder / "bench.db"
    print(f"python-loop      {_python_loop_seconds():.2f} s (10M additions)")
    print(f"seed             {_seed(db, grids, tickets)}")
    baseline = _run_child("none", db, folder / "none")
    print(f"baseline         peak RSS {baseline['maxrss_kb'] / 1024:.0f} MB (imports + open db)")
    for fmt in ("xlsx", "csv"):
        m = _run_child(fmt, db, folder / f"ledger.{fmt}")
        print(
            f"export {fmt:<4}      {m['rows']} rows in {m['seconds']:.1f} s"
            f" ({m['rows'] / m['seconds']:.0f} rows/s, {m['cpu_seconds']:.1f} s CPU),"
            f" {m['bytes'] / 1e6:.1f} MB,"
            f" peak RSS {m['maxrss_kb'] / 1024:.0f} MB"
            f" (+{(m['maxrss_kb'] - baseline['maxrss_kb']) / 1024:.0f} MB),"
            f" longest event-loop gap {m['max_loop_gap_ms']:.0f} ms"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export_ledger", description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--grids", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="keep the database and ledgers in this folder")
    parser.add_argument(
        "--child", nargs=3, metavar=("FORMAT", "DB", "OUTPUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        fmt, db, output = args.child
        measured = asyncio.run(_child(fmt, Path(db), Path(output)))
        if fmt != "none":
            measured["bytes"] = Path(output).stat().st_size
        print(json.dumps(measured))
        return 0
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        _bench(args.tickets, args.grids, args.keep)
        return 0
    with tempfile.TemporaryDirectory(prefix="linlitong-bench-") as folder:
        _bench(args.tickets, args.grids, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
