"""Past one machine: SQLite and polling against PostgreSQL with one and two webhook instances.

    python -m bench.scale_out [--reports 1000] [--groups 100] [--rate 50] [--seconds 10]
                              [--latency-groups 200] [--runs sqlite,pg1,pg2]
                              [--database-url URL] [--pg-setting NAME=VALUE …] [--keep DIR]
                              [--profile DIR]

Three set-ups, each against a fresh simulator (Telegram's flood limits on) served on 127.0.0.1,
each bot with PAID_BROADCAST=true so that Telegram's free ~30 messages a second is not what
bounds it:

* ``sqlite`` — one ``linlitong run`` polling, on an SQLite file;
* ``pg1`` — one ``linlitong run --webhook`` on a PostgreSQL database, the simulator posting
  each update straight to it;
* ``pg2`` — two ``linlitong run --webhook`` on one PostgreSQL database behind a small front
  (in this process) that sends each update to one of them at random, as a load balancer would.

Each gets the same world: ``--groups`` groups for the burst, ``--latency-groups`` others for the
steady rate, and a few to warm up, all bound as grids straight in the database before the bots
start. A few reports warm the bots up; then, once the bots are idle again:

* **steady**: ``--rate`` reports a second for ``--seconds`` seconds, round-robin over the latency
  groups (2.5 a group at the defaults, far below Telegram's 20 a minute in a group): the time from
  each report's injection to the arrival of its receipt at the simulator (p50/p99/max);
* **burst**: ``--reports`` reports at once over the burst groups (10 a group): reports/s from the
  first injection to the last receipt.

For each phase, the CPU per report: the bot processes' (all instances, with their children), the
PostgreSQL server's (the postmaster and every process under it, those that ended included), and
this process's (the simulator, and the front). Printed as a table, with the receipts doubled (a
report acknowledged twice; must be 0), the 429s Telegram answered and the messages paid for.
``--profile DIR`` samples each bot with py-spy during the burst (as ``bench.ingest`` does; it
slows the sampled process) and prints where its time went.

PostgreSQL: without ``--database-url`` a throwaway server is started as the test suite does
(``initdb`` in a temporary folder, a free port on 127.0.0.1) but with PostgreSQL's default
durability (``--pg-setting synchronous_commit=off`` and the like change that), and stopped at
the end. With ``--database-url`` (a user who may create databases), each PostgreSQL set-up gets
a new database on that server, dropped afterwards; the server's CPU is read only when it runs on
this machine. Everything started here is stopped whatever happens (bots: SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import random
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.live import (
    MORNING,
    ReceiptLog,
    bind_in_database,
    machine,
    percentile,
    served,
    tree_cpu_seconds,
    wait_idle,
    work_folder,
)
from bench.pgserver import fresh_database, postgres_server, postmaster_pid
from bench.sampling import sampling, summary
from bot.launcher import RUN_SCRIPT, BotProcess, start_bot, wait_polling, wait_webhook
from bot.simulator import SimChat, Simulator, SimUser
from bot.simulator.models import RateLimits
from tests.pg import PostgresServer, free_port

logger = logging.getLogger(__name__)

WEBHOOK_SECRET = "bench-scale-out-0123456789"  # noqa: S105 - a local bench's shared secret
WEBHOOK_PATH = "/telegram"
WARMUP_GROUPS = 10


@dataclass(frozen=True)
class Setup:
    name: str
    title: str
    postgres: bool
    instances: int  # 0: one polling process; otherwise webhook instances


SETUPS = (
    Setup("sqlite", "SQLite, polling, 1 process", postgres=False, instances=0),
    Setup("pg1", "PostgreSQL, webhook, 1 instance", postgres=True, instances=1),
    Setup("pg2", "PostgreSQL, webhook, 2 instances + front", postgres=True, instances=2),
)


# -- the world ------------------------------------------------------------------------------------


@dataclass
class World:
    admin: SimUser
    residents: list[SimUser]
    warmup: list[SimChat]
    burst: list[SimChat]
    steady: list[SimChat]

    @property
    def groups(self) -> list[SimChat]:
        return [*self.warmup, *self.burst, *self.steady]


def build_world(sim: Simulator, *, burst: int, steady: int) -> World:
    """The groups of each phase, the bot in each; the join updates dropped before any bot runs."""
    admin = sim.add_user("张书记")
    residents = [sim.add_user(f"居民{n + 1}") for n in range(20)]
    made = 0

    def groups(count: int) -> list[SimChat]:
        nonlocal made
        chats = []
        for _ in range(count):
            made += 1
            chat = sim.add_group(f"北瑞小区{made}网格群")
            sim.set_member(chat, admin, "creator")
            sim.add_bot(chat, by=admin)
            chats.append(chat)
        return chats

    world = World(admin, residents, groups(WARMUP_GROUPS), groups(burst), groups(steady))
    sim.queue.drop_pending()
    return world


# -- the front: a load balancer sending each update to a random instance --------------------------


@dataclass
class Front:
    """Each POST goes to a random instance, its answer's status back (502 if none came)."""

    targets: list[str]
    rng: random.Random = field(default_factory=lambda: random.Random(20261201))
    sent: dict[str, int] = field(default_factory=dict)
    client: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.Response:
        assert self.client is not None
        body = await request.read()
        target = self.rng.choice(self.targets)
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-telegram")}
        headers["Content-Type"] = "application/json"
        try:
            async with self.client.post(target, data=body, headers=headers) as answer:
                self.sent[target] = self.sent.get(target, 0) + 1
                return web.Response(status=answer.status)
        except aiohttp.ClientError:
            return web.Response(status=502)  # Telegram posts it again


