"""The baseline of bench.ingest: a bare python-telegram-bot bot answering "收到" to every message.

    BOT_TOKEN=… BOT_API_BASE_URL=… [POLL_TIMEOUT=1] [BARE_RATE_LIMITER=1] python -m bench.bare_bot

No database, no rate limiter, no outbox: one MessageHandler replying to the message, polled with
the settings ``linlitong run`` uses (every update type, long polling of POLL_TIMEOUT seconds, no
pause between polls, pending updates kept). Whatever LinliTong does beyond this costs the
difference between the two throughputs. With BARE_RATE_LIMITER=1 it sends through
python-telegram-bot's ``AIORateLimiter`` (its defaults: 30 a second overall, 20 a minute per
group; retrying a 429 up to three times), as a bare bot that keeps Telegram's limits would.
Stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from telegram import Update
from telegram.ext import AIORateLimiter, Application, ContextTypes, MessageHandler, filters

logger = logging.getLogger(__name__)

REPLY = "收到"


async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.message
    if message is not None:
        await message.reply_text(REPLY, do_quote=True)


def main(argv: Sequence[str] | None = None) -> int:
    del argv  # configured by the environment, like linlitong run
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper())
    os.environ.setdefault("PTB_TIMEDELTA", "true")  # as bot.cli does: no deprecation warnings
    builder = (
        Application.builder()
        .token(os.environ["BOT_TOKEN"])
        .base_url(os.environ.get("BOT_API_BASE_URL", "https://api.telegram.org/bot"))
    )
    if os.environ.get("BARE_RATE_LIMITER") == "1":
        # AIORateLimiter's leaky buckets let bursts past a strict 30-in-a-second window, and
        # by default it gives up on the first 429: retried, no reply is lost.
        builder.rate_limiter(AIORateLimiter(max_retries=3))
    app = builder.build()
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, reply))
    app.run_polling(
        allowed_updates=Update.ALL_TYPES,
        timeout=int(os.environ.get("POLL_TIMEOUT", "10")),
        drop_pending_updates=False,
        close_loop=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
