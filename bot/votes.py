"""议事: households decide together — one household, one vote (no telegram).

The rules, each in one place:

* **Households**: a grid's doors (``3-2-501``); a person ties herself to one (/room, status
  claimed), an officer sets or confirms it. One room per person per grid.
* **Eligible**: the grid's households inside the vote's scope (``--where 3号楼2单元``), as they
  are when the vote starts (the snapshot in ``vote_households``); ``/room add`` later adds none.
* **Counting** (:func:`tally`, pure, over the rows as they are at close): each member's current
  answer is her latest (a retraction leaves none); a household's proxy answer is the latest an
  officer recorded for it (a withdrawal leaves none); of these, the latest counts for the
  household, with who gave it. Members whose current answers differ are a *split*: flagged to
  the vote's starter and listed, never silently resolved (the latest still counts). Answers of
  people tied to no eligible household count for nothing — until they tie themselves (/room)
  before the close: membership is read at close, so they need not vote again.
* **Rule**: yes = households whose final is the first option; passed when ``yes·den > num·
  eligible`` (strict: 过半, the default) or ``≥`` (``--pass 2/3``: at least), and when a quorum is
  set, ``voted·qden ≥ qnum·eligible``. No eligible household never passes.
* **Close**: by ``/vote close`` or the deadline (:func:`tick`, from ``bot.schedule``), exactly
  once (``storage.votes.close`` is guarded by ``status = 'open'``): finals and result recorded,
  every poll stopped (outbox ``stop_poll``), the result posted in the group (dedupe
  ``vote:<id>:result``) and the household detail sent privately to the starter.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from html import escape
from typing import Any

from bot.care import Actor, Desk
from bot.grids import office_chats
from bot.parsing.vote import Label, VoteLine, parse_label
from bot.texts import Texts
from storage import OutboxDraft
from storage.vocabulary import MemberStatus
from storage.votes import (
    Answered,
    Closing,
    Final,
    Household,
    Member,
    Proxied,
    StartedVote,
    Tie,
    Vote,
    VoteAnswer,
    VoteDraft,
    VoteHousehold,
    VoteState,
)

logger = logging.getLogger(__name__)

__all__ = [
    "LATE",
    "UNCONFIRMED",
    "UNTIED",
    "Actor",
    "Desk",
    "MaySee",
    "SetAside",
    "Split",
    "Tally",
    "VoteDesk",
    "add_households",
    "answer",
    "close",
    "current",
    "detail_text",
    "passes",
    "poll_failed",
    "proxy",
    "readers",
    "recorded",
    "recorded_tally",
    "refusal",
    "remove_household",
    "result_text",
    "rule_text",
    "start",
    "tally",
    "tally_state",
    "tick",
    "tie",
    "untie",
]

VoteDesk = Desk  # what the vote rules need of the running bot: ``runtime.care_desk`` serves


# -- counting (pure) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Members of one household whose current answers differ: (name, option) each."""

    household_id: int
    label: str
    answers: tuple[tuple[str, int], ...]


UNTIED = "untied"  # tied to no eligible household (when the vote closed)
UNCONFIRMED = "unconfirmed"  # claimed a room where an officer confirmed another member
LATE = "late"  # given at or past the deadline (a tick delayed by a restart changes nothing)


@dataclass(frozen=True)
class SetAside:
    """A member's answer kept but not counted, and why (:data:`UNTIED`, :data:`UNCONFIRMED`,
    :data:`LATE`); ``label``: her household ('' when untied)."""

    name: str
    user_id: int | None
    option: int | None
    label: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "user_id": self.user_id,
            "option": self.option,
            "label": self.label,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SetAside:
        option = data.get("option")
        user_id = data.get("user_id")
        return cls(
            str(data.get("name", "")),
            user_id if isinstance(user_id, int) else None,
            option if isinstance(option, int) else None,
            str(data.get("label", "")),
            str(data.get("reason", "")),
        )


