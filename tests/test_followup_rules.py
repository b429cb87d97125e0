"""What residents add to a ticket (bot.followup), on a real Storage and no Telegram at all:
the 回访 rating and what 不满意 sets going, the reporter's "why", "+1", photos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import followup, tickets
from bot.categories import CategoryCatalog
from bot.texts import Texts
from bot.tickets import Action, Actor, EventKind, Satisfaction, Status, Ticket
from storage import GridInfo, MediaItem, Storage
from tests.test_storage import bind, draft

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
CHAT = -100
REPORTER = Actor(7, "王阿姨")
NEIGHBOUR = Actor(8, "李大爷")
OFFICER = Actor(5, "刘网格员")
TEXTS = Texts("zh")


class NamedOfficers:
    """The officers a grid names in storage: what ``bot.roles.RoleBook.officers_of`` adds to a
    group's admins, which only Telegram knows (handler tests cover those)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.asked = 0

    async def officers_of(self, grid: GridInfo) -> list[tuple[int, str]]:
        self.asked += 1
        return await self.storage.officers.of_grid(grid.id)


async def opened(storage: Storage) -> Ticket:
    await bind(storage, CHAT)
    ticket, _ = await storage.tickets.open(draft(10))
    return ticket


async def resolved(storage: Storage, *, taken_by: Actor | None = OFFICER) -> Ticket:
    ticket = await opened(storage)
    if taken_by is not None:
        ticket = (await tickets.act(storage, Action.TAKE, ticket, taken_by, NOW)).ticket
    outcome = await tickets.act(storage, Action.DONE, ticket, OFFICER, NOW, "换了灯泡")
    assert outcome.moved
    return outcome.ticket


async def test_unsatisfied_reopens_and_tells_the_holder_first_then_the_named_officers(
    storage: Storage,
) -> None:
    ticket = await resolved(storage)
    await storage.officers.name(ticket.grid_id, 9, "志愿者老周", by=1, now=NOW)
    await storage.officers.name(ticket.grid_id, OFFICER.user_id or 0, OFFICER.name, by=1, now=NOW)
    book = NamedOfficers(storage)
    later = NOW + timedelta(hours=2)

    after = await followup.rate(
        storage, ticket, REPORTER, Satisfaction.UNSATISFIED, later, texts=TEXTS, officers=book
    )

    assert after is not None
    assert (after.status, after.satisfaction, after.reopen_count) == (
        Status.ACCEPTED,
        Satisfaction.UNSATISFIED,
        1,
    )
    assert (after.resolved_at, after.followup_due, after.rated_at) == (None, None, later)
    queued = await storage.outbox.due(later)
    assert [(m.kind, m.dedupe_key) for m in queued] == [
        ("notice", f"unsatisfied:{ticket.id}:1"),
        (followup.FEEDBACK_INVITE, f"feedback_invite:{ticket.id}:1"),
    ]
    notice, invite = queued
    # the holder is mentioned once, before the other officers
    assert notice.text.count("tg://user?id=5") == 1
    assert notice.text.index("id=5") < notice.text.index("id=9")
    assert "已重办（第 1 次）" in notice.text
    assert invite.payload == {"reply_to": ticket.message_id, "thread_id": None}
    rated = [e for e in await storage.tickets.events(ticket.id) if e.kind == EventKind.RATED]
    assert [(e.note, e.from_status, e.to_status) for e in rated] == [
        ("unsatisfied", "resolved", "accepted")
    ]


async def test_a_rating_counts_once(storage: Storage) -> None:
    ticket = await resolved(storage)
    book = NamedOfficers(storage)
    first = await followup.rate(
        storage, ticket, REPORTER, Satisfaction.UNSATISFIED, NOW, texts=TEXTS, officers=book
    )
    assert first is not None
    again = await followup.rate(
        storage, ticket, REPORTER, Satisfaction.UNSATISFIED, NOW, texts=TEXTS, officers=book
    )
    assert again is None  # the press came twice: nothing moves, nothing more is queued
    assert len(await storage.outbox.due(NOW)) == 2
    fresh = await storage.tickets.get(ticket.id)
    assert fresh is not None and fresh.reopen_count == 1


@pytest.mark.parametrize("rating", [Satisfaction.SATISFIED, Satisfaction.BASIC])
async def test_satisfied_closes_and_tells_nobody(storage: Storage, rating: Satisfaction) -> None:
    ticket = await resolved(storage)
    book = NamedOfficers(storage)
    after = await followup.rate(storage, ticket, REPORTER, rating, NOW, texts=TEXTS, officers=book)
    assert after is not None
    assert (after.status, after.satisfaction, after.closed_at) == (Status.CLOSED, rating, NOW)
    assert await storage.outbox.due(NOW) == []
    assert book.asked == 0  # the officers are looked up only when someone must be told


async def test_only_a_resolved_ticket_is_rated(storage: Storage) -> None:
    ticket = await opened(storage)
    book = NamedOfficers(storage)
    for rating in Satisfaction:
        assert (
            await followup.rate(storage, ticket, REPORTER, rating, NOW, texts=TEXTS, officers=book)
            is None
        )
    assert await storage.outbox.due(NOW) == []


