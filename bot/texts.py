"""Every user-facing string, zh (default) and en; HTML parse mode, callers escape values."""

from __future__ import annotations

from datetime import datetime, timedelta
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

# The actor name stored on the bot's own history rows (reminders, escalations, 回访): data, kept
# as every release wrote it; people read texts("actor.system") in its place.
SYSTEM_ACTOR: Final = "邻里通"

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
    # -- tickets: status on the receipt, buttons -----------------------------------------------
    "receipt.combined_title": {
        "zh": "✅ 收到 {count} 条报事，都已登记：",
        "en": "✅ Received {count} reports, all opened:",
    },
    "receipt.combined_line": {
        "zh": "工单 <b>{ticket_id}</b> {category}",
        "en": "ticket <b>{ticket_id}</b> {category}",
    },
    "receipt.status": {"zh": "状态：{status}", "en": "Status: {status}"},
    "receipt.status_by": {"zh": "状态：{status}（{name}）", "en": "Status: {status} ({name})"},
    "receipt.possible_duplicate": {
        "zh": "⚠️ 可能与工单 {ids} 是同一问题，网格员会核实。",
        "en": "⚠️ Possibly the same problem as ticket {ids}; an officer will check.",
    },
    "button.take": {"zh": "接单", "en": "Take"},
    "button.done": {"zh": "办结", "en": "Done"},
    "button.merge": {"zh": "合并到工单 {id}", "en": "Merge into {id}"},
    "button.next_page": {"zh": "下一页 ▶", "en": "Next ▶"},
    "button.prev_page": {"zh": "◀ 上一页", "en": "◀ Previous"},
    "popup.not_allowed": {
        "zh": "只有本网格的网格员或社区工作人员可以操作。",
        "en": "Only this grid's officers or community staff can do this.",
    },
    "popup.invalid": {"zh": "这个按钮已失效。", "en": "This button is no longer valid."},
    "popup.done": {"zh": "已完成：工单 {id} {status}", "en": "Done: ticket {id} is {status}"},
    "popup.wrong_status": {
        "zh": "工单 {id} 现在是「{status}」，不能这样操作。",
        "en": "Ticket {id} is {status}; that is not possible now.",
    },
    "popup.outdated": {
        "zh": "这个按钮已过期，请重新操作：发送 /list 查看工单，或用 /take、/done 加工单号办理。",
        "en": "This button has expired. Please start again: /list shows tickets; /take or /done with a ticket number works one.",
    },
    "popup.page_gone": {
        "zh": "列表已有变化，现在没有第 {page} 页了（共 {pages} 页）。请重新发送 /list。",
        "en": "The list has changed: there is no page {page} now ({pages} in all). Please send /list again.",
    },
    # -- officer commands ----------------------------------------------------------------------
    "officer.need_ticket": {
        "zh": "请写上工单号，例如 /{command} 12；或者回复居民的原消息或回执后再发送 /{command}。",
        "en": "Add a ticket number, e.g. /{command} 12, or send /{command} as a reply to the report or its receipt.",
    },
    "officer.not_found": {
        "zh": "没有找到工单 {id}。请检查编号，或用 /list 查看待办工单。",
        "en": "Ticket {id} does not exist. Check the number, or see /list.",
    },
    "officer.not_allowed": {
        "zh": "抱歉，只有本网格的网格员或社区工作人员可以处理工单 {id}。",
        "en": "Sorry, only this grid's officers or community staff can work ticket {id}.",
    },
    "officer.wrong_status": {
        "zh": "工单 {id} 现在是「{status}」，不能{action}。{hint}",
        "en": "Ticket {id} is {status}: cannot {action}. {hint}",
    },
    "officer.need_text": {
        "zh": "请在工单号后面写上{what}，例如：/{command} {id} {example}",
        "en": "Write the {what} after the number, e.g. /{command} {id} {example}",
    },
    "officer.taken": {
        "zh": "👌 工单 {id} 已由 {name} 接单，处理中。",
        "en": "👌 {name} took ticket {id}.",
    },
    "officer.assigned": {
        "zh": "👌 工单 {id} 已指派给 {name}。",
        "en": "👌 Ticket {id} assigned to {name}.",
    },
    "officer.assign_need_person": {
        "zh": "请回复要指派的人的任意一条消息并发送 /assign {id}，或写上对方的用户 ID：/assign {id} 123456789（对方需在本网格群里）",
        "en": "Reply to a message of the person with /assign {id}, or give their user id: /assign {id} 123456789 (they must be in the grid's group)",
    },
    "officer.progress_public": {
        "zh": "📣 工单 {id} 进展：{text}\n—— {name}",
        "en": "📣 Ticket {id} update: {text}\n— {name}",
    },
    "officer.progress_posted": {
        "zh": "已把进展发到群里，并回复了居民的原消息。",
        "en": "The update was posted in the group, replying to the resident's message.",
    },
    "officer.noted": {
        "zh": "📝 已为工单 {id} 记录内部备注（居民看不到）。",
        "en": "📝 Internal note recorded on ticket {id} (residents cannot see it).",
    },
    "officer.note_hint": {
        "zh": "提示：内部备注最好在与我的私聊中写，群里的人能看到您发的命令。",
        "en": "Tip: write internal notes in a private chat with me; the group sees your command.",
    },
    "officer.done_public": {
        "zh": "✅ 您反映的问题（工单 {id}）已办结{text}。稍后会请您评价处理结果。",
        "en": "✅ Your report (ticket {id}) has been resolved{text}. You will be asked to rate it.",
    },
    "officer.done": {"zh": "✅ 工单 {id} 已办结。", "en": "✅ Ticket {id} resolved."},
    "officer.rejected_public": {
        "zh": "工单 {id} 已退回：{reason}。如有疑问请联系网格员。",
        "en": "Ticket {id} was returned: {reason}. Please contact your grid officer with questions.",
    },
    "officer.rejected": {"zh": "工单 {id} 已退回。", "en": "Ticket {id} returned."},
    "officer.dup_usage": {
        "zh": "用法：/dup 重复的工单号 原工单号，例如 /dup 15 12",
        "en": "Usage: /dup DUPLICATE ORIGINAL, e.g. /dup 15 12",
    },
    "officer.dup_same": {
        "zh": "不能把工单合并到它自己。",
        "en": "A ticket cannot duplicate itself.",
    },
    "officer.dup_public": {
        "zh": "工单 {id} 与工单 {original} 是同一问题，已合并，进展会在工单 {original} 通知您。",
        "en": "Ticket {id} is the same problem as ticket {original}; merged, updates follow there.",
    },
    "officer.dup_done": {
        "zh": "工单 {id} 已合并到工单 {original}。",
        "en": "Ticket {id} merged into ticket {original}.",
    },
    "officer.dup_refused": {
        "zh": "无法合并：工单 {id} 需要是待受理或处理中，工单 {original} 不能是已合并的工单。",
        "en": "Cannot merge: ticket {id} must be open and ticket {original} must not be a duplicate.",
    },
    "officer.reopened": {
        "zh": "🔁 工单 {id} 已重办（第 {count} 次），状态改为处理中。",
        "en": "🔁 Ticket {id} reopened (time {count}); now in progress.",
    },
    "officer.reopened_public": {
        "zh": "🔁 工单 {id} 重新处理中{reason}。",
        "en": "🔁 Ticket {id} is being handled again{reason}.",
    },
    "officer.named": {
        "zh": "✅ 已把 {name} 设为 {grid} 的网格员。",
        "en": "✅ {name} is now an officer of {grid}.",
    },
    "officer.already": {
        "zh": "{name} 已经是 {grid} 的网格员。",
        "en": "{name} is already an officer of {grid}.",
    },
    "officer.unnamed": {
        "zh": "已取消 {name} 的网格员身份。",
        "en": "{name} is no longer an officer.",
    },
    "officer.not_named": {
        "zh": "{name} 不是本网格指定的网格员。",
        "en": "{name} is not a named officer here.",
    },
    "officer.name_usage": {
        "zh": "请在网格群里回复对方的消息发送 /{command}，或写上用户 ID：/{command} 123456789（对方需在本群里）",
        "en": "In the grid group, reply to their message with /{command}, or give a user id.",
    },
    "officer.grid_only": {
        "zh": "请在已绑定的网格群里使用这个命令。",
        "en": "Use this command in a bound grid group.",
    },
    "officer.log_need_tag": {
        "zh": "请带上一个标签说明类别，例如：/log #隐患 5号楼消防通道堆放杂物\n可用的标签：{tags}",
        "en": "Include a tag for the category, e.g. /log #隐患 …\nTags: {tags}",
    },
    "officer.log_pick_grid": {
        "zh": "您负责多个网格，请在对应的网格群里发送 /log。",
        "en": "You work several grids: send /log in the grid's group.",
    },
    "officer.logged": {
        "zh": "📒 已记入民情日记：工单 {id}（{category}），由您处理。",
        "en": "📒 Logged in the patrol diary: ticket {id} ({category}), assigned to you.",
    },
    # the action a refusal names (officer.wrong_status {action}), one per bot.tickets.Action
    "officer.action.take": {"zh": "接单", "en": "take it"},
    "officer.action.assign": {"zh": "指派", "en": "assign it"},
    "officer.action.progress": {"zh": "更新进展", "en": "post progress"},
    "officer.action.done": {"zh": "办结", "en": "resolve it"},
    "officer.action.reject": {"zh": "退回", "en": "return it"},
    "officer.action.reopen": {"zh": "重办", "en": "reopen it"},
    "officer.action.escalate": {"zh": "上报", "en": "escalate it"},
    "officer.action.note": {"zh": "记录备注", "en": "add a note"},
    "officer.action.duplicate": {"zh": "合并", "en": "merge it"},
    # what to do instead, by the ticket's status (officer.wrong_status {hint}); open: none
    "officer.hint.resolved": {
        "zh": "如果问题没有解决，可以 /reopen {id} 重办。",
        "en": "Use /reopen {id} if it is not fixed.",
    },
    "officer.hint.closed": {
        "zh": "如需重新处理，请 /reopen {id}。",
        "en": "Use /reopen {id} to handle it again.",
    },
    "officer.hint.rejected": {
        "zh": "如需重新处理，请 /reopen {id}。",
        "en": "Use /reopen {id} to handle it again.",
    },
    "officer.hint.duplicate": {
        "zh": "请处理它合并到的原工单。",
        "en": "Work the original ticket instead.",
    },
    # the words a command needs (officer.need_text {what} and {example}), by command
    "officer.what.progress": {"zh": "进展", "en": "update"},
    "officer.example.progress": {
        "zh": "已联系物业，明天上午维修",
        "en": "repair booked for tomorrow",
    },
    "officer.what.note": {"zh": "备注", "en": "note"},
    "officer.example.note": {"zh": "住户白天不在家，晚上再去", "en": "nobody home by day"},
    "officer.what.reject": {"zh": "退回原因", "en": "reason"},
    "officer.example.reject": {
        "zh": "属于物业公司职责，已转告物业",
        "en": "the landlord's duty",
    },
    # an officer's optional words after a public sentence (officer.done_public {text}, …)
    "officer.said": {"zh": "：{text}", "en": ": {text}"},
    # -- lists and details -------------------------------------------------------------------
    "list.header": {
        "zh": "📋 {scope}：共 {total} 个（第 {page}/{pages} 页）",
        "en": "📋 {scope}: {total} in all (page {page}/{pages})",
    },
    "list.empty": {"zh": "📋 {scope}：没有工单。", "en": "📋 {scope}: no tickets."},
    "list.scope.open": {"zh": "待办工单", "en": "Open tickets"},
    "list.scope.overdue": {"zh": "超时工单", "en": "Overdue tickets"},
    "list.scope.mine": {"zh": "我负责的工单", "en": "My tickets"},
    "list.scope.all": {"zh": "全部工单", "en": "All tickets"},
    "list.scope.category": {"zh": "{tag} 类待办工单", "en": "Open {tag} tickets"},
    "list.usage": {
        "zh": "用法：/list [open|overdue|mine|all|标签] [页码]，例如 /list overdue 或 /list 报修 2",
        "en": "Usage: /list [open|overdue|mine|all|TAG] [PAGE]",
    },
    "list.not_allowed": {
        "zh": "只有网格员和社区、街道工作人员可以查看工单列表；居民请用 /my 查看自己的工单。",
        "en": "Only officers and community or street staff can list tickets; residents use /my.",
    },
    "list.overdue_mark": {"zh": "⏰超时", "en": "⏰overdue"},
    "list.link": {"zh": "原消息", "en": "message"},
    "list.no_grids": {
        "zh": "没有找到您负责的网格。请在您的网格群里发送 /list。",
        "en": "No grid of yours was found. Send /list in your grid's group.",
    },
    "show.title": {"zh": "🧾 工单 {id}（{category}）", "en": "🧾 Ticket {id} ({category})"},
    "show.grid": {"zh": "网格：{grid} · {community}", "en": "Grid: {grid} · {community}"},
    "show.reporter": {"zh": "上报：{name} · {at}", "en": "Reported by {name} · {at}"},
    "show.co_reporters": {"zh": "同样反映：{count} 人", "en": "Also reported by: {count}"},
    "show.assignee": {"zh": "处理人：{name}", "en": "Handled by: {name}"},
    "show.reopens": {"zh": "重办次数：{count}", "en": "Reopened: {count}"},
    "show.history": {"zh": "处理记录：", "en": "History:"},
    "show.duplicate_of": {"zh": "已合并到工单 {id}", "en": "Merged into ticket {id}"},
    "event.opened": {"zh": "登记", "en": "opened"},
    "event.edited": {"zh": "居民修改内容", "en": "edited by the resident"},
    "event.media_added": {"zh": "补充附件", "en": "files added"},
    "event.take": {"zh": "接单", "en": "taken"},
    "event.assign": {"zh": "指派", "en": "assigned"},
    "event.progress": {"zh": "进展", "en": "update"},
    "event.note": {"zh": "内部备注", "en": "internal note"},
    "event.done": {"zh": "办结", "en": "resolved"},
    "event.reject": {"zh": "退回", "en": "returned"},
    "event.duplicate": {"zh": "合并为重复", "en": "marked duplicate"},
    "event.merged": {"zh": "并入重复工单", "en": "absorbed a duplicate"},
    "event.reopen": {"zh": "重办", "en": "reopened"},
    "event.co_reporter": {"zh": "有居民同样反映", "en": "another resident reported it too"},
    # -- residents -----------------------------------------------------------------------------
    "my.group": {
        "zh": "您有 {total} 个工单（{open} 个处理中）。详情请点这里私聊查看：{link}",
        "en": "You have {total} tickets ({open} open). Details in private: {link}",
    },
    "my.none": {"zh": "您还没有上报过工单。", "en": "You have not reported any tickets yet."},
    "my.header": {"zh": "📋 您的工单（共 {total} 个）：", "en": "📋 Your tickets ({total}):"},
    "status.usage": {"zh": "用法：/status 工单号，例如 /status 12", "en": "Usage: /status NUMBER"},
    "status.short": {"zh": "工单 {id}：{status}", "en": "Ticket {id}: {status}"},
    "metoo.added": {
        "zh": "👍 已记录：您也反映了工单 {id} 的问题，进展会一起通知您。",
        "en": "👍 Noted: you reported ticket {id} too; you will get its updates.",
    },
    "metoo.already": {
        "zh": "您已经在工单 {id} 的反映人里了。",
        "en": "You are already among the reporters of ticket {id}.",
    },
    "metoo.not_a_ticket": {
        "zh": "请回复某个工单的原消息或回执再发送 /metoo。",
        "en": "Send /metoo as a reply to a ticket's report or receipt.",
    },
    "photo.attached": {
        "zh": "📎 照片已补充到工单 {id}。",
        "en": "📎 Photo added to ticket {id}.",
    },
    "export.private_only": {
        "zh": "台账包含居民的联系方式，不能发在居民群里。已私信发给您；若没收到，请先私聊我发送 /start。",
        "en": "The ledger holds residents' contact details, so it is not posted here. I sent it to you privately; if nothing arrived, send me /start first.",
    },
    "export.caption": {
        "zh": "📒 台账：{count} 个工单（{scope}）",
        "en": "📒 Ledger: {count} tickets ({scope})",
    },
    "export.none": {"zh": "没有可以导出的工单。", "en": "There are no tickets to export."},
    "export.not_allowed": {
        "zh": "只有网格员和社区、街道工作人员可以导出台账。",
        "en": "Only officers and community or street staff can export the ledger.",
    },
    "show.body_cut": {
        "zh": "……（原文共 {total} 字，这里只显示前 {shown} 字，完整内容请看原消息）",
        "en": "… (the report has {total} characters; the first {shown} are shown here, the rest in the original message)",
    },
    "export.anonymous": {
        "zh": "您现在以匿名管理员身份发言，我不知道该私信给谁。台账包含居民的联系方式，请私聊我发送 /export，或关闭匿名后再在群里发送。",
        "en": "You are posting as an anonymous admin, so I cannot tell whom to message. The ledger holds residents' contact details: send /export to me privately, or turn off anonymity and retry here.",
    },
    "export.cannot_dm": {
        "zh": "我还不能私信您：请先点开与我的私聊发送 /start，然后再试一次。",
        "en": "I cannot message you yet: open a private chat with me, send /start, then retry.",
    },
    # -- schedules: reminders, escalation, 回访 --------------------------------------------------
    "reminder.response_near": {
        "zh": "⏰ 工单 <b>{id}</b>（{category}）还没有人接单，响应时限 {due}。{mentions}请尽快处理：/take {id}",
        "en": "⏰ Ticket <b>{id}</b> ({category}) is not taken yet; respond by {due}. {mentions}Take it: /take {id}",
    },
    "reminder.response_passed": {
        "zh": "⏰ 工单 <b>{id}</b>（{category}）已超过响应时限（{due}），仍没有人接单。{mentions}请尽快处理：/take {id}",
        "en": "⏰ Ticket <b>{id}</b> ({category}) passed its response deadline ({due}) untaken. {mentions}Take it: /take {id}",
    },
    "escalation.community": {
        "zh": "🔺 <b>督办</b>：{grid} 工单 <b>{id}</b>（{category}）已超过办结时限",
        "en": "🔺 <b>Escalated</b>: {grid} ticket <b>{id}</b> ({category}) is past its resolution deadline",
    },
    "escalation.street": {
        "zh": "🔺🔺 <b>上报街道</b>：{community} {grid} 工单 <b>{id}</b>（{category}）超时仍未办结",
        "en": "🔺🔺 <b>Escalated to the street</b>: {community} {grid} ticket <b>{id}</b> ({category}) is still overdue",
    },
    "escalation.manual": {
        "zh": "🔺 <b>{name} 手动上报</b>：{grid} 工单 <b>{id}</b>（{category}）",
        "en": "🔺 <b>Escalated by {name}</b>: {grid} ticket <b>{id}</b> ({category})",
    },
    "escalation.reason": {"zh": "上报原因：{reason}", "en": "Reason: {reason}"},
    "escalation.details": {
        "zh": "内容：{body}\n上报时间：{at}（已过 {age}）\n办结时限：{due}\n处理人：{holder}",
        "en": "Details: {body}\nReported: {at} ({age} ago)\nDue: {due}\nHandled by: {holder}",
    },
    "escalation.nobody": {"zh": "尚无人接单", "en": "nobody yet"},
    "escalation.done": {
        "zh": "🔺 已把工单 {id} 上报到{level}。",
        "en": "🔺 Ticket {id} escalated to the {level}.",
    },
    "escalation.level.1": {"zh": "社区", "en": "community"},
    "escalation.level.2": {"zh": "街道", "en": "street"},
    "escalation.top": {
        "zh": "工单 {id} 已经上报到街道，无法再上报。",
        "en": "Ticket {id} is already with the street.",
    },
    "escalation.done_street": {
        "zh": "🔺 社区还没有办公群，已把工单 {id} 直接上报到{level}。",
        "en": "🔺 The community has no office chat yet, so ticket {id} went straight to the {level}.",
    },
    "escalation.no_office": {
        "zh": "⚠️ 工单 {id} 没有上报：{community}和{street}都还没有办公群，没有人能收到。请部署管理员在社区办公群里发送 /supervise {community}，绑定后超时工单会自动上报。",
        "en": "⚠️ Ticket {id} was not escalated: neither {community} nor {street} has an office chat, so nobody would see it. A deployment admin should send /supervise {community} in the community's office group; overdue tickets are then escalated there automatically.",
    },
    "escalation.no_street": {"zh": "所属街道", "en": "its street"},
    "followup.ask": {
        "zh": "{mentions}您好！您反映的问题（工单 <b>{id}</b>）已经办结，请问您对处理结果满意吗？",
        "en": "{mentions}Hello! Your report (ticket <b>{id}</b>) has been resolved. Are you satisfied?",
    },
    "followup.remind": {
        "zh": "{mentions}打扰了，工单 <b>{id}</b> 的处理结果还请您点上面的按钮评价一下 🙏",
        "en": "{mentions}Sorry to bother you: please rate ticket <b>{id}</b> with the buttons above 🙏",
    },
    "followup.thanks": {
        "zh": "{question}\n\n感谢您的评价：<b>{rating}</b>",
        "en": "{question}\n\nThank you for your rating: <b>{rating}</b>",
    },
    "followup.officers": {
        "zh": "⚠️ 居民对工单 <b>{id}</b> 的处理<b>不满意</b>，已重办（第 {count} 次）。{mentions}",
        "en": "⚠️ The resident is <b>not satisfied</b> with ticket <b>{id}</b>: reopened (time {count}). {mentions}",
    },
    "followup.invite": {
        "zh": "很抱歉没能让您满意 🙏 请直接<b>回复这条消息</b>说说哪里还有问题（工单 {id}），我们会继续处理。",
        "en": "Sorry it is not right yet 🙏 Please <b>reply to this message</b> with what is still wrong (ticket {id}).",
    },
    "followup.recorded": {
        "zh": "已记录您的意见，网格员会继续跟进工单 {id}。",
        "en": "Your comment is recorded; the officer will follow up on ticket {id}.",
    },
    "rating.satisfied": {"zh": "满意", "en": "Satisfied"},
    "rating.basic": {"zh": "基本满意", "en": "Mostly satisfied"},
    "rating.unsatisfied": {"zh": "不满意", "en": "Not satisfied"},
    "rating.unrated": {"zh": "未评价", "en": "Not rated"},
    "popup.not_reporter": {
        "zh": "只有反映这个问题的居民可以评价。",
        "en": "Only the residents who reported this can rate it.",
    },
    "popup.rated": {"zh": "感谢您的评价！", "en": "Thank you!"},
    "popup.already_rated": {
        "zh": "这个工单已经评价过了。",
        "en": "This ticket has been rated already.",
    },
    "event.reminded": {"zh": "提醒网格员", "en": "officers reminded"},
    "event.escalated": {"zh": "上报督办", "en": "escalated"},
    "event.followup_asked": {"zh": "回访", "en": "follow-up asked"},
    "event.followup_reminded": {"zh": "回访提醒", "en": "follow-up reminder"},
    "event.rated": {"zh": "居民评价", "en": "rated"},
    "event.closed": {"zh": "关闭", "en": "closed"},
    "event.feedback": {"zh": "居民意见", "en": "resident's comment"},
    "duration.days_hours": {"zh": "{days}天{hours}小时", "en": "{days}d {hours}h"},
    "duration.hours_minutes": {"zh": "{hours}小时{minutes}分钟", "en": "{hours}h {minutes}m"},
    "duration.minutes": {"zh": "{minutes}分钟", "en": "{minutes}m"},
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
            "#报修 3号楼2单元楼道灯不亮\n可用的标签：{tags}\n"
            "没带标签也没关系：看起来是问题的消息，我会问一句要不要登记，点一下类别按钮就行。\n"
            "议事投票一户一票：请先发送 /room 加房号登记，例如 /room 3-2-501。"
        ),
        "en": (
            "Post <b>#tag + description</b> here to open a ticket.\nTags: {tags}\n"
            "No tag? If a message reads like a problem, I ask whether to register it: "
            "press a category.\n"
            "Household votes count one vote per household: first tie yourself to your room "
            "with /room, e.g. /room 3-2-501."
        ),
    },
    "error.generic": {
        "zh": "抱歉，处理这条消息时出了点问题，已记录下来。请稍后再试一次。",
        "en": "Sorry, something went wrong with that message; it has been logged. Please retry.",
    },
    "error.admin_notice": {
        "zh": "⚠️ 邻里通处理消息时出错（{at}）\n{kind}: {detail}\n位置：{where}\n详情见日志；同类错误 10 分钟内只提醒一次。",
        "en": "⚠️ LinliTong failed on an update ({at})\n{kind}: {detail}\nWhere: {where}\nSee the log; the same kind of error is reported at most once in 10 minutes.",
    },
    # -- digests, /stats and the weekly chart (bot.digest, bot.metrics, bot.charts) ----------------
    "stats.name.response": {"zh": "响应率", "en": "Response rate"},
    "stats.name.resolution": {"zh": "解决率", "en": "Resolution rate"},
    "stats.name.satisfaction": {"zh": "满意率", "en": "Satisfaction rate"},
    "stats.rate_line": {"zh": "{name}：{rate}", "en": "{name}: {rate}"},
    "stats.title": {
        "zh": "📊 <b>{scope}</b> · 近 {days} 天",
        "en": "📊 <b>{scope}</b> · last {days} days",
    },
    "stats.median_response": {
        "zh": "响应用时中位数：{value}（{count} 个工单）",
        "en": "Median time to first response: {value} ({count} tickets)",
    },
    "stats.median_resolution": {
        "zh": "办结用时中位数：{value}（{count} 个工单）",
        "en": "Median time to resolution: {value} ({count} tickets)",
    },
    "stats.breakdown": {"zh": "各网格排名：", "en": "Grids ranked:"},
    "stats.rank_line": {
        "zh": "{rank}. <b>{name}</b>：解决 {resolution} · 响应 {response} · 满意 {satisfaction}",
        "en": "{rank}. <b>{name}</b>: resolution {resolution} · response {response} · satisfaction {satisfaction}",
    },
    "stats.footnote": {
        "zh": "口径：响应率＝时限内首次响应 ÷ 响应时限或首次响应在期内的工单；解决率＝时限内办结且未重办 ÷ 办结时限或办结在期内的工单（不含退回、重复）；满意率＝（满意＋基本满意）÷ 期内评价（不含未评价）。",
        "en": "Definitions: response = first officer action by the response deadline ÷ tickets whose response deadline or first action fell in the period; resolution = resolved by the deadline and never reopened ÷ tickets whose resolution deadline or resolution fell in the period (rejected and duplicates excluded); satisfaction = (satisfied + basically satisfied) ÷ ratings in the period (no answer excluded).",
    },
    "stats.usage": {
        "zh": "用法：/stats [天数]，默认 7 天，最多 365 天，例如 /stats 30",
        "en": "Usage: /stats [DAYS], 7 by default, at most 365, e.g. /stats 30",
    },
    "stats.duration.days": {"zh": "{d}天{h}小时", "en": "{d}d {h}h"},
    "stats.duration.hours": {"zh": "{h}小时{m}分钟", "en": "{h}h {m}m"},
    "stats.duration.minutes": {"zh": "{m}分钟", "en": "{m}m"},
    "stats.duration.under_minute": {"zh": "不到1分钟", "en": "under 1m"},
    "digest.date": {"zh": "{date.month}月{date.day}日", "en": "{date:%b} {date.day}"},
    "digest.grid_title": {
        "zh": "📰 <b>{grid}</b>（{community}）日报 · {date}",
        "en": "📰 Daily digest of <b>{grid}</b> ({community}) · {date}",
    },
    "digest.today": {
        "zh": "今日：新增 {new} · 办结 {resolved} · 待办 {open} · 超时 {overdue}",
        "en": "Today: {new} new · {resolved} resolved · {open} open · {overdue} overdue",
    },
    "digest.category_line": {
        "zh": "#{tag}：新增 {new} · 办结 {resolved} · 待办 {open} · 超时 {overdue}",
        "en": "#{tag}: {new} new · {resolved} resolved · {open} open · {overdue} overdue",
    },
    "digest.nothing": {
        "zh": "今日没有新工单，也没有待办工单 👍",
        "en": "No new and no open tickets today 👍",
    },
    "digest.overdue_header": {
        "zh": "⏰ 超时工单（{count} 个）：",
        "en": "⏰ Overdue tickets ({count}):",
    },
    "digest.overdue_line": {
        "zh": "<b>{id}</b> [{tag}] {body} · 已 {age} · 超时 {late}",
        "en": "<b>{id}</b> [{tag}] {body} · open {age} · {late} late",
    },
    "digest.overdue_more": {
        "zh": "……还有 {count} 个，发送 /list overdue 查看全部",
        "en": "…and {count} more: send /list overdue",
    },
    "digest.link": {"zh": "原消息", "en": "message"},
    "digest.rates_header": {"zh": "📊 近 {days} 天：", "en": "📊 Last {days} days:"},
    "digest.community_title": {
        "zh": "🏆 <b>{name}</b> 各网格排名 · 近 {days} 天 · {date}",
        "en": "🏆 <b>{name}</b>: grids ranked, last {days} days · {date}",
    },
    "digest.street_title": {
        "zh": "🏆 <b>{name}</b> 各社区排名 · 近 {days} 天 · {date}",
        "en": "🏆 <b>{name}</b>: communities ranked, last {days} days · {date}",
    },
    "digest.ranking_order": {
        "zh": "按解决率、响应率、满意率依次排序，无数据的排在后面；超时为当前超时未办结的工单数。",
        "en": "Ranked by resolution, then response, then satisfaction rate, no data last; overdue = open past the deadline now.",
    },
    "digest.rank_line": {
        "zh": "{rank}. <b>{name}</b>：解决 {resolution} · 响应 {response} · 满意 {satisfaction} · 超时 {overdue}",
        "en": "{rank}. <b>{name}</b>: resolution {resolution} · response {response} · satisfaction {satisfaction} · overdue {overdue}",
    },
    "digest.total": {
        "zh": "合计：解决 {resolution} · 响应 {response} · 满意 {satisfaction} · 超时 {overdue}",
        "en": "Total: resolution {resolution} · response {response} · satisfaction {satisfaction} · overdue {overdue}",
    },
    "digest.no_grids": {"zh": "还没有网格。", "en": "No grids yet."},
    "digest.no_communities": {"zh": "还没有社区。", "en": "No communities yet."},
    "chart.title": {
        "zh": "{name} · 近 {weeks} 周工单与三率",
        "en": "{name} · tickets over {weeks} weeks, and the three rates",
    },
    "chart.new": {"zh": "新增", "en": "New"},
    "chart.resolved": {"zh": "办结", "en": "Resolved"},
    "chart.count": {"zh": "工单数", "en": "Tickets"},
    "chart.week": {"zh": "周（起始日）", "en": "Week starting"},
    "chart.rates": {"zh": "近 {days} 天三率", "en": "Rates, last {days} days"},
    "chart.caption": {
        "zh": "📈 {name} 近 {weeks} 周趋势",
        "en": "📈 {name}: the last {weeks} weeks",
    },
    # -- 关爱走访's figures: 探访按期率 (/stats, supervisor digests, the web overview), the weekly
    # list of overdue visits, the ledger's 关爱走访 sheet (bot.digest, bot.web, bot.export, bot.cli)
    "care_fig.rate": {"zh": "🧓 探访按期率：{rate}", "en": "🧓 Care visits on time: {rate}"},
    "care_fig.no_dues": {"zh": "无到期走访", "en": "no visit fell due"},
    "care_fig.footnote": {
        "zh": "探访按期率＝按期截止前完成的走访 ÷ 到期的走访（按期完成的计入完成之日，其余计入按期截止之日；应访日前已走访、或按期截止前暂停结束的不计）。",
        "en": "Care visits on time = visits made by the end of their window ÷ visits that fell due (one made in time counts on its day, any other on its window's end; one made moot by an earlier visit, or by a pause or an end within its window, is left out).",
    },
    "care_fig.overdue_header": {
        "zh": "⏰ <b>逾期未访</b>（{count} 人，每周一列出）：",
        "en": "⏰ <b>Care visits overdue</b> ({count}, listed on Mondays):",
    },
    "care_fig.overdue_line": {
        "zh": "关爱 {id} · {name} · {tier} · {grid} · 走访人 {visitor} · 逾期 {late}",
        "en": "care {id} · {name} · {tier} · {grid} · visitor {visitor} · {late} overdue",
    },
    "care_fig.overdue_more": {
        "zh": "……还有 {count} 人，请私聊本机器人发送 /care 查看",
        "en": "…and {count} more: send /care to me privately",
    },
    "care_fig.overdue_none": {
        "zh": "✅ 没有逾期未访的关爱对象",
        "en": "✅ No care visit is overdue",
    },
    "care_fig.overdue_count": {
        "zh": "⏰ 逾期未访：{count} 人（名单见各社区周一日报）",
        "en": "⏰ Care visits overdue: {count} (named in each community's Monday digest)",
    },
    "care_fig.late_days": {"zh": "{days}天", "en": "{days}d"},
    "care_fig.late_under_day": {"zh": "不足1天", "en": "under 1d"},
    "care_fig.web_heading": {"zh": "关爱走访", "en": "Care visits"},
    "care_fig.web_rate": {"zh": "探访按期率", "en": "Visits on time"},
    "care_fig.web_people": {"zh": "在册关爱对象（人）", "en": "People on the roster"},
    "care_fig.web_people_detail": {
        "zh": "不含已结束的；暂停的计入",
        "en": "Paused included, ended left out",
    },
    "care_fig.web_note": {
        "zh": "探访按期率 = 按期截止前完成的走访 ÷ 期间内到期的走访（按期截止在期间内，或在期间内完成）；口径与日报、/stats 相同。",
        "en": "Visits on time = visits made by the end of their window ÷ visits that fell due in the period (window ended in it, or made in it); as in the digests and /stats.",
    },
    "care_fig.web_csv": {"zh": "下载关爱走访（csv）", "en": "Download care visits (csv)"},
    "care_fig.caption": {
        "zh": "📒 台账：{count} 个工单，关爱走访 {people} 人、走访 {visits} 次（{scope}）",
        "en": "📒 Ledger: {count} tickets, care visits of {people} people, {visits} visits ({scope})",
    },
    "care_fig.cli_exported": {
        "zh": "已把 {people} 位关爱对象、{visits} 次走访写入 {path}",
        "en": "wrote {people} people on the care roster and {visits} visits to {path}",
    },
    "care_fig.cli_empty": {
        "zh": "没有符合筛选条件的关爱对象。",
        "en": "Nobody on the care roster matched the filters.",
    },
    "care_fig.cli_help_what": {
        "zh": "导出什么：tickets 工单台账（默认）、care 关爱走访、all 两者（xlsx 为两个工作表，csv 另写一个 _关爱走访 文件）",
        "en": "what to export: tickets (the default), care (关爱走访), all (xlsx: two sheets; csv: a second _关爱走访 file)",
    },
    # -- every other word a person reads: the command menu, places, actors, list words ----------
    "menu.start": {"zh": "开始使用邻里通", "en": "Start using LinliTong"},
    "menu.help": {"zh": "怎么报事：标签和示例", "en": "How to report: tags and examples"},
    "menu.my": {"zh": "我的工单", "en": "My tickets"},
    "menu.status": {"zh": "查工单进度：/status 工单号", "en": "Ticket status: /status N"},
    "menu.metoo": {"zh": "回复工单：我也遇到了", "en": "Reply to a ticket: me too"},
    "menu.list": {
        "zh": "工单列表：open/overdue/mine/all/标签",
        "en": "List: open/overdue/mine/all/TAG",
    },
    "menu.show": {"zh": "工单详情和处理记录：/show 工单号", "en": "Ticket details: /show N"},
    "menu.take": {"zh": "接单：/take 工单号", "en": "Take: /take N"},
    "menu.assign": {"zh": "指派：/assign 工单号（回复对方）", "en": "Assign: /assign N (reply)"},
    "menu.progress": {
        "zh": "发布进展：/progress 工单号 内容",
        "en": "Public update: /progress N text",
    },
    "menu.note": {"zh": "内部备注：/note 工单号 内容", "en": "Internal note: /note N text"},
    "menu.done": {"zh": "办结：/done 工单号 [说明]", "en": "Resolve: /done N [text]"},
    "menu.reject": {"zh": "退回：/reject 工单号 原因", "en": "Return: /reject N reason"},
    "menu.dup": {"zh": "合并重复：/dup 重复号 原工单号", "en": "Duplicate: /dup N M"},
    "menu.reopen": {"zh": "重办：/reopen 工单号 [原因]", "en": "Reopen: /reopen N [reason]"},
    "menu.escalate": {
        "zh": "上报督办：/escalate 工单号 [原因]",
        "en": "Escalate: /escalate N [reason]",
    },
    "menu.log": {"zh": "民情日记：/log #标签 发现的问题", "en": "Patrol diary: /log #TAG text"},
    "menu.digest": {"zh": "立即发日报", "en": "Post the digest now"},
    "menu.stats": {"zh": "三率统计：/stats [天数]", "en": "The three rates: /stats [days]"},
    "menu.chart": {"zh": "近几周趋势图", "en": "Weekly chart"},
    "menu.export": {"zh": "导出台账（私聊发送）", "en": "Export the ledger (sent privately)"},
    "menu.bind": {
        "zh": "绑定本群为网格：/bind 网格 社区 [街道]",
        "en": "Bind as grid: GRID COMMUNITY",
    },
    "menu.supervise": {
        "zh": "绑定本群为督办群：/supervise 社区或街道",
        "en": "Bind as supervisor chat",
    },
    "menu.unbind": {"zh": "解除本群绑定", "en": "Unbind this group"},
    "menu.officer": {"zh": "指定网格员（回复对方）", "en": "Name an officer (reply)"},
    "menu.unofficer": {"zh": "取消网格员", "en": "Remove a named officer"},
    "location.building": {"zh": "{number}号楼", "en": "Building {number}"},
    "location.unit": {"zh": "{number}单元", "en": "unit {number}"},
    "location.room": {"zh": "{number}室", "en": "room {number}"},
    "location.separator": {"zh": " ", "en": ", "},
    "text.list_separator": {"zh": "、", "en": ", "},
    "actor.system": {"zh": "邻里通", "en": "LinliTong"},
    "actor.anonymous_admin": {"zh": "{title}（匿名管理员）", "en": "{title} (anonymous admin)"},
    "show.event_actor": {"zh": "（{name}）", "en": " ({name})"},
    "show.event_note": {"zh": "：{note}", "en": ": {note}"},
    "reports.all_grids": {"zh": "全部网格", "en": "all grids"},
    # -- command line output (linlitong db … / grid list / export) ---------------------------------
    "cli.migration_applied": {
        "zh": "已应用迁移 {version}：{description}",
        "en": "applied {version}: {description}",
    },
    "cli.schema_version": {
        "zh": "{path}：数据库结构版本 {version}",
        "en": "{path}: schema version {version}",
    },
    "cli.backed_up": {
        "zh": "已把 {database} 备份到 {target}",
        "en": "backed up {database} to {target}",
    },
    "cli.check_ok": {"zh": "{path}：检查通过", "en": "{path}: ok"},
    "cli.check_problems": {
        "zh": "{path}：发现 {count} 个问题",
        "en": "{path}: {count} problems",
    },
    "cli.no_bindings": {
        "zh": "还没有绑定任何群：请在群里发送 /bind 网格名 社区名 [街道名]",
        "en": "no chats are bound yet: send /bind GRID COMMUNITY [STREET] in a group",
    },
    "cli.column.chat_id": {"zh": "群 ID", "en": "chat id"},
    "cli.column.kind": {"zh": "类型", "en": "kind"},
    "cli.column.street": {"zh": "街道", "en": "street"},
    "cli.column.community": {"zh": "社区", "en": "community"},
    "cli.column.name": {"zh": "网格 / 群名", "en": "grid / title"},
    "cli.kind.grid": {"zh": "网格群", "en": "grid"},
    "cli.kind.supervisor": {"zh": "督办群", "en": "supervisor"},
    "cli.supervisor_name": {"zh": "（督办群）", "en": "(supervisor)"},
    "cli.exported": {
        "zh": "已把 {count} 个工单写入 {path}",
        "en": "wrote {count} tickets to {path}",
    },
    "cli.help.linlitong": {
        "zh": "邻里通 LinliTong：Telegram 网格治理机器人",
        "en": "邻里通 LinliTong: grid governance bot for Telegram",
    },
    "cli.help.commands": {"zh": "命令", "en": "commands"},
    "cli.help.group_commands": {"zh": "{name} 的命令", "en": "{name} commands"},
    "cli.help.run": {"zh": "运行机器人（长轮询）", "en": "run the bot (long polling)"},
    "cli.help.demo": {
        "zh": "在内置模拟器上演示一段离线场景",
        "en": "play an offline scene against the built-in simulator",
    },
    "cli.help.keep_db": {
        "zh": "把演示数据库保留在这个路径",
        "en": "keep the demo database at this path",
    },
    "cli.demo_web_listen": {
        "zh": "--web {listen} 不是 HOST:PORT 的形式，例如 linlitong demo --web 127.0.0.1:8081",
        "en": "--web {listen} is not HOST:PORT, e.g. linlitong demo --web 127.0.0.1:8081",
    },
    "cli.demo_web_listen_failed": {
        "zh": "演示的网页无法在 {listen} 上监听（{error}）：请换一个空闲端口，例如 linlitong demo --web 127.0.0.1:8081",
        "en": "The demo's web page cannot listen on {listen} ({error}): choose a free port, e.g. linlitong demo --web 127.0.0.1:8081",
    },
    "cli.help.demo_web": {
        "zh": "演示结束后在 HOST:PORT（默认 127.0.0.1:8080）上保留工作台网页，并打印登录链接",
        "en": "afterwards keep the staff web page up on HOST:PORT (default 127.0.0.1:8080) and print a login link",
    },
    "cli.help.db": {"zh": "数据库维护", "en": "database maintenance"},
    "cli.help.migrate": {
        "zh": "创建数据库或执行待执行的迁移",
        "en": "create the database or apply pending migrations",
    },
    "cli.help.backup": {
        "zh": "在线备份，机器人运行时也安全",
        "en": "online backup, safe while the bot runs",
    },
    "cli.help.backup_path": {
        "zh": "备份文件（所在目录须已存在）",
        "en": "the backup file (its folder must exist)",
    },
    "cli.help.check": {"zh": "完整性和外键检查", "en": "integrity and foreign-key check"},
    # -- db copy and PostgreSQL (DATABASE_URL) -----------------------------------------------------
    "cli.help.copy": {
        "zh": "把 SQLite 数据库（DATABASE_PATH）整体复制到一个空的 PostgreSQL 数据库（先停机器人）",
        "en": "copy the SQLite database (DATABASE_PATH) into an empty PostgreSQL database (stop the bot first)",
    },
    "cli.help.copy_to": {
        "zh": "目标库，形如 postgresql://用户:密码@主机:5432/库名",
        "en": "the target, like postgresql://user:password@host:5432/dbname",
    },
    "cli.copy_needs_url": {
        "zh": "db copy --to 需要一个 postgresql://用户:密码@主机:5432/库名 形式的地址",
        "en": "db copy --to needs a postgresql://user:password@host:5432/dbname address",
    },
    "cli.copy_from_sqlite_only": {
        "zh": "db copy 从 SQLite（DATABASE_PATH）复制；现在设置了 DATABASE_URL，请先把它去掉再运行",
        "en": "db copy copies from SQLite (DATABASE_PATH); DATABASE_URL is set: unset it to run the copy",
    },
    "cli.copy_refused": {"zh": "没有复制：{reason}", "en": "nothing copied: {reason}"},
    "cli.copy_mismatch": {
        "zh": "复制后核对不一致，已全部撤销，目标库保持原样：{reason}",
        "en": "the copy did not verify and was rolled back, the target is as it was: {reason}",
    },
    "cli.copy_table": {
        "zh": "{table}：{rows} 行，校验和 {sum}…，一致",
        "en": "{table}: {rows} rows, checksum {sum}…, identical",
    },
    "cli.copy_done": {
        "zh": "完成：{tables} 张表共 {rows} 行已复制到 {target}，行数和校验和逐表核对一致。把 DATABASE_URL 设为该地址后再启动机器人。",
        "en": "done: {rows} rows in {tables} tables copied to {target}, row counts and checksums verified per table. Set DATABASE_URL to it and start the bot.",
    },
    "cli.postgres_failed": {
        "zh": "PostgreSQL 报错：{error}",
        "en": "PostgreSQL failed: {error}",
    },
    "cli.help.grid": {"zh": "群的绑定", "en": "grid bindings"},
    "cli.help.grid_list": {"zh": "列出已绑定的群", "en": "list bound chats"},
    "cli.help.export": {
        "zh": "把工单台账写成 xlsx 或 csv",
        "en": "write the ledger (台账) of tickets as xlsx or csv",
    },
    "cli.help.format": {"zh": "默认按输出文件的后缀", "en": "default: the output's suffix"},
    "cli.help.output": {"zh": "要写入的文件", "en": "file to write"},
    "cli.help.grid_name": {"zh": "只导出这个网格（按名称）", "en": "only this grid (by name)"},
    "cli.help.community": {
        "zh": "只导出这个社区（按名称）",
        "en": "only this community (by name)",
    },
    "cli.help.since": {
        "zh": "只导出这一天（当地时间，YYYY-MM-DD）及以后登记的工单",
        "en": "opened on or after this local day, YYYY-MM-DD",
    },
    "cli.help.until": {
        "zh": "只导出这一天（当地时间，YYYY-MM-DD）及以前登记的工单",
        "en": "opened on or before this local day, YYYY-MM-DD",
    },
    "stats.rate_value": {
        "zh": "{share}（{numerator}/{denominator}）",
        "en": "{share} ({numerator}/{denominator})",
    },
    # -- command line (linlitong …): start-up failures and settings, one line each ---------------
    "cli.no_token": {
        "zh": "未设置 BOT_TOKEN，无法连接 Telegram：请在 Telegram 向 @BotFather 发送 /newbot 获取令牌，写入 .env（可复制 .env.example）：BOT_TOKEN=123456:ABC…\n不用令牌、不联网也可以先试用：linlitong demo",
        "en": "BOT_TOKEN is not set, so LinliTong cannot connect to Telegram: send /newbot to @BotFather in Telegram for a token and put it in .env (copy .env.example): BOT_TOKEN=123456:ABC…\nTo try LinliTong without a token or a network: linlitong demo",
    },
    "cli.token_rejected": {
        "zh": "Telegram（BOT_API_BASE_URL={base_url}）拒绝了 BOT_TOKEN（已作废或有误）：请向 @BotFather 发送 /token 取得当前的令牌，写入 .env。",
        "en": "Telegram (BOT_API_BASE_URL={base_url}) rejected BOT_TOKEN (revoked or mistyped): ask @BotFather for the current token (/token) and put it in .env.",
    },
    "cli.unreachable": {
        "zh": "无法连接 Telegram（BOT_API_BASE_URL={base_url}）：{error}。请检查网络或该设置，然后重新启动。",
        "en": "Cannot reach Telegram (BOT_API_BASE_URL={base_url}): {error}. Check the network or that setting, then start again.",
    },
    "cli.conflict": {
        "zh": "另一个进程正在用同一个 BOT_TOKEN 接收消息（Telegram：Conflict），本进程已停止。同一时间只能运行一个 linlitong run：请先停止另一个（例如 systemctl stop linlitong）。",
        "en": "Another process is receiving updates with the same BOT_TOKEN (Telegram: Conflict), so this one stopped. Only one linlitong run at a time: stop the other first (e.g. systemctl stop linlitong).",
    },
    "cli.telegram_failed": {
        "zh": "Telegram（BOT_API_BASE_URL={base_url}）返回了错误，机器人已停止：{error}",
        "en": "Telegram (BOT_API_BASE_URL={base_url}) answered with an error, and the bot stopped: {error}",
    },
    "cli.database_unusable": {
        "zh": "无法使用 DATABASE_PATH={path}（{error}）：请把它设为运行 linlitong 的用户可以写入的目录中的文件，例如 data/linlitong.db。",
        "en": "Cannot use DATABASE_PATH={path} ({error}): point it at a file in a folder the user running linlitong can write, e.g. data/linlitong.db.",
    },
    "cli.database_missing": {
        "zh": "数据库 {path} 不存在；先运行 linlitong db migrate 或 linlitong run（或检查 DATABASE_PATH）。",
        "en": "There is no database at {path}; run linlitong db migrate or linlitong run first (or check DATABASE_PATH).",
    },
    "cli.not_a_folder": {
        "zh": "{path} 是文件，不是目录",
        "en": "{path} is a file, not a folder",
    },
    "cli.folder_missing": {
        "zh": "目录 {folder} 不存在：请先创建它，或换一个路径。",
        "en": "The folder {folder} does not exist: create it first, or choose another path.",
    },
    "cli.cannot_write": {
        "zh": "无法写入 {path}（{error}）。",
        "en": "Cannot write {path} ({error}).",
    },
    "cli.backup_onto_database": {
        "zh": "备份不能覆盖数据库本身：请换一个备份路径。",
        "en": "The backup must not overwrite the database itself: choose another path.",
    },
    "cli.export_format": {
        "zh": "请用 --format xlsx|csv 指定格式，或让输出文件以 .xlsx 或 .csv 结尾。",
        "en": "Give --format xlsx|csv, or an output ending in .xlsx or .csv.",
    },
    "cli.bad_date": {
        "zh": "--{name} {text} 不是日期，应为 YYYY-MM-DD，例如 2026-11-26。",
        "en": "--{name} {text} is not a date like 2026-11-26 (YYYY-MM-DD).",
    },
    "cli.dates_reversed": {
        "zh": "--since {since} 晚于 --until {until}。",
        "en": "--since {since} is after --until {until}.",
    },
    "cli.export_empty": {
        "zh": "没有符合筛选条件的工单。",
        "en": "No ticket matched the filters.",
    },
    "cli.ignored_setting": {
        "zh": "注意：{problem}（本命令用不到该设置，但 linlitong run 会因此无法启动）",
        "en": "Note: {problem} (this command does not use it, but linlitong run will refuse to start)",
    },
    "settings.bot_api_base_url": {
        "zh": "{name} 应以 /bot 结尾，例如 https://api.telegram.org/bot（令牌会直接接在其后）",
        "en": "{name} must end with /bot, e.g. https://api.telegram.org/bot (the token is appended to it)",
    },
    "settings.admin_ids": {
        "zh": "{name} 应为 Telegram 用户 ID（数字），多个用逗号分隔，例如 12345678,87654321",
        "en": "{name} takes Telegram user ids (numbers), comma-separated, e.g. 12345678,87654321",
    },
    "settings.timezone": {
        "zh": "{name} 应为时区名，例如 Asia/Shanghai",
        "en": "{name} takes a time zone name, e.g. Asia/Shanghai",
    },
    "settings.digest_time": {
        "zh": "{name} 应为 HH:MM，例如 18:00",
        "en": "{name} takes HH:MM, e.g. 18:00",
    },
    "settings.quiet_hours": {
        "zh": "{name} 应为 HH:MM-HH:MM，例如 22:00-07:00；不需要时写 off",
        "en": "{name} takes HH:MM-HH:MM, e.g. 22:00-07:00, or off",
    },
    "settings.language": {
        "zh": "{name} 应为 zh 或 en，或 auto（私聊时按对方 Telegram 的语言回复）",
        "en": "{name} is zh or en, or auto (private replies in each person's Telegram language)",
    },
    "settings.log_level": {
        "zh": "{name} 应为 DEBUG、INFO、WARNING、ERROR 或 CRITICAL",
        "en": "{name} is one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    },
    "settings.log_level_libraries": {
        "zh": "{name} 应为 DEBUG、INFO、WARNING、ERROR 或 CRITICAL（第三方库的日志级别）",
        "en": "{name} is one of DEBUG, INFO, WARNING, ERROR, CRITICAL (the libraries' log level)",
    },
    "settings.poll_timeout": {
        "zh": "{name} 应为 0 到 50 之间的整数（秒），例如 10",
        "en": "{name} takes a whole number of seconds from 0 to 50, e.g. 10",
    },
    "settings.paid_broadcast": {
        "zh": "{name} 应为 true 或 false",
        "en": "{name} is true or false",
    },
    "settings.clock_speed": {
        "zh": "{name} 应为大于 0 的数，例如 1",
        "en": "{name} takes a number above 0, e.g. 1",
    },
    "settings.clock_start": {
        "zh": "{name} 应为带时区的时间，例如 2026-11-26T08:00:00+08:00，或留空",
        "en": "{name} takes a time with its zone, e.g. 2026-11-26T08:00:00+08:00, or nothing",
    },
    "settings.duration": {
        "zh": "{name} 应为时长，例如 30s、15m、2h、3d 或 1h30m",
        "en": "{name} takes a duration, e.g. 30s, 15m, 2h, 3d or 1h30m",
    },
    "settings.invalid": {
        "zh": "{name} 的值无效（{detail}）：格式见 .env.example",
        "en": "{name} is not valid ({detail}): see .env.example for its format",
    },
    # -- webhook mode (linlitong run --webhook; bot.webhook): settings and start-up, one line each -
    "settings.webhook_url": {
        "zh": "{name} 应为 Telegram 能访问的 https:// 地址，端口只能是 443、80、88 或 8443，例如 https://bot.example.org/telegram（http:// 只允许本机地址 127.0.0.1 或 localhost）",
        "en": "{name} takes an https:// URL Telegram can reach, on port 443, 80, 88 or 8443, e.g. https://bot.example.org/telegram (http:// only for 127.0.0.1 or localhost)",
    },
    "settings.webhook_secret": {
        "zh": "{name} 应为 1 到 256 个字符，只能用 A-Z、a-z、0-9、_ 和 -，例如用 openssl rand -hex 32 生成",
        "en": "{name} takes 1 to 256 characters of A-Z, a-z, 0-9, _ and -, e.g. from openssl rand -hex 32",
    },
    "settings.webhook_listen": {
        "zh": "{name} 应为 主机:端口，例如 127.0.0.1:8443（IPv6 写作 [::1]:8443）",
        "en": "{name} takes host:port, e.g. 127.0.0.1:8443 ([::1]:8443 for IPv6)",
    },
    "settings.webhook_max_connections": {
        "zh": "{name} 应为 1 到 100 之间的整数，例如 40",
        "en": "{name} takes a whole number from 1 to 100, e.g. 40",
    },
    "cli.help.webhook": {
        "zh": "用 Webhook 接收消息（需要 WEBHOOK_URL 和 WEBHOOK_SECRET；设置了 WEBHOOK_URL 时默认如此）",
        "en": "receive updates by webhook (needs WEBHOOK_URL and WEBHOOK_SECRET; the default when WEBHOOK_URL is set)",
    },
    "cli.webhook_needs_url": {
        "zh": "--webhook 需要 WEBHOOK_URL：Telegram 推送消息的 https 地址，例如 WEBHOOK_URL=https://bot.example.org/telegram，请写入 .env。",
        "en": "--webhook needs WEBHOOK_URL, the https address Telegram posts updates to, e.g. WEBHOOK_URL=https://bot.example.org/telegram: put it in .env.",
    },
    "cli.webhook_needs_secret": {
        "zh": "Webhook 模式需要 WEBHOOK_SECRET（1 到 256 个字符：A-Z、a-z、0-9、_、-）：Telegram 每次推送都带上它，不带的请求一律拒绝。可用 openssl rand -hex 32 生成，写入 .env。",
        "en": "Webhook mode needs WEBHOOK_SECRET (1 to 256 characters: A-Z, a-z, 0-9, _, -): Telegram sends it with every update and any request without it is refused. Make one with openssl rand -hex 32 and put it in .env.",
    },
    "cli.webhook_listen_failed": {
        "zh": "无法在 WEBHOOK_LISTEN={listen} 上接收 Webhook（{error}）：请换一个空闲的地址和端口，或先停止占用它的程序。",
        "en": "Cannot receive webhooks on WEBHOOK_LISTEN={listen} ({error}): choose a free address and port, or stop what is using it.",
    },
    "cli.webhook_refused": {
        "zh": "Telegram 拒绝了 WEBHOOK_URL={url}：{error}。请确认这个地址能从公网用 HTTPS 访问，并转发到 WEBHOOK_LISTEN。",
        "en": "Telegram refused WEBHOOK_URL={url}: {error}. Check that the address is reachable over HTTPS from the internet and forwarded to WEBHOOK_LISTEN.",
    },
    # -- one poller per database (bot.app.AnotherPoller) --------------------------------------
    "cli.another_poller_postgresql": {
        "zh": "另一个 LinliTong 实例已在轮询这个数据库（{database}，PostgreSQL 咨询锁 {key} 已被占用），本进程没有启动。请先停止那个实例，或者用 --webhook 运行多个实例。",
        "en": "Another LinliTong instance is already polling this database ({database}: PostgreSQL advisory lock {key} is taken), so this one did not start. Stop it, or run several instances with --webhook.",
    },
    "cli.another_poller_sqlite": {
        "zh": "另一个 LinliTong 实例已在轮询这个数据库（{database}，锁文件 {lock} 已被占用），本进程没有启动。请先停止那个实例（例如 systemctl stop linlitong）；运行多个实例需要 PostgreSQL（DATABASE_URL）和 --webhook。",
        "en": "Another LinliTong instance is already polling this database ({database}: the lock file {lock} is taken), so this one did not start. Stop it first (e.g. systemctl stop linlitong); several instances need PostgreSQL (DATABASE_URL) and --webhook.",
    },
    # -- 登记提示: untagged problems (handlers.offers, bot.offers) --------------------------------
    "offer.ask": {
        "zh": "🤔 这条消息看起来是需要处理的问题，要登记为工单吗？请选一个类别（发消息的居民或本网格网格员可点）。",
        "en": "🤔 This looks like something that needs handling. Register it as a ticket? Pick a category (the writer or this grid's officers can press).",
    },
    "offer.button": {"zh": "📝 {tag}", "en": "📝 {tag}"},
    "popup.offer_opened": {
        "zh": "已登记为工单 {id}，回执在原消息下方。",
        "en": "Ticket {id} is open; the receipt is under the message.",
    },
    "popup.offer_answered": {
        "zh": "这条消息已经登记过了（工单 {id}）。",
        "en": "This message is already ticket {id}.",
    },
    "popup.offer_expired": {
        "zh": "这个提示已过期（超过 24 小时）。如问题还在，请重新发一条，加上 #标签 更快，例如 #报修。",
        "en": "This prompt has expired (over 24 hours). If the problem remains, please post it again, ideally with a #tag such as #报修.",
    },
    "popup.offer_not_yours": {
        "zh": "只有发这条消息的居民或本网格的网格员可以登记，谢谢理解 🙏",
        "en": "Only the person who wrote the message, or this grid's officers, can register it. Thank you 🙏",
    },
    "popup.offer_unbound": {
        "zh": "本群已不再绑定网格，暂时无法登记。",
        "en": "This group is no longer bound to a grid, so nothing can be registered here.",
    },
    "offers.status_on": {
        "zh": "本群的登记提示是打开的：没带标签、但看起来是问题的消息，我会轻声问一句要不要登记。关闭：/offers off",
        "en": 'Prompts are on here: a message without a tag that reads like a problem gets a quiet "register it?". Turn off: /offers off',
    },
    "offers.status_off": {
        "zh": "本群的登记提示是关闭的：只有带 #标签 的消息会登记为工单。打开：/offers on",
        "en": "Prompts are off here: only messages with a #tag become tickets. Turn on: /offers on",
    },
    "offers.turned_on": {
        "zh": "✅ 已打开登记提示。没带标签、但看起来是问题的消息，我会问一句要不要登记（每个群最多每 {interval} 一次）。",
        "en": "✅ Prompts are on. A message without a tag that reads like a problem gets one quiet question (at most once every {interval} per group).",
    },
    "offers.turned_off": {
        "zh": "🔕 已关闭登记提示，本群只登记带 #标签 的消息。需要时发送 /offers on 重新打开。",
        "en": "🔕 Prompts are off; only messages with a #tag become tickets here. /offers on turns them back on.",
    },
    "offers.not_allowed": {
        "zh": "只有本网格的网格员可以开关登记提示。",
        "en": "Only this grid's officers can turn prompts on or off.",
    },
    "offers.grid_only": {
        "zh": "登记提示只在已绑定网格的群里使用，请在网格群里发送 /offers off 或 /offers on。",
        "en": "Prompts belong to bound grid groups: send /offers off or /offers on there.",
    },
    "menu.offers": {
        "zh": "登记提示开关：/offers off|on",
        "en": "Prompts for untagged problems: /offers off|on",
    },
    "stats.offers": {
        "zh": "📝 登记提示：{made} 次，经提示登记工单 {accepted} 个",
        "en": "📝 Prompts for untagged problems: {made}; tickets opened from them: {accepted}",
    },
    # -- the staff web page's shell: login, refusals, errors, the audit log (bot/web/app.py,
    # bot/web/templates/base.html login.html message.html audit.html) and `linlitong web` -------
    "web_shell.html_lang": {"zh": "zh-CN", "en": "en"},
    "web_shell.site_name": {"zh": "邻里通工作台", "en": "LinliTong desk"},
    "web_shell.nav_label": {"zh": "主菜单", "en": "Main menu"},
    "web_shell.nav_menu": {"zh": "菜单", "en": "Menu"},
    "web_shell.nav_overview": {"zh": "概览", "en": "Overview"},
    "web_shell.nav_tickets": {"zh": "工单", "en": "Tickets"},
    "web_shell.nav_audit": {"zh": "审计日志", "en": "Audit log"},
    "web_shell.logout": {"zh": "退出登录", "en": "Log out"},
    "web_shell.footer": {
        "zh": "邻里通 · 只读工作台：数据来自机器人，修改请在群聊中进行",
        "en": "LinliTong · read-only desk: the data comes from the bot; changes are made in the chats",
    },
    "web_shell.back_home": {"zh": "返回概览", "en": "Back to the overview"},
    "web_shell.pager_label": {"zh": "翻页", "en": "Pages"},
    "web_shell.login_title": {"zh": "登录邻里通工作台", "en": "Log in to the LinliTong desk"},
    "web_shell.login_intro": {
        "zh": "这是机器人私聊发给您的个人登录链接。请点击下方按钮登录。",
        "en": "This is the personal login link the bot sent you in a private chat. Press the button below to log in.",
    },
    "web_shell.login_button": {"zh": "登录", "en": "Log in"},
    "web_shell.login_note": {
        "zh": "链接只能使用一次，10 分钟内有效；登录后 12 小时内无需再次登录。请勿转发给他人。",
        "en": "The link works once, within 10 minutes; you stay logged in for 12 hours. Please do not forward it.",
    },
    "web_shell.refused_title": {"zh": "无法登录", "en": "Cannot log in"},
    "web_shell.refused": {
        "zh": "链接已失效或已使用，请在与机器人的私聊中重新发送 /web",
        "en": "This link has expired or was used already: send /web to the bot in a private chat for a new one",
    },
    "web_shell.refusal_signature": {"zh": "链接签名不符", "en": "the link's signature was wrong"},
    "web_shell.refusal_unusable": {
        "zh": "链接未知、已使用或已过期",
        "en": "the link was unknown, used or expired",
    },
    "web_shell.too_many_title": {"zh": "尝试次数过多", "en": "Too many attempts"},
    "web_shell.too_many": {
        "zh": "登录尝试过于频繁，请 {minutes} 分钟后再试。",
        "en": "Too many login attempts: please try again in {minutes} minutes.",
    },
    "web_shell.login_needed_title": {"zh": "请先登录", "en": "Please log in"},
    "web_shell.login_needed": {
        "zh": "请在与机器人的私聊中发送 /web，点击机器人回复的链接即可登录。",
        "en": "Send /web to the bot in a private chat and open the link it replies with to log in.",
    },
    "web_shell.access_ended_title": {"zh": "访问权限已变更", "en": "Your access has changed"},
    "web_shell.access_ended": {
        "zh": "您的网格员或工作人员身份已变更，本次登录已结束。如仍需查看，请在与机器人的私聊中重新发送 /web。",
        "en": "Your role as officer or staff has changed, so this login has ended. If you still need the page, send /web to the bot in a private chat.",
    },
    "web_shell.logged_out_title": {"zh": "已退出登录", "en": "Logged out"},
    "web_shell.logged_out": {
        "zh": "您已安全退出。需要时请在与机器人的私聊中发送 /web 重新登录。",
        "en": "You are logged out. To come back, send /web to the bot in a private chat.",
    },
    "web_shell.not_found_title": {"zh": "页面不存在", "en": "Page not found"},
    "web_shell.not_found": {
        "zh": "没有找到这个页面，请检查地址，或返回概览。",
        "en": "There is no such page: check the address, or go back to the overview.",
    },
    "web_shell.not_allowed_title": {"zh": "无法这样访问", "en": "Not available this way"},
    "web_shell.not_allowed": {
        "zh": "这个页面不支持这种访问方式，请从页面上的链接或按钮进入。",
        "en": "This page cannot be reached this way: use the page's links and buttons.",
    },
    "web_shell.bad_request_title": {"zh": "请求有误", "en": "Bad request"},
    "web_shell.bad_request": {
        "zh": "无法处理这个请求，请返回概览后重试。",
        "en": "This request cannot be handled: go back to the overview and try again.",
    },
    "web_shell.error_title": {"zh": "页面出错了", "en": "Something went wrong"},
    "web_shell.error": {
        "zh": "抱歉，页面暂时出了问题，我们已记录下来。请稍后刷新重试。",
        "en": "Sorry, the page ran into a problem, which has been logged. Please refresh in a moment.",
    },
    "web_shell.audit_title": {"zh": "审计日志", "en": "Audit log"},
    "web_shell.audit_intro": {
        "zh": "每次登录、查看工单和照片、下载台账都记录在这里，最新的在前。",
        "en": "Every login, ticket and photo viewed and ledger downloaded is recorded here, newest first.",
    },
    "web_shell.audit_empty": {
        "zh": "还没有审计记录。有人登录、查看工单或下载台账后，会记录在这里。",
        "en": "Nothing recorded yet. Logins, tickets viewed and ledgers downloaded will show here.",
    },
    "web_shell.audit_col_time": {"zh": "时间", "en": "Time"},
    "web_shell.audit_col_user": {"zh": "人员", "en": "Who"},
    "web_shell.audit_col_action": {"zh": "操作", "en": "What"},
    "web_shell.audit_col_target": {"zh": "对象", "en": "On"},
    "web_shell.audit_col_address": {"zh": "来源地址", "en": "Address"},
    "web_shell.audit_newest": {"zh": "最新记录", "en": "Newest"},
    "web_shell.audit_older": {"zh": "更早的记录", "en": "Older"},
    "web_shell.audit_nobody": {"zh": "（未登录）", "en": "(not logged in)"},
    "web_shell.audit_user": {"zh": "{name}（{user_id}）", "en": "{name} ({user_id})"},
    "web_shell.action_login": {"zh": "登录", "en": "logged in"},
    "web_shell.action_login_refused": {"zh": "登录被拒绝", "en": "login refused"},
    "web_shell.action_logout": {"zh": "退出登录", "en": "logged out"},
    "web_shell.action_view_ticket": {"zh": "查看工单", "en": "viewed a ticket"},
    "web_shell.action_view_photo": {"zh": "查看照片", "en": "viewed a photo"},
    "web_shell.action_download": {"zh": "下载台账", "en": "downloaded the ledger"},
    "web_shell.action_view_audit": {"zh": "查看审计日志", "en": "read the audit log"},
    "web_shell.action_access_ended": {"zh": "权限已变更，登录结束", "en": "access ended"},
    "cli.help.web": {
        "zh": "提供工作人员的只读网页（WEB_LISTEN，默认 127.0.0.1:8080）",
        "en": "serve the staff's read-only web page (WEB_LISTEN, default 127.0.0.1:8080)",
    },
    "cli.web_no_token": {
        "zh": "未设置 BOT_TOKEN：工作台网页要用它核对人员身份、代理照片。请在 .env 中设置与 linlitong run 相同的 BOT_TOKEN。",
        "en": "BOT_TOKEN is not set: the web page needs it to check people's roles and to fetch photos. Set the same BOT_TOKEN in .env as linlitong run uses.",
    },
    "cli.web_listen_failed": {
        "zh": "无法在 WEB_LISTEN={listen} 上监听（{error}）：请换一个空闲的端口，或停止占用它的程序。",
        "en": "Cannot listen on WEB_LISTEN={listen} ({error}): choose a free port, or stop what uses it.",
    },
    "cli.web_database_empty": {
        "zh": "数据库 {database} 还没有建表：请先运行 linlitong run 或 linlitong db migrate（或检查 {setting}）。",
        "en": "The database {database} has no tables yet: run linlitong run or linlitong db migrate first (or check {setting}).",
    },
    "cli.web_schema_old": {
        "zh": "数据库 {database} 的结构是旧版本（{current}，本版本需要 {known}）：请先运行 linlitong db migrate。",
        "en": "The database {database} has an older schema ({current}; this release needs {known}): run linlitong db migrate first.",
    },
    # -- /web: the staff page's login link (handlers/web.py, bot/web/links.py) -------------------
    "menu.web": {
        "zh": "工作台网页：获取登录链接（私聊发送）",
        "en": "Staff web page: get a login link (sent privately)",
    },
    "web_link.sent": {
        "zh": "🔐 <b>邻里通工作台</b>\n这是你的个人登录链接，{minutes} 分钟内有效（至 {until}），只能使用一次：\n{url}\n\n{scope}\n请勿转发给他人。链接过期后，再发送 /web 获取新的。",
        "en": "🔐 <b>LinliTong staff page</b>\nYour personal login link, valid for {minutes} minutes (until {until}) and only once:\n{url}\n\n{scope}\nPlease do not forward it. Once it expires, send /web for a new one.",
    },
    "web_link.scope_all": {
        "zh": "登录后可以查看全部网格的工单和统计。",
        "en": "You will see the tickets and figures of every grid.",
    },
    "web_link.scope": {
        "zh": "登录后可以查看 {names} 的工单和统计。",
        "en": "You will see the tickets and figures of {names}.",
    },
    "web_link.not_staff": {
        "zh": "抱歉，工作台只对网格员和社区、街道工作人员开放。居民报事请直接在小区群里发消息，发送 /my 可以查看自己的工单。\n如果你是网格群的管理员，请在你的网格群里发送 /web。",
        "en": "Sorry, the staff page is only for grid officers and community or street staff. To report something, just post in your neighbourhood group; /my shows your tickets.\nIf you administer a grid group, send /web in that group.",
    },
    "web_link.too_many": {
        "zh": "一小时内最多可以获取 {limit} 次登录链接，请 {minutes} 分钟后再试。已发给你、还没用过的链接在有效期内仍然可以使用。",
        "en": "At most {limit} login links an hour: please try again in {minutes} min. A link already sent and not yet used still works until it expires.",
    },
    "web_link.sent_private": {
        "zh": "已把工作台登录链接私聊发给你，请查看与我的私聊。",
        "en": "I sent you the login link privately: see your chat with me.",
    },
    "web_link.cannot_dm": {
        "zh": "我还不能私聊你。请点 {link} 打开与我的私聊并点「开始」，登录链接会马上发给你。",
        "en": "I cannot message you yet. Open {link} and press Start: your login link follows right away.",
    },
    "web_link.anonymous": {
        "zh": "你正以匿名管理员身份发言，我不知道该把链接发给谁。请私聊我发送 /web。",
        "en": "You are posting as an anonymous admin, so I cannot tell whom to send the link to. Please send /web to me privately.",
    },
    # -- the staff web page's content (bot/web/pages.py, svg.py, templates overview/tickets/ticket) --
    "web_page.overview_title": {"zh": "概览", "en": "Overview"},
    "web_page.taken_at": {
        "zh": "统计时间：{at}（约每分钟更新）",
        "en": "Figures as of {at} (updated about every minute)",
    },
    "web_page.no_grids_title": {"zh": "还没有可以查看的网格", "en": "No grid to show yet"},
    "web_page.no_grids_admin": {
        "zh": "还没有绑定任何网格。请在每个网格群里由部署管理员发送：/bind 网格名 社区名 [街道名]，绑定后这里就会显示工单和统计。",
        "en": "No grid is bound yet. In each grid group, a deployment admin sends: /bind grid community [street]. Tickets and figures appear here once bound.",
    },
    "web_page.no_grids": {
        "zh": "您负责的网格还没有绑定到群。请部署管理员在网格群里发送：/bind 网格名 社区名 [街道名]。",
        "en": "Your grids are not bound to a group yet. Please ask a deployment admin to send /bind grid community [street] in the grid group.",
    },
    "web_page.today_heading": {
        "zh": "今天（{day}）与本周（{monday}起）",
        "en": "Today ({day}) and this week (from {monday})",
    },
    "web_page.today_new": {"zh": "今日新增", "en": "New today"},
    "web_page.today_resolved": {"zh": "今日办结", "en": "Resolved today"},
    "web_page.week_new": {"zh": "本周新增 {count}", "en": "{count} new this week"},
    "web_page.week_resolved": {"zh": "本周办结 {count}", "en": "{count} resolved this week"},
    "web_page.open_now": {"zh": "在办工单", "en": "Open now"},
    "web_page.open_detail": {"zh": "待受理与处理中", "en": "New and in progress"},
    "web_page.overdue_now": {"zh": "超时未办结", "en": "Overdue now"},
    "web_page.overdue_detail": {
        "zh": "已过办结时限仍未办结",
        "en": "Past the resolution deadline, still open",
    },
    "web_page.rates_heading": {"zh": "三率", "en": "The three rates"},
    "web_page.rate_response": {"zh": "响应率", "en": "Response rate"},
    "web_page.rate_resolution": {"zh": "解决率", "en": "Resolution rate"},
    "web_page.rate_satisfaction": {"zh": "满意率", "en": "Satisfaction rate"},
    "web_page.days": {"zh": "近{days}天", "en": "last {days} days"},
    "web_page.rate_counts": {"zh": "分子/分母 {fraction}", "en": "{fraction} counted"},
    "web_page.rate_other": {
        "zh": "近{days}天 {share}（{fraction}）",
        "en": "Last {days} days: {share} ({fraction})",
    },
    "web_page.rates_note": {
        "zh": "口径与日报相同：响应率 = 时限内首次处理 ÷ 响应时限或首次处理落在期间内的工单；解决率 = 时限内办结且未重办 ÷ 办结时限或办结落在期间内的工单（退回、重复不计）；满意率 = 满意与基本满意 ÷ 期间内评价的工单。",
        "en": "As in the digests: response = first acted on in time ÷ tickets whose response deadline or first action fell in the period; resolution = resolved in time and never reopened ÷ tickets whose resolution deadline or resolution fell in it (returned and duplicates left out); satisfaction = satisfied or mostly satisfied ÷ tickets rated in it.",
    },
    "web_page.trend_heading": {"zh": "近{weeks}周趋势", "en": "The last {weeks} weeks"},
    "web_page.trend_table": {"zh": "查看每周数字", "en": "The figures week by week"},
    "web_page.chart_title": {
        "zh": "近{weeks}周每周新增、办结工单与解决率",
        "en": "Tickets opened and resolved, and the resolution rate, each week of the last {weeks}",
    },
    "web_page.chart_new": {"zh": "新增", "en": "Opened"},
    "web_page.chart_resolved": {"zh": "办结", "en": "Resolved"},
    "web_page.chart_rate": {"zh": "解决率", "en": "Resolution rate"},
    "web_page.chart_axis_count": {"zh": "工单数", "en": "Tickets"},
    "web_page.chart_axis_rate": {"zh": "解决率", "en": "Rate"},
    "web_page.chart_bar_new": {
        "zh": "{week} 当周新增 {count}",
        "en": "Week of {week}: {count} opened",
    },
    "web_page.chart_bar_resolved": {
        "zh": "{week} 当周办结 {count}",
        "en": "Week of {week}: {count} resolved",
    },
    "web_page.chart_point": {
        "zh": "{week} 当周解决率 {rate}（{fraction}）",
        "en": "Week of {week}: resolution rate {rate} ({fraction})",
    },
    "web_page.chart_week": {
        "zh": "{week} 当周新增 {new}、办结 {resolved}、解决率 {rate}（{fraction}）",
        "en": "week of {week}: {new} opened, {resolved} resolved, resolution rate {rate} ({fraction})",
    },
    "web_page.chart_empty": {"zh": "没有数据", "en": "No figures"},
    "web_page.week_of": {"zh": "{day}起", "en": "From {day}"},
    "web_page.communities_heading": {
        "zh": "各社区合计（按近7天三率排名）",
        "en": "Communities (ranked by the last 7 days' rates)",
    },
    "web_page.grids_heading": {"zh": "各网格今天与本周", "en": "Each grid today and this week"},
    "web_page.ranking_heading": {"zh": "网格排名", "en": "Grid ranking"},
    "web_page.ranking_note": {
        "zh": "与日报相同：按近7天解决率排名，其次响应率、满意率；没有可计算工单的排在后面。",
        "en": "As in the digests: by the last 7 days' resolution rate, then response, then satisfaction; grids with nothing to count come last.",
    },
    "web_page.total": {"zh": "合计", "en": "Total"},
    "web_page.col_rank": {"zh": "名次", "en": "Rank"},
    "web_page.col_community": {"zh": "社区", "en": "Community"},
    "web_page.col_grid": {"zh": "网格", "en": "Grid"},
    "web_page.col_grids": {"zh": "网格数", "en": "Grids"},
    "web_page.col_today_new": {"zh": "今日新增", "en": "New today"},
    "web_page.col_today_resolved": {"zh": "今日办结", "en": "Resolved today"},
    "web_page.col_week_new": {"zh": "本周新增", "en": "New this week"},
    "web_page.col_week_resolved": {"zh": "本周办结", "en": "Resolved this week"},
    "web_page.col_open": {"zh": "在办", "en": "Open"},
    "web_page.col_overdue": {"zh": "超时", "en": "Overdue"},
    "web_page.col_week": {"zh": "周", "en": "Week"},
    "web_page.col_new": {"zh": "新增", "en": "Opened"},
    "web_page.col_resolved": {"zh": "办结", "en": "Resolved"},
    "web_page.tickets_title": {"zh": "工单", "en": "Tickets"},
    "web_page.download_xlsx": {"zh": "下载台账（xlsx）", "en": "Download ledger (xlsx)"},
    "web_page.download_csv": {"zh": "下载台账（csv）", "en": "Download ledger (csv)"},
    "web_page.filters_label": {"zh": "筛选工单", "en": "Filter tickets"},
    "web_page.filter_grid": {"zh": "网格", "en": "Grid"},
    "web_page.filter_any_grid": {"zh": "全部网格", "en": "Every grid"},
    "web_page.filter_status": {"zh": "状态", "en": "Status"},
    "web_page.filter_any_status": {"zh": "全部状态", "en": "Any status"},
    "web_page.status_open": {"zh": "在办（待受理和处理中）", "en": "open (new or in progress)"},
    "web_page.filter_category": {"zh": "类别", "en": "Category"},
    "web_page.filter_any_category": {"zh": "全部类别", "en": "Any category"},
    "web_page.filter_from": {"zh": "上报日期从", "en": "Reported from"},
    "web_page.filter_to": {"zh": "到", "en": "to"},
    "web_page.filter_text": {"zh": "搜索内容或地址", "en": "Search text or address"},
    "web_page.filter_text_hint": {"zh": "例如：3号楼 漏水", "en": "e.g. building 3 leak"},
    "web_page.filter_overdue_label": {"zh": "时限", "en": "Deadline"},
    "web_page.filter_overdue": {"zh": "只看超时未办结", "en": "Overdue only"},
    "web_page.filter_apply": {"zh": "筛选", "en": "Filter"},
    "web_page.filter_clear": {"zh": "清除筛选", "en": "Clear filters"},
    "web_page.tickets_count": {
        "zh": "共 {total} 个工单，当前显示第 {first}–{last} 个",
        "en": "{total} tickets; showing {first}–{last}",
    },
    "web_page.tickets_none": {"zh": "没有工单", "en": "No tickets"},
    "web_page.no_tickets_title": {"zh": "还没有工单", "en": "No tickets yet"},
    "web_page.no_tickets": {
        "zh": "居民在网格群里发送带标签的消息（例如：#报修 3号楼2单元楼道灯不亮）就会登记为工单，并显示在这里。",
        "en": "A resident's message with a tag in a grid group (e.g. #报修 the stairwell light in building 3 is out) becomes a ticket and shows here.",
    },
    "web_page.no_match": {
        "zh": "没有符合筛选条件的工单，请放宽条件再试。",
        "en": "No ticket matches these filters; try fewer of them.",
    },
    "web_page.col_id": {"zh": "工单号", "en": "No."},
    "web_page.col_category": {"zh": "类别", "en": "Category"},
    "web_page.col_body": {"zh": "内容与位置", "en": "Report and place"},
    "web_page.col_assignee": {"zh": "处理人", "en": "Handled by"},
    "web_page.col_message": {"zh": "原消息", "en": "Message"},
    "web_page.sort_created": {"zh": "上报时间", "en": "Reported"},
    "web_page.sort_due": {"zh": "办结时限", "en": "Due"},
    "web_page.sort_status": {"zh": "状态", "en": "Status"},
    "web_page.sort_grid": {"zh": "网格", "en": "Grid"},
    "web_page.overdue": {"zh": "超时", "en": "overdue"},
    "web_page.open_in_telegram": {"zh": "在 Telegram 中打开", "en": "Open in Telegram"},
    "web_page.page_prev": {"zh": "上一页", "en": "Previous"},
    "web_page.page_next": {"zh": "下一页", "en": "Next"},
    "web_page.page_of": {"zh": "第 {page} / {pages} 页", "en": "page {page} of {pages}"},
    "web_page.ticket_title": {"zh": "工单 {id}", "en": "Ticket {id}"},
    "web_page.back_to_tickets": {"zh": "返回工单列表", "en": "Back to the tickets"},
    "web_page.report_heading": {"zh": "反映内容 · {tag}", "en": "The report · {tag}"},
    "web_page.fact_place": {"zh": "位置", "en": "Place"},
    "web_page.place_unknown": {"zh": "未识别到位置", "en": "Not recognised"},
    "web_page.fact_grid": {"zh": "网格", "en": "Grid"},
    "web_page.fact_reporter": {"zh": "上报人", "en": "Reported by"},
    "web_page.patrol": {"zh": "（民情日记）", "en": "(patrol diary)"},
    "web_page.fact_contacts": {"zh": "联系方式", "en": "Contact"},
    "web_page.fact_labels": {"zh": "其他标签", "en": "Other tags"},
    "web_page.fact_created": {"zh": "上报时间", "en": "Reported at"},
    "web_page.fact_duplicate_of": {"zh": "重复于", "en": "Duplicate of"},
    "web_page.work_heading": {"zh": "办理情况", "en": "Handling"},
    "web_page.fact_status": {"zh": "状态", "en": "Status"},
    "web_page.reopened": {"zh": "重办 {count} 次", "en": "reopened {count}×"},
    "web_page.fact_assignee": {"zh": "处理人", "en": "Handled by"},
    "web_page.nobody_yet": {"zh": "尚未指定", "en": "Nobody yet"},
    "web_page.fact_response_due": {"zh": "响应时限", "en": "Response due"},
    "web_page.late": {"zh": "逾期", "en": "late"},
    "web_page.fact_accepted": {"zh": "首次处理", "en": "First acted on"},
    "web_page.after": {"zh": "用时 {duration}", "en": "after {duration}"},
    "web_page.fact_resolution_due": {"zh": "办结时限", "en": "Resolution due"},
    "web_page.overdue_by": {"zh": "已超时 {duration}", "en": "overdue by {duration}"},
    "web_page.fact_resolved": {"zh": "办结时间", "en": "Resolved at"},
    "web_page.fact_closed": {"zh": "关闭时间", "en": "Closed at"},
    "web_page.fact_escalation": {"zh": "督办", "en": "Escalated to"},
    "web_page.followup_heading": {"zh": "回访结果", "en": "Follow-up"},
    "web_page.fact_rating": {"zh": "评价", "en": "Rating"},
    "web_page.fact_rated": {"zh": "评价时间", "en": "Rated at"},
    "web_page.fact_feedback": {"zh": "居民意见", "en": "Resident's comment"},
    "web_page.followup_waiting": {
        "zh": "已于 {at} 回访，等待居民评价。",
        "en": "Asked on {at}; waiting for the resident's answer.",
    },
    "web_page.followup_planned": {"zh": "将于 {at} 回访。", "en": "To be asked on {at}."},
    "web_page.followup_none": {
        "zh": "办结后才会回访居民。",
        "en": "The resident is asked once the ticket is resolved.",
    },
    "web_page.co_reporters_heading": {
        "zh": "同样反映的居民（{count}）",
        "en": "Residents who reported it too ({count})",
    },
    "web_page.co_reporters_none": {"zh": "暂无", "en": "None"},
    "web_page.photos_heading": {"zh": "照片与附件（{count}）", "en": "Photos and files ({count})"},
    "web_page.media_file": {"zh": "附件 {n}", "en": "File {n}"},
    "web_page.history_heading": {"zh": "办理记录", "en": "History"},
    "web_page.status_change": {"zh": "{before} → {after}", "en": "{before} → {after}"},
    "web_page.day": {"zh": "{date.month}月{date.day}日", "en": "{date:%b} {date.day}"},
    "web_page.community_choice": {"zh": "查看社区", "en": "Community"},
    "web_page.every_community": {"zh": "全部（{count} 个社区）", "en": "All ({count} communities)"},
    "web_page.community_show": {"zh": "查看", "en": "Show"},
    "web_page.ranking_cut": {
        "zh": "共 {count} 个网格，这里列出前 {ends} 名和后 {ends} 名；选择社区可查看其全部网格。",
        "en": "{count} grids: the first {ends} and the last {ends} are listed; choose a community to see all of its grids.",
    },
    # -- 关爱走访: the rules' own words (bot.care: tickets, reminders, office alarms) ----------
    "care.ticket_body": {
        "zh": "关爱走访发现需跟进的情况（关爱 {person}），详情请网格员私聊本机器人 /care show {person}",
        "en": "A care visit found something to follow up (care {person}); officers: /care show {person} in private",
    },
    "care.reporter": {"zh": "关爱走访", "en": "Care visit"},
    "care.press_private": {
        "zh": "关爱走访只在与本机器人的私聊中办理。",
        "en": "Care visits are handled in a private chat with the bot.",
    },
    "care.not_yours": {
        "zh": "您不是这位关爱对象所在网格的工作人员，无法记录走访。",
        "en": "You do not work this person's grid, so you cannot record a visit.",
    },
    "care.never": {"zh": "尚无走访记录", "en": "no visit yet"},
    "care.button_visit": {"zh": "📝 记录走访", "en": "📝 Record a visit"},
    "care.remind": {
        "zh": "🧓 <b>关爱走访提醒</b>：关爱 {id} {name}（{tier}）今天该走访了\n"
        "地址：{address}\n应访：{due}，按期截止：{until}\n上次走访：{last}\n"
        "走访后点下方按钮，或发送 /visit {id} 正常",
        "en": "🧓 <b>Care visit due</b>: care {id} {name} ({tier}) is due for a visit today\n"
        "Address: {address}\nDue: {due}, on time until {until}\nLast visit: {last}\n"
        "Press the button after the visit, or send /visit {id} 正常",
    },
    "care.remind_round": {
        "zh": "🧓 <b>专项走访</b>：关爱 {id} {name}（{tier}）请在 {until} 前走访\n"
        "地址：{address}\n上次走访：{last}\n走访后点下方按钮，或发送 /visit {id} 正常",
        "en": "🧓 <b>Extra round</b>: please visit care {id} {name} ({tier}) before {until}\n"
        "Address: {address}\nLast visit: {last}\n"
        "Press the button after the visit, or send /visit {id} 正常",
    },
    "care.visitor_gone": {
        "zh": "关爱走访今天到期，但走访人 {visitor} 已不在该网格岗位（或暂时无法确认），请网格员私聊本机器人 /care edit 编号 指定走访人",
        "en": "A care visit is due today, but its visitor {visitor} no longer works this grid (or it could not be checked); officers: /care edit with the number, in private, to name a visitor",
    },
    "care.alarm_concern": {
        "zh": "关爱走访发现异常需跟进（该网格未绑定群，工单未在群内回执）",
        "en": "A care visit found something to follow up (the grid has no group: no receipt was posted)",
    },
    "care.alarm": {
        "zh": "🚨 <b>{reason}</b>\n{community} · {grid} · 关爱 {id}：{name}（{tier}）\n"
        "地址：{address}\n走访人：{visitor}\n紧急联系人：{contact}\n上次走访：{last}",
        "en": "🚨 <b>{reason}</b>\n{community} · {grid} · care {id}: {name} ({tier})\n"
        "Address: {address}\nVisitor: {visitor}\nEmergency contact: {contact}\nLast visit: {last}",
    },
    "care.alarm_missed": {
        "zh": "关爱走访逾期未访（按期截止 {since}）",
        "en": "Care visit missed (on time until {since})",
    },
    "care.alarm_street": {
        "zh": "关爱走访逾期未访，社区督办后仍未走访（按期截止 {since}）",
        "en": "Care visit still missed after the community was told (on time until {since})",
    },
    "care.alarm_unseen": {
        "zh": "关爱走访连续 {times} 次未见到本人",
        "en": "Care visit: the person was not seen {times} times in a row",
    },
    # -- 关爱走访 in Telegram: /care and /visit, their forms (handlers/care.py); the two menu
    # lines are menu.* because bot/commands.py names a command's line menu.<command> ----------
    "menu.care": {
        "zh": "关爱走访名册：/care [add|show|edit|pause|resume|end|round]",
        "en": "Care roster: /care [add|show|edit|pause|resume|end|round]",
    },
    "menu.visit": {"zh": "记录关爱走访：/visit 编号 [结果]", "en": "Record a care visit: /visit N"},
    "care_cmd.private_only": {
        "zh": "关爱走访请私聊机器人办理。",
        "en": "Care visits are handled in a private chat with the bot.",
    },
    "care_cmd.usage": {
        "zh": "🧓 <b>关爱走访</b>\n/care 我负责的关爱对象（逾期在前）\n"
        "/care add 登记（按提示填写），或 /care add 曹大爷 3号楼2单元101 高风险\n"
        "/care show 编号 · /care edit 编号 · /care pause 编号 住院 · /care resume 编号 · "
        "/care end 编号 原因\n/care round 高温 高风险 [3d] 发起专项走访\n"
        "/visit 编号 记录走访，或 /visit 7 正常 精神不错",
        "en": "🧓 <b>Care visits</b>\n/care the people you look after (overdue first)\n"
        "/care add to add someone (guided), or /care add 曹大爷 3号楼2单元101 高风险\n"
        "/care show N · /care edit N · /care pause N reason · /care resume N · "
        "/care end N reason\n/care round 高温 高风险 [3d] an extra round\n"
        "/visit N to record a visit, or /visit 7 正常 精神不错",
    },
    "care_cmd.need_number": {
        "zh": "请写明关爱对象的编号，例如 {usage}",
        "en": "Please give the person's number, e.g. {usage}",
    },
    "care_cmd.no_person": {
        "zh": "没有找到关爱 {id}，或您不负责其所在网格。发送 /care 查看您负责的关爱对象。",
        "en": "No care {id} that you may see: it does not exist or is not in a grid you work. Send /care for your list.",
    },
    "care_cmd.staff_only": {
        "zh": "关爱走访名册只对网格员和社区工作人员开放。如需帮助，请在网格群里发 #求助。",
        "en": "The care roster is for grid officers and community staff only. For help, post #求助 in your grid's group.",
    },
    "care_cmd.list_empty": {
        "zh": "名册上还没有关爱对象。发送 /care add 登记。",
        "en": "Nobody is on the care roster yet. Send /care add to add someone.",
    },
    "care_cmd.list_head": {
        "zh": "🧓 <b>关爱名册</b>：{count} 人，逾期 {overdue} 人",
        "en": "🧓 <b>Care roster</b>: {count} people, {overdue} overdue",
    },
    "care_cmd.list_line": {
        "zh": "关爱 {id} · {name} · {tier} · {when}",
        "en": "care {id} · {name} · {tier} · {when}",
    },
    "care_cmd.list_more": {
        "zh": "……另有 {more} 人未列出（逾期的已在前面）",
        "en": "… and {more} more not listed (the overdue ones come first)",
    },
    "care_cmd.list_foot": {
        "zh": "/care show 编号 查看详情 · /visit 编号 记录走访",
        "en": "/care show N for details · /visit N to record a visit",
    },
    "care_cmd.when_none": {"zh": "无待访", "en": "nothing due"},
    "care_cmd.when_overdue": {"zh": "⚠️ 逾期 {days}天", "en": "⚠️ {days}d overdue"},
    "care_cmd.when_due": {
        "zh": "待访，{date.month}月{date.day}日前",
        "en": "due, by {date:%b} {date.day}",
    },
    "care_cmd.when_next": {
        "zh": "下次 {date.month}月{date.day}日",
        "en": "next {date:%b} {date.day}",
    },
    "care_cmd.status_active": {"zh": "在册", "en": "active"},
    "care_cmd.status_paused": {"zh": "暂停", "en": "paused"},
    "care_cmd.status_ended": {"zh": "已结束", "en": "ended"},
    "care_cmd.status_with_note": {"zh": "{status}（{note}）", "en": "{status} ({note})"},
    "care_cmd.none": {"zh": "无", "en": "none"},
    "care_cmd.show_head": {
        "zh": "🧓 <b>关爱 {id}</b> · {name}（{tier}，{status}）",
        "en": "🧓 <b>Care {id}</b> · {name} ({tier}, {status})",
    },
    "care_cmd.show_grid": {"zh": "网格：{community} · {grid}", "en": "Grid: {community} · {grid}"},
    "care_cmd.show_visitor": {"zh": "走访人：{visitor}", "en": "Visitor: {visitor}"},
    "care_cmd.show_address": {"zh": "地址：{address}", "en": "Address: {address}"},
    "care_cmd.show_contact": {"zh": "紧急联系人：{contact}", "en": "Emergency contact: {contact}"},
    "care_cmd.show_notes": {"zh": "备注：{notes}", "en": "Notes: {notes}"},
    "care_cmd.show_dues": {"zh": "<b>待访</b>", "en": "<b>Owed</b>"},
    "care_cmd.show_due": {
        "zh": "· {kind}：{due} 起，按期截止 {until}{late}",
        "en": "· {kind}: from {due}, on time until {until}{late}",
    },
    "care_cmd.show_due_late": {"zh": "（{when}）", "en": " ({when})"},
    "care_cmd.show_no_dues": {"zh": "待访：无", "en": "Owed: nothing"},
    "care_cmd.due_cycle": {"zh": "常规走访", "en": "regular visit"},
    "care_cmd.due_round": {"zh": "专项走访", "en": "extra round"},
    "care_cmd.show_visits": {"zh": "<b>最近走访</b>", "en": "<b>Latest visits</b>"},
    "care_cmd.show_no_visits": {"zh": "最近走访：尚无", "en": "Latest visits: none yet"},
    "care_cmd.show_visit": {
        "zh": "· {at} {way} · {outcome}（{visitor}）{note}{photos}{ticket}",
        "en": "· {at} {way} · {outcome} ({visitor}){note}{photos}{ticket}",
    },
    "care_cmd.note_suffix": {"zh": "：{note}", "en": ": {note}"},
    "care_cmd.photos_suffix": {"zh": "（照片 {count} 张）", "en": " ({count} photos)"},
    "care_cmd.ticket_suffix": {"zh": "（工单 {id}）", "en": " (ticket {id})"},
    "care_cmd.show_events": {"zh": "<b>最近记录</b>", "en": "<b>History</b>"},
    "care_cmd.show_event": {
        "zh": "· {at} {what}（{actor}）{note}",
        "en": "· {at} {what} ({actor}){note}",
    },
    "care_cmd.event_added": {"zh": "登记", "en": "added"},
    "care_cmd.event_edited": {"zh": "修改", "en": "edited"},
    "care_cmd.event_paused": {"zh": "暂停", "en": "paused"},
    "care_cmd.event_resumed": {"zh": "恢复", "en": "resumed"},
    "care_cmd.event_ended": {"zh": "结束", "en": "ended"},
    "care_cmd.event_visited": {"zh": "走访", "en": "visited"},
    "care_cmd.event_reminded": {"zh": "提醒走访人", "en": "visitor reminded"},
    "care_cmd.event_escalated": {"zh": "逾期上报", "en": "missed, escalated"},
    "care_cmd.event_round": {"zh": "专项走访", "en": "extra round"},
    "care_cmd.field_name": {"zh": "称呼", "en": "name"},
    "care_cmd.field_address": {"zh": "地址", "en": "address"},
    "care_cmd.field_tier": {"zh": "等级", "en": "tier"},
    "care_cmd.field_visitor": {"zh": "走访人", "en": "visitor"},
    "care_cmd.field_contact": {"zh": "紧急联系人", "en": "emergency contact"},
    "care_cmd.field_notes": {"zh": "备注", "en": "notes"},
    "care_cmd.way_home": {"zh": "上门", "en": "home visit"},
    "care_cmd.way_call": {"zh": "电话/视频", "en": "call/video"},
    "care_cmd.way_proxy": {"zh": "亲属邻里代看", "en": "by family/neighbour"},
    "care_cmd.way_volunteer": {"zh": "志愿者结对", "en": "paired volunteer"},
    "care_cmd.way_device": {"zh": "智能设备", "en": "smart device"},
    "care_cmd.outcome_normal": {"zh": "正常", "en": "normal"},
    "care_cmd.outcome_concern": {"zh": "异常需跟进", "en": "needs follow-up"},
    "care_cmd.outcome_unseen": {"zh": "未见到", "en": "not seen"},
    "care_cmd.outcome_refused": {"zh": "拒访", "en": "declined"},
    "care_cmd.too_long": {
        "zh": "太长了（最多 {limit} 字），请精简后再发。",
        "en": "That is too long (at most {limit} characters); please shorten it.",
    },
    "care_cmd.pause_refused": {
        "zh": "关爱 {id} 当前为「{status}」，不能暂停。",
        "en": "Care {id} is {status}; it cannot be paused.",
    },
    "care_cmd.paused": {
        "zh": "⏸ 关爱 {id} 已暂停{reason}，暂停期间不提醒走访。恢复时发送 /care resume {id}",
        "en": "⏸ Care {id} is paused{reason}: no visit falls due meanwhile. Send /care resume {id} to resume.",
    },
    "care_cmd.reason_suffix": {"zh": "（{reason}）", "en": " ({reason})"},
    "care_cmd.resume_refused": {
        "zh": "关爱 {id} 当前为「{status}」，不在暂停中。",
        "en": "Care {id} is {status}, not paused.",
    },
    "care_cmd.resumed": {
        "zh": "▶️ 关爱 {id} 已恢复，{when}。",
        "en": "▶️ Care {id} is back on the roster: {when}.",
    },
    "care_cmd.end_reason": {
        "zh": "请写明结束原因，例如 /care end {id} 搬去女儿家",
        "en": "Please give a reason, e.g. /care end {id} moved to her daughter's",
    },
    "care_cmd.end_refused": {"zh": "关爱 {id} 已经结束了。", "en": "Care {id} has already ended."},
    "care_cmd.ended": {
        "zh": "关爱 {id} 已结束（{reason}），不再提醒走访，记录保留。",
        "en": "Care {id} has ended ({reason}): no more visits fall due; the record is kept.",
    },
    "care_cmd.round_usage": {
        "zh": "请写明专项走访的名称和等级，例如 /care round 高温 高风险 3d（等级：{tiers}；期限可不写，默认为该等级的宽限期）",
        "en": "Please give the round's name and tier, e.g. /care round 高温 高风险 3d (tiers: {tiers}; the deadline is optional, the tier's grace by default)",
    },
    "care_cmd.round_bad_deadline": {
        "zh": "期限最长 {days} 天，例如 3d 或 12h。",
        "en": "The deadline is at most {days} days, e.g. 3d or 12h.",
    },
    "care_cmd.round_default": {"zh": "专项走访", "en": "Extra round"},
    "care_cmd.round_started": {
        "zh": "✅ 已发起专项走访「{name}」：{tier} {count} 人，{deadline} 前完成。走访人会收到提醒（免打扰时段除外）。",
        "en": "✅ Extra round “{name}” started: {count} people of {tier}, to be visited by {deadline}. Their visitors will be reminded (outside quiet hours).",
    },
    "care_cmd.round_nobody": {
        "zh": "已发起专项走访「{name}」，但您的网格里没有在册的{tier}对象（{count} 人）。",
        "en": "Extra round “{name}” started, but your grids have nobody of {tier} on the roster ({count} people).",
    },
    "care_cmd.edit_ended": {
        "zh": "关爱 {id} 已结束，不能修改。",
        "en": "Care {id} has ended and cannot be changed.",
    },
    "care_cmd.unknown_field": {
        "zh": "不认识「{word}」。可修改：称呼、地址、等级、走访人、联系人、备注，例如 /care edit {id} 地址 3号楼2单元102，或只发 /care edit {id} 按提示选择。",
        "en": "“{word}” is not a field. Fields: 称呼 (name), 地址 (address), 等级 (tier), 走访人 (visitor), 联系人 (contact), 备注 (notes), e.g. /care edit {id} 地址 3号楼2单元102, or just /care edit {id}.",
    },
    "care_cmd.unknown_tier": {
        "zh": "没有「{word}」这个等级。可选：{tiers}",
        "en": "There is no tier “{word}”. Tiers: {tiers}",
    },
    "care_cmd.visit_usage": {
        "zh": "用法：/visit 编号 [方式] 结果 [情况]，例如 /visit 7 正常 精神不错；或只发 /visit 7 按提示填写。",
        "en": "Usage: /visit N [way] outcome [note], e.g. /visit 7 正常 精神不错; or just /visit 7 and answer the questions.",
    },
    "care_cmd.visit_inactive": {
        "zh": "关爱 {id} 当前为「{status}」，不需要走访，未记录。",
        "en": "Care {id} is {status}: no visit is owed; nothing was recorded.",
    },
    "care_cmd.button_cancel": {"zh": "✖️ 取消", "en": "✖️ Cancel"},
    "care_cmd.button_skip": {"zh": "跳过", "en": "Skip"},
    "care_cmd.button_done": {"zh": "✅ 完成", "en": "✅ Done"},
    "care_cmd.button_me": {"zh": "我自己", "en": "Me"},
    "care_cmd.who": {"zh": "关爱 {id} · {name}", "en": "care {id} · {name}"},
    "care_cmd.ask_grid": {
        "zh": "登记到哪个网格？（也可直接输入网格名称）",
        "en": "Which grid? (or type the grid's name)",
    },
    "care_cmd.ask_name": {
        "zh": "请输入关爱对象的称呼（如 曹大爷）：",
        "en": "The person's name (e.g. 曹大爷):",
    },
    "care_cmd.ask_address": {
        "zh": "{name} 的地址（如 3号楼2单元101）：",
        "en": "{name}'s address (e.g. 3号楼2单元101):",
    },
    "care_cmd.ask_tier": {"zh": "{name} 的关爱等级：", "en": "{name}'s tier:"},
    "care_cmd.ask_new_tier": {"zh": "{who}：改为哪个等级？", "en": "{who}: which tier now?"},
    "care_cmd.ask_visitor": {
        "zh": "由谁负责走访？（跳过 = 我自己）",
        "en": "Who visits? (Skip = me)",
    },
    "care_cmd.ask_new_visitor": {"zh": "{who}：改由谁走访？", "en": "{who}: who visits now?"},
    "care_cmd.ask_contact": {
        "zh": "紧急联系人（如 女儿 13812345678），没有可点 跳过：",
        "en": "Emergency contact (e.g. 女儿 13812345678), or Skip:",
    },
    "care_cmd.ask_notes": {
        "zh": "备注（身体状况、注意事项），没有可点 跳过：",
        "en": "Notes (health, things to know), or Skip:",
    },
    "care_cmd.ask_field": {"zh": "{who}：要修改哪一项？", "en": "{who}: what should change?"},
    "care_cmd.ask_value": {"zh": "{who}：新的{field}是？", "en": "{who}: the new {field}?"},
    "care_cmd.ask_way": {"zh": "{who}：走访方式？", "en": "{who}: how was the visit made?"},
    "care_cmd.ask_outcome": {"zh": "{who}：走访结果？", "en": "{who}: the outcome?"},
    "care_cmd.ask_note": {
        "zh": "走访情况（写几句），没有可点 跳过：",
        "en": "A few words on the visit, or Skip:",
    },
    "care_cmd.ask_photos": {
        "zh": "可发送现场照片（一张或多张），发完点 完成；没有可点 跳过。",
        "en": "Send photos if you have any, then press Done; or Skip.",
    },
    "care_cmd.photos_got": {
        "zh": "已收到照片，可继续发送；发完点 完成。",
        "en": "Photo received; send more, then press Done.",
    },
    "care_cmd.photos_hint": {
        "zh": "请发送照片，或点 完成 / 跳过。",
        "en": "Send a photo, or press Done / Skip.",
    },
    "care_cmd.need_text": {
        "zh": "请输入文字，或点 取消。",
        "en": "Please type an answer, or press Cancel.",
    },
    "care_cmd.press_a_button": {
        "zh": "请点上面的按钮选择，或点 取消。",
        "en": "Please choose with the buttons above, or press Cancel.",
    },
    "care_cmd.expired": {
        "zh": "表单已过期，请重新发送 /care add（或 /visit 编号、/care edit 编号）。",
        "en": "This form has expired; please send /care add (or /visit N, /care edit N) again.",
    },
    "care_cmd.cancelled": {"zh": "已取消，未保存。", "en": "Cancelled; nothing was saved."},
    "care_cmd.no_form": {
        "zh": "当前没有正在填写的表单。",
        "en": "There is no form open.",
    },
    "care_cmd.timed_out": {
        "zh": "表单 {minutes} 分钟无操作，已取消，未保存。需要时请重新发送 /care add 或 /visit 编号。",
        "en": "The form had no answer for {minutes} minutes and was cancelled; nothing was saved. Send /care add or /visit N again when ready.",
    },
    "care_cmd.added": {
        "zh": "✅ 已登记 关爱 {id}：{name}（{tier}），走访人 {visitor}\n{when}",
        "en": "✅ Added care {id}: {name} ({tier}), visitor {visitor}\n{when}",
    },
    "care_cmd.edited": {
        "zh": "✅ 已修改 关爱 {id} 的{field}。{when}",
        "en": "✅ Care {id}: {field} changed. {when}",
    },
    "care_cmd.visited_before": {
        "zh": "这次走访已记录过（关爱 {id}），未重复记录。",
        "en": "This visit was recorded before (care {id}); nothing was recorded twice.",
    },
    "care_cmd.visited": {
        "zh": "✅ 已记录 关爱 {id} 的走访：{way} · {outcome}{photos}",
        "en": "✅ Visit to care {id} recorded: {way} · {outcome}{photos}",
    },
    "care_cmd.visited_ticket": {
        "zh": "已开工单 {ticket}（群内回执不含姓名）",
        "en": "Ticket {ticket} opened (its receipt in the group names nobody)",
    },
    "care_cmd.visited_ticket_no_group": {
        "zh": "已开工单 {ticket}（该网格未绑定群，已通知社区办公室）",
        "en": "Ticket {ticket} opened (the grid has no group; the community office was told)",
    },
    "care_cmd.visited_unseen": {
        "zh": "连续第 {times} 次未见到本人。",
        "en": "Not seen {times} times in a row.",
    },
    "care_cmd.visited_escalated": {"zh": "已报社区。", "en": "The community office was told."},
    "care_cmd.next_visit": {
        "zh": "下次走访 {date.month}月{date.day}日",
        "en": "next visit {date:%b} {date.day}",
    },
    # -- ready answers (模板): the automatic answer on opening, /template, /stats' 常用回复
    # (bot/answers.py, handlers/templates.py, bot/digest.py) — ACORE ---------------------------
    "answers.auto": {
        "zh": "【自动回复】{text}\n（本条为系统自动回复；工单 {ticket_id} 仍由网格员跟进。）",
        "en": "[Automatic answer] {text}\n(This answer is automatic; ticket {ticket_id} is still followed by the grid officer.)",
    },
    "answers.no_place": {"zh": "您反映", "en": "the reported place"},
    "answers.officer_generic": {"zh": "网格员", "en": "your grid officer"},
    "answers.every": {"zh": "全部类别", "en": "every category"},
    "answers.action_open": {"zh": "受理", "en": "open"},
    "answers.action_progress": {"zh": "进展", "en": "progress"},
    "answers.action_done": {"zh": "办结", "en": "done"},
    "answers.action_reject": {"zh": "退回", "en": "reject"},
    "menu.template": {
        "zh": "常用回复模板：/template list|add|del",
        "en": "Ready answers: /template list|add|del",
    },
    "answers.usage": {
        "zh": "用法：\n/template list [类别] [动作]\n/template add 类别 动作 文本（仅管理员）\n/template del 编号（仅管理员）\n动作：受理 进展 办结 退回；类别写 * 表示全部类别。\n文本可用变量：{variables}",
        "en": "Usage:\n/template list [category] [action]\n/template add category action text (admins)\n/template del N (admins)\nActions: open progress done reject; category * means every category.\nVariables in the text: {variables}",
    },
    "answers.not_allowed": {
        "zh": "只有网格员和管理员可以查看回复模板。",
        "en": "Only grid officers and admins can see the ready answers.",
    },
    "answers.admins_only": {
        "zh": "只有管理员可以添加或删除回复模板。",
        "en": "Only admins can add or remove ready answers.",
    },
    "answers.list_title": {"zh": "常用回复模板（{count} 条）：", "en": "Ready answers ({count}):"},
    "answers.list_line": {
        "zh": "<b>#{id}</b> · {category} · {action} · {words}（已用 {uses} 次）",
        "en": "<b>#{id}</b> · {category} · {action} · {words} (used {uses}×)",
    },
    "answers.list_keywords": {
        "zh": "  自动回复关键词：{words}",
        "en": "  answers automatically on: {words}",
    },
    "answers.list_empty": {"zh": "没有符合条件的回复模板。", "en": "No ready answers match."},
    "answers.unknown_category": {
        "zh": "没有「{word}」这个类别。可用的类别：{known}，或 * 表示全部类别。",
        "en": "There is no category “{word}”. Categories: {known}, or * for every category.",
    },
    "answers.unknown_action": {
        "zh": "没有「{word}」这个动作。可用的动作：{known}。",
        "en": "There is no action “{word}”. Actions: {known}.",
    },
    "answers.unknown_variable": {
        "zh": "模板里有不认识的变量 {names}，没有保存。可用的变量：{allowed}（要写花括号本身请写 {{{{ 和 }}}}）。",
        "en": "The template has unknown variable(s) {names}; it was not saved. Allowed: {allowed} (write {{{{ and }}}} for a brace itself).",
    },
    "answers.unbalanced_brace": {
        "zh": "模板里有一个没有配对的花括号「{brace}」，没有保存。变量要写成 {{位置}} 这样成对的花括号；要写花括号本身请写 {{{{ 或 }}}}。",
        "en": "The template has an unpaired brace “{brace}”; it was not saved. Variables are written in a pair of braces like {{位置}}; write {{{{ or }}}} for a brace itself.",
    },
    "answers.list_private": {
        "zh": "回复模板已私信发给您（{count} 条）。",
        "en": "I sent you the ready answers privately ({count}).",
    },
    "answers.list_cannot_dm": {
        "zh": "回复模板较长，我会私信发给您，但还不能私信您：请先点这里打开私聊，再发一次 /template list：{link}",
        "en": "The ready answers go to you privately, but I cannot message you yet: open a chat with me here, then send /template list again: {link}",
    },
    "answers.empty_text": {"zh": "模板文本不能为空。", "en": "The template's text is empty."},
    "answers.too_long": {
        "zh": "模板文本太长了（最多 {limit} 字）。",
        "en": "The template's text is too long (at most {limit} characters).",
    },
    "answers.added": {
        "zh": "已添加回复模板 <b>#{id}</b> · {category} · {action}：\n{text}",
        "en": "Ready answer <b>#{id}</b> added · {category} · {action}:\n{text}",
    },
    "answers.deleted": {"zh": "已删除回复模板 #{id}。", "en": "Ready answer #{id} removed."},
    "answers.not_found": {
        "zh": "没有编号为 {id} 的回复模板。",
        "en": "There is no ready answer #{id}.",
    },
    "answers.stats_title": {"zh": "常用回复（使用次数）：", "en": "Ready answers used most:"},
    "answers.stats_line": {
        "zh": "· {count} 次 · {category} · {action} · {words}",
        "en": "· {count}× · {category} · {action} · {words}",
    },
    # -- 💬 ready answers on receipts: the choice, preview, 发送 / 改一改 in private (handlers/answers.py,
    # bot/keyboards.py) — ABTN -------------------------------------------------------------------
    "abtn.button": {"zh": "💬 快捷回复", "en": "💬 Ready answer"},
    "abtn.choice": {
        "zh": "💬 工单 <b>{id}</b> · {category} · {place}\n状态：{status}\n{body}\n\n选一条常用回复（用得最多的在前），先预览再发送：",
        "en": "💬 Ticket <b>{id}</b> · {category} · {place}\nStatus: {status}\n{body}\n\nPick a ready answer (most used first); you see a preview before it goes:",
    },
    "abtn.no_place": {"zh": "位置未识别", "en": "no location"},
    "abtn.nothing": {
        "zh": "工单 {id} 现在是「{status}」，没有可以发送的回复。",
        "en": "Ticket {id} is {status}: there is no answer to send now.",
    },
    "abtn.template_button": {"zh": "【{action}】{words}", "en": "[{action}] {words}"},
    "abtn.write_button": {"zh": "✏️ {action}（自己写）", "en": "✏️ {action} (own words)"},
    "abtn.preview": {
        "zh": "👀 预览 · {action} · 工单 {id}\n居民会在群里看到：\n\n{public}",
        "en": "👀 Preview · {action} · ticket {id}\nThe resident will read in the group:\n\n{public}",
    },
    "abtn.send": {"zh": "✅ 发送", "en": "✅ Send"},
    "abtn.edit": {"zh": "✏️ 改一改", "en": "✏️ Edit"},
    "abtn.back": {"zh": "↩️ 返回", "en": "↩️ Back"},
    "abtn.sent": {
        "zh": "已发送 ✓ {action} · 工单 {id}\n\n{public}",
        "en": "Sent ✓ {action} · ticket {id}\n\n{public}",
    },
    "abtn.prompt": {
        "zh": "✏️ {action} · 工单 {id}\n点下面的文字即可复制，改好后<b>回复本条消息</b>发送：\n\n<code>{text}</code>",
        "en": "✏️ {action} · ticket {id}\nTap the text below to copy it; <b>reply to this message</b> with your version to send it:\n\n<code>{text}</code>",
    },
    "abtn.prompt_own": {
        "zh": "✏️ {action} · 工单 {id}\n请<b>回复本条消息</b>，写下要发给居民的话：",
        "en": "✏️ {action} · ticket {id}\n<b>Reply to this message</b> with what the resident should read:",
    },
    "abtn.placeholder": {"zh": "改好的回复（{action}）", "en": "Your answer ({action})"},
    "abtn.already_sent": {
        "zh": "这条回复已经发送过了。要再回复工单 {id}，请在群里的回执上再点 💬。",
        "en": "This answer was sent already. To answer ticket {id} again, press 💬 on its receipt in the group.",
    },
    "abtn.not_yours": {
        "zh": "这条回复草稿不是您的，没有发送。",
        "en": "This draft is not yours; nothing was sent.",
    },
    "abtn.popup_private": {
        "zh": "已私信您：请在与我的私聊中选择回复。",
        "en": "Sent to you privately: pick the answer in your chat with me.",
    },
    "abtn.popup_sent": {
        "zh": "已发送：工单 {id} {status}",
        "en": "Sent: ticket {id} is {status}",
    },
    "abtn.popup_used": {"zh": "已经发送过了。", "en": "Sent already."},
    "abtn.popup_nothing": {
        "zh": "工单 {id} 现在是「{status}」，没有可以发送的回复。",
        "en": "Ticket {id} is {status}: there is no answer to send now.",
    },
    "abtn.popup_template_gone": {
        "zh": "这条模板已删除，请重新选择。",
        "en": "That template was deleted; please pick another.",
    },
    "abtn.start_first": {
        "zh": "请先打开与我的私聊并点「开始」，回复选项会发到那里。",
        "en": "Please open your chat with me and press Start first; the answers go there.",
    },
    "abtn.started": {
        "zh": "好了，请回到群里，在工单回执上再点一次 💬。",
        "en": "All set: press 💬 on the ticket's receipt in the group again.",
    },
    "abtn.open_public": {
        "zh": "📋 工单 {id} 已受理：{text}\n—— {name}",
        "en": "📋 Ticket {id} accepted: {text}\n— {name}",
    },
    "abtn.reply_hint": {
        "zh": "要改动请点 ✏️ 改一改，再回复那条消息。",
        "en": "To change the words, press ✏️ Edit, then reply to the message it sends.",
    },
    # -- 议事 (bot/votes.py, bot/parsing/vote.py: VCORE): what the domain writes, the /vote
    # line's errors ---------------------------------------------------------------------------
    "vote.result_title": {
        "zh": "🗳 <b>议事 {id} 结果</b>：{question}",
        "en": "🗳 <b>Vote {id}: result</b> — {question}",
    },
    "vote.count_line": {"zh": "· {option}：{count} 户", "en": "· {option}: {count} households"},
    "vote.result_turnout": {
        "zh": "参与 {voted} 户 / 应参与 {eligible} 户",
        "en": "{voted} of {eligible} eligible households voted",
    },
    "vote.result_proxies": {
        "zh": "其中 {count} 户由网格员代为登记",
        "en": "{count} of them recorded by an officer (proxy)",
    },
    "vote.result_rule": {"zh": "通过规则：{rule}", "en": "Rule: {rule}"},
    "vote.result_passed": {"zh": "结果：✅ 通过", "en": "Result: ✅ passed"},
    "vote.result_failed": {"zh": "结果：❌ 未通过", "en": "Result: ❌ not passed"},
    "vote.result_no_quorum": {
        "zh": "结果：❌ 未通过（参与户数未达到要求）",
        "en": "Result: ❌ not passed (too few households took part)",
    },
    "vote.result_splits": {
        "zh": "另有 {count} 户家庭成员意见不一致，已按最后一次选择计入并告知网格员。",
        "en": "In {count} households members disagreed; the latest answer counted and the "
        "officer was told.",
    },
    "vote.rule_majority": {
        "zh": "“{option}”户数超过应参与户数的一半",
        "en": "more than half of the eligible households choose “{option}”",
    },
    "vote.rule_more_than": {
        "zh": "“{option}”户数超过应参与户数的 {share}",
        "en": "more than {share} of the eligible households choose “{option}”",
    },
    "vote.rule_at_least": {
        "zh": "“{option}”户数不少于应参与户数的 {share}",
        "en": "at least {share} of the eligible households choose “{option}”",
    },
    "vote.rule_quorum": {
        "zh": "，且参与户数不少于 {share}",
        "en": ", and at least {share} of them take part",
    },
    "vote.detail_title": {
        "zh": "🗳 <b>议事 {id}</b>（进行中）：{question}",
        "en": "🗳 <b>Vote {id}</b> (open): {question}",
    },
    "vote.detail_title_closed": {
        "zh": "🗳 <b>议事 {id}</b>（已结束）：{question}",
        "en": "🗳 <b>Vote {id}</b> (closed): {question}",
    },
    "vote.detail_none": {"zh": "{label}：未表态", "en": "{label}: no answer"},
    "vote.detail_member": {"zh": "{label}：{option}（{name}）", "en": "{label}: {option} ({name})"},
    "vote.detail_proxy": {
        "zh": "{label}：{option}（网格员 {name} 代录）",
        "en": "{label}: {option} (recorded by officer {name})",
    },
    "vote.detail_note": {"zh": "，备注：{note}", "en": "; note: {note}"},
    "vote.detail_split": {
        "zh": "⚠️ {label} 家庭成员意见不一致：{answers}（按最后一次选择计）",
        "en": "⚠️ {label}: members disagree — {answers} (the latest counts)",
    },
    "vote.detail_untied": {
        "zh": "未计入：{count} 人尚未登记本次议事范围内的房号（{names}）",
        "en": "Not counted: {count} people tied to no eligible household ({names})",
    },
    "vote.untied": {
        "zh": "您在议事 {id}「{question}」中的选择已收到，但您还没有登记房号，所以暂未计入。\n"
        "议事按“一户一票”计，可投票的住户在发起时已确定：如您家在本次议事的名单上"
        "（发起时已登记的住户），请直接在这里回复 <code>/room 楼号-单元-房号</code>"
        "（例如 <code>/room 3-2-501</code>）登记，无需重新投票，截止时会自动计入；"
        "如不在名单上，请联系网格员代为登记本户的选择（/vote proxy）。",
        "en": "Your answer to vote {id} “{question}” was received, but you have not told us "
        "your room yet, so it does not count for now.\nVotes count one per household, and "
        "the households were fixed when the vote started: if yours is on this vote's list "
        "(the households registered then), send <code>/room building-unit-room</code> (e.g. "
        "<code>/room 3-2-501</code>) right here and your answer counts at the close without "
        "voting again; if it is not, ask an officer to record your household's answer "
        "(/vote proxy).",
    },
    "vote.not_eligible": {
        "zh": "您在议事 {id}「{question}」中的选择已收到，但您登记的房号 {label} "
        "不在本次议事的名单内（范围和名单在发起时已确定），所以不计入。如房号有误，请直接在这里"
        "回复 <code>/room 正确房号</code> 更正：正确房号在本次名单上的，截止时会自动计入；"
        "否则请联系网格员代为登记本户的选择（/vote proxy）。",
        "en": "Your answer to vote {id} “{question}” was received, but your room {label} is "
        "not on this vote's list (its scope and households were fixed when it started), so it "
        "does not count. If your room is wrong, send <code>/room your-room</code> right here: "
        "if that room is on this vote's list, your answer counts at the close; if not, ask an "
        "officer to record your household's answer (/vote proxy).",
    },
    "vote.not_eligible_removed": {
        "zh": "您在议事 {id}「{question}」中的选择已收到，但您登记的房号 {label} "
        "已被网格员移出住户名册，所以不计入。如您确实住在这里，请联系网格员把本户加回名册"
        "（/room add）；本次议事的名单在发起时已确定，可请网格员代为登记本户的选择（/vote proxy）。",
        "en": "Your answer to vote {id} “{question}” was received, but your room {label} was "
        "taken off the roster by an officer, so it does not count. If you do live there, ask "
        "an officer to add it back (/room add); this vote's list was fixed when it started, so "
        "ask the officer to record your household's answer (/vote proxy).",
    },
    "vote.split": {
        "zh": "⚠️ 议事 {id}「{question}」：{label} 的家庭成员选择不一致。"
        "按规则以最后一次选择计入，请核实（<code>/vote show {id}</code>）。",
        "en": "⚠️ Vote {id} “{question}”: members of {label} answered differently. The latest "
        "answer counts; please check (<code>/vote show {id}</code>).",
    },
    "vote.error_question": {
        "zh": "请写上要商议的事项。",
        "en": "Please write what the households should decide.",
    },
    "vote.error_question_long": {
        "zh": "议事事项太长了（最多 {limit} 字），请精简后再发。",
        "en": "The question is too long (at most {limit} characters).",
    },
    "vote.error_options": {
        "zh": "选项需要 {low}–{high} 个，用 | 隔开，例如 同意|不同意|弃权。",
        "en": "Give {low}–{high} options separated by |, e.g. 同意|不同意|弃权.",
    },
    "vote.error_option_long": {
        "zh": "每个选项最多 {limit} 字。",
        "en": "Each option may have at most {limit} characters.",
    },
    "vote.error_options_alike": {
        "zh": "选项不能重复。",
        "en": "Two options are the same.",
    },
    "vote.error_where": {
        "zh": "没看懂范围“{value}”，请写楼栋和单元，例如 --where 3号楼2单元。",
        "en": "“{value}” is no building or unit; e.g. --where 3号楼2单元.",
    },
    "vote.error_until": {
        "zh": "没看懂截止时间“{value}”，可以写 12月10日、12月10日18:00、3d、48h 或 30m。",
        "en": "“{value}” is no deadline; write e.g. 12月10日, 12月10日18:00, 3d, 48h or 30m.",
    },
    "vote.error_until_past": {
        "zh": "截止时间“{value}”已经过去了，请换一个将来的时间。",
        "en": "The deadline “{value}” has passed; choose one in the future.",
    },
    "vote.error_until_far": {
        "zh": "截止时间最多在 {days} 天以内。",
        "en": "The deadline may be at most {days} days away.",
    },
    "vote.error_pass": {
        "zh": "没看懂通过规则“{value}”，可以写 过半、2/3 或 三分之二。",
        "en": "“{value}” is no rule; write e.g. 过半, 2/3 or 三分之二.",
    },
    "vote.error_quorum": {
        "zh": "没看懂参与要求“{value}”，可以写 1/2 或 2/3。",
        "en": "“{value}” is no quorum; write e.g. 1/2 or 2/3.",
    },
    "vote.error_flag": {
        "zh": "不认识的选项 {flag}；可用 --where --until --pass --quorum。",
        "en": "Unknown flag {flag}; use --where --until --pass --quorum.",
    },
    "vote.error_flag_value": {
        "zh": "{flag} 后面需要写内容。",
        "en": "{flag} needs a value after it.",
    },
    "vote.answer_pair": {"zh": "{name}：{option}", "en": "{name}: {option}"},
    "vote.list_separator": {"zh": "，", "en": ", "},
    "vote.name_separator": {"zh": "、", "en": ", "},
    "vote.cli_help_what": {
        "zh": "；votes：议事（每次议事的各户表态与结果）",
        "en": "; votes: the household votes (each household's answer, the results)",
    },
    "vote.cli_exported": {
        "zh": "已导出 {votes} 次议事到 {path}",
        "en": "{votes} votes exported to {path}",
    },
    "vote.error_label": {
        "zh": "没看懂房号“{word}”，请写成 3-2-501（楼-单元-房号）或 3号楼2单元501。",
        "en": "“{word}” is no room; write it as 3-2-501 (building-unit-room) or 3号楼2单元501.",
    },
    "vote.result_void": {
        "zh": "⚠️ 投票未能发到群里，本次议事作废，不计结果（{reason}）。",
        "en": "⚠️ The poll could not be sent to the group: this vote is void, nothing counted "
        "({reason}).",
    },
    "vote.poll_failed": {
        "zh": "⚠️ 议事 {id}「{question}」的投票没能发到群里，本次议事已作废，不计结果。\n"
        "原因（Telegram）：{reason}\n请检查事项和选项的长度、机器人在群里发投票的权限"
        "或话题是否已关闭，再重新发起。",
        "en": "⚠️ The poll of vote {id} “{question}” could not be sent to the group; the vote "
        "is void and nothing counts.\nReason (Telegram): {reason}\nCheck the lengths of the "
        "question and options, the bot's right to send polls and whether the topic is closed, "
        "then start it again.",
    },
    "vote.forwarded": {
        "zh": "（议事 {id} 的发起人 {name} 已无法接收，转给您）",
        "en": "(Vote {id}'s starter {name} cannot receive this; it comes to you instead)",
    },
    "vote.detail_unconfirmed": {
        "zh": "未计入：{count} 人的房号待确认（本户已有网格员确认的成员）：{names}",
        "en": "Not counted: {count} people whose room is unconfirmed (an officer confirmed "
        "another member of it): {names}",
    },
    "vote.detail_late": {
        "zh": "未计入：{count} 人在截止之后才选择：{names}",
        "en": "Not counted: {count} people answered after the deadline: {names}",
    },
    "vote.detail_aside_label": {"zh": "（{label}）", "en": " ({label})"},
    "vote.refused_late": {
        "zh": "议事 {id} 已到截止时间，不能再代录；结果会在结束时公布。",
        "en": "Vote {id} has reached its deadline: no more proxies; the result follows.",
    },
    # -- 议事 in Telegram: /room and /vote, the poll answers (handlers/votes.py) — VTG; the two
    # menu lines are menu.* because bot/commands.py names a command's line menu.<command> ------
    "menu.room": {
        "zh": "登记我家房号（议事一户一票；请私聊我发送）：/room 3-2-501",
        "en": "Tell us your room (one vote per household; best in private): /room 3-2-501",
    },
    "menu.vote": {
        "zh": "议事投票：/vote 事项 同意|不同意|弃权 · list · show · close · proxy",
        "en": "Household votes: /vote question A|B|C · list · show · close · proxy",
    },
    "votes.room_usage": {
        "zh": "🏠 <b>登记房号</b>（议事按一户一票计；请私聊我发送，房号不必让全群看到）\n"
        "/room 3-2-501 登记我家（3号楼2单元501室；没有单元写 3-501）\n"
        "/room 查看我登记的房号 · /room del 取消登记\n"
        "网格员：回复居民的消息发 /room 3-2-501 代为登记，或只发 /room 确认她登记的房号，"
        "/room del 解除她的登记；不发言的居民：/room 3-2-501 用户ID；"
        "/room add 3-2-502 3-2-503 添加没有微信/Telegram 的住户，/room del 3-2-502 移出名册；"
        "/room list [3-2] 私聊查看名单",
        "en": "🏠 <b>Your room</b> (votes count one per household; best sent to me in private, "
        "so that the group does not see it)\n"
        "/room 3-2-501 tells us yours (building 3, unit 2, room 501; 3-501 without a unit)\n"
        "/room shows the room you gave · /room del withdraws it\n"
        "Officers: reply to a resident's message with /room 3-2-501 to set hers, just /room "
        "to confirm the one she gave, or /room del to untie her; for someone who never writes: "
        "/room 3-2-501 user-id; /room add 3-2-502 3-2-503 adds households without Telegram, "
        "/room del 3-2-502 takes one off the roster; /room list [3-2] in private lists them",
    },
    "votes.room_start": {
        "zh": "🏠 <b>登记房号</b>（议事按一户一票计）\n请在这里直接发送 "
        "<code>/room 3-2-501</code>（3号楼2单元501室；没有单元写 3-501），"
        "我会找到您所在的网格群；房号只有您和网格员能看到。\n发送 /room 可查看已登记的房号。",
        "en": "🏠 <b>Your room</b> (votes count one per household)\nSend "
        "<code>/room 3-2-501</code> right here (building 3, unit 2, room 501; 3-501 without a "
        "unit); I find your grid's group myself, and only you and the officers see the room.\n"
        "Send /room to see the room you gave.",
    },
    "votes.unbound": {
        "zh": "本群还没有绑定网格，暂时不能登记房号或议事。请管理员先 /bind。",
        "en": "This group is not bound to a grid yet, so rooms and votes are not available. "
        "An admin can /bind it.",
    },
    "votes.room_officers_only": {
        "zh": "抱歉，只有本网格的网格员可以代为登记、确认房号或添加住户。"
        "登记自己家请发 /room 3-2-501。",
        "en": "Sorry, only this grid's officers can set or confirm others' rooms or add "
        "households. To give your own, send /room 3-2-501.",
    },
    "votes.room_anonymous": {
        "zh": "匿名身份无法登记房号，请用个人身份发送 /room 3-2-501。",
        "en": "An anonymous admin cannot have a room; please send /room 3-2-501 as yourself.",
    },
    "votes.room_none": {
        "zh": '您还没有登记房号。请<a href="{link}">私聊我</a>发送 /room 3-2-501'
        "（楼-单元-房号）登记，房号不必让全群看到。",
        "en": 'You have not given your room yet. <a href="{link}">Write to me in private</a>'
        " with /room 3-2-501 (building-unit-room): the group need not see it.",
    },
    "votes.room_none_private": {
        "zh": "您还没有登记房号。在这里发送 /room 3-2-501（楼-单元-房号）即可登记。",
        "en": "You have not given your room yet. Send /room 3-2-501 (building-unit-room) here.",
    },
    "votes.room_mine_group": {
        "zh": '您已登记房号（{status}）。为保护隐私，具体房号请<a href="{link}">私聊我</a>'
        "发送 /room 查看。",
        "en": "You have given your room ({status}). To keep it private, "
        '<a href="{link}">write /room to me in private</a> to see it.',
    },
    "votes.room_group_done": {
        "zh": '✅ {done}，详情已私信。登记房号可以直接<a href="{link}">私聊我</a>，不必在群里发。',
        "en": "✅ {done}; the details went to you in private. Rooms can be sent to me "
        '<a href="{link}">in private</a>, not in the group.',
    },
    "votes.room_group_no_dm": {
        "zh": '✅ {done}。为保护隐私，房号不在群里显示；请先<a href="{link}">私聊我</a>，'
        "以后详情会私信给您，发送 /room 可查看。",
        "en": "✅ {done}. To keep it private, the room is not shown in the group; "
        '<a href="{link}">start a private chat with me</a> to get the details there, and '
        "send /room to see it.",
    },
    "votes.done_claimed": {
        "zh": "已登记（待网格员确认）",
        "en": "Noted (an officer will confirm it)",
    },
    "votes.done_tied": {"zh": "已登记", "en": "Noted"},
    "votes.done_set": {"zh": "已登记", "en": "Set"},
    "votes.done_confirmed": {"zh": "已确认", "en": "Confirmed"},
    "votes.done_untied": {"zh": "已取消房号登记", "en": "The room is withdrawn"},
    "votes.room_no_such_person": {
        "zh": "本网格群里没有找到用户 ID {id} 的成员（请核对 ID，对方需在群里）。",
        "en": "No member with user id {id} in the grid's group (check the id; the person must "
        "be in the group).",
    },
    "votes.room_nothing_to_untie": {
        "zh": "对方没有登记房号，无需解除。",
        "en": "That person has no room to withdraw.",
    },
    "votes.room_untied": {
        "zh": "✅ 已解除 {name} 的房号登记（原 {label}）。",
        "en": "✅ {name} is no longer tied to {label}.",
    },
    "votes.room_untied_self": {
        "zh": "✅ 已取消您在 {grid} 的房号登记（原 {label}）。",
        "en": "✅ Your room {label} in {grid} is withdrawn.",
    },
    "votes.room_del_example": {
        "zh": "<code>/room del 3-2-502</code>",
        "en": "<code>/room del 3-2-502</code>",
    },
    "votes.room_not_listed": {
        "zh": "{label} 不在本网格的住户名册中。",
        "en": "{label} is not on this grid's roster.",
    },
    "votes.room_removed": {
        "zh": "✅ 已将 {label} 移出住户名册：此后发起的议事不再包括该户（进行中的议事不变）。",
        "en": "✅ {label} is off the roster: votes started from now on leave it out (open "
        "votes are unchanged).",
    },
    "votes.room_removed_residents": {
        "zh": "🏠 {label} 已移出名册，但仍有 {count} 人登记在该户：{names}。他们的选择在此后的议事中"
        "不计入；如已搬走，请解除登记：在群里回复其消息发 /room del，或发 /room del 用户ID；"
        "如该户确有人住，请 /room add {label} 加回名册。",
        "en": "🏠 {label} is off the roster, but {count} people are still tied to it: {names}. "
        "Their answers count in no vote started from now on; if they moved out, untie them: "
        "reply to their message in the group with /room del, or send /room del user-id; if "
        "someone does live there, /room add {label} brings it back.",
    },
    "votes.room_removed_residents_group": {
        "zh": "该户仍有 {count} 人登记；名单和处理办法请私聊我发 /room list 查看。",
        "en": "{count} people are still tied to it; see who in private (/room list).",
    },
    "votes.room_removed_mark": {"zh": "（已移出名册）", "en": " (off the roster)"},
    "votes.room_claim_removed": {
        "zh": "\n⚠️ {label} 已被网格员移出住户名册，您的选择在议事中不计入；如您确实住在这里，"
        "请联系网格员把本户加回名册（/room add）。",
        "en": "\n⚠️ {label} was taken off the roster by an officer: your answers count in no "
        "vote. If you do live there, ask an officer to add it back (/room add).",
    },
    "votes.room_outside_vote": {
        "zh": "\n⚠️ 议事 {id}「{question}」的名单在发起时已确定，不包括 {label}，"
        "所以您在其中的选择仍不计入；请联系网格员代为登记本户的选择（/vote proxy）。",
        "en": "\n⚠️ The list of vote {id} “{question}” was fixed when it started and leaves "
        "{label} out, so your answer there still does not count; ask an officer to record your "
        "household's answer (/vote proxy).",
    },
    "votes.room_claim_pending": {
        "zh": "\n{label} 已有网格员确认的住户：您的选择在网格员确认您的登记后才计入本户。",
        "en": "\n{label} already has a member an officer confirmed: your answers count for it "
        "once an officer confirms you too.",
    },
    "votes.room_others_unconfirmed": {
        "zh": "\n该户还有待确认的住户：{names}。确认前他们的选择不计入（在群里回复其消息发 /room 确认）。",
        "en": "\nThis household also has unconfirmed members: {names}. Their answers do not "
        "count until confirmed (reply to their message in the group with /room).",
    },
    "votes.room_claim_to_officer": {
        "zh": "🏠 {name} 登记为 {grid} {label}，该户已有确认的住户。请核实：在群里回复她的消息发 "
        "/room 确认，或 /room del 解除；/room list 可查看名单。",
        "en": "🏠 {name} gave the room {label} in {grid}, which already has a confirmed member. "
        "Please check: reply to her message in the group with /room to confirm, or /room del "
        "to untie her; /room list shows the roster.",
    },
    "votes.room_confirmed_word": {"zh": "网格员已确认", "en": "confirmed by an officer"},
    "votes.room_claimed_word": {"zh": "待网格员确认", "en": "awaiting an officer's confirmation"},
    "votes.bad_line": {
        "zh": "抱歉，没能看懂：{why}\n可以这样写：{example}",
        "en": "Sorry, I could not read that: {why}\nWrite it like this: {example}",
    },
    "votes.room_example": {
        "zh": "<code>/room 3-2-501</code> 或 <code>/room 3号楼2单元501</code>",
        "en": "<code>/room 3-2-501</code> or <code>/room 3号楼2单元501</code>",
    },
    "votes.room_tied": {
        "zh": "✅ 已登记 {label}（待网格员确认）。议事时同户任一成员的最新选择计为本户一票。",
        "en": "✅ Room {label} noted (an officer will confirm it). In a vote, the latest answer "
        "of anyone in a household counts as its one vote.",
    },
    "votes.room_tied_confirmed": {
        "zh": "✅ 已登记 {label}。",
        "en": "✅ Room {label} noted.",
    },
    "votes.room_moved": {
        "zh": "\n（原登记 {before} 已改为新房号）",
        "en": "\n(instead of {before})",
    },
    "votes.room_nothing_to_confirm": {
        "zh": "对方还没有登记房号。回复其消息发送 /room 3-2-501 即可代为登记。",
        "en": "That person has not given a room yet. Reply to their message with /room 3-2-501 "
        "to set it.",
    },
    "votes.room_confirmed": {
        "zh": "✅ 已确认 {name} 的房号 {label}。",
        "en": "✅ {name}'s room {label} is confirmed.",
    },
    "votes.room_set": {
        "zh": "✅ 已为 {name} 登记房号 {label}（已确认）。",
        "en": "✅ {name}'s room is now {label} (confirmed).",
    },
    "votes.room_add_usage": {
        "zh": "请写出要添加的住户，例如 <code>/room add 3-2-502 3-2-503</code>。",
        "en": "Write the households to add, e.g. <code>/room add 3-2-502 3-2-503</code>.",
    },
    "votes.room_add_example": {
        "zh": "<code>/room add 3-2-502 3-2-503</code>",
        "en": "<code>/room add 3-2-502 3-2-503</code>",
    },
    "votes.room_added": {
        "zh": "✅ 新添加 {added} 户，{known} 户原已在名册中：{labels}",
        "en": "✅ {added} households added, {known} already listed: {labels}",
    },
    "votes.room_counts": {
        "zh": "🏠 本网格已登记 {households} 户、{members} 人（{unconfirmed} 人待确认）。"
        "名单只有网格员能在私聊中查看（/room list）。",
        "en": "🏠 This grid has {households} households and {members} people listed "
        "({unconfirmed} awaiting confirmation). Officers see the names in private (/room list).",
    },
    "votes.room_add_in_group": {
        "zh": "您负责多个网格：请在相应网格的群里发送这条命令。",
        "en": "You work several grids: send this command in the grid's own group.",
    },
    "votes.room_mine_head": {"zh": "🏠 您登记的房号：", "en": "🏠 Your rooms:"},
    "votes.room_mine_line": {
        "zh": "· {grid}：{label}（{status}）",
        "en": "· {grid}: {label} ({status})",
    },
    "votes.room_in_group": {
        "zh": "请在您所在网格的群里发送 /room 3-2-501，这样我才知道是哪个网格。",
        "en": "Please send /room 3-2-501 in your grid's group, so that I know which grid it is.",
    },
    "votes.room_no_group": {
        "zh": "没有找到您所在的网格群。请先加入本小区的网格群，再在群里发送 /room 3-2-501。",
        "en": "I found no grid group you are in. Join your grid's group, then send "
        "/room 3-2-501 there.",
    },
    "votes.room_list_head": {
        "zh": "🏠 <b>{grid}</b>：{households} 户、{members} 人（{unconfirmed} 人待确认）",
        "en": "🏠 <b>{grid}</b>: {households} households, {members} people ({unconfirmed} "
        "unconfirmed)",
    },
    "votes.room_list_line": {"zh": "{label}：{members}", "en": "{label}: {members}"},
    "votes.room_unconfirmed_mark": {"zh": "（待确认）", "en": " (unconfirmed)"},
    "votes.room_list_nobody": {"zh": "（无人登记）", "en": "(nobody)"},
    "votes.room_list_empty": {
        "zh": "还没有登记的住户。居民可发 /room 3-2-501 登记，网格员可 /room add 添加。",
        "en": "No households yet. Residents send /room 3-2-501; officers can /room add.",
    },
    "votes.too_long": {
        "zh": "……内容太长，另有 {parts} 段未发出；可加范围缩小，例如 /room list 3-2。",
        "en": "… too long: {parts} more parts not sent; narrow it, e.g. /room list 3-2.",
    },
    "votes.usage": {
        "zh": "🗳 <b>议事（一户一票）</b>\n"
        "网格员在网格群里发起：<code>/vote 3号楼2单元凉房改造 同意|不同意|弃权 --where 3号楼2单元 "
        "--until 12月10日 --pass 2/3</code>\n"
        "（选项默认 同意|不同意|弃权；范围默认全网格已登记住户；截止默认 7 天；规则默认“同意”过半）\n"
        "/vote list 议事列表 · /vote show 编号 查看进度 · /vote close 编号 提前结束 · "
        "/vote proxy 编号 3-2-502 同意 电话确认 代录（私聊）\n"
        "居民先私聊我发 /room 3-2-501 登记房号，再点投票即可。",
        "en": "🗳 <b>Household votes (one per household)</b>\n"
        "Officers start one in the grid's group: <code>/vote 3号楼2单元凉房改造 同意|不同意|弃权 "
        "--where 3号楼2单元 --until 12月10日 --pass 2/3</code>\n"
        "(options 同意|不同意|弃权, every listed household, 7 days and more than half by "
        "default)\n/vote list · /vote show N · /vote close N · "
        "/vote proxy N 3-2-502 同意 by phone (in private)\n"
        "Residents first send me /room 3-2-501 in private, then tap the poll.",
    },
    "votes.group_only": {
        "zh": "议事请在网格群里发起，这样全体住户都能看到并投票。",
        "en": "Start a vote in the grid's group, where every household can see it and vote.",
    },
    "votes.officers_only": {
        "zh": "抱歉，只有本网格的网格员可以发起、结束议事或代录投票。如有提议，欢迎告诉网格员。",
        "en": "Sorry, only this grid's officers can start or close votes or record proxies. "
        "Tell an officer if you have a proposal.",
    },
    "votes.example": {
        "zh": "<code>/vote 3号楼2单元凉房改造 同意|不同意|弃权 --where 3号楼2单元 --until 12月10日 "
        "--pass 2/3</code>",
        "en": "<code>/vote 3号楼2单元凉房改造 同意|不同意|弃权 --where 3号楼2单元 --until 12月10日 "
        "--pass 2/3</code>",
    },
    "votes.scope_all": {"zh": "全网格", "en": "the whole grid"},
    "votes.no_households": {
        "zh": "{scope} 还没有登记的住户，无法发起议事。请居民先发送 /room 3-2-501 登记房号"
        "（网格员也可 /room add 3-2-502 添加）。",
        "en": "{scope} has no listed households yet, so there is nobody to vote. Residents "
        "send /room 3-2-501 first (officers can /room add 3-2-502).",
    },
    "votes.started": {
        "zh": "🗳 <b>议事 {id}</b> 已发起：{question}\n可投票：{scope} {eligible} 户\n"
        "通过规则：{rule}\n截止：{deadline}\n请在下面的投票中选择；可改选或撤回，每户以最新一次选择为准。"
        "可投票的住户以现在已登记的为准：还没登记房号、但家在名单上的请先"
        '<a href="{link}">私聊我</a>发送 /room 3-2-501；不在名单上的住户可请网格员代录（/vote proxy）。',
        "en": "🗳 <b>Vote {id}</b> started: {question}\nEligible: {scope}, {eligible} households\n"
        "Rule: {rule}\nCloses: {deadline}\nChoose in the poll below; you may change or retract "
        "your answer, and each household's latest counts. The households are those registered "
        "now: if yours is on the list but you have not told me your room, "
        '<a href="{link}">send me /room 3-2-501 in private</a>; a household not on the list can '
        "ask an officer to record its answer (/vote proxy).",
    },
    "votes.list_none_private": {
        "zh": "没有找到您能查看的议事：登记房号（/room 3-2-501）后即可查看本网格的议事。",
        "en": "There are no votes for you to see: give your room (/room 3-2-501) to see your "
        "grid's votes.",
    },
    "votes.list_empty": {"zh": "还没有议事。", "en": "No votes yet."},
    "votes.list_head": {"zh": "🗳 <b>议事</b>（最近的在前）", "en": "🗳 <b>Votes</b> (newest first)"},
    "votes.list_line": {"zh": "{id}. {question} · {state}", "en": "{id}. {question} · {state}"},
    "votes.list_open": {"zh": "进行中，{deadline} 截止", "en": "open until {deadline}"},
    "votes.list_passed": {"zh": "已结束 ✅ 通过", "en": "closed ✅ passed"},
    "votes.list_failed": {"zh": "已结束 ❌ 未通过", "en": "closed ❌ not passed"},
    "votes.need_number": {
        "zh": "请写出议事编号，例如 {usage}（编号见 /vote list）。",
        "en": "Please give the vote's number, e.g. {usage} (see /vote list).",
    },
    "votes.example_show": {"zh": "<code>/vote show 3</code>", "en": "<code>/vote show 3</code>"},
    "votes.example_close": {"zh": "<code>/vote close 3</code>", "en": "<code>/vote close 3</code>"},
    "votes.example_proxy": {
        "zh": "<code>/vote proxy 3 3-2-502 同意 电话确认</code>",
        "en": "<code>/vote proxy 3 3-2-502 同意 by phone</code>",
    },
    "votes.not_found": {
        "zh": "没有找到议事 {id}（或不属于本网格）。",
        "en": "There is no vote {id} here (or it belongs to another grid).",
    },
    "votes.show_title": {
        "zh": "🗳 <b>议事 {id}</b>（进行中）：{question}",
        "en": "🗳 <b>Vote {id}</b> (open): {question}",
    },
    "votes.show_open": {
        "zh": "通过规则：{rule}\n截止：{deadline}",
        "en": "Rule: {rule}\nCloses: {deadline}",
    },
    "votes.show_closed": {"zh": "已于 {at} 结束", "en": "Closed {at}"},
    "votes.closed": {
        "zh": "✅ 议事 {id} 已结束，结果即将发到群里。",
        "en": "✅ Vote {id} is closed; the result goes to the group.",
    },
    "votes.already_closed": {
        "zh": "议事 {id} 已于 {at} 结束，结果已发到群里。",
        "en": "Vote {id} closed {at}; its result is in the group.",
    },
    "votes.proxy_private": {
        "zh": "代录会写明某户的选择，请私聊机器人办理：<code>/vote proxy 编号 3-2-502 同意 电话确认</code>。",
        "en": "A proxy names a household's answer: send it to me in private, "
        "<code>/vote proxy N 3-2-502 同意 by phone</code>.",
    },
    "votes.error_until_soon": {
        "zh": "截止时间至少要在 {minutes} 分钟以后，好让住户有时间投票。",
        "en": "The deadline must be at least {minutes} minutes away, so that households have "
        "time to answer.",
    },
    "votes.proxy_usage": {
        "zh": "请写出住户和选择，例如 <code>/vote proxy {id} 3-2-502 同意 电话确认</code>"
        "（可选：{options}，或写序号；撤回 = 撤销代录）。",
        "en": "Write the household and the answer, e.g. <code>/vote proxy {id} 3-2-502 同意 by "
        "phone</code> (options: {options}, or their numbers; 撤回 withdraws it).",
    },
    "votes.proxy_bad_option": {
        "zh": "没看懂选项“{word}”：可写 {options}，或选项序号，或 撤回。",
        "en": "“{word}” is no option: write {options}, an option's number, or 撤回.",
    },
    "votes.proxy_not_eligible": {
        "zh": "{label} 不在议事 {id} 的可投票住户中（范围以发起时登记的住户为准）。",
        "en": "{label} is not among the households of vote {id} (those listed when it started).",
    },
    "votes.proxy_recorded": {
        "zh": "✅ 已为 {label} 代录“{option}”（议事 {id}，标记为代录）。",
        "en": "✅ Recorded “{option}” for {label} (vote {id}, marked as a proxy).",
    },
    "votes.proxy_withdrawn": {
        "zh": "✅ 已撤销为 {label} 代录的选择（议事 {id}）。",
        "en": "✅ The answer recorded for {label} is withdrawn (vote {id}).",
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

    def duration(self, delta: timedelta) -> str:
        """An age or delay as people say it: ``2天3小时``, ``45分钟``."""
        minutes = max(0, int(delta.total_seconds() // 60))
        days, rest = divmod(minutes, 1440)
        if days:
            return self("duration.days_hours", days=days, hours=rest // 60)
        if minutes >= 60:
            return self("duration.hours_minutes", hours=minutes // 60, minutes=minutes % 60)
        return self("duration.minutes", minutes=minutes)

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
