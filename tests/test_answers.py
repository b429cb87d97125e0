"""Ready answers (模板): the words of a template, rendering, the automatic pick, the shipped
defaults, the categories file's ``[answers]``, and their storage on both engines."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import answers, tickets
from bot.categories import DEFAULT_CATEGORIES, AnswerEntry, CategoryCatalog, CategoryError
from bot.texts import Texts
from storage import AnswerTemplate, NewTicket, Storage, TemplateSpec, Ticket
from storage.db import AsyncConn
from storage.outbox import OutboxDraft

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")
ZH = Texts("zh")
CATALOG = CategoryCatalog.default()


# -- the words of a template ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("您好，工单 {工单号}（{类别}）已办结。— {网格员}", []),
        ("{位置} {办结时限}", []),
        ("{{工单号}} 是字面的花括号", []),
        ("请联系 {电话} 或 {地址}，{电话}", ["电话", "地址"]),
        ("{工单号:>5}", ["工单号:>5"]),
        ("{工单号!r}", ["工单号!r"]),
        ("{}", [""]),
        ("少了一半 {工单号", ["{"]),
        ("多了一半 }", ["}"]),
    ],
)
def test_validate_names_each_unknown_variable_once(text: str, unknown: list[str]) -> None:
    assert answers.validate(text) == unknown


def test_check_refuses_naming_the_variable_and_the_allowed_ones() -> None:
    with pytest.raises(answers.AnswerError) as refused:
        answers.check("工单 {工单号} 请拨打 {电话}")
    message = str(refused.value)
    assert "{电话}" in message and "\n" not in message
    assert all("{" + v + "}" in message for v in answers.VARIABLES)
    assert answers.check("  {工单号}  ") == "{工单号}"
    with pytest.raises(answers.AnswerError, match="empty"):
        answers.check("   ")
    with pytest.raises(answers.AnswerError, match="longer"):
        answers.check("字" * 1001)


def test_action_words() -> None:
    assert [answers.action_of(w) for w in ("受理", "进展", "办结", "退回", "DONE", "接单")] == [
        "open",
        "progress",
        "done",
        "reject",
        "done",
        "open",
    ]
    assert answers.action_of("完成了") is None


def ticket(**changes: object) -> Ticket:
    values: dict[str, object] = {
        "id": 12,
        "grid_id": 1,
        "chat_id": -100,
        "message_id": 10,
        "thread_id": None,
        "media_group_id": None,
        "source": "chat",
        "category": "repair",
        "labels": (),
        "text": "#报修 3号楼2单元楼道灯不亮",
        "body": "3号楼2单元楼道灯不亮",
        "estate": None,
        "building": "3",
        "unit": "2",
        "room": None,
        "reporter_id": 7,
        "reporter_name": "王阿姨",
        "status": "new",
        "created_at": NOW,
        "updated_at": NOW,
        "response_due": NOW + timedelta(hours=2),
        "resolution_due": datetime(2026, 12, 3, 10, 0, tzinfo=UTC),
        "receipt_message_id": None,
    }
    values.update(changes)
    return Ticket(**values)  # type: ignore[arg-type]


def test_render_fills_every_variable() -> None:
    text = "{类别} 工单 {工单号} · {位置} · 办结时限 {办结时限} — {网格员} {{原样}}"
    shown = answers.render(text, ticket(), CATALOG, TZ, "刘网格员", ZH)
    assert shown == "报修 工单 12 · 3号楼 2单元 · 办结时限 12月3日 18:00 — 刘网格员 {原样}"


def test_render_without_place_or_officer_uses_the_catalogue_words() -> None:
    shown = answers.render(
        "{位置}的问题 — {网格员}", ticket(building=None, unit=None), CATALOG, TZ, " ", ZH
    )
    assert shown == f"{ZH('answers.no_place')}的问题 — {ZH('answers.officer_generic')}"


# -- the automatic pick ---------------------------------------------------------------------------


def template(
    id_: int, category: str, action: str = "open", keywords: tuple[str, ...] = ()
) -> AnswerTemplate:
    return AnswerTemplate(
        id=id_,
        category=category,
        action=action,
        text=f"模板 {id_}",
        keywords=keywords,
        source="file",
        file_key=None,
        created_by=None,
        created_at=NOW,
    )


def test_pick_auto_takes_the_most_matched_characters() -> None:
    hours = template(1, "consult", keywords=("办公时间", "几点"))
    papers = template(2, "consult", keywords=("证明", "开证明", "需要什么材料"))
    chosen = answers.pick_auto([hours, papers], "consult", "#咨询 请问开证明需要什么材料？几点")
    assert chosen is papers
    assert answers.pick_auto([hours, papers], "consult", "#咨询 社区办公时间是几点") is hours
    assert answers.pick_auto([hours, papers], "consult", "#咨询 低保怎么申请") is None


def test_pick_auto_only_open_templates_of_the_category_or_every() -> None:
    other = template(1, "repair", keywords=("证明",))
    progress = template(2, "consult", action="progress", keywords=("证明",))
    none = template(3, "consult")
    every = template(4, "", keywords=("证明",))
    own = template(5, "consult", keywords=("证明",))
    assert answers.pick_auto([other, progress, none], "consult", "开证明") is None
    assert answers.pick_auto([other, every], "consult", "开证明") is every
    assert answers.pick_auto([every, own], "consult", "开证明") is own  # a tie: its own first


def test_the_automatic_message_says_it_is_automatic_and_replies_to_the_report() -> None:
    chosen = replace(
        template(9, "consult"), text="关于{类别}：网格员会确认后答复（工单 {工单号}）<b>"
    )
    message = answers.auto_message(chosen, ticket(category="consult"), CATALOG, TZ, ["刘"], ZH)
    assert message.text.startswith("【自动回复】")
    assert "工单 12 仍由网格员跟进" in message.text
    assert "咨询" in message.text and "&lt;b&gt;" in message.text  # escaped: HTML goes out
    assert message.payload["reply_to"] == 10 and message.chat_id == -100
    assert message.dedupe_key == "answer:auto:12"
    english = answers.auto_message(chosen, ticket(), CATALOG, TZ, [], Texts("en"))
    assert "automatic" in english.text


# -- the shipped defaults -------------------------------------------------------------------------


def test_defaults_cover_every_default_category_and_action() -> None:
    specs = answers.defaults(CATALOG)
    assert len({s.file_key for s in specs}) == len(specs)
    for category in DEFAULT_CATEGORIES:
        for action in ("progress", "done", "reject"):
            own = [s for s in specs if s.category == category.key and s.action == action]
            assert own, (category.key, action)
    assert [s for s in specs if s.category == "" and s.action == "open"]
    automatic = [s for s in specs if s.action == "open" and s.keywords]
    assert {s.category for s in automatic} == {"consult"} and len(automatic) >= 5
    words = {w for s in automatic for w in s.keywords}
    assert {"开证明", "办公时间", "医保", "社保", "居住证"} <= words
    assert any("材料" in w for w in words)


def test_defaults_are_valid_and_invent_no_local_facts() -> None:
    for spec in answers.defaults(CATALOG):
        assert answers.check(spec.text) == spec.text
        assert answers.render(spec.text, ticket(), CATALOG, TZ, "刘", ZH)
        # no phone numbers, hours, addresses: no digits of their own at all
        assert not re.search(r"\d", spec.text), spec.text
        assert not re.search(r"[点时]\s*[-到至]|路\d|号楼", spec.text), spec.text
        assert all(len(w) <= 20 for w in spec.keywords)


def test_defaults_follow_the_catalogue() -> None:
    catalog = CategoryCatalog.from_mapping(
        {
            "replace_defaults": True,
            "categories": {"lift": {"tag": "电梯", "response": "15m", "resolution": "4h"}},
        }
    )
    specs = answers.defaults(catalog)
    assert specs and {s.category for s in specs} == {""}  # only the every-category ones


# -- the categories file's [answers] --------------------------------------------------------------


def load(tmp_path: Path, toml: str) -> CategoryCatalog:
    file = tmp_path / "c.toml"
    file.write_text(toml, encoding="utf-8")
    return CategoryCatalog.load(file)


def test_the_file_adds_templates_synced_with_the_defaults(tmp_path: Path) -> None:
    catalog = load(
        tmp_path,
        "[answers]\n"
        "[[answers.templates]]\n"
        'category = "repair"\naction = "办结"\n'
        'text = "您好，{位置}的{类别}问题已处理（工单 {工单号}）。— {网格员}"\n'
        "[[answers.templates]]\n"
        'category = "*"\naction = "open"\ntext = "已收到"\nkeywords = ["急", " 快 ", "急"]\n',
    )
    assert catalog.answers == (
        AnswerEntry(
            "repair", "done", "您好，{位置}的{类别}问题已处理（工单 {工单号}）。— {网格员}"
        ),
        AnswerEntry("", "open", "已收到", ("急", "快")),
    )
    specs = answers.file_templates(catalog)
    assert specs[: len(answers.defaults(catalog))] == answers.defaults(catalog)
    keys = [s.file_key for s in specs[-2:]]
    assert keys == [f"file|{e.key}" for e in catalog.answers] and len(set(keys)) == 2
    assert all(k.startswith("file|text:") for k in keys)  # by content, not by position
    replaced = load(
        tmp_path,
        '[answers]\nreplace_defaults = true\n[[answers.templates]]\ncategory = "water"\n'
        'action = "progress"\ntext = "在修"\nkey = "water-1"\n',
    )
    assert [s.file_key for s in answers.file_templates(replaced)] == ["file|key:water-1"]
    assert CategoryCatalog.default().answers == ()


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[[answers.templates]]\ncategory = "repair"\naction = "done"\ntext = "打 {电话}"\n',
            r"\[\[answers.templates\]\] #1: text: unknown variable\(s\) \{电话\}; allowed",
        ),
        (
            '[[answers.templates]]\ncategory = "repair"\naction = "done"\ntext = "好"\n'
            '[[answers.templates]]\ncategory = "lift"\naction = "done"\ntext = "好"\n',
            r"#2: category must be one of \*, repair.* not 'lift'",
        ),
        (
            '[[answers.templates]]\ncategory = "repair"\naction = "finish"\ntext = "好"\n',
            r"#1: action must be one of open, progress, done, reject, not 'finish'",
        ),
        (
            '[[answers.templates]]\ncategory = "repair"\naction = "done"\n',
            r"#1: text is required",
        ),
        (
            '[[answers.templates]]\ncategory = "repair"\naction = "done"\ntext = "好"\n'
            'keywords = ["灯"]\n',
            r"#1: keywords are for action = \"open\" only",
        ),
        (
            '[[answers.templates]]\ncategory = "repair"\naction = "open"\ntext = "好"\n'
            "keywords = [1]\n",
            r"#1: keywords must be a list of words",
        ),
        (
            '[[answers.templates]]\ncategory = "repair"\naction = "done"\ntext = "好"\nwho = 1\n',
            r"#1: unknown field\(s\) who",
        ),
        ("[answers]\nreplace_defaults = 1\n", r"\[answers\] replace_defaults must be true"),
        ("[answers]\ntemplate = 1\n", r"\[answers\]: unknown field\(s\) template"),
        ("[answers]\ntemplates = 1\n", r"\[\[answers.templates\]\] must be an array"),
    ],
)
def test_the_file_errors_name_the_entry_and_field_in_one_line(
    tmp_path: Path, toml: str, expected: str
) -> None:
    with pytest.raises(CategoryError, match=expected) as refused:
        load(tmp_path, toml)
    assert "\n" not in str(refused.value) and "c.toml" in str(refused.value)


# -- storage, both engines ------------------------------------------------------------------------


async def opened_ticket(storage: Storage, message_id: int = 10, grid: str = "一网格") -> Ticket:
    chat_id = -100 if grid == "一网格" else -200
    binding = await storage.grids.active_binding(chat_id)
    if binding is None:
        binding = await storage.grids.bind_grid(
            chat_id=chat_id,
            title="群",
            grid=grid,
            community="通顺社区",
            street="交通街道",
            by=1,
            now=NOW,
        )
    assert binding.grid_id is not None
    draft = NewTicket(
        grid_id=binding.grid_id,
        chat_id=chat_id,
        message_id=message_id,
        category="consult",
        text="#咨询 开证明需要什么材料",
        body="开证明需要什么材料",
        reporter_id=7,
        reporter_name="王阿姨",
        created_at=NOW,
        response_due=NOW + timedelta(hours=4),
        resolution_due=NOW + timedelta(days=2),
    )
    opened, _ = await storage.tickets.open(draft)
    return opened


async def test_sync_adds_changes_removes_and_keeps_what_people_deleted(storage: Storage) -> None:
    specs = [
        TemplateSpec("k|repair|done|1", "repair", "done", "修好了"),
        TemplateSpec("k|consult|open|1", "consult", "open", "见公告", ("办公时间",)),
        TemplateSpec("k|*|progress|1", "", "progress", "在办"),
    ]
    first = await storage.answers.sync_file(specs, NOW)
    assert (first.added, first.changed, first.removed) == (3, 0, 0)
    again = await storage.answers.sync_file(specs, NOW)
    assert (again.added, again.changed, again.removed) == (0, 0, 0)
    by_key = {t.file_key: t for t in await storage.answers.list()}
    assert by_key["k|consult|open|1"].keywords == ("办公时间",)
    assert by_key["k|*|progress|1"].category == ""
    # an admin removes one; the file drops another and changes the third
    assert await storage.answers.delete(by_key["k|repair|done|1"].id, NOW, by=5)
    assert not await storage.answers.delete(by_key["k|repair|done|1"].id, NOW, by=5)
    changed = [replace(specs[0], text="修好了！"), replace(specs[1], text="请看公告")]
    result = await storage.answers.sync_file(changed, NOW)
    assert (result.removed, result.changed) == (1, 2)
    in_force = {t.file_key: t.text for t in await storage.answers.list()}
    assert in_force == {"k|consult|open|1": "请看公告"}  # the admin's removal stays
    # the file brings the dropped one back: it is back under the same id
    back = await storage.answers.sync_file(specs, NOW)
    assert back.changed >= 1
    found = await storage.answers.get(by_key["k|*|progress|1"].id)
    assert found is not None and not found.deleted
    gone = await storage.answers.get(by_key["k|repair|done|1"].id)
    assert gone is not None and gone.deleted


async def test_top_orders_by_uses_and_includes_every_category(storage: Storage) -> None:
    ticket_ = await opened_ticket(storage)
    first = await storage.answers.add("consult", "done", "甲", (), 1, NOW)
    second = await storage.answers.add("consult", "done", "乙", (), 1, NOW)
    every = await storage.answers.add("", "done", "丙", (), 1, NOW)
    await storage.answers.add("repair", "done", "丁", (), 1, NOW)
    await storage.answers.add("consult", "progress", "戊", (), 1, NOW)
    for used in (every, every, second):
        await storage.answers.record_use(
            used,
            ticket_id=ticket_.id,
            grid_id=ticket_.grid_id,
            action="done",
            auto=False,
            by=2,
            now=NOW,
        )
    top = await storage.answers.top("consult", "done")
    assert [(t.id, t.uses) for t in top] == [(every, 2), (second, 1), (first, 0)]
    assert [t.id for t in await storage.answers.top("consult", "done", limit=1)] == [every]
    listed = await storage.answers.list("consult")
    assert {t.text for t in listed} == {"甲", "乙", "丙", "戊"}
    assert [t.text for t in await storage.answers.list(action="progress")] == ["戊"]
    await storage.answers.delete(every, NOW, by=1)
    assert [t.id for t in await storage.answers.top("consult", "done")] == [second, first]
    added = await storage.answers.get(first)
    assert added is not None and added.source == "chat" and added.created_by == 1


async def test_uses_count_the_period_and_the_grids(storage: Storage) -> None:
    one = await opened_ticket(storage, 10)
    two = await opened_ticket(storage, 11, grid="二网格")
    a = await storage.answers.add("consult", "done", "甲", (), 1, NOW)
    b = await storage.answers.add("", "progress", "乙", (), 1, NOW)
    for t, used, at in (
        (one, a, NOW),
        (one, a, NOW),
        (two, b, NOW),
        (one, b, NOW - timedelta(days=9)),
    ):
        await storage.answers.record_use(
            used, ticket_id=t.id, grid_id=t.grid_id, action="done", auto=False, by=None, now=at
        )
    week = (NOW - timedelta(days=7), NOW + timedelta(seconds=1))
    assert [(t.id, n) for t, n in await storage.answers.uses(*week)] == [(a, 2), (b, 1)]
    assert [(t.id, n) for t, n in await storage.answers.uses(*week, [two.grid_id])] == [(b, 1)]
    assert await storage.answers.uses(*week, []) == []
    await storage.answers.delete(a, NOW, by=1)  # used, then removed: its uses still count
    assert [t.id for t, _ in await storage.answers.uses(*week, limit=1)] == [a]


async def test_the_automatic_answer_is_queued_and_counted_once(storage: Storage) -> None:
    opened = await opened_ticket(storage)
    chosen = await storage.answers.add("consult", "open", "甲", ("证明",), None, NOW)
    message = OutboxDraft(
        chat_id=opened.chat_id,
        kind="answer",
        not_before=NOW,
        text="【自动回复】甲",
        ticket_id=opened.id,
        dedupe_key=answers.auto_key(opened.id),
    )
    kwargs = {"ticket_id": opened.id, "grid_id": opened.grid_id, "message": message, "now": NOW}
    assert await storage.answers.answer_automatically(chosen, **kwargs)  # type: ignore[arg-type]
    assert not await storage.answers.answer_automatically(chosen, **kwargs)  # type: ignore[arg-type]
    assert len(await storage.outbox.items("answer")) == 1
    assert [(t.id, n) for t, n in await storage.answers.uses(NOW, NOW + timedelta(1))] == [
        (chosen, 1)
    ]


async def test_a_draft_is_used_once_and_only_by_its_officer(storage: Storage) -> None:
    opened = await opened_ticket(storage)
    chosen = await storage.answers.add("consult", "done", "甲", (), None, NOW)
    kept = await storage.answers.draft(55, 900, 8, opened.id, "done", chosen, "甲", NOW)
    assert (kept.user_id, kept.ticket_id, kept.used_at) == (8, opened.id, None)
    redrawn = await storage.answers.draft(55, 900, 8, opened.id, "reject", None, "乙", NOW)
    assert (redrawn.id, redrawn.action, redrawn.template_id, redrawn.text) == (
        kept.id,
        "reject",
        None,
        "乙",
    )
    assert await storage.answers.claim_draft(55, 900, 9, NOW) is None  # not hers
    claimed = await storage.answers.claim_draft(55, 900, 8, NOW)
    assert claimed is not None and claimed.text == "乙" and claimed.used_at == NOW
    assert await storage.answers.claim_draft(55, 900, 8, NOW) is None  # once
    used = await storage.answers.find_draft(55, 900)
    assert used is not None and used.used_at == NOW
    after = await storage.answers.draft(55, 900, 8, opened.id, "done", chosen, "丙", NOW)
    assert after.text == "乙" and after.used_at is not None  # a used draft stays as it was
    assert await storage.answers.find_draft(55, 901) is None


async def test_the_book_reads_only_after_a_minute_or_a_change(storage: Storage) -> None:
    await answers.sync(storage, CATALOG, NOW)
    book = answers.book(storage)
    assert book is answers.book(storage)
    assert await book.candidates("repair", NOW) == ()
    found = await book.pick("consult", "请问社区办公时间", NOW)
    assert found is not None and "办公时间" in found.text
    added = await storage.answers.add("repair", "open", "修", ("灯",), None, NOW)
    assert await book.pick("repair", "灯坏了", NOW + timedelta(seconds=59)) is None  # memory
    picked = await book.pick("repair", "灯坏了", NOW + timedelta(minutes=1))
    assert picked is not None and picked.id == added
    await storage.answers.delete(added, NOW, by=1)
    book.forget()
    assert await book.pick("repair", "灯坏了", NOW + timedelta(minutes=1)) is None


# -- the shipped keywords: what they answer in public, and what they must leave alone --------------

# realistic questions the default automatic answers must NOT answer (each would be wrong, in public)
NOT_ANSWERED = (
    "#咨询 物业费在哪里缴费",
    "#咨询 小区停车费怎么缴费",
    "#咨询 水电费报销需要发票吗",
    "#咨询 快递柜几点开门",
    "#咨询 孩子上学需要准备什么",
    "#咨询 燃气费在哪里交",
    "#咨询 有线电视费怎么缴费",
    "#咨询 楼下超市几点开门",
    "#咨询 菜市场几点开门",
    "#咨询 小区游泳池几点开门",
    "#咨询 装修要带什么证件去物业登记",
    "#咨询 明天业主开会要带什么",
    "#咨询 去体检需要准备什么",
    "#咨询 搬家要准备什么手续",
    "#咨询 我上班时间楼下一直有人敲东西能管吗",
    "#咨询 取暖费什么时候交",
    "#咨询 宽带报装找谁",
    "#咨询 小区门禁卡怎么办",
    "#咨询 停车位怎么申请",
    "#咨询 养狗需要登记吗",
    "#咨询 疫苗接种点在哪",
    "#咨询 车票报销找谁",
    "#咨询 老年活动室几点开门",
    "#咨询 图书室开放时间",
    "#咨询 快递驿站几点下班",
    "#咨询 水费缴费单丢了怎么补",
    "#咨询 物业几点上班",
    "#咨询 业主大会什么时候开",
    "#咨询 小区里能不能装充电桩",
    "#咨询 发票怎么开",
    "#咨询 核酸证明还需要吗",
    "#咨询 证件照在哪里拍",
    "#咨询 电费怎么缴费比较方便",
    "#咨询 物业维修基金怎么报销",
    "#咨询 暖气什么时候来",
    "#咨询 药店几点开门",
    "#咨询 学校报名要准备什么",
    "#咨询 志愿活动要带什么东西",
    "#咨询 保险公司打电话让我参保是真的吗",
    "#咨询 居委会盖章在哪里",
)

# and those they must answer, with the right answer (its first words)
ANSWERED = (
    ("#咨询 开个证明需要去哪里", "关于开具证明"),
    ("#咨询 居住证明怎么开", "关于开具证明"),
    ("#咨询 无犯罪证明在哪开", "关于开具证明"),
    ("#咨询 办护照需要什么材料", "关于办事材料"),
    ("#咨询 申请低保需要哪些材料", "关于办事材料"),
    ("#咨询 居委会几点上班", "关于办公时间"),
    ("#咨询 社区办公时间是几点到几点", "关于办公时间"),
    ("#咨询 你们周末上班吗", "关于办公时间"),
    ("#咨询 医保卡丢了怎么补办", "关于医保社保"),
    ("#咨询 灵活就业怎么交社保", "关于医保社保"),
    ("#咨询 养老保险断缴了怎么办", "关于医保社保"),
    ("#咨询 居住证怎么办理", "关于居住证"),
    ("#咨询 暂住证过期了怎么续", "关于居住证"),
)


@pytest.mark.parametrize("report", NOT_ANSWERED)
def test_the_default_keywords_leave_other_questions_alone(report: str) -> None:
    chosen = answers.pick_auto(answers.defaults(CATALOG), "consult", report)
    assert chosen is None, (report, chosen.text[:8] if chosen else None)


@pytest.mark.parametrize(("report", "start"), ANSWERED)
def test_the_default_keywords_answer_what_they_are_for(report: str, start: str) -> None:
    chosen = answers.pick_auto(answers.defaults(CATALOG), "consult", report)
    assert chosen is not None and chosen.text.startswith(start), (report, chosen)


def test_enough_questions_are_checked() -> None:
    assert len(NOT_ANSWERED) >= 30 and len(ANSWERED) >= 10


# -- a brace without its partner ------------------------------------------------------------------


def test_a_lone_brace_is_named_as_such() -> None:
    assert answers.unbalanced_brace("已修好 {") == "{"
    assert answers.unbalanced_brace("已修好 }") == "}"
    assert answers.unbalanced_brace("{位置}} 好") == "}"
    assert answers.unbalanced_brace("{{字面}} {位置}") is None
    with pytest.raises(answers.AnswerError, match=r"unbalanced brace '\{'.*\{\{ or \}\}"):
        answers.check("已修好 {")


# -- the file's templates: keyed by content or by their own key, a tag for a category --------------


def test_the_file_takes_a_tag_and_a_key_and_refuses_a_template_twice(tmp_path: Path) -> None:
    catalog = load(
        tmp_path,
        '[[answers.templates]]\ncategory = "报修"\naction = "done"\ntext = "甲"\n'
        '[[answers.templates]]\ncategory = "#环境"\naction = "done"\ntext = "乙"\nkey = "env.1"\n',
    )
    assert [(e.category, e.name) for e in catalog.answers] == [
        ("repair", None),
        ("sanitation", "env.1"),
    ]
    assert catalog.answers[1].key == "key:env.1"
    same = '[[answers.templates]]\ncategory = "repair"\naction = "done"\ntext = "甲"\n'
    with pytest.raises(CategoryError, match=r"#2: the same template is #1"):
        load(tmp_path, same + same.replace('"repair"', '"报修"'))
    keyed = '[[answers.templates]]\ncategory = "repair"\naction = "done"\ntext = "{t}"\nkey = "k"\n'
    with pytest.raises(CategoryError, match=r"#2: key 'k' is #1"):
        load(tmp_path, keyed.format(t="甲") + keyed.format(t="乙"))
    with pytest.raises(CategoryError, match=r"#1: key must be a word"):
        load(tmp_path, keyed.format(t="甲").replace('key = "k"', 'key = "a b"'))


async def test_file_templates_keep_their_identity_when_the_file_changes(
    storage: Storage, tmp_path: Path
) -> None:
    opened = await opened_ticket(storage)

    async def synced(*entries: str) -> dict[str, AnswerTemplate]:
        catalog = load(tmp_path, "[answers]\nreplace_defaults = true\n" + "".join(entries))
        await storage.answers.sync_file(answers.file_templates(catalog), NOW)
        return {t.text: t for t in await storage.answers.list() if t.source == "file"}

    def entry(text: str, key: str = "") -> str:
        named = f'key = "{key}"\n' if key else ""
        return (
            f'[[answers.templates]]\ncategory = "repair"\naction = "done"\ntext = "{text}"\n{named}'
        )

    first = await synced(entry("A 已修好"), entry("B 已处理完毕"), entry("C 已换新", "c"))
    ids = {text: t.id for text, t in first.items()}
    await storage.answers.record_use(
        ids["B 已处理完毕"],
        ticket_id=opened.id,
        grid_id=opened.grid_id,
        action="done",
        auto=False,
        by=2,
        now=NOW,
    )
    # reordered: the same templates, the same ids, the use count where it was
    moved = await synced(entry("C 已换新", "c"), entry("B 已处理完毕"), entry("A 已修好"))
    assert {text: t.id for text, t in moved.items()} == ids
    assert moved["B 已处理完毕"].uses == 1 and moved["A 已修好"].uses == 0
    # an admin deletes A, then drops it from the file: B keeps its place and id
    assert await storage.answers.delete(ids["A 已修好"], NOW, by=1)
    after = await synced(entry("B 已处理完毕"), entry("C 已换新", "c"))
    assert {text: t.id for text, t in after.items()} == {
        "B 已处理完毕": ids["B 已处理完毕"],
        "C 已换新": ids["C 已换新"],
    }
    # A back in the file: the admin's deletion sticks to it
    again = await synced(entry("A 已修好"), entry("B 已处理完毕"), entry("C 已换新", "c"))
    assert "A 已修好" not in again
    # a named template's words change: the same template (id, uses)
    edited = await synced(entry("B 已处理完毕"), entry("C 已换了新的", "c"))
    assert edited["C 已换了新的"].id == ids["C 已换新"]


# -- a 💬 send: the draft used in the ticket's move, once, or not at all ------------------------


async def test_sending_uses_the_draft_inside_the_move_once_or_not_at_all(storage: Storage) -> None:
    opened = await opened_ticket(storage)
    chosen = await storage.answers.add("consult", "progress", "甲", (), None, NOW)
    kept = await storage.answers.draft(
        55, 900, 8, opened.id, "progress", chosen, "甲", NOW, kind="preview"
    )
    assert kept.kind == "preview"
    officer = tickets.Actor(8, "刘")
    events = len(await storage.tickets.events(opened.id))
    send = storage.answers.sending(kept, by=8, now=NOW)

    async def crash(conn: AsyncConn, moved: Ticket) -> bool:
        assert await send(conn, moved)  # used, the use recorded… then the process dies
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        await tickets.act(storage, tickets.Action.PROGRESS, opened, officer, NOW, "甲", then=crash)
    assert (await storage.tickets.get(opened.id)).status == "new"  # type: ignore[union-attr]
    assert len(await storage.tickets.events(opened.id)) == events
    found = await storage.answers.find_draft(55, 900)
    assert found is not None and found.used_at is None  # still there to send
    assert await storage.answers.uses(NOW, NOW + timedelta(1)) == []
    # another's hook does not use it, and moves nothing
    other = storage.answers.sending(kept, by=9, now=NOW)
    refused = await tickets.act(
        storage, tickets.Action.PROGRESS, opened, tickets.Actor(9, "某"), NOW, "甲", then=other
    )
    assert not refused.moved and refused.ticket.status == "new"
    # the send: the move, the draft used, the use counted — together
    sent = await tickets.act(
        storage, tickets.Action.PROGRESS, opened, officer, NOW, "甲", then=send
    )
    assert sent.moved and sent.ticket.status == "accepted"
    assert [(t.id, n) for t, n in await storage.answers.uses(NOW, NOW + timedelta(1))] == [
        (chosen, 1)
    ]
    # a double press or a replay: the draft is used, so the second move is undone
    again = await tickets.act(
        storage, tickets.Action.PROGRESS, sent.ticket, officer, NOW, "甲", then=send
    )
    assert not again.moved
    assert len(await storage.tickets.events(opened.id)) == events + 1
    assert [n for _, n in await storage.answers.uses(NOW, NOW + timedelta(1))] == [1]


async def test_a_draft_changed_or_forgotten_since_it_was_read_is_not_sent(
    storage: Storage,
) -> None:
    """A 发送 racing a re-pick (or 返回) on the same message: the hook was built from the
    draft as read; the move finds other words (or none) there and is undone, nothing used."""
    opened = await opened_ticket(storage)
    first = await storage.answers.add("consult", "done", "甲", (), None, NOW)
    second = await storage.answers.add("consult", "progress", "乙", (), None, NOW)
    read = await storage.answers.draft(
        55, 900, 8, opened.id, "done", first, "甲", NOW, kind="preview"
    )
    # another device picks another template on the same message: same row, other words
    now_there = await storage.answers.draft(
        55, 900, 8, opened.id, "progress", second, "乙", NOW, kind="preview"
    )
    assert now_there.id == read.id
    officer = tickets.Actor(8, "刘")
    stale = storage.answers.sending(read, by=8, now=NOW)
    refused = await tickets.act(
        storage, tickets.Action.DONE, opened, officer, NOW, "甲", then=stale
    )
    assert not refused.moved and refused.ticket.status == "new"
    kept = await storage.answers.find_draft(55, 900)
    assert kept == now_there and kept.used_at is None  # still there, with its own words
    assert await storage.answers.uses(NOW, NOW + timedelta(1)) == []
    # the same words again but from another template: still not the draft as read
    same_words = await storage.answers.draft(
        55, 900, 8, opened.id, "done", second, "甲", NOW, kind="preview"
    )
    refused = await tickets.act(
        storage, tickets.Action.DONE, opened, officer, NOW, "甲", then=stale
    )
    assert not refused.moved
    # the draft as it is now sends
    sent = await tickets.act(
        storage,
        tickets.Action.DONE,
        opened,
        officer,
        NOW,
        "甲",
        then=storage.answers.sending(same_words, by=8, now=NOW),
    )
    assert sent.moved
    assert [(t.id, n) for t, n in await storage.answers.uses(NOW, NOW + timedelta(1))] == [
        (second, 1)
    ]
    # forgotten (返回) after it was read: undone too
    other = await opened_ticket(storage, message_id=11)
    gone = await storage.answers.draft(
        55, 901, 8, other.id, "done", first, "甲", NOW, kind="preview"
    )
    assert await storage.answers.void_draft(55, 901, 8)
    refused = await tickets.act(
        storage,
        tickets.Action.DONE,
        other,
        officer,
        NOW,
        "甲",
        then=storage.answers.sending(gone, by=8, now=NOW),
    )
    assert not refused.moved and refused.ticket.status == "new"


async def test_back_forgets_a_draft_and_old_drafts_are_pruned(storage: Storage) -> None:
    opened = await opened_ticket(storage)
    await storage.answers.draft(55, 900, 8, opened.id, "done", None, "甲", NOW, kind="preview")
    assert not await storage.answers.void_draft(55, 900, 9)  # not hers
    assert await storage.answers.void_draft(55, 900, 8)
    assert await storage.answers.find_draft(55, 900) is None
    old = NOW - timedelta(days=8)
    await storage.answers.draft(55, 901, 8, opened.id, "done", None, "乙", old)
    await storage.answers.draft(55, 902, 8, opened.id, "done", None, "丙", NOW)
    await storage.answers.draft(55, 903, 8, opened.id, "done", None, "丁", NOW)
    await storage.answers.claim_draft(55, 903, 8, NOW - timedelta(days=3))
    gone = await storage.answers.forget_drafts(
        made_before=NOW - timedelta(days=7), used_before=NOW - timedelta(days=2)
    )
    assert gone == 2
    assert [await storage.answers.find_draft(55, n) is not None for n in (901, 902, 903)] == [
        False,
        True,
        False,
    ]
