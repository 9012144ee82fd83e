"""Coverage: for each settlement date and run type, is the run loaded, missing, failed, or not yet
due? Due-ness comes from the settlement calendar (core/calendar.py), so a run that cannot exist
yet is never reported missing."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Literal

from p114_assets.core.calendar import SettlementCalendar
from p114_assets.core.settlement import RUN_TYPES

State = Literal["present", "check_failed", "missing", "not_due"]
STATES: tuple[State, ...] = ("present", "check_failed", "missing", "not_due")


def is_due(settlement_date: dt.date, run_type: str, today: dt.date, grace_working_days: int = 0,
           calendar: SettlementCalendar | None = None) -> bool:  # fmt: skip
    """Whether a run should have been published by `today` (plus a grace of working days), by the
    calendar (actual dates where known, else nominal offsets). DF is due only where the calendar
    says it was published."""
    return (calendar or SettlementCalendar()).is_due(settlement_date, run_type, today, grace_working_days)


def dates_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def coverage_grid(
    dates: Iterable[dt.date],
    present: set[tuple[dt.date, str]],
    failed: set[tuple[dt.date, str]],
    today: dt.date,
    run_types: Iterable[str] = RUN_TYPES,
    grace_working_days: int = 0,
    calendar: SettlementCalendar | None = None,
) -> dict[tuple[dt.date, str], State]:
    grid: dict[tuple[dt.date, str], State] = {}
    for day in dates:
        for run in run_types:
            key = (day, run)
            if key in failed:
                grid[key] = "check_failed"
            elif key in present:
                grid[key] = "present"
            elif is_due(day, run, today, grace_working_days, calendar):
                grid[key] = "missing"
            else:
                grid[key] = "not_due"
    return grid


def totals(grid: dict[tuple[dt.date, str], State]) -> dict[str, Counter]:
    """Counts of each state per run type."""
    out: dict[str, Counter] = {}
    for (_, run), state in grid.items():
        out.setdefault(run, Counter())[state] += 1
    return out


def incomplete(grid: dict[tuple[dt.date, str], State]) -> list[tuple[dt.date, str]]:
    """Runs that are due and not loaded (or loaded but failed a check)."""
    return sorted(key for key, state in grid.items() if state in ("missing", "check_failed"))