@dataclass(frozen=True)
class Tally:
    options: tuple[str, ...]
    counts: tuple[int, ...]  # households per option
    eligible: int
    voted: int  # households with a final answer
    yes: int  # households whose final is the first option
    passed: bool
    quorum_met: bool | None  # None: the vote has no quorum
    finals: tuple[Final, ...]  # one per eligible household (option None: no answer)
    labels: Mapping[int, str]  # household id -> label
    splits: tuple[Split, ...]
    proxies: int  # households whose final an officer recorded
    untied: tuple[VoteAnswer, ...]  # current answers of people tied to no eligible household
    set_aside: tuple[SetAside, ...] = ()  # every answer kept but not counted, and why
    failed: str | None = None  # the poll could not be sent: the vote was void (the reason)
    recorded: bool = False  # read from the record of a closed vote, not counted now

    def as_result(self) -> dict[str, Any]:
        """What ``votes.result`` keeps (JSON)."""
        return {
            "counts": list(self.counts),
            "eligible": self.eligible,
            "voted": self.voted,
            "yes": self.yes,
            "passed": self.passed,
            "quorum_met": self.quorum_met,
            "proxies": self.proxies,
            "splits": [s.label for s in self.splits],
            "split_answers": {s.label: [list(pair) for pair in s.answers] for s in self.splits},
            "not_counted": len(self.set_aside),
            "set_aside": [a.as_json() for a in self.set_aside],
        }


def passes(vote: Vote, yes: int, voted: int, eligible: int) -> tuple[bool, bool | None]:
    """(passed, quorum met — None without a quorum) by the vote's rule."""
    if eligible <= 0:
        return False, None if vote.quorum_num is None else False
    if vote.rule_strict:
        rule_met = yes * vote.rule_den > vote.rule_num * eligible
    else:
        rule_met = yes * vote.rule_den >= vote.rule_num * eligible
    quorum: bool | None = None
    if vote.quorum_num is not None and vote.quorum_den:
        quorum = voted * vote.quorum_den >= vote.quorum_num * eligible
    return rule_met and quorum is not False, quorum


def _key(answer: VoteAnswer) -> int:
    """Answers in the order they were recorded (the row's id): instances' clocks differ."""
    return answer.id


def tally(
    vote: Vote,
    households: Sequence[VoteHousehold],
    members: Sequence[Member],
    answers: Sequence[VoteAnswer],
) -> Tally:
    """The count (see the module's rules) over the eligible ``households``, their current
    ``members`` and every answer of the vote, in any order. Set aside (kept, not counted):
    answers at or past the deadline; a claimed member's answer where the household has a
    member an officer confirmed (the confirmed members speak for it); answers of people tied
    to no eligible household."""
    eligible = {h.household_id: h for h in households}
    tied = {m.user_id: m for m in members if m.household_id in eligible}
    household_of = {user: m.household_id for user, m in tied.items()}
    vouched = {m.household_id for m in tied.values() if m.status is MemberStatus.CONFIRMED}
    names = {m.user_id: m.user_name for m in members}
    latest_member: dict[int, VoteAnswer] = {}
    latest_proxy: dict[int, VoteAnswer] = {}
    late: dict[int, VoteAnswer] = {}
    for found in sorted(answers, key=_key):
        if found.answered_at >= vote.deadline:
            if found.proxy_household_id is None and found.user_id is not None:
                late[found.user_id] = found
            continue
        if found.proxy_household_id is not None:
            latest_proxy[found.proxy_household_id] = found
        elif found.user_id is not None:
            latest_member[found.user_id] = found
    current: dict[int, list[VoteAnswer]] = {h: [] for h in eligible}
    untied: list[VoteAnswer] = []
    set_aside: list[SetAside] = []

    def aside(found: VoteAnswer, reason: str, household: int | None) -> None:
        name = names.get(found.user_id or 0) or found.user_name
        label = eligible[household].label if household is not None else ""
        set_aside.append(SetAside(name, found.user_id, found.option, label, reason))

    for user_id, found in sorted(latest_member.items(), key=lambda item: _key(item[1])):
        if found.option is None:
            continue
        household = household_of.get(user_id)
        if household is None:
            untied.append(found)
            aside(found, UNTIED, None)
        elif household in vouched and tied[user_id].status is not MemberStatus.CONFIRMED:
            aside(found, UNCONFIRMED, household)
        else:
            current[household].append(found)
    for user_id, found in sorted(late.items(), key=lambda item: _key(item[1])):
        aside(found, LATE, household_of.get(user_id))
    splits: list[Split] = []
    finals: list[Final] = []
    counts = [0] * len(vote.options)
    proxies = 0
    for household_id, said in current.items():
        options = {a.option for a in said}
        if len(options) > 1:
            said_by = tuple(
                (names.get(a.user_id or 0) or a.user_name, a.option or 0)
                for a in sorted(said, key=_key)
            )
            splits.append(Split(household_id, eligible[household_id].label, said_by))
        candidates = list(said)
        by_proxy = latest_proxy.get(household_id)
        if by_proxy is not None and by_proxy.option is not None:
            candidates.append(by_proxy)
        if not candidates:
            finals.append(Final(household_id, None))
            continue
        final = max(candidates, key=_key)
        assert final.option is not None
        if 0 <= final.option < len(counts):
            counts[final.option] += 1
        proxies += final.is_proxy
        finals.append(
            Final(
                household_id,
                final.option,
                final.user_id,
                final.user_name if final.is_proxy else names.get(final.user_id or 0, ""),
                final.is_proxy,
                final.note,
                final.answered_at,
            )
        )
    voted = sum(1 for f in finals if f.option is not None)
    yes = counts[0] if counts else 0
    passed, quorum = passes(vote, yes, voted, len(eligible))
    return Tally(
        options=vote.options,
        counts=tuple(counts),
        eligible=len(eligible),
        voted=voted,
        yes=yes,
        passed=passed,
        quorum_met=quorum,
        finals=tuple(finals),
        labels={h: v.label for h, v in eligible.items()},
        splits=tuple(sorted(splits, key=lambda s: s.label)),
        proxies=proxies,
        untied=tuple(sorted(untied, key=_key)),
        set_aside=tuple(set_aside),
    )


