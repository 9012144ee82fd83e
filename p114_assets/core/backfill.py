"""Planning backfills: which (settlement date, run type) partitions to load, in which chunks."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from p114_assets.core.calendar import SettlementCalendar
from p114_assets.core.coverage import dates_between
from p114_assets.core.settlement import RUN_PRECEDENCE

Partition = tuple[dt.date, str]


def best_available_plan(start: dt.date, end: dt.date, as_of: dt.date, calendar: SettlementCalendar) -> dict[dt.date, str | None]:
    """For each settlement date, the most mature run that should exist by `as_of` (RF for dates old
    enough, then R3, R2, R1, SF, II for newer ones; None where not even II is due yet)."""
    return {day: calendar.best_available_run(day, as_of) for day in dates_between(start, end)}


def held_plan(start: dt.date, end: dt.date, held: Iterable[Partition]) -> dict[dt.date, str | None]:
    """For each settlement date, the most mature run among the partitions a source holds (None
    where it holds no file of that date): what a backfill from that source can actually load."""
    best: dict[dt.date, str] = {}
    for day, run in held:
        if start <= day <= end and (day not in best or RUN_PRECEDENCE[run] > RUN_PRECEDENCE[best[day]]):
            best[day] = run
    return {day: best.get(day) for day in dates_between(start, end)}


def summary(plan: dict[dt.date, str | None]) -> list[tuple[str, int, dt.date | None, dt.date | None]]:
    """(run type, dates, first date, last date) per run type, least to most mature, then 'none'."""
    counts = Counter(plan.values())
    rows = []
    for run in sorted((r for r in counts if r), key=RUN_PRECEDENCE.__getitem__) + ([None] if None in counts else []):
        dates = [d for d, r in plan.items() if r == run]
        rows.append((run or "none yet", counts[run], min(dates), max(dates)))
    return rows


def chunk_partitions(partitions: Iterable[Partition], size: int) -> list[list[Partition]]:
    """Runs of at most `size` partitions of one run type over consecutive dates: the shape of a
    partition range, so each chunk is one Dagster run."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    chunks: list[list[Partition]] = []
    for day, run in sorted(set(partitions), key=lambda p: (RUN_PRECEDENCE[p[1]], p[0])):
        last = chunks[-1] if chunks else None
        if last and last[-1][1] == run and last[-1][0] + dt.timedelta(days=1) == day and len(last) < size:
            last.append((day, run))
        else:
            chunks.append([(day, run)])
    return chunks
