"""``python -m bot.simulator``: run a simulator server until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from .core import Simulator
from .models import RateLimits
from .server import LOOPBACK, start_server

logger = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.simulator", description="A local Telegram Bot API simulator."
    )
    parser.add_argument("--host", default=LOOPBACK, help="only 127.0.0.1 is allowed")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    parser.add_argument("--username", default="linlitong_bot", help="the bot's username")
    parser.add_argument("--name", default="邻里通", help="the bot's first name")
    parser.add_argument("--limits", action="store_true", help="enforce Telegram's flood limits")
    parser.add_argument(
        "--privacy", action="store_true", help="privacy mode: the bot sees few group messages"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if args.host not in (LOOPBACK, "localhost"):
        parser.error(f"the simulator only listens on {LOOPBACK}")
    return args


async def serve(args: argparse.Namespace) -> None:
    """Start the server, print where it is, wait for a signal, stop."""
    sim = Simulator(
        token=args.token,
        bot_username=args.username,
        bot_name=args.name,
        can_read_all_group_messages=not args.privacy,
        limits=RateLimits() if args.limits else None,
    )
    server = await start_server(sim, host=args.host, port=args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    print(f"BOT_API_BASE_URL={server.base_url}", flush=True)
    print(f"CONTROL_URL={server.control_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