def recorded_tally(vote: Vote, households: Sequence[VoteHousehold]) -> Tally:
    """A closed vote as it was recorded at its close: ``votes.result`` and the finals kept in
    ``vote_households`` — never a recount (a tie or a move since then changes nothing)."""
    result: Mapping[str, Any] = vote.result or {}
    options = vote.options
    counts = [int(c) for c in result.get("counts", [])][: len(options)]
    counts += [0] * (len(options) - len(counts))
    finals = tuple(
        Final(
            h.household_id,
            h.final_option,
            h.final_user_id,
            h.final_name,
            h.final_proxy,
            h.final_note,
            h.final_at,
        )
        for h in households
    )
    labels = {h.household_id: h.label for h in households}
    by_label = {h.label: h.household_id for h in households}
    said = result.get("split_answers") or {}
    splits = tuple(
        Split(
            by_label.get(str(label), 0),
            str(label),
            tuple((str(pair[0]), int(pair[1])) for pair in said.get(label, [])),
        )
        for label in result.get("splits", [])
    )
    failed = result.get("failed")
    quorum = result.get("quorum_met")
    return Tally(
        options=options,
        counts=tuple(counts),
        eligible=int(result.get("eligible", vote.eligible)),
        voted=int(result.get("voted", 0)),
        yes=int(result.get("yes", counts[0] if counts else 0)),
        passed=bool(result.get("passed", False)),
        quorum_met=quorum if isinstance(quorum, bool) else None,
        finals=finals,
        labels=labels,
        splits=splits,
        proxies=int(result.get("proxies", 0)),
        untied=(),
        set_aside=tuple(SetAside.from_json(a) for a in result.get("set_aside", [])),
        failed=None if failed is None else str(failed),
        recorded=True,
    )


def tally_state(state: VoteState) -> Tally:
    return tally(state.vote, state.households, state.members, state.answers)


# -- texts (pure) ---------------------------------------------------------------------------


def rule_text(texts: Texts, vote: Vote) -> str:
    """``同意户数过半`` / ``同意户数不少于 2/3`` / … and the quorum, if any."""
    first = escape(vote.options[0]) if vote.options else ""
    share = f"{vote.rule_num}/{vote.rule_den}"
    if vote.rule_strict and (vote.rule_num, vote.rule_den) == (1, 2):
        said = texts("vote.rule_majority", option=first)
    elif vote.rule_strict:
        said = texts("vote.rule_more_than", option=first, share=share)
    else:
        said = texts("vote.rule_at_least", option=first, share=share)
    if vote.quorum_num is not None:
        said += texts("vote.rule_quorum", share=f"{vote.quorum_num}/{vote.quorum_den}")
    return said


