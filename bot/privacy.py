"""Who reads a resident's phone and ID numbers unmasked (pure; no telegram import).

The rule: residents' phone and ID numbers are seen unmasked only by the person who wrote them
and by staff (the grid's officers, community or street staff, admins), and by them only in a
private chat, or in the ledger (``bot.export``). Everyone else sees them masked, in every view:
a co-reporter who said "+1", a resident whose own report ``/dup`` merged into this one (both
are *reporters* of the ticket, not its writer), and everybody in a group, where whatever the
bot posts is read by all its members.

Every view that renders what a resident wrote (``bot.views``, ``bot.receipts``, /my, /status,
/list, /show) asks :func:`may_see_contacts` through a :class:`Viewer`, ticket by ticket.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.parsing.contacts import mask_sensitive
from storage import Ticket

__all__ = ["PUBLIC", "Viewer", "may_see_contacts"]


def may_see_contacts(
    viewer_user_id: int | None, ticket: Ticket, *, viewer_is_staff: bool, chat_is_private: bool
) -> bool:
    """Whether this viewer, in this chat, may read the numbers in ``ticket``'s text unmasked."""
    if not chat_is_private:
        return False  # a group: every member reads what the bot posts
    if viewer_is_staff:
        return True
    return viewer_user_id is not None and viewer_user_id == ticket.reporter_id


@dataclass(frozen=True)
class Viewer:
    """Who a rendered text is for, and where it is shown."""

    user_id: int | None
    private: bool
    """The text goes to the viewer's private chat with the bot (False: a group)."""
    staff_grids: frozenset[int] | None = frozenset()
    """The grids whose tickets the viewer works as staff; None: every grid (an admin)."""

    def is_staff_for(self, ticket: Ticket) -> bool:
        return self.staff_grids is None or ticket.grid_id in self.staff_grids

    def sees_contacts(self, ticket: Ticket) -> bool:
        return may_see_contacts(
            self.user_id,
            ticket,
            viewer_is_staff=self.is_staff_for(ticket),
            chat_is_private=self.private,
        )

    def shows(self, ticket: Ticket, text: str) -> str:
        """``text`` (the ticket's report, or a note about it) as this viewer may read it."""
        return text if self.sees_contacts(ticket) else mask_sensitive(text)


PUBLIC = Viewer(None, private=False)
"""A group chat: receipts, digests and everything else posted where all members read."""
