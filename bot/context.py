"""What every handler and job reaches through ``context.runtime``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.care import Desk
from bot.categories import CategoryCatalog
from bot.clock import Clock
from bot.config import Settings
from bot.ratelimit import TelegramBudget
from bot.roles import RoleBook
from bot.texts import Language, Texts
from storage import Storage

if TYPE_CHECKING:
    from bot.outbox import OutboxSender

RUNTIME_KEY = "linlitong"


@dataclass
class Runtime:
    """The app's collaborators; built in build_application, storage opened in post_init."""

    settings: Settings
    catalog: CategoryCatalog
    clock: Clock
    texts: Texts
    background: bool = True
    budget: TelegramBudget = field(default_factory=TelegramBudget, repr=False)
    storage_: Storage | None = field(default=None, repr=False)
    roles_: RoleBook | None = field(default=None, repr=False)
    sender_: OutboxSender | None = field(default=None, repr=False)
    sender_task: asyncio.Task[None] | None = field(default=None, repr=False)
    digest_day: date | None = None  # the local day whose digests this process has queued

    @property
    def storage(self) -> Storage:
        if self.storage_ is None:
            raise RuntimeError("storage is opened in post_init; the application is not running")
        return self.storage_

    @property
    def sender(self) -> OutboxSender:
        if self.sender_ is None:
            raise RuntimeError("the outbox sender is set up in post_init")
        return self.sender_

    def wake_sender(self) -> None:
        """Something was queued in the outbox: send it now, not at the next poll."""
        if self.sender_ is not None:
            self.sender_.wake()

    def texts_for(self, language_code: str | None, private: bool) -> Texts:
        """The catalogue for a reply one person reads.

        Under LANGUAGE=auto a private reply (a private chat, or a pop-up only the presser sees)
        speaks her Telegram ``language_code``: zh for ``zh``/``zh-*``, en for any other; with
        none, the default. Group messages are read by many, so they keep the default, and so
        does every reply when LANGUAGE is zh or en.
        """
        if not (private and language_code and self.settings.auto_language):
            return self.texts
        language: Language = "zh" if language_code.lower().split("-")[0] == "zh" else "en"
        return self.texts if language == self.texts.language else Texts(language)

    @property
    def care_desk(self) -> Desk:
        """What the 关爱走访 rules (bot.care) need of the running bot."""
        return Desk(self.storage, self.catalog, self.texts, self.settings.tz)

    @property
    def roles(self) -> RoleBook:
        if self.roles_ is None:
            raise RuntimeError("roles are set up in post_init; the application is not running")
        return self.roles_


class LinliContext(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with a typed ``runtime``."""

    @property
    def runtime(self) -> Runtime:
        return runtime_of(self.application)


LinliApp = Application[
    ExtBot[Any], LinliContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
]


def runtime_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Runtime:
    runtime = application.bot_data[RUNTIME_KEY]
    if not isinstance(runtime, Runtime):
        raise TypeError("bot_data holds no LinliTong runtime")
    return runtime