def _counts_lines(texts: Texts, result: Tally) -> list[str]:
    return [
        texts("vote.count_line", option=escape(option), count=count)
        for option, count in zip(result.options, result.counts, strict=True)
    ]


def result_text(texts: Texts, vote: Vote, result: Tally) -> str:
    """The result posted in the group: counts per option, households that voted, eligible
    households, the rule and whether it passed (no household names: the detail goes to the
    starter privately)."""
    lines = [texts("vote.result_title", id=vote.id, question=escape(vote.question))]
    if result.failed is not None:
        lines.append(texts("vote.result_void", reason=escape(result.failed)))
        return "\n".join(lines)
    lines += _counts_lines(texts, result)
    lines.append(texts("vote.result_turnout", voted=result.voted, eligible=result.eligible))
    if result.proxies:
        lines.append(texts("vote.result_proxies", count=result.proxies))
    lines.append(texts("vote.result_rule", rule=rule_text(texts, vote)))
    if result.passed:
        lines.append(texts("vote.result_passed"))
    elif result.quorum_met is False:
        lines.append(texts("vote.result_no_quorum"))
    else:
        lines.append(texts("vote.result_failed"))
    if result.splits:
        lines.append(texts("vote.result_splits", count=len(result.splits)))
    return "\n".join(lines)


def detail_text(texts: Texts, vote: Vote, result: Tally, *, closed: bool) -> str:
    """Each household's answer, who gave it, proxies, splits, answers not counted — for
    officers in private (/vote show, and the starter at close)."""
    title = "vote.detail_title_closed" if closed else "vote.detail_title"
    lines = [texts(title, id=vote.id, question=escape(vote.question))]
    if result.failed is not None:
        lines.append(texts("vote.result_void", reason=escape(result.failed)))
        return "\n".join(lines)
    lines += _counts_lines(texts, result)
    lines.append(texts("vote.result_turnout", voted=result.voted, eligible=result.eligible))
    for final in result.finals:
        label = escape(result.labels.get(final.household_id, "?"))
        if final.option is None:
            lines.append(texts("vote.detail_none", label=label))
            continue
        option = escape(vote.options[final.option]) if final.option < len(vote.options) else "?"
        key = "vote.detail_proxy" if final.proxy else "vote.detail_member"
        line = texts(key, label=label, option=option, name=escape(final.name or "-"))
        if final.note:
            line += texts("vote.detail_note", note=escape(final.note))
        lines.append(line)
    for split in result.splits:
        said = texts("vote.list_separator").join(
            texts(
                "vote.answer_pair",
                name=escape(name),
                option=escape(vote.options[o]) if o < len(vote.options) else "?",
            )
            for name, o in split.answers
        )
        lines.append(texts("vote.detail_split", label=escape(split.label), answers=said))
    for reason, key in (
        (UNTIED, "vote.detail_untied"),
        (UNCONFIRMED, "vote.detail_unconfirmed"),
        (LATE, "vote.detail_late"),
    ):
        aside = [a for a in result.set_aside if a.reason == reason]
        if not aside:
            continue
        names = texts("vote.name_separator").join(
            escape(a.name or str(a.user_id))
            + (texts("vote.detail_aside_label", label=escape(a.label)) if a.label else "")
            for a in aside
        )
        lines.append(texts(key, count=len(aside), names=names))
    return "\n".join(lines)


# -- households -----------------------------------------------------------------------------


async def tie(
    desk: Desk,
    *,
    grid_id: int,
    user_id: int,
    user_name: str,
    label: Label,
    status: MemberStatus,
    set_by: int | None,
    now: datetime,
) -> Tie:
    """Tie a person to the grid's household of ``label`` (made if new); moves her if she was
    tied to another. ``status``: claimed (herself) or confirmed (an officer)."""
    return await desk.storage.votes.tie(
        grid_id,
        user_id,
        user_name,
        label.text,
        (label.building, label.unit, label.room),
        status,
        set_by,
        now,
    )


async def untie(desk: Desk, *, grid_id: int, user_id: int, by: int | None, now: datetime) -> bool:
    """She lives in none of the grid's households any more (``by``: herself or an officer),
    with its history row; False: she was tied to none. A running vote reads members at its
    close: her answers then count for no household."""
    return await desk.storage.votes.untie(grid_id, user_id, by, now)


