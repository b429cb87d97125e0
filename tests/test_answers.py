"""Ready answers (模板): the words of a template, rendering, the automatic pick, the shipped
defaults, the categories file's ``[answers]``, and their storage on both engines."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import answers
from bot.categories import DEFAULT_CATEGORIES, AnswerEntry, CategoryCatalog, CategoryError
from bot.texts import Texts
from storage import AnswerTemplate, NewTicket, Storage, TemplateSpec, Ticket
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
    assert [s.file_key for s in specs[-2:]] == ["file|repair|done|1", "file|*|open|1"]
    replaced = load(
        tmp_path,
        '[answers]\nreplace_defaults = true\n[[answers.templates]]\ncategory = "water"\n'
        'action = "progress"\ntext = "在修"\n',
    )
    assert [s.file_key for s in answers.file_templates(replaced)] == ["file|water|progress|1"]
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
