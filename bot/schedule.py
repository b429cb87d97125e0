"""The tick: a JobQueue job that asks storage what is due and queues what it owes.

Nothing scheduled lives only in memory: each reminder, escalation and follow-up is a guarded
update of its ticket (``… WHERE response_reminded_at IS NULL``) written in one transaction with
its history row and its outbox messages, so a restart neither loses nor doubles anything, and the
JobQueue only decides how often to look (TICK_INTERVAL).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from html import escape
from typing import Any

from telegram.ext import ContextTypes

from bot import care, offers, tickets, votes
from bot.callbacks import RatingPress, encode
from bot.context import Runtime, runtime_of
from bot.grids import office_chats
from bot.links import mention, message_link
from bot.parsing.contacts import mask_sensitive
from bot.texts import SYSTEM_ACTOR
from storage import GridInfo, OutboxDraft, Ticket
from storage.tickets import EventDraft
from storage.vocabulary import Action, EventKind, Satisfaction

logger = logging.getLogger(__name__)

SYSTEM = SYSTEM_ACTOR  # the actor stored on the tick's history rows; shown as texts("actor.system")
# Telegram keeps an unconfirmed update for 24 hours; a record older than twice that is useless.
HANDLED_UPDATES_KEPT = timedelta(hours=48)
# 💬 ready answers' drafts (previews, prompts): a used one is kept while its update may come
# again (its replay must find it used); an unused one a week, then its buttons send nothing
ANSWER_DRAFTS_KEPT = timedelta(days=7)


@dataclass
class TickReport:
    reminders: int = 0
    escalations: int = 0
    followups: int = 0
    followup_reminders: int = 0
    closed_unrated: int = 0
    digests: int = 0
    care_reminders: int = 0
    care_escalations: int = 0
    votes_closed: int = 0

    @property
    def total(self) -> int:
        return (
            self.reminders
            + self.escalations
            + self.followups
            + self.followup_reminders
            + self.closed_unrated
            + self.digests
            + self.care_reminders
            + self.care_escalations
            + self.votes_closed
        )


def start(app: Any, runtime: Runtime) -> None:
    """Register the repeating tick (the JobQueue runs on APScheduler)."""
    assert app.job_queue is not None
    app.job_queue.run_repeating(
        _tick_job,
        interval=runtime.settings.tick_interval,
        first=runtime.settings.tick_interval,
        name="linlitong-tick",
        data=Leadership(),
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )


async def _tick_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    runtime = runtime_of(context.application)
    job = context.job
    leadership = job.data if job is not None and isinstance(job.data, Leadership) else None
    try:
        report = await lead_and_tick(runtime, leadership)
    except asyncio.CancelledError:
        raise
    except Exception:  # one bad tick must not end the schedule
        logger.exception("tick failed; the next one retries")
        return
    if report is not None and report.total:
        logger.info("tick queued %s", report)


@dataclass
class Leadership:
    """Whether this instance leads (runs the tick), as last told to the log."""

    leads: bool | None = None

    async def check(self, runtime: Runtime) -> bool:
        """Lead if nobody does (:meth:`storage.Database.try_lead`); log when that changes."""
        db = runtime.storage.db
        leads = await db.try_lead()
        if leads != self.leads:
            if leads:
                logger.info("this instance leads: the tick (reminders, digests) runs here")
            else:
                logger.info(
                    "another instance leads the tick on %s; this one asks again every tick",
                    db.name,
                )
            self.leads = leads
        return leads


async def lead_and_tick(
    runtime: Runtime, leadership: Leadership | None = None
) -> TickReport | None:
    """The tick on the instance that leads; None on the others (they only ask to lead).

    Several instances on one PostgreSQL database tick one at a time this way; the tick itself
    stays safe to run twice (every item is a guarded claim, every message has a dedupe key), so
    a leader that dies halfway leaves nothing for its successor to double.
    """
    if not await (leadership or Leadership()).check(runtime):
        return None
    return await tick(runtime)


async def resign(runtime: Runtime) -> None:
    """Let go of the lead (a clean stop): another instance takes it at its next tick."""
    db = runtime.storage.db
    if db.leading:
        await db.release_lead()
        logger.info("this instance no longer leads the tick (stopping)")


class Ticker:
    """One tick's view: the moment, whether it is quiet, and the helpers that queue."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.now = runtime.clock.now()
        local = self.now.astimezone(runtime.settings.tz)
        self.quiet = runtime.settings.quiet_hours.contains(local.time())
        self.quiet_ends = self.now
        if self.quiet:  # the next local moment the window ends (today, or tomorrow)
            end = runtime.settings.quiet_hours[1]
            ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
            if ends <= local:
                ends += timedelta(days=1)
            self.quiet_ends = ends.astimezone(self.now.tzinfo)
        self.urgent = {c.key for c in runtime.catalog if c.urgent}
        self._grids: dict[int, GridInfo | None] = {}

    def may_disturb(self, ticket: Ticket) -> bool:
        """Quiet hours hold non-urgent reminders and escalations until they end."""
        return not self.quiet or ticket.category in self.urgent

    async def grid(self, grid_id: int) -> GridInfo | None:
        if grid_id not in self._grids:
            self._grids[grid_id] = await self.runtime.storage.grids.grid(grid_id)
        return self._grids[grid_id]

    async def may_see_roster(self, user_id: int, grid_id: int) -> bool:
        """Whether a visitor still works the grid (the roster is theirs to read)."""
        grid = await self.grid(grid_id)
        return grid is not None and (await self.runtime.roles.role(user_id, grid)).works_tickets

    def tag(self, ticket: Ticket) -> str:
        category = self.runtime.catalog.get(ticket.category)
        return escape(category.tag if category else ticket.category)

    def event(self, kind: EventKind, note: str = "") -> EventDraft:
        return EventDraft(kind, None, SYSTEM, self.now, note)