async def remove_household(
    desk: Desk, *, grid_id: int, label: Label | str, by: int | None, now: datetime
) -> Household | None:
    """An officer removes a household (``storage.votes.remove_household``): no new vote counts
    it, a running vote keeps it, its members stay tied. None: no such household, or removed
    already."""
    text = label.text if isinstance(label, Label) else label
    return await desk.storage.votes.remove_household(grid_id, text, by, now)


async def add_households(
    desk: Desk, *, grid_id: int, labels: Sequence[Label], by: int | None, now: datetime
) -> int:
    """``/room add``: households without Telegram; how many were new."""
    return await desk.storage.votes.add_households(
        grid_id,
        [(label.text, (label.building, label.unit, label.room)) for label in labels],
        by,
        now,
    )


# -- votes ----------------------------------------------------------------------------------


async def start(
    desk: Desk,
    *,
    grid_id: int,
    chat_id: int,
    thread_id: int | None,
    line: VoteLine,
    actor: Actor,
    now: datetime,
    source: tuple[int, int] | None = None,
) -> StartedVote | None:
    """Start a vote from a parsed /vote line: the eligible snapshot, the poll (an outbox row,
    sent by the sender, which records the poll's id), the history row — one transaction.
    None: no registered household in the scope. ``source``: the /vote message (chat,
    message id), so a replay starts nothing twice (``created`` False)."""
    assert line.deadline is not None
    draft = VoteDraft(
        grid_id=grid_id,
        chat_id=chat_id,
        thread_id=thread_id,
        question=line.question,
        options=line.options,
        rule_num=line.rule.num,
        rule_den=line.rule.den,
        rule_strict=line.rule.strict,
        quorum_num=line.quorum[0] if line.quorum else None,
        quorum_den=line.quorum[1] if line.quorum else None,
        scope=line.scope,
        deadline=line.deadline,
        started_by=actor.user_id,
        started_by_name=actor.name,
        source_chat_id=source[0] if source else None,
        source_message_id=source[1] if source else None,
    )
    return await desk.storage.votes.start(draft, now)


MaySee = Callable[[int, int], Awaitable[bool]]
"""Whether a user (still) works a grid: ``(user_id, grid_id) -> bool`` (the tick's
``Ticker.may_see_roster``, a handler's role check)."""


async def readers(desk: Desk, vote: Vote, may_see: MaySee | None = None) -> list[int]:
    """Who reads what only officers read about a vote (the split flag, the detail at close, a
    poll that could not be sent), privately: its starter — or, when it was an anonymous admin
    (no user) or no longer works the grid (``may_see`` says so; without it a starter is
    believed to), the grid's named officers; with none, the community's office chats (staff),
    as ``bot.care`` does. ``[]``: nobody to tell."""
    starter = vote.started_by
    if starter is not None and (may_see is None or await may_see(starter, vote.grid_id)):
        return [starter]
    officers = [user for user, _name in await desk.storage.officers.of_grid(vote.grid_id)]
    officers = [user for user in officers if user != starter]
    if officers:
        return officers
    grid = await desk.storage.grids.grid(vote.grid_id)
    if grid is None:
        return []
    chats, _office = await office_chats(desk.storage, grid, 1)
    return chats


def _private(
    texts: Texts,
    vote: Vote,
    chats: Sequence[int],
    text: str,
    now: datetime,
    key: str,
    kind: str = "vote_detail",
) -> list[OutboxDraft]:
    """One message to each reader (dedupe ``<key>:<chat>``); a reader who is not the starter is
    told why it came to them."""
    drafts = []
    for chat in chats:
        body = text
        if chat != vote.started_by:
            name = escape(vote.started_by_name or "-")
            body = texts("vote.forwarded", id=vote.id, name=name) + "\n" + text
        drafts.append(
            OutboxDraft(
                chat_id=chat,
                kind=kind,
                text=body,
                not_before=now,
                dedupe_key=f"{key}:{chat}",
            )
        )
    return drafts