@contextlib.asynccontextmanager
async def serve_front(front: Front) -> AsyncIterator[str]:
    """The front on a free port of 127.0.0.1; its webhook URL. Stopped whatever happens."""
    app = web.Application()
    app.router.add_post(WEBHOOK_PATH, front.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:
        front.client = client
        try:
            port = free_port()
            site = web.TCPSite(runner, "127.0.0.1", port)
            await site.start()
            yield f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        finally:
            await runner.cleanup()


# -- measuring ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cpu:
    bots: float
    postgres: float  # NaN: no server, or not on this machine
    bench: float  # this process: the simulator and the front

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.bots - other.bots, self.postgres - other.postgres, self.bench - other.bench)


@dataclass
class Meter:
    bot_pids: list[int]
    postmaster: int | None

    def read(self) -> Cpu:
        postgres = math.nan if self.postmaster is None else tree_cpu_seconds(self.postmaster)
        bots = sum(tree_cpu_seconds(pid) for pid in self.bot_pids)
        return Cpu(bots, postgres, time.process_time())


@dataclass(frozen=True)
class Phase:
    reports: int
    receipts: ReceiptLog
    started: float
    cpu: Cpu
    floods: int
    paid: int

    @property
    def acknowledged(self) -> int:
        return len(self.receipts.acknowledged)

    @property
    def seconds(self) -> float:
        """First injection to the last receipt."""
        return max(self.receipts.acknowledged.values(), default=self.started) - self.started

    @property
    def throughput(self) -> float:
        return self.acknowledged / self.seconds if self.seconds > 0 else math.nan

    def per_report_ms(self, seconds: float) -> float:
        return seconds / self.reports * 1000 if self.reports else math.nan

    def latency(self, q: float) -> float:
        return percentile(self.receipts.latencies(), q)


@dataclass(frozen=True)
class Outcome:
    setup: Setup
    steady: Phase
    burst: Phase
    shares: list[int]  # updates the front sent to each instance (pg2)