async def tick(runtime: Runtime) -> TickReport:
    """Everything due now; safe to run twice at once or again after a crash."""
    ticker = Ticker(runtime)
    report = TickReport()
    report.reminders = await _response_reminders(ticker)
    report.escalations = await _escalations(ticker)
    if not ticker.quiet:
        report.followups = await _followups(ticker)
        report.followup_reminders = await _followup_reminders(ticker)
    report.closed_unrated = await _close_unrated(ticker)
    report.digests = await _digests(ticker)
    visits = await care.tick(
        runtime.care_desk, ticker.now, quiet=ticker.quiet, may_see=ticker.may_see_roster
    )
    report.care_reminders, report.care_escalations = visits.reminders, visits.escalations
    # a vote closes at its deadline; its result waits for quiet hours to end
    report.votes_closed = await votes.tick(
        runtime.care_desk, ticker.now, may_see=ticker.may_see_roster, post_at=ticker.quiet_ends
    )
    await runtime.storage.tickets.forget_album_parts(ticker.now - runtime.settings.album_window)
    await runtime.storage.updates.forget_before(ticker.now - HANDLED_UPDATES_KEPT)
    await runtime.storage.inbox.forget_before(ticker.now - HANDLED_UPDATES_KEPT)
    await runtime.storage.offers.expire_before(ticker.now - offers.LIFETIME)
    await runtime.storage.answers.forget_drafts(
        made_before=ticker.now - ANSWER_DRAFTS_KEPT, used_before=ticker.now - HANDLED_UPDATES_KEPT
    )
    if report.total:
        runtime.wake_sender()
    return report


async def _officer_mentions(ticker: Ticker, ticket: Ticket, grid: GridInfo) -> str:
    if ticket.assignee_id is not None:
        return mention(ticket.assignee_id, ticket.assignee_name or "") + " "
    people = await ticker.runtime.roles.officers_of(grid)
    return "".join(mention(user_id, name) + " " for user_id, name in people[:10])


# -- response reminders ---------------------------------------------------------------------