async def answer(
    desk: Desk,
    *,
    poll_id: str,
    user_id: int,
    user_name: str,
    option_ids: Sequence[int],
    now: datetime,
    may_see: MaySee | None = None,
) -> Answered | None:
    """A ``poll_answer`` (``option_ids`` [] = a retraction): kept; a person tied to no eligible
    household is told privately, once per vote, why it does not count and that /room ties her;
    a household whose members now disagree is flagged to the vote's :func:`readers`, once.
    An answer at or past the deadline is kept and counts for nothing (``set_aside`` "late").
    None: not one of our polls, or the vote is closed."""
    vote = await desk.storage.votes.vote_of_poll(poll_id)
    if vote is None or not vote.is_open:
        return None
    option = option_ids[0] if option_ids else None
    texts = desk.texts
    tied = await desk.storage.votes.household_of(vote.grid_id, user_id)
    question = escape(vote.question)
    if tied is None:
        untied_text = texts("vote.untied", id=vote.id, question=question)
    else:  # off the roster, or outside this vote's list (fixed at its start)
        key = "vote.not_eligible_removed" if tied[0].removed else "vote.not_eligible"
        untied_text = texts(key, id=vote.id, question=question, label=escape(tied[0].label))
    untied_notice = OutboxDraft(
        chat_id=user_id,
        kind="vote_notice",
        text=untied_text,
        not_before=now,
        dedupe_key=f"vote:{vote.id}:untied:{user_id}",
    )
    split_flags: list[OutboxDraft] = []
    if tied is not None and now < vote.deadline:
        text = texts("vote.split", id=vote.id, question=question, label=escape(tied[0].label))
        key = f"vote:{vote.id}:split:{tied[0].id}"
        if vote.started_by is not None and (
            may_see is None or await may_see(vote.started_by, vote.grid_id)
        ):
            # the starter, as before (the key unchanged: a flag queued before is not repeated)
            split_flags.append(
                OutboxDraft(
                    chat_id=vote.started_by,
                    kind="vote_notice",
                    text=text,
                    not_before=now,
                    dedupe_key=key,
                )
            )
        else:
            chats = await readers(desk, vote, may_see)
            split_flags = _private(texts, vote, chats, text, now, key, "vote_notice")
    return await desk.storage.votes.answer(
        vote.id,
        poll_id,
        user_id,
        user_name,
        option,
        now,
        untied_notice=untied_notice,
        split_flags=split_flags,
    )


def refusal(vote: Vote, now: datetime) -> str | None:
    """Why nothing more may be recorded in ``vote`` now — a texts key taking ``id`` (the
    handler's reply to /vote proxy) — or None: it takes answers. Closed votes are the
    handler's own refusal; this one is the deadline come before the tick closed it."""
    if vote.is_open and now >= vote.deadline:
        return "vote.refused_late"
    return None


async def proxy(
    desk: Desk,
    vote: Vote,
    label: Label | str,
    option: int | None,
    *,
    actor: Actor,
    note: str = "",
    now: datetime,
) -> Proxied | None:
    """An officer records a household's answer (``option`` None: withdraws it), marked as a
    proxy. None: the vote is closed, its deadline has come (:func:`refusal` says so), or the
    household is not one of its eligible."""
    text = label.text if isinstance(label, Label) else label
    parsed = parse_label(text) if not isinstance(label, Label) else label
    if parsed is not None:
        text = parsed.text
    if option is not None and not 0 <= option < len(vote.options):
        return None
    if now >= vote.deadline:
        return None
    return await desk.storage.votes.proxy(
        vote.id, text, option, actor.user_id, actor.name, note.strip()[:200], now
    )


async def current(desk: Desk, vote_id: int) -> tuple[Vote, Tally] | None:
    """A vote and its count for /vote show: an open vote counted as it stands now; a closed
    one as recorded at its close (:func:`recorded`)."""
    state = await desk.storage.votes.state(vote_id)
    if state is None:
        return None
    if not state.vote.is_open:
        return state.vote, recorded_tally(state.vote, state.households)
    return state.vote, tally_state(state)


async def recorded(desk: Desk, vote_id: int) -> tuple[Vote, Tally] | None:
    """A closed vote's result as recorded at its close (``votes.result`` and the stored finals
    of its households: never a recount); an open vote: counted now, as :func:`current`."""
    return await current(desk, vote_id)


