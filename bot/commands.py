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
_MY = MenuCommand("my", "我的工单", "My tickets")
_STATUS = MenuCommand("status", "查工单进度：/status 工单号", "Ticket status: /status N")
_METOO = MenuCommand("metoo", "回复工单：我也遇到了", "Reply to a ticket: me too")

_OFFICER = (
    MenuCommand("list", "工单列表：open/overdue/mine/all/标签", "List: open/overdue/mine/all/TAG"),
    MenuCommand("show", "工单详情和处理记录：/show 工单号", "Ticket details: /show N"),
    MenuCommand("take", "接单：/take 工单号", "Take: /take N"),
    MenuCommand("assign", "指派：/assign 工单号（回复对方）", "Assign: /assign N (reply)"),
    MenuCommand("progress", "发布进展：/progress 工单号 内容", "Public update: /progress N text"),
    MenuCommand("note", "内部备注：/note 工单号 内容", "Internal note: /note N text"),
    MenuCommand("done", "办结：/done 工单号 [说明]", "Resolve: /done N [text]"),
    MenuCommand("reject", "退回：/reject 工单号 原因", "Return: /reject N reason"),
    MenuCommand("dup", "合并重复：/dup 重复号 原工单号", "Duplicate: /dup N M"),
    MenuCommand("reopen", "重办：/reopen 工单号 [原因]", "Reopen: /reopen N [reason]"),
    MenuCommand("escalate", "上报督办：/escalate 工单号 [原因]", "Escalate: /escalate N [reason]"),
    MenuCommand("log", "民情日记：/log #标签 发现的问题", "Patrol diary: /log #TAG text"),
    MenuCommand("digest", "立即发日报", "Post the digest now"),
    MenuCommand("stats", "三率统计：/stats [天数]", "The three rates: /stats [days]"),
    MenuCommand("chart", "近几周趋势图", "Weekly chart"),
    MenuCommand("export", "导出台账（私聊发送）", "Export the ledger (sent privately)"),
)
_ADMIN = (
    MenuCommand("bind", "绑定本群为网格：/bind 网格 社区 [街道]", "Bind as grid: GRID COMMUNITY"),
    MenuCommand("supervise", "绑定本群为督办群：/supervise 社区或街道", "Bind as supervisor chat"),
    MenuCommand("unbind", "解除本群绑定", "Unbind this group"),
    MenuCommand("officer", "指定网格员（回复对方）", "Name an officer (reply)"),
    MenuCommand("unofficer", "取消网格员", "Remove a named officer"),
)

# audience -> commands; the audiences map to Bot API command scopes in handlers/menu.py.
# Named officers who are not group admins see the resident menu in groups; every officer
# command works for them all the same, and all are listed in private chats and in /help.
MENUS: Final[dict[str, tuple[MenuCommand, ...]]] = {
    "private": (_START, _HELP, _MY, _STATUS, *_OFFICER),
    "groups": (_HELP, _MY, _STATUS, _METOO),
    "group_admins": (_HELP, *_OFFICER, _MY, _STATUS, *_ADMIN),
}

LANGUAGES: Final[tuple[Language, ...]] = ("zh", "en")