def send_report(sim: Simulator, world: World, chat: SimChat, n: int) -> tuple[int, int]:
    """Report ``n`` in ``chat`` by one of the residents; its (chat id, message id)."""
    resident = world.residents[n % len(world.residents)]
    message = sim.send_text(chat, resident, f"#报修 {n + 1}号楼楼道灯不亮")
    return chat.id, int(message["message_id"])


class Injector:
    """Puts reports into the simulator for one phase."""

    def __init__(self, sim: Simulator, world: World, groups: Sequence[SimChat]) -> None:
        self.sim, self.world, self.groups = sim, world, groups

    async def __call__(self, receipts: ReceiptLog) -> None:
        raise NotImplementedError

    def one(self, receipts: ReceiptLog, n: int) -> None:
        chat = self.groups[n % len(self.groups)]
        key = send_report(self.sim, self.world, chat, n)
        receipts.expect(*key, time.monotonic())


class AtOnce(Injector):
    def __init__(self, sim: Simulator, world: World, groups: Sequence[SimChat], count: int):
        super().__init__(sim, world, groups)
        self.count = count

    async def __call__(self, receipts: ReceiptLog) -> None:
        for n in range(self.count):
            self.one(receipts, n)


class Steady(Injector):
    """Report n at start + n / rate on the monotonic clock."""

    def __init__(
        self, sim: Simulator, world: World, groups: Sequence[SimChat], rate: float, count: int
    ):
        super().__init__(sim, world, groups)
        self.rate, self.count = rate, count

    async def __call__(self, receipts: ReceiptLog) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n in range(self.count):
            if (delay := start + n / self.rate - loop.time()) > 0:
                await asyncio.sleep(delay)  # the schedule of a steady rate
            self.one(receipts, n)


async def measured(
    sim: Simulator, meter: Meter, reports: int, inject: Injector, *, within: float
) -> Phase:
    """``inject(receipts)`` (it records each report), then until every report has its receipt."""
    receipts = ReceiptLog(sim)
    calls, paid = len(sim.calls), sim.paid_messages
    before = meter.read()
    started = time.monotonic()
    await inject(receipts)
    try:
        await sim.wait_for(receipts.complete, timeout=within)
    except TimeoutError:
        logger.warning("%d reports still without a receipt", receipts.missing)
    used = meter.read() - before
    receipts.scan()
    floods = sum(1 for c in sim.calls[calls:] if c.error is not None and c.error.error_code == 429)
    return Phase(reports, receipts, started, used, floods, sim.paid_messages - paid)


# -- one set-up ---------------------------------------------------------------------------------


async def start_instances(
    stack: AsyncExitStack,
    sim: Simulator,
    base_url: str,
    setup: Setup,
    *,
    database: Path | str,
    folder: Path,
    admin: SimUser,
) -> tuple[list[BotProcess], Front | None]:
    """The set-up's bot processes, each stopped when ``stack`` closes; up (polling, or their
    webhook set) when this returns."""
    settings = {**MORNING, "PAID_BROADCAST": "true", "LOG_LEVEL": "WARNING"}
    if isinstance(database, str):
        settings["DATABASE_URL"] = database
    front, webhook_url = None, ""
    listens = [f"127.0.0.1:{free_port()}" for _ in range(setup.instances)]
    targets = [f"http://{listen}{WEBHOOK_PATH}" for listen in listens]
    if setup.instances > 1:
        front = Front(targets)
        webhook_url = await stack.enter_async_context(serve_front(front))
    elif targets:
        webhook_url = targets[0]
    bots: list[BotProcess] = []
    for n in range(max(setup.instances, 1)):
        extra = dict(settings)
        command: tuple[str, ...] = RUN_SCRIPT
        if setup.instances:
            command = (*RUN_SCRIPT, "--webhook")
            extra |= {
                "WEBHOOK_URL": webhook_url,
                "WEBHOOK_SECRET": WEBHOOK_SECRET,
                "WEBHOOK_LISTEN": listens[n],
            }
        bot = await start_bot(
            base_url=base_url,
            token=sim.token,
            database_path=database if isinstance(database, Path) else folder / "unused.db",
            cwd=folder,
            admin_ids=(admin.id,),
            log_path=folder / f"{setup.name}-{n + 1}.log",
            extra_env=extra,
            command=command,
        )
        stack.push_async_callback(bot.stop)
        bots.append(bot)
        if setup.instances:
            await wait_webhook(sim, bot, after=n)
        else:
            await wait_polling(sim, bot)
    return bots, front