def _closing(
    desk: Desk, state: VoteState, now: datetime, detail_to: Sequence[int], post_at: datetime
) -> Closing:
    vote, texts = state.vote, desk.texts
    result = tally_state(state)
    here = [p for p in state.polls if p.chat_id == vote.chat_id]
    messages = [
        OutboxDraft(
            chat_id=vote.chat_id,
            kind="vote_result",
            text=result_text(texts, vote, result),
            not_before=post_at,
            payload={
                "thread_id": vote.thread_id,
                "reply_to": here[-1].message_id if here else None,
            },
            dedupe_key=f"vote:{vote.id}:result",
        )
    ]
    detail = detail_text(texts, vote, result, closed=True)
    for draft in _private(texts, vote, detail_to, detail, post_at, f"vote:{vote.id}:detail"):
        if draft.chat_id == vote.started_by:  # the starter's key as before: once, whichever
            draft = replace(draft, dedupe_key=f"vote:{vote.id}:detail")
        messages.append(draft)
    verdict = "passed" if result.passed else "failed"
    note = f"{result.yes}/{result.voted}/{result.eligible} {verdict}"
    return Closing(result.finals, result.as_result(), messages, note)


async def close(
    desk: Desk,
    vote: Vote | int,
    now: datetime,
    by: Actor | None,
    *,
    may_see: MaySee | None = None,
    post_at: datetime | None = None,
) -> Vote | None:
    """Count and close (``by`` None: the deadline): finals, result, stop_poll rows, the result
    in the group, the detail to the vote's :func:`readers` — once. None: closed already (or no
    such vote). The poll stops now; the result and detail are posted at ``post_at`` (the end
    of quiet hours, for a deadline falling in them), else now."""
    found = await desk.storage.votes.get(vote) if isinstance(vote, int) else vote
    if found is None:
        return None
    detail_to = await readers(desk, found, may_see)
    return await desk.storage.votes.close(
        found.id,
        now,
        None if by is None else by.user_id,
        "" if by is None else by.name,
        lambda state: _closing(desk, state, now, detail_to, max(now, post_at or now)),
    )


async def poll_failed(
    desk: Desk,
    vote_id: int,
    error: str,
    now: datetime,
    *,
    outbox_id: int | None = None,
    outbox_status: str = "failed",
    may_see: MaySee | None = None,
) -> Vote | None:
    """The sender gave up the vote's poll (Telegram refused it, or the bot may not post in the
    group): the vote is closed as failed — void: no result in the group, nothing counted —
    and its :func:`readers` are told privately why, in the transaction that marks the outbox
    row. None: a poll of the vote went out after all, or it is closed already."""
    vote = await desk.storage.votes.get(vote_id)
    if vote is None or not vote.is_open:
        if outbox_id is not None:
            await desk.storage.outbox.give_up(outbox_id, error, outbox_status)
        return None
    texts = desk.texts
    reason = error.removeprefix("Bad Request: ").strip() or "-"
    text = texts(
        "vote.poll_failed", id=vote.id, question=escape(vote.question), reason=escape(reason)
    )
    chats = await readers(desk, vote, may_see)
    notices = _private(texts, vote, chats, text, now, f"vote:{vote.id}:failed", "vote_notice")
    result = {
        "failed": reason,
        "counts": [0] * len(vote.options),
        "eligible": vote.eligible,
        "voted": 0,
        "yes": 0,
        "passed": False,
        "quorum_met": None,
        "proxies": 0,
        "splits": [],
        "split_answers": {},
        "not_counted": 0,
        "set_aside": [],
    }
    closed = await desk.storage.votes.poll_failed(
        vote.id,
        now,
        result,
        notices,
        error=error,
        outbox_id=outbox_id,
        outbox_status=outbox_status,
    )
    if closed is not None:
        logger.warning("vote %s: its poll could not be sent (%s); closed as void", vote.id, error)
    return closed


async def tick(
    desk: Desk, now: datetime, *, may_see: MaySee | None = None, post_at: datetime | None = None
) -> int:
    """Close every open vote whose deadline has come (from ``bot.schedule.tick``); each close
    is guarded, so two ticks, two instances or a restart close each vote once. ``post_at``:
    when its result may be posted (quiet hours hold it)."""
    closed = 0
    for vote in await desk.storage.votes.due(now):
        if await close(desk, vote, now, None, may_see=may_see, post_at=post_at) is not None:
            closed += 1
            logger.info("vote %s closed by its deadline", vote.id)
    return closed
