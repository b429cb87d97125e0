"""Every user-facing string, zh (default) and en; HTML parse mode, callers escape values."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo

Language = Literal["zh", "en"]

STATUS_NAMES: Final[dict[str, dict[Language, str]]] = {
    "new": {"zh": "待受理", "en": "new"},
    "accepted": {"zh": "处理中", "en": "in progress"},
    "resolved": {"zh": "已办结", "en": "resolved"},
    "closed": {"zh": "已关闭", "en": "closed"},
    "rejected": {"zh": "已退回", "en": "rejected"},
    "duplicate": {"zh": "重复", "en": "duplicate"},
}

_TEXTS: Final[dict[str, dict[Language, str]]] = {
    # -- intake ------------------------------------------------------------------------------
    "receipt.title": {
        "zh": "✅ 收到，工单 <b>{ticket_id}</b> 已登记",
        "en": "✅ Received: ticket <b>{ticket_id}</b> is open",
    },
    "receipt.updated_title": {
        "zh": "✏️ 工单 <b>{ticket_id}</b> 已按您修改后的内容更新",
        "en": "✏️ Ticket <b>{ticket_id}</b> updated from your edited message",
    },
    "receipt.category": {"zh": "类别：{category}", "en": "Category: {category}"},
    "receipt.location": {"zh": "位置：{location}", "en": "Location: {location}"},
    "receipt.no_location": {
        "zh": "位置：未识别到，网格员会向您确认",
        "en": "Location: not recognised; the grid officer will ask you",
    },
    "receipt.body": {"zh": "内容：{body}", "en": "Details: {body}"},
    "receipt.labels": {"zh": "其他标签：{labels}", "en": "Other tags: {labels}"},
    "receipt.files": {"zh": "附件：{count} 个", "en": "Attachments: {count}"},
    "receipt.album": {
        "zh": "附件：相册（同一组的照片都会归入本工单）",
        "en": "Attachments: an album (every item of it joins this ticket)",
    },
    "receipt.contact": {
        "zh": "联系方式：{contact}（已隐藏部分号码）",
        "en": "Contact: {contact} (partly hidden)",
    },
    "receipt.response_due": {
        "zh": "响应时限：{due} 前",
        "en": "Response by: {due}",
    },
    "receipt.resolution_due": {
        "zh": "办结时限：{due} 前",
        "en": "Resolution by: {due}",
    },
    "receipt.footer": {
        "zh": "网格员会尽快处理，进展会回复在您的消息下。",
        "en": "The grid officer will handle it; progress is posted as replies to your message.",
    },
    "intake.need_detail": {
        "zh": (
            "您好，收到了 #{tag} 标签，但没看到具体内容 🙏\n"
            "请在同一条消息里写清楚<b>什么问题、在哪里</b>，例如：\n"
            "#{tag} 3号楼2单元楼道灯不亮"
        ),
        "en": (
            "Hello, I got the #{tag} tag but no details 🙏\n"
            "Please say <b>what and where</b> in one message, e.g.:\n"
            "#{tag} Building 3, unit 2: the stairwell light is out"
        ),
    },
    "intake.unbound": {
        "zh": (
            "您好，本群还没有绑定网格，暂时不能登记工单。\n"
            "请部署管理员在本群发送：/bind 网格名 社区名 [街道名]"
        ),
        "en": (
            "Hello, this group is not bound to a grid yet, so tickets cannot be opened here.\n"
            "A deployment admin can send here: /bind GRID COMMUNITY [STREET]"
        ),
    },
    "intake.private": {
        "zh": "您好！请把带标签的消息（如 #报修 3号楼楼道灯不亮）发在您所在网格的群里，我会在群里登记并回执。",
        "en": "Hello! Please post tagged messages (e.g. #报修 …) in your grid's group chat; "
        "I open the ticket and reply there.",
    },
    # -- membership --------------------------------------------------------------------------
    "member.welcome": {
        "zh": (
            "大家好，我是邻里通 🏘️ 在群里发 <b>#报修</b>、<b>#充电</b>、<b>#积水</b> 等标签加问题描述，"
            "我会登记成工单并回执。\n部署管理员请发送 /bind 网格名 社区名 [街道名] 绑定本群。"
        ),
        "en": (
            "Hello, I am LinliTong 🏘️ Post a tag such as <b>#报修</b> (repair) with a description "
            "and I open a ticket and reply.\nA deployment admin binds this group with "
            "/bind GRID COMMUNITY [STREET]."
        ),
    },
    "member.privacy": {
        "zh": (
            "⚠️ 我现在<b>看不到群里的普通消息</b>，无法登记工单。请任选其一：\n"
            "1. 把我设为本群管理员（无需任何额外权限）；或\n"
            "2. 在 @BotFather 里发送 /setprivacy，选择本机器人并选 Disable，然后把我移出本群再重新拉进来。"
        ),
        "en": (
            "⚠️ I <b>cannot see ordinary messages</b> in this group, so I cannot open tickets. Either:\n"
            "1. make me an administrator of this group (no extra rights needed); or\n"
            "2. send /setprivacy to @BotFather, pick this bot, choose Disable, then remove me "
            "from the group and add me again."
        ),
    },
    # -- admin -------------------------------------------------------------------------------
    "admin.only_admins": {
        "zh": "抱歉，只有部署管理员可以使用这个命令。如需绑定，请联系社区或街道的系统管理员。",
        "en": "Sorry, only deployment admins can use this command. Please ask your system admin.",
    },
    "admin.group_only": {
        "zh": "请在要绑定的群里发送这个命令。",
        "en": "Please send this command in the group you want to bind.",
    },
    "admin.bind_usage": {
        "zh": "用法：/bind 网格名 社区名 [街道名]\n例如：/bind 第一网格 通顺社区 交通街道",
        "en": "Usage: /bind GRID COMMUNITY [STREET]\ne.g. /bind Grid-1 Tongshun Jiaotong",
    },
    "admin.bound_grid": {
        "zh": (
            "✅ 本群已绑定为 <b>{community}</b> 的网格 <b>{grid}</b>{street}。\n"
            "居民发带标签的消息（如 #报修 …）即可登记工单。"
        ),
        "en": (
            "✅ This group is now grid <b>{grid}</b> of <b>{community}</b>{street}.\n"
            "Residents open tickets with tagged messages (e.g. #报修 …)."
        ),
    },
    "admin.street_suffix": {"zh": "（{street}）", "en": " ({street})"},
    "admin.grid_taken": {
        "zh": "网格 <b>{grid}</b> 已绑定到另一个群（{title}）。请先在那个群发送 /unbind，再来这里绑定。",
        "en": "Grid <b>{grid}</b> is bound to another group ({title}). "
        "Send /unbind there first, then bind here.",
    },
    "admin.supervise_usage": {
        "zh": "用法：/supervise 社区名或街道名\n例如：/supervise 通顺社区",
        "en": "Usage: /supervise COMMUNITY-OR-STREET\ne.g. /supervise Tongshun",
    },
    "admin.supervise_unknown": {
        "zh": "没有找到名为「{name}」的社区或街道。请先在网格群里用 /bind 建立它，再来绑定督办群。",
        "en": "No community or street is called “{name}”. Bind a grid group with /bind first.",
    },
    "admin.bound_supervisor": {
        "zh": "✅ 本群已绑定为 <b>{name}</b> 的督办群，超时工单和日报会发到这里。",
        "en": "✅ This group now supervises <b>{name}</b>: escalations and digests come here.",
    },
    "admin.unbound": {
        "zh": "本群已解除绑定，不再登记新工单；已有工单和记录都保留。",
        "en": "This group is unbound: no new tickets; existing tickets and history are kept.",
    },
    "admin.not_bound": {
        "zh": "本群目前没有绑定，无需解除。",
        "en": "This group is not bound, nothing to undo.",
    },
    "admin.name_too_long": {
        "zh": "名称太长了（最多 {limit} 个字），请换个简短的名称。",
        "en": "That name is too long (at most {limit} characters).",
    },
    # -- general -----------------------------------------------------------------------------
    "start.private": {
        "zh": (
            "您好，我是邻里通 🏘️ 网格治理助手。\n"
            "在您所在网格的群里发送 <b>#标签 + 问题描述</b>，我会登记工单并回执，例如：\n"
            "#报修 3号楼2单元楼道灯不亮\n#充电 5号楼有人从窗户拉线充电\n\n"
            "可用的标签：{tags}"
        ),
        "en": (
            "Hello, I am LinliTong 🏘️, the neighbourhood grid assistant.\n"
            "Post <b>#tag + description</b> in your grid's group and I open a ticket, e.g.:\n"
            "#报修 Building 3 unit 2: stairwell light out\n\nTags: {tags}"
        ),
    },
    "help.group": {
        "zh": (
            "在本群发送 <b>#标签 + 问题描述</b> 即可登记工单，例如：\n"
            "#报修 3号楼2单元楼道灯不亮\n可用的标签：{tags}"
        ),
        "en": "Post <b>#tag + description</b> here to open a ticket.\nTags: {tags}",
    },
    "error.generic": {
        "zh": "抱歉，处理这条消息时出了点问题，已记录下来。请稍后再试一次。",
        "en": "Sorry, something went wrong with that message; it has been logged. Please retry.",
    },
}


class Texts:
    """The catalogue in one language: ``texts("receipt.title", ticket_id=7)``."""

    def __init__(self, language: Language = "zh") -> None:
        self.language: Language = language

    def __call__(self, key: str, /, **values: object) -> str:
        template = _TEXTS[key][self.language]
        return template.format(**values) if values else template

    def status(self, status: str) -> str:
        names = STATUS_NAMES.get(status)
        return names[self.language] if names else status

    def moment(self, moment: datetime, tz: ZoneInfo) -> str:
        """A deadline as people read it, in local time: ``11月26日 17:30``."""
        local = moment.astimezone(tz)
        if self.language == "zh":
            return f"{local.month}月{local.day}日 {local:%H:%M}"
        return f"{local:%b} {local.day} {local:%H:%M}"


def keys() -> frozenset[str]:
    return frozenset(_TEXTS)


def missing_translations() -> list[str]:
    """Keys lacking a language (the catalogue test keeps this empty)."""
    return [k for k, v in _TEXTS.items() if set(v) != {"zh", "en"}]