async def measure(
    setup: Setup,
    args: argparse.Namespace,
    folder: Path,
    database: Path | str,
    postmaster: int | None,
) -> Outcome:
    sim = Simulator(limits=RateLimits(), webhook_retry_delay=0.1)
    world = build_world(sim, burst=args.groups, steady=args.latency_groups)
    await bind_in_database(database, world.groups, world.admin.id)
    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(served(sim))
        bots, front = await start_instances(
            stack, sim, server.base_url, setup, database=database, folder=folder, admin=world.admin
        )
        pids = [bot.pid for bot in bots]
        meter = Meter(pids, postmaster)
        warm = await measured(
            sim, meter, WARMUP_GROUPS, AtOnce(sim, world, world.warmup, WARMUP_GROUPS), within=60
        )
        if warm.acknowledged < WARMUP_GROUPS:
            raise RuntimeError(f"{setup.name}: the warm-up reports were not all answered")
        await wait_idle(pids)
        count = round(args.rate * args.seconds)
        steady = await measured(
            sim,
            meter,
            count,
            Steady(sim, world, world.steady, args.rate, count),
            within=args.seconds + 30 + count / 20,
        )
        await wait_idle(pids)
        async with AsyncExitStack() as profiling:
            if args.profile is not None:
                for n, pid in enumerate(pids):
                    output = args.profile / f"{setup.name}-{n + 1}.txt"
                    await profiling.enter_async_context(sampling(pid, output))
            burst = await measured(
                sim,
                meter,
                args.reports,
                AtOnce(sim, world, world.burst, args.reports),
                within=60 + args.reports / 5,
            )
        shares = [front.sent.get(t, 0) for t in front.targets] if front else []
        for bot in bots:
            if bot.returncode is not None:
                raise RuntimeError(f"{setup.name}: a bot exited with {bot.returncode}")
    return Outcome(setup, steady, burst, shares)


@contextlib.contextmanager
def database_for(setup: Setup, folder: Path, server: PostgresServer | None) -> Iterator[Path | str]:
    if not setup.postgres:
        yield folder / f"{setup.name}.db"
        return
    assert server is not None
    with fresh_database(server, f"linlitong_bench_{setup.name}_{os.getpid()}") as url:
        yield url


# -- the table ------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds * 1000:,.1f}"


def _cpu(phase: Phase, seconds: float) -> str:
    value = phase.per_report_ms(seconds)
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def print_table(outcomes: Sequence[Outcome], args: argparse.Namespace) -> None:
    rate = f"{args.rate:g}/s"
    print()
    print(
        f"{'set-up':<41} {'reports/s':>9} {'burst p99':>10} | {'p50 @' + rate:>10}"
        f" {'p99 @' + rate:>10} {'max':>8} | CPU ms/report: {'bots':>6} {'postgres':>8}"
        f" {'sim+front':>9}"
    )
    for o in outcomes:
        b, s = o.burst, o.steady
        print(
            f"{o.setup.title:<41} {b.throughput:>9.1f} {_ms(b.latency(99)):>7} ms |"
            f" {_ms(s.latency(50)):>7} ms {_ms(s.latency(99)):>7} ms"
            f" {_ms(max(s.receipts.latencies(), default=math.nan)):>5} ms |"
            f" {'burst':>14} {_cpu(b, b.cpu.bots):>6} {_cpu(b, b.cpu.postgres):>8}"
            f" {_cpu(b, b.cpu.bench):>9}"
        )
        print(
            f"{'':<41} {'':>9} {'':>10} | {'':>10} {'':>10} {'':>8} |"
            f" {'steady':>14} {_cpu(s, s.cpu.bots):>6} {_cpu(s, s.cpu.postgres):>8}"
            f" {_cpu(s, s.cpu.bench):>9}"
        )
    print()
    for o in outcomes:
        for what, phase in (("burst", o.burst), ("steady", o.steady)):
            r = phase.receipts
            print(
                f"{o.setup.name:<6} {what:<6} {phase.acknowledged}/{phase.reports} acknowledged in"
                f" {phase.seconds:.2f} s ({r.replies} replies, {r.combined_receipts} in"
                f" {r.combined_messages} combined); {r.doubled} doubled; {phase.floods} answered"
                f" 429; {phase.paid} paid; p50 {_ms(phase.latency(50))} ms"
            )
        if o.shares:
            print(f"{o.setup.name:<6} front  updates per instance: {o.shares}")


