"""Materialize the asset graph in-process for the S0142 files in a folder: what `p114 materialize`,
`p114 demo` and the benchmarks run. Each (date, run type) is its own Dagster run, as a backfill
would make it, recorded in the Dagster instance of DAGSTER_HOME when that is set (so `make dev`
shows the history) and in a throwaway instance otherwise."""

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
from p114_assets.core.s0142.layout import RAW_TABLES
from p114_assets.definitions import ASSET_CHECKS, ASSETS
from p114_assets.defs.partitions import partition_key
from p114_assets.defs.settlement.assets import RAW_SPECS, s0142_file
from p114_assets.defs.settlement.resources import FolderSource, LandingZone
from p114_assets.warehouse.base import SCHEMA, Warehouse

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
RAW_KEYS = [s0142_file.key, *[spec.key for spec in RAW_SPECS]]


@dataclass
class RunSummary:
    partitions: list[tuple[dt.date, str]] = field(default_factory=list)
    failures: dict[tuple[dt.date, str], str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


@contextmanager
def dagster_instance():
    """The instance of DAGSTER_HOME when it is set, else an in-memory one for this command."""
    if os.getenv("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        yield dg.DagsterInstance.get()
    else:
        with dg.DagsterInstance.ephemeral() as instance:
            yield instance


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The root cause of each failed step (Dagster wraps the asset's own exception)."""
    messages = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error if event.step_failure_data else None
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            messages.append(error.message.strip())
    return "; ".join(messages) or "run failed"


def materialize_folder(
    source_dir: str | Path,
    warehouse: Warehouse,
    start: dt.date | None = None,
    end: dt.date | None = None,
    on_partition: Callable[[tuple[dt.date, str], bool], None] | None = None,
) -> RunSummary:
    """Materialize every asset for the partitions of the files in `source_dir` (optionally only
    settlement dates in [start, end]). Files stay where they are (the folder is the landing zone)."""
    found = {k: p for k, p in scan_folder(source_dir).items() if (start is None or k[0] >= start) and (end is None or k[0] <= end)}
    summary = RunSummary()
    if not found:
        return summary
    started = time.perf_counter()
    resources = {
        "source": FolderSource(path=str(source_dir)),
        "landing": LandingZone(path=str(source_dir)),
        "warehouse": warehouse,
    }
    with dagster_instance() as instance:
        for key in found:
            result = dg.materialize(
                [*ASSETS, *ASSET_CHECKS],
                selection=RAW_KEYS,
                partition_key=partition_key(*key),
                resources=resources,
                instance=instance,
                run_config=QUIET,
                raise_on_error=False,
                tags={"p114/launched_by": "p114 materialize"},
            )
            if result.success:
                summary.partitions.append(key)
            else:
                summary.failures[key] = _failure_message(result)
            if on_partition:
                on_partition(key, result.success)
    summary.rows = table_rows(warehouse, summary.partitions)
    summary.seconds = time.perf_counter() - started
    return summary


def table_rows(warehouse: Warehouse, partitions: list[tuple[dt.date, str]]) -> dict[str, int]:
    """Rows per raw table for the given partitions, counted in the warehouse (portable SQL)."""
    wanted = set(partitions)
    rows = {}
    for name in RAW_TABLES:
        rows[name] = 0
        if not wanted or not warehouse.table_exists(name):
            continue
        counts = warehouse.query(
            f"SELECT settlement_date, run_type, count(*) AS n FROM {SCHEMA}.{name} GROUP BY settlement_date, run_type"
        ).to_pylist()
        rows[name] = sum(r["n"] for r in counts if (r["settlement_date"], r["run_type"]) in wanted)
    return rows