def test_unsatisfied_messages_without_anyone_holding_the_ticket() -> None:
    ticket_row = _ticket(assignee=None, reopen_count=2)
    drafts = followup.unsatisfied_messages(ticket_row, [(5, "刘"), (5, "刘")], TEXTS, NOW)
    assert [d.dedupe_key for d in drafts] == ["unsatisfied:3:3", "feedback_invite:3:3"]
    assert drafts[0].text.count("tg://user?id=5") == 1


async def test_the_reporters_why_is_recorded_only_as_a_reply_to_her_invitation(
    storage: Storage,
) -> None:
    ticket = await resolved(storage)
    await followup.rate(
        storage,
        ticket,
        REPORTER,
        Satisfaction.UNSATISFIED,
        NOW,
        texts=TEXTS,
        officers=NamedOfficers(storage),
    )
    notice, invite = await storage.outbox.due(NOW)
    await storage.outbox.mark_sent([notice.id], 500, NOW)
    await storage.outbox.mark_sent([invite.id], 501, NOW)
    why = "灯还是一闪一闪的" * 200

    assert await followup.record_feedback(storage, CHAT, 500, REPORTER, why, NOW) is None
    assert await followup.record_feedback(storage, CHAT, 501, NEIGHBOUR, why, NOW) is None
    assert await followup.record_feedback(storage, CHAT, 999, REPORTER, why, NOW) is None
    recorded = await followup.record_feedback(storage, CHAT, 501, REPORTER, why, NOW)

    assert recorded is not None and recorded.id == ticket.id
    notes = [e.note for e in await storage.tickets.events(ticket.id) if e.kind == "feedback"]
    assert notes == [why[: followup.FEEDBACK_LIMIT]]


async def test_me_too_joins_once_and_not_the_reporter(storage: Storage) -> None:
    ticket = await opened(storage)
    await storage.tickets.set_receipt(ticket.id, 11)

    first = await followup.join(storage, CHAT, ticket.message_id, NEIGHBOUR, NOW)
    again = await followup.join(storage, CHAT, 11, NEIGHBOUR, NOW)  # on the receipt this time
    herself = await followup.join(storage, CHAT, ticket.message_id, REPORTER, NOW)
    nothing = await followup.join(storage, CHAT, 12, NEIGHBOUR, NOW)
    no_reply = await followup.join(storage, CHAT, None, NEIGHBOUR, NOW)

    assert (first.ticket and first.ticket.id, first.added) == (ticket.id, True)
    assert (again.ticket and again.ticket.id, again.added) == (ticket.id, False)
    assert (herself.ticket and herself.ticket.id, herself.added) == (ticket.id, False)
    assert nothing.ticket is None and no_reply.ticket is None
    assert await storage.tickets.co_reporters(ticket.id) == [(8, "李大爷")]
    assert await storage.tickets.is_reporter(ticket.id, 8)


async def test_a_photo_is_attached_for_a_reporter_only(storage: Storage) -> None:
    ticket = await opened(storage)
    catalog = CategoryCatalog.default()
    await followup.join(storage, CHAT, ticket.message_id, NEIGHBOUR, NOW)

    def photo(message_id: int) -> MediaItem:
        return MediaItem(message_id, "photo", f"file{message_id}", f"unique{message_id}")

    async def attach(by: Actor, message_id: int, caption: str = "") -> Ticket | None:
        return await followup.attach_photo(
            storage, catalog, CHAT, ticket.message_id, caption, by, photo(message_id), NOW
        )

    assert await attach(REPORTER, 20) is not None
    assert await attach(REPORTER, 20) is None  # the same message again adds nothing
    assert await attach(NEIGHBOUR, 21) is not None  # a co-reporter is a reporter
    assert await attach(Actor(99, "路人"), 22) is None
    assert await attach(Actor(None, "群（匿名管理员）"), 23) is None
    assert await attach(REPORTER, 24, "#报修 5号楼也坏了") is None  # a new report: intake's
    assert [m.message_id for m in await storage.tickets.media(ticket.id)] == [20, 21]


def _ticket(*, assignee: int | None, reopen_count: int) -> Ticket:
    return Ticket(
        id=3, grid_id=1, chat_id=CHAT, message_id=10, thread_id=None, media_group_id=None,
        source="chat", category="repair", labels=(), text="#报修 灯", body="灯", estate=None,
        building=None, unit=None, room=None, reporter_id=7, reporter_name="王阿姨",
        status=Status.RESOLVED, created_at=NOW, updated_at=NOW, response_due=NOW,
        resolution_due=NOW, receipt_message_id=None, assignee_id=assignee,
        reopen_count=reopen_count,
    )  # fmt: skip


@pytest.mark.parametrize("text", ["+1", "＋1", " 同样！", "我也是", "我家也是。", "俺也一样~"])
def test_me_too_words(text: str) -> None:
    assert followup.ME_TOO.match(text)


@pytest.mark.parametrize("text", ["+1 楼上也漏水", "同样的问题在5号楼", "一样吗？", "+12"])
def test_a_longer_reply_is_not_a_me_too(text: str) -> None:
    assert not followup.ME_TOO.match(text)
