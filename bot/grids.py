"""Binding chats to grids, communities and streets (no telegram import)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage import ChatBinding, GridInfo, GridTakenError, Storage, UnknownUnitError

NAME_LIMIT = 40


@dataclass(frozen=True)
class BindOutcome:
    binding: ChatBinding | None
    taken_by: ChatBinding | None = None


def split_names(args: Sequence[str] | None) -> list[str]:
    """Command arguments as names: NFKC-normalised, split on any space, no empties."""
    names: list[str] = []
    for arg in args or ():
        names.extend(unicodedata.normalize("NFKC", arg).split())
    return [n for n in (_clean(n) for n in names) if n]


def _clean(name: str) -> str:
    return "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()


def first_too_long(names: Sequence[str]) -> str | None:
    return next((n for n in names if len(n) > NAME_LIMIT), None)


async def bind_grid(
    storage: Storage,
    *,
    chat_id: int,
    title: str,
    names: Sequence[str],
    by: int | None,
    now: datetime,
) -> BindOutcome:
    grid, community, *rest = names
    try:
        binding = await storage.grids.bind_grid(
            chat_id=chat_id,
            title=title,
            grid=grid,
            community=community,
            street=rest[0] if rest else None,
            by=by,
            now=now,
        )
    except GridTakenError as exc:
        return BindOutcome(None, taken_by=exc.other)
    return BindOutcome(binding)


async def bind_supervisor(
    storage: Storage, *, chat_id: int, title: str, name: str, by: int | None, now: datetime
) -> ChatBinding | None:
    try:
        return await storage.grids.bind_supervisor(
            chat_id=chat_id, title=title, name=name, by=by, now=now
        )
    except UnknownUnitError:
        return None


async def office_chats(
    storage: Storage, grid: GridInfo, level: int
) -> tuple[list[int], int | None]:
    """Where an escalation of ``level`` goes. Level 1: the community's office chats; level 2:
    the street's. A community without a chat of its own escalates to its street at once, so
    nothing overdue goes unseen. Returns the chats and which office they belong to (None: no
    chat at all)."""
    chats = await storage.grids.supervisor_chats(grid.community_id, grid.street_id)
    community = [c.chat_id for c in chats if c.community_id is not None]
    street = [c.chat_id for c in chats if c.community_id is None]
    if level == 1 and community:
        return community, 1
    return (street, 2) if street else ([], None)