async def _response_reminders(ticker: Ticker) -> int:
    runtime = ticker.runtime
    lead = runtime.settings.reminder_lead
    count = 0
    for ticket in await runtime.storage.schedule.response_reminders_due(ticker.now, lead):
        grid = await ticker.grid(ticket.grid_id)
        if not ticker.may_disturb(ticket) or grid is None or grid.chat_id is None:
            continue
        key = (
            "reminder.response_passed"
            if ticker.now >= ticket.response_due
            else "reminder.response_near"
        )
        text = runtime.texts(
            key,
            id=ticket.id,
            category=ticker.tag(ticket),
            due=runtime.texts.moment(ticket.response_due, runtime.settings.tz),
            mentions=await _officer_mentions(ticker, ticket, grid),
        )
        draft = OutboxDraft(
            chat_id=grid.chat_id,
            kind="reminder",
            text=text,
            payload={
                "reply_to": ticket.message_id if ticket.chat_id == grid.chat_id else None,
                "thread_id": ticket.thread_id,
            },
            ticket_id=ticket.id,
            dedupe_key=f"reminder:response:{ticket.id}",
            not_before=ticker.now,
        )
        count += await runtime.storage.schedule.claim_response_reminder(
            ticket.id, ticker.now, ticker.event(EventKind.REMINDED, key.rsplit(".", 1)[1]), [draft]
        )
    return count


# -- escalation -----------------------------------------------------------------------------


def escalation_due_level(ticket: Ticket, now: datetime) -> int:
    """1 once the resolution deadline passed; 2 one more resolution period later."""
    if now < ticket.resolution_due:
        return 0
    period = ticket.resolution_due - ticket.created_at
    return 2 if now >= ticket.resolution_due + period else 1


async def _escalations(ticker: Ticker) -> int:
    count = 0
    for ticket in await ticker.runtime.storage.schedule.escalations_due(ticker.now):
        level = escalation_due_level(ticket, ticker.now)
        if level <= ticket.escalation_level or not ticker.may_disturb(ticket):
            continue
        count += (await escalate(ticker, ticket, level, reason="", by=None)).moved
    return count


@dataclass(frozen=True)
class Escalation:
    """What an escalation did: the level it reached and where it was posted."""

    moved: bool  # False: someone moved it first, or there is no office to tell
    office: int | None = None  # 1 the community's chats, 2 the street's; None: no office chat


async def escalate(
    ticker: Ticker, ticket: Ticket, level: int, *, reason: str, by: tuple[int | None, str] | None
) -> Escalation:
    """Raise a ticket to ``level`` (1 community, 2 street), posting to the supervisor chats.

    With no office chat to post to, nothing moves: the level would claim that someone above
    the grid knows, and nobody does. The tick tries again, so the ticket is escalated as soon
    as an admin binds an office chat with /supervise.
    """
    runtime = ticker.runtime
    grid = await ticker.grid(ticket.grid_id)
    if grid is None:
        return Escalation(moved=False)
    chats, office = await office_chats(runtime.storage, grid, level)
    if office is None:
        logger.debug("ticket %s: no office chat to escalate to", ticket.id)
        return Escalation(moved=False)
    text = await _escalation_text(ticker, ticket, grid, level, reason, by)
    drafts = [
        OutboxDraft(
            chat_id=chat_id,
            kind="escalation",
            text=text,
            ticket_id=ticket.id,
            dedupe_key=f"escalation:{ticket.id}:{level}:{ticket.reopen_count}:{chat_id}"
            + (f":manual:{ticker.now.isoformat()}" if by else ""),
            not_before=ticker.now,
        )
        for chat_id in chats
    ]
    actor_id, actor_name = by if by else (None, SYSTEM)
    moved = await runtime.storage.schedule.claim_escalation(
        ticket.id,
        from_level=ticket.escalation_level,
        to_level=level,
        now=ticker.now,
        event=EventDraft(
            EventKind.ESCALATED, actor_id, actor_name, ticker.now, f"{level} {reason}".strip()
        ),
        messages=drafts,
    )
    return Escalation(moved=moved, office=office if moved else None)


class ByHand(StrEnum):
    """How an officer's /escalate ended."""

    UP = "up"  # raised one level: the office chats were told
    TOP = "top"  # the street knows already: nothing above it
    REFUSED = "refused"  # not open, or someone escalated it just now: refuse as for its status
    NO_OFFICE = "no_office"  # nobody above the grid has an office chat yet (/supervise)


@dataclass(frozen=True)
class HandEscalation:
    outcome: ByHand
    ticket: Ticket  # as it is now
    level: int = 0  # UP: the level reached
    office: int | None = None  # UP: 1 the community's chats were told, 2 the street's


