"""``linlitong run`` with a changed outbox or flood budget: diagnostics for the live benches.

    BOT_TOKEN=… BOT_API_BASE_URL=… python -m bench.tuned_bot [--global-per-second N]
                                                            [--combine-after SECONDS]

The same application and loop as ``linlitong run`` (``bot.app.run`` with the settings from the
environment, until SIGTERM), with at most two changes:

* ``--global-per-second N``: its :class:`TelegramBudget` allows N messages a second overall
  instead of Telegram's ~30. With the global limit out of the way, what is left of the receipt
  path is LinliTong's own cost. Never a way to run a real bot: Telegram would answer 429.
* ``--combine-after S``: the outbox also combines a group's waiting receipts when the rows due
  would take more than S seconds to send one by one at the global rate — the change proposed to
  ``bot.outbox.OutboxSender._next_batch`` (today it combines only when the group's own minute is
  nearly spent), tried here without touching the project's code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import bot.app
from bot.config import Settings
from bot.logs import setup_logging
from bot.outbox import OutboxSender
from bot.ratelimit import TelegramBudget
from storage.outbox import OutboxItem


class CombiningSender(OutboxSender):
    """Combines a group's receipts when the global budget, not the group's, is behind."""

    combine_after = 2.0  # seconds of global budget the rows due may need before combining
    _due = 0  # rows due at the start of the current flush

    async def flush(self) -> int:
        # How many rows are due now; the real change would count the rows flush() already read.
        runtime = self._runtime
        self._due = len(await runtime.storage.outbox.due(runtime.clock.now()))
        return await super().flush()

    def _next_batch(self, chat_id: int, queue: list[OutboxItem]) -> list[OutboxItem] | None:
        batch = super()._next_batch(chat_id, queue)
        if batch is None or len(batch) > 1 or chat_id >= 0 or batch[0].kind != "receipt":
            return batch
        receipts = [i for i in queue if i.kind == "receipt"]
        behind = self._due / self.budget.global_per_second > self.combine_after
        return receipts if behind and len(receipts) > 1 else batch


class TunedBudget(TelegramBudget):
    """TelegramBudget whose global limit defaults to ``global_limit`` instead of 30."""

    global_limit = 30

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("global_per_second", self.global_limit)
        super().__init__(**kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tuned_bot", description=__doc__)
    parser.add_argument("--global-per-second", type=int, default=30, help="Telegram's: 30")
    parser.add_argument("--combine-after", type=float, help="combine receipts past this backlog")
    args = parser.parse_args(argv)
    os.environ.setdefault("PTB_TIMEDELTA", "true")  # as bot.cli does
    settings = Settings()
    setup_logging(settings.log_level, secrets=[settings.token()])
    # bot.app builds its budget and, in post_init, its sender from these two names: swapping
    # the classes changes nothing else, and bot.app.run is what `linlitong run` runs.
    TunedBudget.global_limit = args.global_per_second
    bot.app.TelegramBudget = TunedBudget  # type: ignore[attr-defined]
    if args.combine_after is not None:
        CombiningSender.combine_after = args.combine_after
        bot.app.OutboxSender = CombiningSender  # type: ignore[attr-defined]
    return bot.app.run(settings)


if __name__ == "__main__":
    sys.exit(main())
