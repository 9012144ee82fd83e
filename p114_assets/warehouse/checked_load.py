"""Check before swap: how one parsed raw partition enters the warehouse, on any engine.

1. The parsed rows are made the rows as stored (with their period times): the staged rows.
2. Every check of the partition runs on them (core/partition_checks.py, in memory, one pass per
   table), with the rows per table of the partition's loaded version for rows_vs_previous_version.
3. Only when every blocking check passes do they replace the partition's rows, in one transaction
   with its loaded_runs and partition_status rows (Warehouse.replace_partition). Otherwise the raw
   tables are not touched: the rows go to `<table>_quarantine`, replacing any earlier rejected
   version of the partition, with a partition_status row saying which checks failed.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

from p114_assets.core import partition_checks
from p114_assets.core.quality import Outcome
from p114_assets.core.s0142.parser import S0142Header
from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.warehouse import stored
from p114_assets.warehouse.base import SCHEMA, Warehouse
from p114_assets.warehouse.tables import PARTITION_STATUS


@dataclass
class PartitionLoad:
    """What happened to one partition: its checks per asset, whether its rows were loaded (else
    quarantined), rows per table, and seconds spent checking and writing."""

    outcomes: dict[str, list[Outcome]]
    loaded: bool
    rows: dict[str, int]
    failed: list[str] = field(default_factory=list)  # `asset.check` of failed blocking checks
    check_seconds: float = 0.0
    write_seconds: float = 0.0


def previous_rows(warehouse: Warehouse, settlement_date: dt.date, run_type: str) -> dict[str, int] | None:
    """Rows per raw table of the partition's loaded version: from its partition_status row, or
    counted where it was loaded before partition_status existed. None: nothing loaded."""
    return previous_rows_of(warehouse, [(settlement_date, run_type)])[(settlement_date, run_type)]


def _any_of(partitions: Sequence[tuple[dt.date, str]]) -> str:
    """SQL (any engine) true for the rows of these partitions (run types are partition keys)."""
    return " OR ".join(f"(settlement_date = DATE '{day.isoformat()}' AND run_type = '{run_type}')" for day, run_type in partitions)


def previous_rows_of(warehouse: Warehouse,
                     partitions: Sequence[tuple[dt.date, str]]) -> dict[tuple[dt.date, str], dict[str, int] | None]:  # fmt: skip
    """previous_rows of each partition, asked together: as many connections for a raw run's
    partitions as for one (each costs ~40 ms of CPU), before any of them is parsed."""
    found: dict[tuple[dt.date, str], dict[str, int] | None] = dict.fromkeys(partitions)
    if not partitions:
        return found
    existing = warehouse.existing_tables([PARTITION_STATUS.name, *RAW_TABLES])  # asked once: each ask was a connection
    if PARTITION_STATUS.name in existing:
        status = warehouse.query(f"SELECT settlement_date, run_type, row_counts FROM {SCHEMA}.{PARTITION_STATUS.name} "
                                 f"WHERE version = 'loaded' AND ({_any_of(list(found))})")  # fmt: skip
        for row in status.to_pylist():
            if row["row_counts"]:
                found[(row["settlement_date"], row["run_type"])] = json.loads(row["row_counts"])
    uncounted = [key for key, rows in found.items() if rows is None]
    if "bm_unit_period" not in existing or not uncounted:
        return found
    counts = warehouse.query(" UNION ALL ".join(f"SELECT settlement_date, run_type, '{name}' AS name, COUNT(*) AS n "
                                                f"FROM {SCHEMA}.{name} WHERE {_any_of(uncounted)} GROUP BY settlement_date, run_type"
                                                for name in RAW_TABLES if name in existing))  # fmt: skip
    counted = {key: {name: 0 for name in RAW_TABLES if name in existing} for key in uncounted}
    for row in counts.to_pylist():
        counted[(row["settlement_date"], row["run_type"])][row["name"]] = int(row["n"])
    found.update({key: rows if any(rows.values()) else None for key, rows in counted.items()})
    return found


def status_row(header: S0142Header, settlement_date: dt.date, run_type: str, outcomes: dict[str, list[Outcome]],
               rows: dict[str, int], loaded: bool) -> pa.Table:  # fmt: skip
    """The partition_status row of one version of a partition."""
    failed, warned = partition_checks.blocking_failures(outcomes), partition_checks.warnings(outcomes)
    row = {
        "settlement_date": settlement_date, "run_type": run_type, "version": "loaded" if loaded else "quarantined",
        "file_name": header.file_name, "publication_ts": header.publication_ts, "flow_version": header.flow_version,
        "loaded_at": dt.datetime.now(dt.timezone.utc), "blocking_passed": not failed,
        "failed_checks": ", ".join(failed) or None, "warnings": ", ".join(warned) or None,
        "row_counts": json.dumps(rows), "checks": partition_checks.checks_json(outcomes),
    }  # fmt: skip
    return pa.Table.from_pylist([row], schema=PARTITION_STATUS.arrow_schema())


@dataclass
class CheckedPartition:
    """A parsed partition's rows as stored and the outcome of its checks: what the write needs."""

    staged: dict[str, pa.Table]
    header: S0142Header
    settlement_date: dt.date
    run_type: str
    outcomes: dict[str, list[Outcome]]
    failed: list[str]
    rows: dict[str, int]
    status: pa.Table
    check_seconds: float


