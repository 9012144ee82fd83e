"""Materialize the asset graph in-process for the S0142 files in a folder: what `p114 materialize`,
`p114 demo` and the benchmarks run.

Each (date, run type) is its own Dagster run with its checks, as a backfill would make it; then the
daily derived assets (canonical settlement, reconciliation, ...) run with their checks over each
stretch of consecutive dates, a month per run, skipping dates with a failed partition (nothing is
built from a partition that failed to load or failed a blocking check). Runs are recorded in the
Dagster instance of DAGSTER_HOME when that is set (so `make dev` shows the history), else in a
throwaway one."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from p114_assets.core.s0142.files import scan_folder
from p114_assets.definitions import ASSET_CHECKS, ASSETS
from p114_assets.defs.partitions import DERIVED_CHUNK, partition_key, settlement_date_partitions
from p114_assets.defs.settlement.assets import RAW_SPECS, s0142_file
from p114_assets.defs.marts.resources import ReportStore
from p114_assets.defs.settlement.resources import FolderSource, LandingZone
from p114_assets.warehouse.base import SCHEMA, Warehouse
from p114_assets.core.s0142.layout import RAW_TABLES
from p114_assets.warehouse.tables import TABLES

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
RAW_KEYS = [s0142_file.key, *[spec.key for spec in RAW_SPECS]]
DERIVED_KEYS = [a.key for a in ASSETS if a.partitions_def == settlement_date_partitions]


@dataclass(frozen=True)
class CheckFailure:
    asset: str
    check: str
    partition: str
    severity: str
    description: str


@dataclass
class RunSummary:
    partitions: list[tuple[dt.date, str]] = field(default_factory=list)
    failures: dict[tuple[dt.date, str], str] = field(default_factory=dict)
    check_failures: list[CheckFailure] = field(default_factory=list)
    derived_dates: list[dt.date] = field(default_factory=list)
    skipped_dates: list[dt.date] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures and not any(f.severity == "ERROR" for f in self.check_failures)


@contextmanager
def dagster_instance():
    """The instance of DAGSTER_HOME when it is set, else an in-memory one for this command."""
    if os.getenv("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        yield dg.DagsterInstance.get()
    else:
        with dg.DagsterInstance.ephemeral() as instance:
            yield instance


def root_causes(result: dg.ExecuteInProcessResult) -> str:
    """The root cause of each failed step (Dagster wraps the asset's own exception)."""
    messages = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error if event.step_failure_data else None
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            messages.append(error.message.strip())
    return "; ".join(messages)


def _check_failures(result: dg.ExecuteInProcessResult) -> list[CheckFailure]:
    """Failed evaluations, one per partition (a multi-partition run's overall results are skipped:
    its checks also record each partition)."""
    return [
        CheckFailure(e.asset_key.to_user_string(), e.check_name, e.partition, e.severity.value, e.description or "")
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.partition is not None
    ]


def _stretches(dates: list[dt.date], chunk: int) -> list[list[dt.date]]:
    """Consecutive dates in runs of at most `chunk`."""
    out: list[list[dt.date]] = []
    for day in sorted(dates):
        if out and day == out[-1][-1] + dt.timedelta(days=1) and len(out[-1]) < chunk:
            out[-1].append(day)
        else:
            out.append([day])
    return out


def materialize_folder(
    source_dir: str | Path,
    warehouse: Warehouse,
    start: dt.date | None = None,
    end: dt.date | None = None,
    on_partition: Callable[[str, bool], None] | None = None,
) -> RunSummary:
    """Materialize every asset for the partitions of the files in `source_dir` (optionally only
    settlement dates in [start, end]). Files stay where they are (the folder is the landing zone).
    `on_partition(label, ok)` is called after each run."""
    found = [k for k in scan_folder(source_dir) if (start is None or k[0] >= start) and (end is None or k[0] <= end)]
    summary = RunSummary()
    if not found:
        return summary
    started = time.perf_counter()
    resources = {"source": FolderSource(path=str(source_dir)), "landing": LandingZone(path=str(source_dir)),
                 "warehouse": warehouse, "reports": ReportStore(path=str(Path(warehouse.location().removeprefix("duckdb:")).parent / "reports"))}  # fmt: skip
    everything = [*ASSETS, *ASSET_CHECKS]
    with dagster_instance() as instance:
        for key in found:
            label = f"{key[0]} {key[1]}"
            result = dg.materialize(everything, selection=RAW_KEYS, partition_key=partition_key(*key), resources=resources,
                                    instance=instance, run_config=QUIET, raise_on_error=False,
                                    tags={"p114/launched_by": "p114 materialize"})  # fmt: skip
            summary.check_failures += _check_failures(result)
            if result.success:
                summary.partitions.append(key)
            else:
                summary.failures[key] = root_causes(result) or "a blocking check failed"
            if on_partition:
                on_partition(label, result.success)

        bad_dates = {d for d, _ in summary.failures}
        summary.skipped_dates = sorted(bad_dates)
        good_dates = sorted({d for d, _ in summary.partitions} - bad_dates)
        for stretch in _stretches(good_dates, DERIVED_CHUNK):
            first, last = stretch[0].isoformat(), stretch[-1].isoformat()
            result = dg.materialize(everything, selection=DERIVED_KEYS, resources=resources, instance=instance,
                                    run_config=QUIET, raise_on_error=False,
                                    tags={"dagster/asset_partition_range_start": first,
                                          "dagster/asset_partition_range_end": last,
                                          "p114/launched_by": "p114 materialize"})  # fmt: skip
            summary.check_failures += _check_failures(result)
            if result.success:
                summary.derived_dates += stretch
            else:
                for day in stretch:
                    summary.failures[(day, "daily")] = root_causes(result) or "a blocking check failed"
            if on_partition:
                on_partition(f"{first}..{last} daily", result.success)
    summary.rows = table_rows(warehouse, summary.partitions, summary.derived_dates)
    summary.seconds = time.perf_counter() - started
    return summary


def planned_runs(source_dir: str | Path, start: dt.date | None, end: dt.date | None) -> int:
    """How many runs materialize_folder will make (for a progress bar)."""
    found = [k for k in scan_folder(source_dir) if (start is None or k[0] >= start) and (end is None or k[0] <= end)]
    return len(found) + len(_stretches(sorted({d for d, _ in found}), DERIVED_CHUNK))


def table_rows(warehouse: Warehouse, partitions: list[tuple[dt.date, str]], dates: list[dt.date]) -> dict[str, int]:
    """Rows per table for the given raw partitions and derived dates, counted in the warehouse."""
    wanted, wanted_dates = set(partitions), set(dates)
    rows = {}
    for name in TABLES:
        rows[name] = 0
        if not warehouse.table_exists(name):
            continue
        if name in RAW_TABLES:  # partitioned by date and run type
            counts = warehouse.query(f"SELECT settlement_date, run_type, COUNT(*) AS n FROM {SCHEMA}.{name} "
                                     f"GROUP BY settlement_date, run_type").to_pylist()  # fmt: skip
            rows[name] = sum(r["n"] for r in counts if (r["settlement_date"], r["run_type"]) in wanted)
        else:  # derived: partitioned by date
            counts = warehouse.query(f"SELECT settlement_date, COUNT(*) AS n FROM {SCHEMA}.{name} GROUP BY settlement_date").to_pylist()
            rows[name] = sum(r["n"] for r in counts if r["settlement_date"] in wanted_dates)
    return rows
