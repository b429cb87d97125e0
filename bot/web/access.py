"""Who may see what on the staff web page: grants given at /web, checked again at every request.

The page follows the chat's rules (bot/roles.py). At /web, :func:`grants_for` writes down why the
person may look, one :class:`Grant` per reason: a deployment admin (everything), a grid's named
officer or its group's administrator (that grid), a member of a community's or street's
supervisor chat (its grids). The grants travel with the login link and the session as JSON.
At every request :func:`verify` keeps only the grants still true then, asking the database and
Telegram afresh (the web process's RoleBook has no cache), so a role that ended — /unofficer, a
demoted admin, staff who left the supervisor chat, a chat unbound, ADMIN_IDS changed — loses its
reach at the next page, and nothing left means access ended.

No telegram import here: Telegram is reached through :class:`RoleChecker`, which
``bot.roles.RoleBook`` is.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum, unique
from typing import Protocol

from storage import ChatBinding, GridInfo, Storage

logger = logging.getLogger(__name__)


class RoleChecker(Protocol):
    """What access needs of ``bot.roles.RoleBook``."""

    def is_admin(self, user_id: int | None) -> bool: ...

    def cached_admin_chats(self, user_id: int) -> set[int]: ...

    async def chat_admins(self, chat_id: int) -> frozenset[int]: ...

    async def is_member(self, chat_id: int, user_id: int) -> bool: ...


@unique
class GrantKind(StrEnum):
    ADMIN = "admin"  # ADMIN_IDS: every grid
    GRID = "grid"  # a named officer of the grid, or an administrator of its group
    COMMUNITY = "community"  # a member of the community's supervisor chat
    STREET = "street"  # a member of the street's supervisor chat


@dataclass(frozen=True)
class Grant:
    """One reason to see something. ADMIN: ``id`` None. GRID: ``id`` the grid. COMMUNITY /
    STREET: ``id`` the community / street, ``via_chat`` the supervisor chat whose membership
    grants it."""

    kind: GrantKind
    id: int | None = None
    via_chat: int | None = None


def dump_grants(grants: Sequence[Grant]) -> str:
    return json.dumps(
        [{"kind": str(g.kind), "id": g.id, "via_chat": g.via_chat} for g in grants],
        separators=(",", ":"),
    )


def load_grants(text: str) -> list[Grant]:
    """The grants of :func:`dump_grants`; anything else (damaged, foreign) grants nothing."""
    try:
        items = json.loads(text)
        if not isinstance(items, list):
            return []
        return [_grant(item) for item in items]
    except (ValueError, TypeError, KeyError):
        return []


def _grant(item: object) -> Grant:
    if not isinstance(item, dict):
        raise TypeError("a grant is an object")
    kind = GrantKind(item["kind"])
    ident, via = item.get("id"), item.get("via_chat")
    for value in (ident, via):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TypeError("ids are integers")
    if (kind is GrantKind.ADMIN) != (ident is None):
        raise ValueError("only the admin grant has no id")
    if (kind in (GrantKind.COMMUNITY, GrantKind.STREET)) != (via is not None):
        raise ValueError("community and street grants come through a chat")
    return Grant(kind, ident, via)


@dataclass(frozen=True)
class Scope:
    """What one person may see now: ``grid_ids`` None means every grid (an admin)."""

    user_id: int
    user_name: str
    is_admin: bool
    grid_ids: frozenset[int] | None
    grants: tuple[Grant, ...] = field(default=(), compare=False)  # the ones still true

    def sees(self, grid_id: int) -> bool:
        return self.grid_ids is None or grid_id in self.grid_ids


# -- at /web: why this person may look -----------------------------------------------------------


async def grants_for(
    roles: RoleChecker, storage: Storage, user_id: int, grid: GridInfo | None = None
) -> list[Grant]:
    """Every reason ``user_id`` may look, now; [] for a resident.

    Grid administrators are known from the RoleBook's cache (filled when they act in their
    group) and, for ``grid`` (the group /web was sent in), from Telegram directly; named
    officers and supervisor-chat members always.
    """
    grants: list[Grant] = []
    if roles.is_admin(user_id):
        grants.append(Grant(GrantKind.ADMIN))
    grid_ids = set(await storage.officers.grids_of(user_id))
    admin_chats = roles.cached_admin_chats(user_id)
    live = grid.chat_id if grid is not None else None
    if live is not None and user_id in await roles.chat_admins(live):
        admin_chats.add(live)
    bindings = await storage.grids.bindings()
    grid_ids |= {
        b.grid_id
        for b in bindings
        if b.is_grid and b.grid_id is not None and b.chat_id in admin_chats
    }
    grants += [Grant(GrantKind.GRID, grid_id) for grid_id in sorted(grid_ids)]
    for binding in bindings:
        unit = _supervised(binding)
        if unit is not None and await roles.is_member(binding.chat_id, user_id):
            grants.append(Grant(unit[0], unit[1], binding.chat_id))
    return grants


def _supervised(binding: ChatBinding) -> tuple[GrantKind, int] | None:
    """What an active supervisor chat supervises: its community, else its street."""
    if binding.is_grid or not binding.active:
        return None
    if binding.community_id is not None:
        return GrantKind.COMMUNITY, binding.community_id
    if binding.street_id is not None:
        return GrantKind.STREET, binding.street_id
    return None


# -- at every request: which of them still hold -------------------------------------------------


async def verify(
    grants: Sequence[Grant], user_id: int, user_name: str, roles: RoleChecker, storage: Storage
) -> Scope | None:
    """The scope of the grants still true now; None when none is (access ended)."""
    kept = [g for g in grants if await _holds(g, user_id, roles, storage)]
    if not kept:
        if grants:
            logger.info("web access of user %s ended: no grant holds any more", user_id)
        return None
    if any(g.kind is GrantKind.ADMIN for g in kept):
        return Scope(user_id, user_name, True, None, tuple(kept))
    grids = await storage.grids.grids()
    return Scope(user_id, user_name, False, frozenset(_grid_ids(kept, grids)), tuple(kept))


async def _holds(grant: Grant, user_id: int, roles: RoleChecker, storage: Storage) -> bool:
    if grant.kind is GrantKind.ADMIN:
        return roles.is_admin(user_id)
    if grant.id is None:
        return False
    if grant.kind is GrantKind.GRID:
        if await storage.officers.is_officer(grant.id, user_id):
            return True
        grid = await storage.grids.grid(grant.id)
        return (
            grid is not None
            and grid.chat_id is not None
            and user_id in await roles.chat_admins(grid.chat_id)
        )
    if grant.via_chat is None:
        return False
    binding = await storage.grids.active_binding(grant.via_chat)
    if binding is None or _supervised(binding) != (grant.kind, grant.id):
        return False
    return await roles.is_member(grant.via_chat, user_id)


def _grid_ids(grants: Iterable[Grant], grids: Sequence[GridInfo]) -> set[int]:
    found: set[int] = set()
    for grant in grants:
        if grant.kind is GrantKind.GRID and grant.id is not None:
            found.add(grant.id)
        elif grant.kind is GrantKind.COMMUNITY:
            found |= {g.id for g in grids if g.community_id == grant.id}
        elif grant.kind is GrantKind.STREET:
            found |= {g.id for g in grids if g.street_id is not None and g.street_id == grant.id}
    return found