def check_partition(tables: dict[str, pa.Table], header: S0142Header, settlement_date: dt.date, run_type: str,
                    previous: dict[str, int] | None, min_row_ratio: float = partition_checks.DEFAULT_MIN_ROW_RATIO,
                    release: bool = False) -> CheckedPartition:  # fmt: skip
    """Stage a parsed partition's rows and run every check of the partition on them, touching no
    warehouse (`previous`: previous_rows), so a raw run checks the next file while one is written.
    `release`: the caller hands `tables` over (emptied here)."""
    started = time.perf_counter()
    staged = stored.stored_rows(tables, release)
    frames = {name: pl.from_arrow(rows) for name, rows in staged.items()}
    outcomes = partition_checks.partition_outcomes(frames, settlement_date, previous, min_row_ratio)
    del frames  # the checks' copy of the rows goes before the write takes its memory
    failed = partition_checks.blocking_failures(outcomes)
    rows = {name: t.num_rows for name, t in staged.items()}
    status = status_row(header, settlement_date, run_type, outcomes, rows, loaded=not failed)
    return CheckedPartition(staged, header, settlement_date, run_type, outcomes, failed, rows, status, time.perf_counter() - started)


def write_checked(warehouse: Warehouse, checked: CheckedPartition, after_peak: Callable[[], None] | None = None,
                  release: bool = False) -> PartitionLoad:  # fmt: skip
    """Load a checked partition if it passed every blocking check, else quarantine it. `after_peak`
    is called once, when the memory this takes has peaked: after the largest table is written
    (Warehouse.replace_partition's `after_largest`), or after a quarantine. `release`: the caller
    hands the staged rows over (emptied here), so each table's memory goes once it is written."""
    started = time.perf_counter()
    staged = checked.staged
    if release:
        checked.staged = {}
    if checked.failed:
        warehouse.quarantine_partition(staged, checked.settlement_date, checked.run_type, checked.status)
        if after_peak is not None:
            after_peak()
    else:
        warehouse.replace_partition(staged, checked.settlement_date, checked.run_type, status=checked.status,
                                    after_largest=after_peak, release=release)  # fmt: skip
    return PartitionLoad(checked.outcomes, not checked.failed, checked.rows, checked.failed, checked.check_seconds,
                         time.perf_counter() - started)  # fmt: skip


def load_partition(warehouse: Warehouse, tables: dict[str, pa.Table], header: S0142Header, settlement_date: dt.date,
                   run_type: str, min_row_ratio: float = partition_checks.DEFAULT_MIN_ROW_RATIO,
                   after_peak: Callable[[], None] | None = None, release: bool = False) -> PartitionLoad:  # fmt: skip
    """Check a parsed partition, then load it if it passes every blocking check, else quarantine it
    (check_partition, then write_checked)."""
    started = time.perf_counter()
    previous = previous_rows(warehouse, settlement_date, run_type)
    checked = check_partition(tables, header, settlement_date, run_type, previous, min_row_ratio, release)
    checked.check_seconds = time.perf_counter() - started
    return write_checked(warehouse, checked, after_peak, release)
