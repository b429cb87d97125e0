"""The command menu each audience sees, registered with setMyCommands at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bot.texts import Language


@dataclass(frozen=True)
class MenuCommand:
    name: str
    zh: str
    en: str

    def description(self, language: Language) -> str:
        return self.zh if language == "zh" else self.en


_HELP = MenuCommand("help", "怎么报事：标签和示例", "How to report: tags and examples")
_START = MenuCommand("start", "开始使用邻里通", "Start using LinliTong")

# audience -> commands; the audience names map to Bot API command scopes in handlers/menu.py
MENUS: Final[dict[str, tuple[MenuCommand, ...]]] = {
    "private": (_START, _HELP),
    "groups": (_HELP,),
    "group_admins": (
        _HELP,
        MenuCommand(
            "bind", "绑定本群为网格：/bind 网格 社区 [街道]", "Bind as grid: GRID COMMUNITY"
        ),
        MenuCommand(
            "supervise", "绑定本群为督办群：/supervise 社区或街道", "Bind as supervisor chat"
        ),
        MenuCommand("unbind", "解除本群绑定", "Unbind this group"),
    ),
}

LANGUAGES: Final[tuple[Language, ...]] = ("zh", "en")