async def escalate_by_hand(
    runtime: Runtime, ticket: Ticket, actor: tickets.Actor, reason: str
) -> HandEscalation:
    """/escalate: raise an open ticket one level now (community, then street)."""
    level = tickets.next_escalation(ticket)
    if level is None:
        return HandEscalation(ByHand.TOP, ticket)
    if not tickets.allowed(Action.ESCALATE, ticket.status):
        return HandEscalation(ByHand.REFUSED, ticket)
    by = (actor.user_id, actor.name)
    result = await escalate(Ticker(runtime), ticket, level, reason=reason, by=by)
    if result.moved:
        runtime.wake_sender()
        return HandEscalation(ByHand.UP, ticket, level, result.office)
    current = await runtime.storage.tickets.get(ticket.id) or ticket
    if current.escalation_level != ticket.escalation_level:
        return HandEscalation(ByHand.REFUSED, current)
    return HandEscalation(ByHand.NO_OFFICE, current)


async def _escalation_text(
    ticker: Ticker,
    ticket: Ticket,
    grid: GridInfo,
    level: int,
    reason: str,
    by: tuple[int | None, str] | None,
) -> str:
    runtime = ticker.runtime
    texts, tz = runtime.texts, runtime.settings.tz
    values = {
        "grid": escape(grid.name),
        "community": escape(grid.community_name),
        "id": ticket.id,
        "category": ticker.tag(ticket),
    }
    if by is not None:
        title = texts("escalation.manual", name=escape(by[1]), **values)
    else:
        title = texts("escalation.community" if level == 1 else "escalation.street", **values)
    lines = [title]
    if reason:
        lines.append(texts("escalation.reason", reason=escape(mask_sensitive(reason))))
    lines.append(
        texts(
            "escalation.details",
            body=escape(mask_sensitive(ticket.body)[:200]),
            at=texts.moment(ticket.created_at, tz),
            age=texts.duration(ticker.now - ticket.created_at),
            due=texts.moment(ticket.resolution_due, tz),
            holder=escape(ticket.assignee_name or texts("escalation.nobody")),
        )
    )
    link = message_link(ticket.chat_id, ticket.message_id)
    if link:
        lines.append(f'<a href="{link}">{texts("list.link")}</a>')
    return "\n".join(lines)


# -- 回访 (follow-up) -------------------------------------------------------------------------


def rating_keyboard(ticket_id: int, runtime: Runtime) -> list[list[list[str]]]:
    texts = runtime.texts
    return [
        [
            [texts("rating.satisfied"), encode(RatingPress(ticket_id, "s"))],
            [texts("rating.basic"), encode(RatingPress(ticket_id, "b"))],
            [texts("rating.unsatisfied"), encode(RatingPress(ticket_id, "u"))],
        ]
    ]


async def reporters_of(runtime: Runtime, ticket: Ticket) -> list[tuple[int, str]]:
    people = [(ticket.reporter_id, ticket.reporter_name)] if ticket.reporter_id else []
    people += await runtime.storage.tickets.co_reporters(ticket.id)
    return list(dict(people).items())


async def _followups(ticker: Ticker) -> int:
    runtime = ticker.runtime
    count = 0
    for ticket in await runtime.storage.schedule.followups_due(ticker.now):
        people = await reporters_of(runtime, ticket)
        if not people or ticket.source == "patrol":
            count += await runtime.storage.schedule.close_unasked(
                ticket.id, ticker.now, ticker.event(EventKind.CLOSED, Satisfaction.UNRATED)
            )
            continue
        mentions = "".join(mention(user_id, name) + " " for user_id, name in people[:10])
        draft = OutboxDraft(
            chat_id=ticket.chat_id,
            kind="followup",
            text=runtime.texts("followup.ask", mentions=mentions, id=ticket.id),
            payload={
                "reply_to": ticket.message_id,
                "thread_id": ticket.thread_id,
                "keyboard": rating_keyboard(ticket.id, runtime),
            },
            ticket_id=ticket.id,
            dedupe_key=f"followup:{ticket.id}:{ticket.reopen_count}",
            not_before=ticker.now,
        )
        count += await runtime.storage.schedule.claim_followup(
            ticket.id, ticker.now, ticker.event(EventKind.FOLLOWUP_ASKED), [draft]
        )
    return count


