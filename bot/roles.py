"""Who may work which grid: deployment admins, grid officers, community and street staff.

Grid officers are the administrators of the grid's group (getChatAdministrators) plus officers
named by a deployment admin; staff are the members of a supervisor chat bound to the grid's
community or street. Telegram's answers are cached for a while and forgotten on chat_member
updates, so a busy group does not cost an API call per command.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from telegram import Bot, ChatMember
from telegram.error import TelegramError

from bot.clock import Clock
from storage import GridInfo, Storage

logger = logging.getLogger(__name__)

PRESENT = frozenset(
    {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED}
)


# With no grid found for someone in private, at most this many grid groups are asked for their
# administrators (getChatAdministrators, cached): beyond, only named officers and the cache count.
ASK_GROUPS = 30


class Role(IntEnum):
    """Ordered: a higher role may do what a lower one may."""

    RESIDENT = 0
    STAFF = 1  # community / street office: works every grid of its community or street
    OFFICER = 2  # grid officer: works the tickets of their grid
    ADMIN = 3  # deployment admin (ADMIN_IDS): everything

    @property
    def works_tickets(self) -> bool:
        return self is not Role.RESIDENT


@dataclass
class _Cached:
    value: frozenset[int]
    until: datetime
    names: dict[int, str]


class RoleBook:
    def __init__(
        self,
        bot: Bot,
        storage: Storage,
        admin_ids: frozenset[int],
        clock: Clock,
        ttl: timedelta = timedelta(minutes=10),
    ) -> None:
        self._bot = bot
        self._storage = storage
        self._admin_ids = admin_ids
        self._clock = clock
        self._ttl = ttl
        self._admins: dict[int, _Cached] = {}
        self._members: dict[tuple[int, int], tuple[bool, datetime]] = {}

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self._admin_ids

    def forget(self, chat_id: int, user_id: int | None = None) -> None:
        """A chat_member update arrived: ask Telegram again next time."""
        self._admins.pop(chat_id, None)
        if user_id is not None:
            self._members.pop((chat_id, user_id), None)

    async def chat_admins(self, chat_id: int) -> frozenset[int]:
        now = self._clock.now()
        cached = self._admins.get(chat_id)
        if cached is not None and cached.until > now:
            return cached.value
        try:
            members = await self._bot.get_chat_administrators(chat_id)
        except TelegramError as exc:
            logger.warning("getChatAdministrators(%s) failed: %s", chat_id, exc)
            return cached.value if cached is not None else frozenset()
        people = {m.user.id: m.user.full_name for m in members if not m.user.is_bot}
        value = frozenset(m.user.id for m in members)
        self._admins[chat_id] = _Cached(value, now + self._ttl, people)
        return value

    async def officers_of(self, grid: GridInfo) -> list[tuple[int, str]]:
        """The people to mention for a grid: its group's (human) admins and named officers."""
        people: dict[int, str] = {}
        if grid.chat_id is not None:
            await self.chat_admins(grid.chat_id)
            cached = self._admins.get(grid.chat_id)
            if cached is not None:
                people.update(cached.names)
        for user_id, name in await self._storage.officers.of_grid(grid.id):
            people.setdefault(user_id, name)
        return list(people.items())

    def cached_admin_chats(self, user_id: int) -> set[int]:
        """Chats whose (still fresh) admin list names the user; no API call."""
        now = self._clock.now()
        return {c for c, v in self._admins.items() if v.until > now and user_id in v.value}

    async def is_member(self, chat_id: int, user_id: int) -> bool:
        now = self._clock.now()
        cached = self._members.get((chat_id, user_id))
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            member = await self._bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            logger.info("getChatMember(%s, %s): %s", chat_id, user_id, exc)
            return cached[0] if cached is not None else False
        present = member.status in PRESENT
        self._members[(chat_id, user_id)] = (present, now + self._ttl)
        return present

    async def role(self, user_id: int | None, grid: GridInfo) -> Role:
        """The user's role for one grid."""
        if user_id is None:
            return Role.RESIDENT
        if self.is_admin(user_id):
            return Role.ADMIN
        if await self._storage.officers.is_officer(grid.id, user_id):
            return Role.OFFICER
        if grid.chat_id is not None and user_id in await self.chat_admins(grid.chat_id):
            return Role.OFFICER
        for chat in await self._storage.grids.supervisor_chats(grid.community_id, grid.street_id):
            if await self.is_member(chat.chat_id, user_id):
                return Role.STAFF
        return Role.RESIDENT

    async def workable_grids(self, user_id: int) -> list[GridInfo] | None:
        """Grids a user may work from a private chat; None means every grid (an admin).

        Named officers and supervisor-chat members are always recognised; grid-chat
        administrators from the cache filled when they act in their group, and — when that
        finds no grid at all and at most ``ASK_GROUPS`` grid groups are bound — by asking each
        group for its administrators (each answer cached for everyone), so an officer who has
        not written in his group lately is not refused in private.
        """
        if self.is_admin(user_id):
            return None
        named = await self._storage.officers.grids_of(user_id)
        admin_chats = self.cached_admin_chats(user_id)
        grids = await self._storage.grids.grids()
        supervised: set[tuple[str, int]] = set()
        for binding in await self._storage.grids.bindings():
            if binding.is_grid or not await self.is_member(binding.chat_id, user_id):
                continue
            if binding.community_id is not None:
                supervised.add(("community", binding.community_id))
            elif binding.street_id is not None:  # a street's office: every community in it
                supervised.add(("street", binding.street_id))
        found = [
            g
            for g in grids
            if g.id in named
            or (g.chat_id is not None and g.chat_id in admin_chats)
            or ("community", g.community_id) in supervised
            or (g.street_id is not None and ("street", g.street_id) in supervised)
        ]
        bound = [g for g in grids if g.chat_id is not None]
        if found or len(bound) > ASK_GROUPS:
            return found
        return [g for g in bound if g.chat_id and user_id in await self.chat_admins(g.chat_id)]
