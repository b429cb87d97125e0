"""The command menu each audience sees, registered with setMyCommands at start-up.

The descriptions are catalogue words: ``menu.<command>`` in bot/texts.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bot.texts import Language, Texts


@dataclass(frozen=True)
class MenuCommand:
    name: str

    @property
    def key(self) -> str:
        return f"menu.{self.name}"

    def description(self, language: Language) -> str:
        return Texts(language)(self.key)


_HELP = MenuCommand("help")
_START = MenuCommand("start")
_MY = MenuCommand("my")
_STATUS = MenuCommand("status")
_METOO = MenuCommand("metoo")
_OFFERS = MenuCommand("offers")  # a group's switch: only in groups, for their admins

_OFFICER = tuple(
    MenuCommand(name)
    for name in (
        "list",
        "show",
        "take",
        "assign",
        "progress",
        "note",
        "done",
        "reject",
        "dup",
        "reopen",
        "escalate",
        "log",
        "digest",
        "stats",
        "chart",
        "export",
        "web",
    )
)
# 关爱走访: the roster and its visits are kept in private chats only (handlers/care.py)
_CARE = (MenuCommand("care"), MenuCommand("visit"))
# 议事: residents tie themselves to a room (/room); officers start and close votes (/vote),
# which everyone may list and look at (handlers/votes.py)
_ROOM = MenuCommand("room")
_VOTE = MenuCommand("vote")
# ready answers (模板): officers list them, admins add and remove them (handlers/templates.py)
_TEMPLATE = MenuCommand("template")
_ADMIN = tuple(
    MenuCommand(name) for name in ("bind", "supervise", "unbind", "officer", "unofficer")
)

# audience -> commands; the audiences map to Bot API command scopes in handlers/menu.py.
# Named officers who are not group admins see the resident menu in groups; every officer
# command works for them all the same, and all are listed in private chats and in /help.
MENUS: Final[dict[str, tuple[MenuCommand, ...]]] = {
    "private": (_START, _HELP, _MY, _STATUS, _ROOM, *_OFFICER, _TEMPLATE, *_CARE, _VOTE),
    "groups": (_HELP, _MY, _STATUS, _METOO, _ROOM),
    "group_admins": (_HELP, *_OFFICER, _TEMPLATE, _VOTE, _ROOM, _OFFERS, _MY, _STATUS, *_ADMIN),
}

LANGUAGES: Final[tuple[Language, ...]] = ("zh", "en")


def commands() -> frozenset[str]:
    """Every command some menu lists."""
    return frozenset(c.name for menu in MENUS.values() for c in menu)