async def _followup_reminders(ticker: Ticker) -> int:
    runtime = ticker.runtime
    before = ticker.now - runtime.settings.followup_remind
    count = 0
    for ticket in await runtime.storage.schedule.followup_reminders_due(before):
        if ticker.now - (ticket.followup_asked_at or ticker.now) >= runtime.settings.followup_close:
            continue  # it closes instead
        people = await reporters_of(runtime, ticket)
        mentions = "".join(mention(user_id, name) + " " for user_id, name in people[:10])
        question = await runtime.storage.outbox.sent_for(ticket.id, "followup")
        draft = OutboxDraft(
            chat_id=ticket.chat_id,
            kind="followup_reminder",
            text=runtime.texts("followup.remind", mentions=mentions, id=ticket.id),
            payload={"reply_to": question or ticket.message_id, "thread_id": ticket.thread_id},
            ticket_id=ticket.id,
            dedupe_key=f"followup_reminder:{ticket.id}:{ticket.reopen_count}",
            not_before=ticker.now,
        )
        count += await runtime.storage.schedule.claim_followup_reminder(
            ticket.id, ticker.now, ticker.event(EventKind.FOLLOWUP_REMINDED), [draft]
        )
    return count


async def _close_unrated(ticker: Ticker) -> int:
    runtime = ticker.runtime
    before = ticker.now - runtime.settings.followup_close
    count = 0
    for ticket in await runtime.storage.schedule.followups_expired(before):
        count += await runtime.storage.schedule.close_unanswered(
            ticket.id, ticker.now, ticker.event(EventKind.CLOSED, Satisfaction.UNRATED)
        )
    return count


# -- digests --------------------------------------------------------------------------------


async def _digests(ticker: Ticker) -> int:
    """At DIGEST_TIME each local day, every bound chat's digest, queued once per day."""
    runtime = ticker.runtime
    local = ticker.now.astimezone(runtime.settings.tz)
    if local.time() < runtime.settings.digest_time:
        return 0
    if runtime.digest_day == local.date():
        return 0
    count = await queue_digests(runtime, ticker.now, local.date())
    runtime.digest_day = local.date()
    return count


async def queue_digests(runtime: Runtime, now: datetime, day: date) -> int:
    """Build and queue every digest for ``day``; dedupe keys keep it once per chat and day."""
    from bot import digest  # imported here: the digest module is heavy only when it runs

    messages = await digest.build_daily_digests(
        runtime.storage,
        catalog=runtime.catalog,
        texts=runtime.texts,
        tz=runtime.settings.tz,
        now=now,
    )
    drafts = [
        OutboxDraft(
            chat_id=m.chat_id, kind=m.kind, text=m.text, dedupe_key=m.dedupe_key, not_before=now
        )
        for m in messages
    ]
    drafts += await _weekly_charts(runtime, now, day)
    return await runtime.storage.outbox.add_many(drafts, now)


async def _weekly_charts(runtime: Runtime, now: datetime, day: date) -> list[OutboxDraft]:
    """Mondays: each supervisor chat gets the chart of its grids with its digest."""
    from bot.charts import CHART_WEEKS, build_weekly_chart  # matplotlib loads when drawn

    if day.weekday() != 0:
        return []

    every = await runtime.storage.grids.grids()
    drafts = []
    for binding in await runtime.storage.grids.bindings():
        if binding.is_grid:
            continue
        if binding.community_id is not None:
            grids = [g for g in every if g.community_id == binding.community_id]
            name = binding.community_name or ""
        else:
            grids = [g for g in every if g.street_id == binding.street_id]
            name = binding.street_name or ""
        png = await build_weekly_chart(
            runtime.storage,
            [g.id for g in grids],
            name=name,
            texts=runtime.texts,
            tz=runtime.settings.tz,
            now=now,
            weeks=CHART_WEEKS,
        )
        caption = runtime.texts("chart.caption", name=name, weeks=CHART_WEEKS)
        drafts.append(
            OutboxDraft(
                chat_id=binding.chat_id,
                kind="chart",
                text=caption,
                attachment=png,
                dedupe_key=f"chart:{binding.chat_id}:{day.isoformat()}",
                not_before=now,
            )
        )
    return drafts
