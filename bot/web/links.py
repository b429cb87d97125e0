"""/web: the personal login link an officer, staff member or admin is given (no telegram).

:func:`issue_link` decides (the person's grants, the rate limit), keeps the link's row and
returns what to tell her; :func:`link_message` and friends word it. handlers/web.py only
carries the answer to Telegram.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from bot.texts import Texts
from bot.web import tokens
from bot.web.access import Grant, GrantKind, RoleChecker, dump_grants, grants_for
from storage import GridInfo, Storage

logger = logging.getLogger(__name__)

LINKS_PER_WINDOW = 5  # login links one person may ask for …
RATE_WINDOW = timedelta(hours=1)  # … within this long


@dataclass(frozen=True)
class Issued:
    """A link was made: its URL, until when it works, and what it opens."""

    url: str
    expires_at: datetime
    grants: tuple[Grant, ...]
    everything: bool  # an admin: every grid
    names: tuple[str, ...]  # otherwise the streets, communities and grids it covers


@dataclass(frozen=True)
class NotStaff:
    """A resident: nothing to see on the page."""


@dataclass(frozen=True)
class TooMany:
    """Too many links within RATE_WINDOW: the next one in ``retry_after``."""

    retry_after: timedelta

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after.total_seconds() / 60))


Issue = Issued | NotStaff | TooMany


async def issue_link(
    storage: Storage,
    roles: RoleChecker,
    *,
    base_url: str,
    key: bytes,
    user_id: int,
    user_name: str,
    now: datetime,
    grid: GridInfo | None = None,
) -> Issue:
    """A new single-use login link for ``user_id``, kept for LOGIN_TTL; or why not.

    ``grid``: the grid group /web was sent in, whose administrators are asked for directly.
    """
    grants = await grants_for(roles, storage, user_id, grid)
    if not grants:
        return NotStaff()
    since = now - RATE_WINDOW
    if await storage.web.logins_since(user_id, since) >= LINKS_PER_WINDOW:
        first = await storage.web.first_login_since(user_id, since)
        wait = (first + RATE_WINDOW - now) if first is not None else RATE_WINDOW
        logger.info("web login link refused to %s: %d within the hour", user_id, LINKS_PER_WINDOW)
        return TooMany(max(wait, timedelta(0)))
    login_id = tokens.new_login_id()
    expires_at = now + tokens.LOGIN_TTL
    await storage.web.create_login(
        login_id, user_id, user_name, dump_grants(grants), now, expires_at
    )
    url = tokens.login_url(base_url, tokens.sign(login_id, key))
    everything = any(g.kind is GrantKind.ADMIN for g in grants)
    names = () if everything else _names(grants, await storage.grids.grids())
    logger.info("web login link for %s (%d grants)", user_id, len(grants))
    return Issued(url, expires_at, tuple(grants), everything, names)


def _names(grants: Sequence[Grant], grids: Sequence[GridInfo]) -> tuple[str, ...]:
    """Streets, then communities, then the grids outside them, each named once."""
    streets = {g.id for g in grants if g.kind is GrantKind.STREET}
    communities = {g.id for g in grants if g.kind is GrantKind.COMMUNITY}
    own = {g.id for g in grants if g.kind is GrantKind.GRID}
    names: list[str] = []
    for grid in grids:
        if grid.street_id in streets and grid.street_name:
            names.append(grid.street_name)
    for grid in grids:
        if grid.community_id in communities and grid.street_id not in streets:
            names.append(grid.community_name)
    for grid in grids:
        covered = grid.community_id in communities or grid.street_id in streets
        if grid.id in own and not covered:
            names.append(grid.name)
    return tuple(dict.fromkeys(names))


def link_message(issued: Issued, texts: Texts, tz: ZoneInfo) -> str:
    """The private message carrying the link: what it opens, that it is hers alone, expiry."""
    if issued.everything:
        scope = texts("web_link.scope_all")
    else:
        scope = texts(
            "web_link.scope", names=escape(texts("text.list_separator").join(issued.names))
        )
    minutes = int(tokens.LOGIN_TTL.total_seconds() // 60)
    return texts(
        "web_link.sent",
        url=escape(issued.url),
        scope=scope,
        minutes=minutes,
        until=texts.moment(issued.expires_at, tz),
    )
