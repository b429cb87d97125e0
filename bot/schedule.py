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
from datetime import date, datetime
from html import escape
from typing import Any

from telegram.ext import ContextTypes

from bot.context import Runtime, runtime_of
from bot.links import message_link
from bot.parsing import mask_sensitive
from storage import GridInfo, OutboxDraft, Ticket
from storage.tickets import EventDraft

logger = logging.getLogger(__name__)

SYSTEM = "邻里通"
FEEDBACK_INVITE = "feedback_invite"


@dataclass
class TickReport:
    reminders: int = 0
    escalations: int = 0
    followups: int = 0
    followup_reminders: int = 0
    closed_unrated: int = 0
    digests: int = 0

    @property
    def total(self) -> int:
        return (
            self.reminders
            + self.escalations
            + self.followups
            + self.followup_reminders
            + self.closed_unrated
            + self.digests
        )


def start(app: Any, runtime: Runtime) -> None:
    """Register the repeating tick (the JobQueue runs on APScheduler)."""
    assert app.job_queue is not None
    app.job_queue.run_repeating(
        _tick_job,
        interval=runtime.settings.tick_interval,
        first=runtime.settings.tick_interval,
        name="linlitong-tick",
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )


async def _tick_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    runtime = runtime_of(context.application)
    try:
        report = await tick(runtime)
    except asyncio.CancelledError:
        raise
    except Exception:  # one bad tick must not end the schedule
        logger.exception("tick failed; the next one retries")
        return
    if report.total:
        logger.info("tick queued %s", report)


class Ticker:
    """One tick's view: the moment, whether it is quiet, and the helpers that queue."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.now = runtime.clock.now()
        local = self.now.astimezone(runtime.settings.tz)
        self.quiet = runtime.settings.quiet_hours.contains(local.time())
        self.urgent = {c.key for c in runtime.catalog if c.urgent}
        self._grids: dict[int, GridInfo | None] = {}

    def may_disturb(self, ticket: Ticket) -> bool:
        """Quiet hours hold non-urgent reminders and escalations until they end."""
        return not self.quiet or ticket.category in self.urgent

    async def grid(self, grid_id: int) -> GridInfo | None:
        if grid_id not in self._grids:
            self._grids[grid_id] = await self.runtime.storage.grids.grid(grid_id)
        return self._grids[grid_id]

    def tag(self, ticket: Ticket) -> str:
        category = self.runtime.catalog.get(ticket.category)
        return escape(category.tag if category else ticket.category)

    def event(self, kind: str, note: str = "") -> EventDraft:
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
    await runtime.storage.tickets.forget_album_parts(ticker.now - runtime.settings.album_window)
    if report.total:
        runtime.wake_sender()
    return report


def mention(user_id: int, name: str) -> str:
    return f'<a href="tg://user?id={user_id}">{escape(name or str(user_id))}</a>'


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
    for ticket in await runtime.storage.schedule.response_reminders_due(ticker.now + lead):
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
        count += await runtime.storage.schedule.mark(
            ticket.id,
            guard="status = 'new' AND response_reminded_at IS NULL",
            changes={"response_reminded_at": ticker.now},
            event=ticker.event("reminded", key.rsplit(".", 1)[1]),
            messages=[draft],
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
        count += await escalate(ticker, ticket, level, reason="", by=None)
    return count


async def escalate(
    ticker: Ticker, ticket: Ticket, level: int, *, reason: str, by: tuple[int | None, str] | None
) -> bool:
    """Raise a ticket to ``level`` (1 community, 2 street), posting to the supervisor chats."""
    runtime = ticker.runtime
    grid = await ticker.grid(ticket.grid_id)
    if grid is None:
        return False
    text = await _escalation_text(ticker, ticket, grid, level, reason, by)
    chats = await _supervisor_chats(runtime, grid, level)
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
    if not chats:
        logger.warning("ticket %s: no supervisor chat for level %s", ticket.id, level)
    actor_id, actor_name = by if by else (None, SYSTEM)
    return await runtime.storage.schedule.mark(
        ticket.id,
        guard="escalation_level = ?",
        guard_params=(ticket.escalation_level,),
        changes={"escalation_level": level, "escalated_at": ticker.now},
        event=EventDraft(
            "escalated", actor_id, actor_name, ticker.now, f"{level} {reason}".strip()
        ),
        messages=drafts,
    )


async def _supervisor_chats(runtime: Runtime, grid: GridInfo, level: int) -> list[int]:
    """Level 1: the community's supervisor chats; level 2: the street's. A community without a
    chat of its own escalates to its street at once, so nothing overdue goes unseen."""
    chats = await runtime.storage.grids.supervisor_chats(grid.community_id, grid.street_id)
    community = [c.chat_id for c in chats if c.community_id is not None]
    street = [c.chat_id for c in chats if c.community_id is None]
    if level == 1 and community:
        return community
    return street


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
            [texts("rating.satisfied"), f"fb:{ticket_id}:s"],
            [texts("rating.basic"), f"fb:{ticket_id}:b"],
            [texts("rating.unsatisfied"), f"fb:{ticket_id}:u"],
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
            count += await _close(ticker, ticket, "unrated", guard="followup_due IS NOT NULL")
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
        count += await runtime.storage.schedule.mark(
            ticket.id,
            guard="status = 'resolved' AND followup_due IS NOT NULL",
            changes={"followup_due": None, "followup_asked_at": ticker.now},
            event=ticker.event("followup_asked"),
            messages=[draft],
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
        count += await runtime.storage.schedule.mark(
            ticket.id,
            guard="status = 'resolved' AND followup_reminded_at IS NULL",
            changes={"followup_reminded_at": ticker.now},
            event=ticker.event("followup_reminded"),
            messages=[draft],
        )
    return count


async def _close_unrated(ticker: Ticker) -> int:
    runtime = ticker.runtime
    before = ticker.now - runtime.settings.followup_close
    count = 0
    for ticket in await runtime.storage.schedule.followups_expired(before):
        count += await _close(ticker, ticket, "unrated", guard="followup_asked_at IS NOT NULL")
    return count


async def _close(ticker: Ticker, ticket: Ticket, satisfaction: str, *, guard: str) -> bool:
    """Closed with no rating: 未评价, counted neither way in 满意率."""
    return await ticker.runtime.storage.schedule.mark(
        ticket.id,
        guard=f"status = 'resolved' AND {guard}",
        changes={
            "status": "closed",
            "satisfaction": satisfaction,
            "closed_at": ticker.now,
            "followup_due": None,
            "updated_at": ticker.now,
        },
        event=ticker.event("closed", satisfaction),
    )


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
