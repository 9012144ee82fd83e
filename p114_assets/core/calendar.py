"""The settlement calendar: when each run of a settlement date is published.

Runs are published a nominal number of England and Wales working days after the settlement date
(S0142_FORMAT.md, "Runs, the calendar and clock changes"). Bank holidays come from the maintained
`holidays` package rather than a table we would have to keep up to date by hand.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

# Nominal working-day offsets after the settlement date. DF happens only where a dispute needs it.
NOMINAL_OFFSETS: dict[str, int | None] = {
    "II": 5,
    "SF": 16,
    "R1": 39,
    "R2": 84,
    "R3": 154,
    "RF": 282,
    "DF": None,
}


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=[year]).keys())


def is_working_day(day: dt.date) -> bool:
    """Monday to Friday and not an England and Wales bank holiday."""
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The date `n` working days after `start` (start itself is not counted)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    day = start
    remaining = n
    while remaining:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def nominal_publication_date(settlement_date: dt.date, run_type: str) -> dt.date | None:
    """The nominal publication date of a run, or None for a run with no nominal timing (DF)."""
    offset = NOMINAL_OFFSETS[run_type]
    if offset is None:
        return None
    return add_working_days(settlement_date, offset)
