"""The settlement calendar: when each run of a settlement date is published.

Runs are published a nominal number of England and Wales working days after the settlement date
(S0142_FORMAT.md, "Runs, the calendar and clock changes"). Bank holidays come from the maintained
`holidays` package rather than a table we would have to keep up to date by hand.
"""

from __future__ import annotations

import csv
import datetime as dt
from functools import lru_cache
from pathlib import Path

import holidays

# Nominal working-day offsets after the settlement date, least to most mature. DF happens only
# where a dispute needs it.
NOMINAL_OFFSETS: dict[str, int | None] = {
    "II": 5,
    "SF": 16,
    "R1": 39,
    "R2": 84,
    "R3": 154,
    "RF": 282,
    "DF": None,
}


# DF has no nominal offset: a dispute may be raised up to 70 working days after RF, and DF follows
# when the corrected data is in [I]. Where no calendar file gives its date, DF is assumed this many
# working days after RF: the generator stamps DF files there and the Portal source looks there.
DF_AFTER_RF_WORKING_DAYS = 120
# A run's file is searched for on the publication dates around the expected one (runs slip).
SEARCH_BEFORE_WORKING_DAYS = 3
SEARCH_AFTER_WORKING_DAYS = 10


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=[year]).keys())


def is_working_day(day: dt.date) -> bool:
    """Monday to Friday and not an England and Wales bank holiday."""
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


# Cached: the alerts sensor's coverage grid asks every date's six runs on every tick, and RF's
# offset walks ~400 days a time (~2 CPU s per 100 s of a running backfill on the code server).
@lru_cache(maxsize=1 << 15)
def add_working_days(start: dt.date, n: int) -> dt.date:
    """The date `n` working days after `start` (before it, for a negative `n`); start itself is
    not counted."""
    step = dt.timedelta(days=1 if n >= 0 else -1)
    day, remaining = start, abs(n)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def nominal_publication_date(settlement_date: dt.date, run_type: str) -> dt.date | None:
    """The nominal publication date of a run, or None for a run with no nominal timing (DF)."""
    offset = NOMINAL_OFFSETS[run_type]
    if offset is None:
        return None
    return add_working_days(settlement_date, offset)


def assumed_publication_date(settlement_date: dt.date, run_type: str) -> dt.date:
    """The nominal publication date of a run; for DF, which has none, DF_AFTER_RF_WORKING_DAYS
    after RF's."""
    nominal = nominal_publication_date(settlement_date, run_type)
    if nominal is None:
        return add_working_days(nominal_publication_date(settlement_date, "RF"), DF_AFTER_RF_WORKING_DAYS)
    return nominal


class CalendarError(ValueError):
    """A calendar file that cannot be used: which file, which line, why."""


class SettlementCalendar:
    """When each run of a settlement date is (or was) published: the actual date where a calendar
    file gives one, else the nominal working-day offset. DF is expected only where the file says."""

    def __init__(self, actual: dict[tuple[dt.date, str], dt.date] | None = None):
        self.actual = dict(actual or {})

    @classmethod
    def from_csv(cls, path: str | Path) -> "SettlementCalendar":
        """A CSV with a header and the columns settlement_date, run_type, publication_date
        (YYYY-MM-DD), for example exported from the SAA settlement calendar."""
        path = Path(path)
        actual: dict[tuple[dt.date, str], dt.date] = {}
        try:
            with path.open(newline="") as handle:
                reader = csv.DictReader(handle)
                missing = {"settlement_date", "run_type", "publication_date"} - set(reader.fieldnames or [])
                if missing:
                    raise CalendarError(f"{path.name}: missing column(s) {', '.join(sorted(missing))}")
                for line, row in enumerate(reader, start=2):
                    try:
                        day = dt.date.fromisoformat(row["settlement_date"].strip())
                        published = dt.date.fromisoformat(row["publication_date"].strip())
                    except ValueError:
                        raise CalendarError(f"{path.name}, line {line}: dates must be YYYY-MM-DD") from None
                    run = row["run_type"].strip().upper()
                    if run not in NOMINAL_OFFSETS:
                        raise CalendarError(f"{path.name}, line {line}: unknown run type {run!r}")
                    if published < day:
                        raise CalendarError(f"{path.name}, line {line}: {run} of {day} published before it ({published})")
                    actual[(day, run)] = published
        except OSError as exc:
            raise CalendarError(f"cannot read calendar {path}: {exc.strerror or exc}") from None
        return cls(actual)

    def expected_publication(self, settlement_date: dt.date, run_type: str) -> dt.date | None:
        return self.actual.get((settlement_date, run_type)) or nominal_publication_date(settlement_date, run_type)

    def search_dates(self, settlement_date: dt.date, run_type: str, before: int = SEARCH_BEFORE_WORKING_DAYS,
                     after: int = SEARCH_AFTER_WORKING_DAYS) -> list[dt.date]:  # fmt: skip
        """Publication dates on which to look for a run's file, most likely first: the expected date
        (actual, else nominal, for DF the assumed one), then up to `after` working days later, then
        up to `before` earlier."""
        anchor = self.actual.get((settlement_date, run_type)) or assumed_publication_date(settlement_date, run_type)
        offsets = [0, *range(1, after + 1), *range(-1, -before - 1, -1)]
        return [add_working_days(anchor, n) for n in offsets]

    def is_due(self, settlement_date: dt.date, run_type: str, as_of: dt.date, grace_working_days: int = 0) -> bool:
        """Whether a run should have been published by `as_of` (after a grace of working days).
        DF is due only where the calendar file says it was published."""
        published = self.expected_publication(settlement_date, run_type)
        return published is not None and add_working_days(published, grace_working_days) <= as_of

    def expected_runs(self, settlement_date: dt.date, as_of: dt.date, grace_working_days: int = 0) -> list[str]:
        """The runs that should exist for a date by `as_of` (least to most mature)."""
        return [run for run in NOMINAL_OFFSETS if self.is_due(settlement_date, run, as_of, grace_working_days)]

    def best_available_run(self, settlement_date: dt.date, as_of: dt.date) -> str | None:
        """The most mature run that should exist for a date by `as_of` (None: not even II yet)."""
        runs = self.expected_runs(settlement_date, as_of)
        return runs[-1] if runs else None