async def run(args: argparse.Namespace, folder: Path) -> None:
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    names = args.runs.split(",")
    setups = [s for s in SETUPS if s.name in names]
    if len(setups) != len(names):
        raise SystemExit(f"--runs: names among {[s.name for s in SETUPS]}")
    settings = dict(_setting(text) for text in args.pg_setting)
    outcomes: list[Outcome] = []
    with contextlib.ExitStack() as stack:
        server = None
        postmaster = None
        if any(s.postgres for s in setups):
            server = stack.enter_context(postgres_server(args.database_url, settings))
            postmaster = postmaster_pid(server)
            print(
                f"postgres: {'given' if args.database_url else 'started here'}, settings "
                f"{settings or 'PostgreSQL defaults'}; CPU of its processes "
                f"{'read' if postmaster else 'not visible from here'}"
            )
        for setup in setups:
            with database_for(setup, folder, server) as database:
                outcome = await measure(
                    setup, args, folder, database, postmaster if setup.postgres else None
                )
            outcomes.append(outcome)
            print(
                f"done   {setup.title}: {outcome.burst.throughput:.1f} reports/s, steady p99"
                f" {_ms(outcome.steady.latency(99))} ms"
            )
    print_table(outcomes, args)
    if args.profile is not None:
        for outcome in outcomes:
            for n in range(max(outcome.setup.instances, 1)):
                output = args.profile / f"{outcome.setup.name}-{n + 1}.txt"
                print(summary(output, top=args.profile_top))
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    print(f"logs in {folder if args.keep else 'a removed temporary folder'}")


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"--pg-setting {text!r}: NAME=VALUE")
    return name.strip(), value.strip()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__)
    parser.add_argument("--reports", type=int, default=1000, help="burst: reports at once")
    parser.add_argument("--groups", type=int, default=100, help="burst: groups they go to")
    parser.add_argument("--rate", type=float, default=50.0, help="steady: reports a second")
    parser.add_argument("--seconds", type=float, default=10.0, help="steady: for how long")
    parser.add_argument("--latency-groups", type=int, default=200, help="steady: groups")
    parser.add_argument("--runs", default="sqlite,pg1,pg2", help="set-ups, comma-separated")
    parser.add_argument(
        "--database-url", help="a PostgreSQL server to use (its user may create databases)"
    )
    parser.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of the server started here (repeatable), e.g. synchronous_commit=off",
    )
    parser.add_argument("--keep", type=Path, help="keep the bot logs and SQLite files here")
    parser.add_argument(
        "--profile", type=Path, help="sample each bot with py-spy during the burst; stacks here"
    )
    parser.add_argument("--profile-top", type=int, default=30, help="functions in each summary")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    # a bot stopped at the end may leave a request half-read: not a server error
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    args = _parser().parse_args(argv)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    with work_folder(args.keep, "linlitong-scale-out-") as folder:
        asyncio.run(run(args, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
