"""What every handler and job reaches through ``context.runtime``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.categories import CategoryCatalog
from bot.clock import Clock
from bot.config import Settings
from bot.roles import RoleBook
from bot.texts import Texts
from storage import Storage

RUNTIME_KEY = "linlitong"


@dataclass
class Runtime:
    """The app's collaborators; built in build_application, storage opened in post_init."""

    settings: Settings
    catalog: CategoryCatalog
    clock: Clock
    texts: Texts
    storage_: Storage | None = field(default=None, repr=False)
    roles_: RoleBook | None = field(default=None, repr=False)

    @property
    def storage(self) -> Storage:
        if self.storage_ is None:
            raise RuntimeError("storage is opened in post_init; the application is not running")
        return self.storage_

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
