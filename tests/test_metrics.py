"""The three rates and the medians on a hand-computed example, through the real migrations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from bot.metrics import Period, Rate, Rates, rank, rates_by_grid, rates_of
from storage import NewTicket, Storage
from storage.db import to_db_time
from storage.metrics import CategoryDayCounts, Medians, MetricsRepository, RateCounts, WeekCounts


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


START, END = at(19), at(26)  # the period [Nov 19, Nov 26) in UTC
PERIOD = Period(START, END)


@dataclass(frozen=True)
class Grid:
    id: int
    chat_id: int


_message_ids: dict[int, int] = {}


async def bind_grid(
    storage: Storage, chat_id: int, grid: str, community: str = "通顺社区", street: str = "交通街道"
) -> Grid:
    binding = await storage.grids.bind_grid(
        chat_id=chat_id, title=grid, grid=grid, community=community, street=street, by=1, now=at(1)
    )
    assert binding.grid_id is not None
    return Grid(binding.grid_id, chat_id)


async def add_ticket(
    storage: Storage,
    grid: Grid,
    *,
    created: datetime,
    response_due: datetime,
    resolution_due: datetime,
    status: str = "new",
    accepted: datetime | None = None,
    resolved: datetime | None = None,
    reopen_count: int = 0,
    satisfaction: str | None = None,
    rated: datetime | None = None,
    category: str = "repair",
    body: str = "3号楼楼道灯不亮",
) -> int:
    """Open a ticket as intake does, then set its lifecycle columns by hand (no other way yet)."""
    message_id = _message_ids[grid.chat_id] = _message_ids.get(grid.chat_id, 100) + 2
    ticket, created_new = await storage.tickets.open(
        NewTicket(
            grid_id=grid.id,
            chat_id=grid.chat_id,
            message_id=message_id,
            category=category,
            text=f"#报修 {body}",
            body=body,
            reporter_id=7,
            reporter_name="王阿姨",
            created_at=created,
            response_due=response_due,
            resolution_due=resolution_due,
        )
    )
    assert created_new

    def stamp(moment: datetime | None) -> str | None:
        return None if moment is None else to_db_time(moment)

    async with storage.db.transaction() as conn:
        await conn.execute(
            "UPDATE tickets SET status = ?, accepted_at = ?, resolved_at = ?, reopen_count = ?,"
            " satisfaction = ?, rated_at = ? WHERE id = ?",
            (
                status,
                stamp(accepted),
                stamp(resolved),
                reopen_count,
                satisfaction,
                stamp(rated),
                ticket.id,
            ),
        )
    return ticket.id


@dataclass(frozen=True)
class Example:
    a: Grid
    b: Grid


async def seed_example(storage: Storage) -> Example:
    """Fifteen tickets in two grids; the comment on each says how it counts over [19, 26).

    R = 响应率, S = 解决率, F = 满意率; "den" = in the denominator, "num" = also the numerator.
    """
    a = await bind_grid(storage, -1001000000001, "第一网格")
    b = await bind_grid(storage, -1001000000002, "第二网格")
    t = storage
    # A1 acted and resolved in time, rated satisfied: R num, S num, F num.
    await add_ticket(t, a, created=at(20, 8), response_due=at(20, 10), resolution_due=at(23, 8),
                     status="closed", accepted=at(20, 9), resolved=at(22, 8),
                     satisfaction="satisfied", rated=at(22, 12))  # fmt: skip
    # A2 acted after the response deadline, resolved late, unsatisfied: R den, S den, F den.
    await add_ticket(t, a, created=at(20, 8), response_due=at(20, 10), resolution_due=at(21, 8),
                     status="closed", accepted=at(20, 12), resolved=at(22, 8),
                     satisfaction="unsatisfied", rated=at(22, 20))  # fmt: skip
    # A3 never acted, both deadlines in the period: R den, S den.
    await add_ticket(t, a, created=at(21, 8), response_due=at(21, 10), resolution_due=at(24, 8))
    # A4 never acted, deadlines after the period: counts nowhere.
    await add_ticket(t, a, created=at(25, 20), response_due=at(26, 1), resolution_due=at(28, 20))
    # A5 response deadline before the period, acted (late) in it; resolution due in it: R den,
    # S den.
    await add_ticket(t, a, created=at(17, 8), response_due=at(17, 10), resolution_due=at(20, 8),
                     status="accepted", accepted=at(19, 9))  # fmt: skip
    # A6 resolved in time but reopened (and done again): R num, S den only.
    await add_ticket(t, a, created=at(19, 8), response_due=at(19, 10), resolution_due=at(22, 8),
                     status="resolved", accepted=at(19, 9), resolved=at(21, 8),
                     reopen_count=1)  # fmt: skip
    # A7 rejected in time (a rejection is an action): R num; left out of S.
    await add_ticket(t, a, created=at(20, 8), response_due=at(20, 10), resolution_due=at(23, 8),
                     status="rejected", accepted=at(20, 9))  # fmt: skip
    # A8 everything long before, but rated basic in the period: F num only.
    await add_ticket(t, a, created=at(10, 8), response_due=at(10, 10), resolution_due=at(13, 8),
                     status="closed", accepted=at(10, 9), resolved=at(12, 8),
                     satisfaction="basic", rated=at(19, 12))  # fmt: skip
    # A9 rated satisfied before the period: counts nowhere.
    await add_ticket(t, a, created=at(10, 8), response_due=at(10, 10), resolution_due=at(13, 8),
                     status="closed", accepted=at(10, 9), resolved=at(12, 8),
                     satisfaction="satisfied", rated=at(15, 8))  # fmt: skip
    # A10 in time, no answer to the follow-up (未评价): R num, S num, not in F.
    await add_ticket(t, a, created=at(19, 8), response_due=at(19, 10), resolution_due=at(22, 8),
                     status="closed", accepted=at(19, 9), resolved=at(20, 8),
                     satisfaction="unrated", rated=at(23, 8))  # fmt: skip
    # A11 acted exactly at the response deadline, resolved exactly at the resolution deadline
    # ("at or before"): R num, S num.
    await add_ticket(t, a, created=at(21, 8), response_due=at(21, 10), resolution_due=at(24, 8),
                     status="resolved", accepted=at(21, 10), resolved=at(24, 8))  # fmt: skip
    # A12 response due exactly at the start (included), acted before the period: R num;
    # resolution due in the period, not resolved: S den.
    await add_ticket(t, a, created=at(18, 22), response_due=at(19), resolution_due=at(21, 22),
                     status="accepted", accepted=at(18, 23))  # fmt: skip
    # A13 response due exactly at the end (excluded), never acted: counts nowhere.
    await add_ticket(t, a, created=at(25, 22), response_due=at(26), resolution_due=at(27, 22))
    # B1 marked duplicate in time: R num; left out of S.
    await add_ticket(t, b, created=at(21, 8), response_due=at(21, 9), resolution_due=at(22, 8),
                     status="duplicate", accepted=at(21, 8, 30))  # fmt: skip
    # B2 resolved in the period, deadline after it; rated satisfied: R num, S num, F num.
    await add_ticket(t, b, created=at(24, 8), response_due=at(24, 12), resolution_due=at(30, 8),
                     status="closed", accepted=at(24, 9), resolved=at(25, 8),
                     satisfaction="satisfied", rated=at(25, 20))  # fmt: skip
    # B3 opened in the period, both deadlines after it, never acted: counts nowhere.
    await add_ticket(t, b, created=at(25, 23), response_due=at(26, 3), resolution_due=at(27, 23))
    # B4 rejected late: R den; left out of S.
    await add_ticket(t, b, created=at(20, 8), response_due=at(20, 9), resolution_due=at(23, 8),
                     status="rejected", accepted=at(20, 11))  # fmt: skip
    # B5 acted in time, resolved late, satisfied anyway: R num, S den, F num.
    await add_ticket(t, b, created=at(19, 8), response_due=at(19, 9), resolution_due=at(20, 8),
                     status="closed", accepted=at(19, 8, 30), resolved=at(21, 8),
                     satisfaction="satisfied", rated=at(21, 20))  # fmt: skip
    return Example(a, b)


# -- the rates ------------------------------------------------------------------------------------


async def test_rates_per_grid_and_in_total_are_exactly_the_hand_counts(storage: Storage) -> None:
    ex = await seed_example(storage)
    metrics = MetricsRepository(storage.db)
    counts = await metrics.rates_by_grid(START, END)
    assert counts == {
        ex.a.id: RateCounts(6, 9, 3, 8, 2, 3),
        ex.b.id: RateCounts(3, 4, 1, 2, 2, 2),
    }
    by_grid = await rates_by_grid(metrics, PERIOD)
    a, b = by_grid[ex.a.id], by_grid[ex.b.id]
    assert (a.response, a.resolution, a.satisfaction) == (Rate(6, 9), Rate(3, 8), Rate(2, 3))
    assert (b.response, b.resolution, b.satisfaction) == (Rate(3, 4), Rate(1, 2), Rate(2, 2))
    total = await rates_of(metrics, PERIOD)
    assert total == Rates(Rate(9, 13), Rate(4, 10), Rate(4, 5))
    assert [r.format() for r in (total.response, total.resolution, total.satisfaction)] == [
        "69.2%（9/13）",
        "40.0%（4/10）",
        "80.0%（4/5）",
    ]


async def test_a_grid_filter_counts_only_those_grids(storage: Storage) -> None:
    ex = await seed_example(storage)
    metrics = MetricsRepository(storage.db)
    only_b = await rates_by_grid(metrics, PERIOD, [ex.b.id])
    assert only_b == {ex.b.id: Rates(Rate(3, 4), Rate(1, 2), Rate(2, 2))}
    assert await metrics.rates_by_grid(START, END, []) == {}
    # A grid asked for by id without any counted ticket is listed with empty rates.
    assert await rates_by_grid(metrics, PERIOD, [ex.a.id, 999]) == {
        ex.a.id: Rates(Rate(6, 9), Rate(3, 8), Rate(2, 3)),
        999: Rates.empty(),
    }


async def test_medians_of_response_and_resolution_times(storage: Storage) -> None:
    ex = await seed_example(storage)
    metrics = MetricsRepository(storage.db)
    # Acted on in the period: 30m 30m 1h 1h 1h 1h 1h 2h 3h 4h 49h -> the 6th of 11.
    # Resolved in the period: 1d 1d 2d 2d 2d 2d 3d -> the 4th of 7.
    assert await metrics.medians(START, END) == Medians(
        timedelta(hours=1), 11, timedelta(days=2), 7
    )
    # Grid B alone: 30m 30m 1h 3h (even: the mean of the middle two) and 1d 2d.
    assert await metrics.medians(START, END, [ex.b.id]) == Medians(
        timedelta(minutes=45), 4, timedelta(hours=36), 2
    )


async def test_an_empty_period_is_zero_over_zero_never_a_percentage(storage: Storage) -> None:
    await seed_example(storage)
    metrics = MetricsRepository(storage.db)
    empty = Period(at(1), at(2))
    assert await metrics.rates_by_grid(empty.start, empty.end) == {}
    rates = await rates_of(metrics, empty)
    assert rates == Rates.empty()
    assert rates.response.value is None
    assert rates.response.format() == "—（0/0）"
    assert rates.satisfaction.format("en") == "— (0/0)"
    assert await metrics.medians(empty.start, empty.end) == Medians(None, 0, None, 0)


async def test_day_counts_and_weekly_series(storage: Storage) -> None:
    ex = await seed_example(storage)
    metrics = MetricsRepository(storage.db)
    # Nov 21: opened A3 A11 (and B1); resolved A6 (and B5). Open now (Nov 26): A3 A4 A5 A12 A13
    # in A (A5 A12 A3 past their resolution deadline), B3 in B.
    counts = await metrics.day_counts_by_grid(at(21), at(22), now=END)
    assert counts == {
        ex.a.id: {"repair": CategoryDayCounts(new=2, resolved=1, open=5, overdue=3)},
        ex.b.id: {"repair": CategoryDayCounts(new=1, resolved=1, open=1, overdue=0)},
    }
    assert await metrics.day_counts_by_grid(at(21), at(22), END, [ex.b.id]) == {
        ex.b.id: {"repair": CategoryDayCounts(new=1, resolved=1, open=1, overdue=0)}
    }
    # Week [12, 19): opened A5 A12, resolved A8 A9; week [19, 26): 14 opened, 7 resolved.
    assert await metrics.weekly_series(2, END) == [
        WeekCounts(at(12), 2, 2),
        WeekCounts(at(19), 14, 7),
    ]
    assert await metrics.weekly_series(1, END, [ex.b.id]) == [WeekCounts(at(19), 5, 2)]
    assert await metrics.weekly_series(1, at(5)) == [WeekCounts(at(5) - timedelta(days=7), 0, 0)]


async def test_overdue_lists_are_per_grid_most_overdue_first(storage: Storage) -> None:
    ex = await seed_example(storage)
    metrics = MetricsRepository(storage.db)
    overdue = await metrics.overdue_by_grid(END, per_grid=2)
    # Open past the resolution deadline at Nov 26: A5 (due 20th), A12 (21st), A3 (24th).
    assert list(overdue) == [ex.a.id]
    assert [t.resolution_due for t in overdue[ex.a.id]] == [at(20, 8), at(21, 22)]
    three = await metrics.overdue_by_grid(END, 10, (ex.a.id, ex.b.id))
    assert list(three) == [ex.a.id]  # B has none
    assert [t.resolution_due for t in three[ex.a.id]] == [at(20, 8), at(21, 22), at(24, 8)]


@pytest.mark.sqlite_only
async def test_every_query_reads_index_ranges_not_the_whole_table(storage: Storage) -> None:
    plans = await MetricsRepository(storage.db).query_plans()
    assert set(plans) == {
        "rates",
        "day",
        "overdue",
        "response_median",
        "resolution_median",
        "weeks",
    }
    for name, lines in plans.items():
        for line in lines:
            if line.startswith(("SCAN tickets", "SCAN t ")) or line == "SCAN t":
                # The one scan allowed walks the partial index of open tickets (migration 0004).
                assert line == "SCAN tickets USING COVERING INDEX tickets_open_by_grid", (
                    name,
                    lines,
                )
    rates_plan = " | ".join(plans["rates"])
    for index in (
        "tickets_response_due_any",
        "tickets_accepted_at",
        "tickets_resolution_due_any",
        "tickets_resolved_at",
        "tickets_rated_at",
    ):
        assert index in rates_plan


# -- Rate, Rates, ranking -------------------------------------------------------------------------


def test_rate_shows_its_numerator_and_denominator() -> None:
    assert Rate(12, 13).format() == "92.3%（12/13）"
    assert Rate(12, 13).format("en") == "92.3% (12/13)"
    assert str(Rate(0, 0)) == "—（0/0）"
    assert Rate(5, 5).format() == "100.0%（5/5）"
    assert Rate(0, 4).format() == "0.0%（0/4）"
    assert Rate(1, 3).value == pytest.approx(1 / 3)
    assert Rate(0, 0).value is None
    assert Rate(1, 2) + Rate(2, 3) == Rate(3, 5)
    with pytest.raises(ValueError, match="impossible"):
        Rate(3, 2)


def test_periods_are_aware_and_forward() -> None:
    assert Period.last(7, END) == Period(START, END)
    with pytest.raises(ValueError, match="timezone"):
        Period(datetime(2026, 1, 1), END)  # naive on purpose
    with pytest.raises(ValueError, match="ends after"):
        Period(END, START)


def test_ranking_resolution_then_response_then_satisfaction_empty_last_then_name() -> None:
    def rates(resolution: tuple[int, int], response: tuple[int, int] = (0, 0)) -> Rates:
        return Rates(Rate(*response), Rate(*resolution), Rate(0, 0))

    units = {
        "丁": rates((0, 0), (5, 5)),  # no resolution data: after every grid that has some
        "甲": rates((1, 3), (1, 2)),
        "乙": rates((2, 6), (1, 2)),  # 1/3 == 2/6 exactly, same response: by name
        "丙": rates((1, 3), (2, 2)),  # same resolution, better response
        "戊": rates((0, 4)),  # 0 % is a value, ranked before "no data"
        "己": rates((1, 1)),
    }
    order = rank(units, rates=lambda name: units[name], name=lambda name: name)
    assert order == ["己", "丙", "乙", "甲", "戊", "丁"]
    assert Fraction(1, 3) == Rate(2, 6).fraction
