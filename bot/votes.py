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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from bot.care import Actor, Desk
from bot.parsing.vote import Label, VoteLine, parse_label
from bot.texts import Texts
from storage import OutboxDraft
from storage.vocabulary import MemberStatus
from storage.votes import (
    Answered,
    Closing,
    Final,
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
    "Actor",
    "Desk",
    "Split",
    "Tally",
    "VoteDesk",
    "answer",
    "close",
    "current",
    "detail_text",
    "passes",
    "proxy",
    "result_text",
    "rule_text",
    "start",
    "tally",
    "tally_state",
    "tick",
    "tie",
]

VoteDesk = Desk  # what the vote rules need of the running bot: ``runtime.care_desk`` serves


# -- counting (pure) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Members of one household whose current answers differ: (name, option) each."""

    household_id: int
    label: str
    answers: tuple[tuple[str, int], ...]


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
            "not_counted": len(self.untied),
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


def _key(answer: VoteAnswer) -> tuple[datetime, int]:
    return answer.answered_at, answer.id


def tally(
    vote: Vote,
    households: Sequence[VoteHousehold],
    members: Sequence[Member],
    answers: Sequence[VoteAnswer],
) -> Tally:
    """The count (see the module's rules) over the eligible ``households``, their current
    ``members`` and every answer of the vote, in any order."""
    eligible = {h.household_id: h for h in households}
    household_of = {m.user_id: m.household_id for m in members if m.household_id in eligible}
    names = {m.user_id: m.user_name for m in members}
    latest_member: dict[int, VoteAnswer] = {}
    latest_proxy: dict[int, VoteAnswer] = {}
    for found in sorted(answers, key=_key):
        if found.proxy_household_id is not None:
            latest_proxy[found.proxy_household_id] = found
        elif found.user_id is not None:
            latest_member[found.user_id] = found
    current: dict[int, list[VoteAnswer]] = {h: [] for h in eligible}
    untied: list[VoteAnswer] = []
    for user_id, found in latest_member.items():
        if found.option is None:
            continue
        household = household_of.get(user_id)
        if household is None:
            untied.append(found)
        else:
            current[household].append(found)
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
    if result.untied:
        names = texts("vote.name_separator").join(
            escape(a.user_name or str(a.user_id)) for a in result.untied
        )
        lines.append(texts("vote.detail_untied", count=len(result.untied), names=names))
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


async def answer(
    desk: Desk,
    *,
    poll_id: str,
    user_id: int,
    user_name: str,
    option_ids: Sequence[int],
    now: datetime,
) -> Answered | None:
    """A ``poll_answer`` (``option_ids`` [] = a retraction): kept; a person tied to no eligible
    household is told privately, once per vote, why it does not count and that /room ties her;
    a household whose members now disagree is flagged to the starter, once. None: not one of
    our polls, or the vote is closed."""
    vote = await desk.storage.votes.vote_of_poll(poll_id)
    if vote is None or not vote.is_open:
        return None
    option = option_ids[0] if option_ids else None
    texts = desk.texts
    tied = await desk.storage.votes.household_of(vote.grid_id, user_id)
    question = escape(vote.question)
    if tied is None:
        untied_text = texts("vote.untied", id=vote.id, question=question)
    else:
        untied_text = texts(
            "vote.not_eligible", id=vote.id, question=question, label=escape(tied[0].label)
        )
    untied_notice = OutboxDraft(
        chat_id=user_id,
        kind="vote_notice",
        text=untied_text,
        not_before=now,
        dedupe_key=f"vote:{vote.id}:untied:{user_id}",
    )
    split_flag = None
    if tied is not None and vote.started_by is not None:
        split_flag = OutboxDraft(
            chat_id=vote.started_by,
            kind="vote_notice",
            text=texts("vote.split", id=vote.id, question=question, label=escape(tied[0].label)),
            not_before=now,
            dedupe_key=f"vote:{vote.id}:split:{tied[0].id}",
        )
    return await desk.storage.votes.answer(
        vote.id,
        poll_id,
        user_id,
        user_name,
        option,
        now,
        untied_notice=untied_notice,
        split_flag=split_flag,
    )


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
    proxy. None: the vote is closed, or the household is not one of its eligible."""
    text = label.text if isinstance(label, Label) else label
    parsed = parse_label(text) if not isinstance(label, Label) else label
    if parsed is not None:
        text = parsed.text
    if option is not None and not 0 <= option < len(vote.options):
        return None
    return await desk.storage.votes.proxy(
        vote.id, text, option, actor.user_id, actor.name, note.strip()[:200], now
    )


async def current(desk: Desk, vote_id: int) -> tuple[Vote, Tally] | None:
    """A vote and its count as it stands (for /vote show; a closed vote: as it closed,
    except that a tie made since then is read now — its finals are the record)."""
    state = await desk.storage.votes.state(vote_id)
    if state is None:
        return None
    return state.vote, tally_state(state)


def _closing(desk: Desk, state: VoteState, now: datetime) -> Closing:
    vote, texts = state.vote, desk.texts
    result = tally_state(state)
    messages = [
        OutboxDraft(
            chat_id=vote.chat_id,
            kind="vote_result",
            text=result_text(texts, vote, result),
            not_before=now,
            payload={
                "thread_id": vote.thread_id,
                "reply_to": state.polls[0].message_id if state.polls else None,
            },
            dedupe_key=f"vote:{vote.id}:result",
        )
    ]
    if vote.started_by is not None:
        messages.append(
            OutboxDraft(
                chat_id=vote.started_by,
                kind="vote_detail",
                text=detail_text(texts, vote, result, closed=True),
                not_before=now,
                dedupe_key=f"vote:{vote.id}:detail",
            )
        )
    verdict = "passed" if result.passed else "failed"
    note = f"{result.yes}/{result.voted}/{result.eligible} {verdict}"
    return Closing(result.finals, result.as_result(), messages, note)


async def close(desk: Desk, vote: Vote | int, now: datetime, by: Actor | None) -> Vote | None:
    """Count and close (``by`` None: the deadline): finals, result, stop_poll rows, the result
    in the group, the detail to the starter — once. None: closed already (or no such vote)."""
    vote_id = vote if isinstance(vote, int) else vote.id
    return await desk.storage.votes.close(
        vote_id,
        now,
        None if by is None else by.user_id,
        "" if by is None else by.name,
        lambda state: _closing(desk, state, now),
    )


async def tick(desk: Desk, now: datetime) -> int:
    """Close every open vote whose deadline has come (from ``bot.schedule.tick``); each close
    is guarded, so two ticks, two instances or a restart close each vote once."""
    closed = 0
    for vote in await desk.storage.votes.due(now):
        if await close(desk, vote, now, None) is not None:
            closed += 1
            logger.info("vote %s closed by its deadline", vote.id)
    return closed
