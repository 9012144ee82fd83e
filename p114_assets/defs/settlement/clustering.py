"""Months of `bm_unit_period` stored by BM unit (DuckDB): the job that makes a year of one-unit
lookups cheap (README, bench_year: 1.7-2.1 s -> 0.23-0.29 s for one unit over 365 dates).

A partition is written sorted by unit within its own date, so a lookup of one unit over a year
reads a block per column and date. `Warehouse.cluster_dates` re-stores a month's rows by run type
and unit across its dates (the same rows, committed a few million rows of whole units at a time;
BigQuery clusters by itself, so there it does nothing). It holds the `warehouse` pool: DuckDB takes one writer, and a month's rewrite
takes about a minute. A partition of this job is a calendar month: launch it for a month, or a
backfill of months from the UI.

The sensor `cluster_loaded_months` (on by default) runs it on its own: once every date of a month
is loaded for a run type (SF about 14 days after the month, R1 to DF months later, or a backfill
of history as it goes), it requests the month once for that run type, and the run re-stores only
that run type's rows (a six-run backfill re-stores each row once, not SF six times). A date re-loaded later on
its own is written by unit within its own date again: the month's other dates stay clustered,
and a run of the job launched without the tag (the Launchpad) re-stores the month whole.
"""

import calendar
import datetime as dt
import json
from collections.abc import Iterable

import dagster as dg

from p114_assets import config
from p114_assets.defs.partitions import split_partition_key
from p114_assets.defs.table_assets import WAREHOUSE_POOL
from p114_assets.warehouse.base import Warehouse

CLUSTERED_TABLE = "bm_unit_period"
COMPLETE_RUN_TYPE_TAG = "p114/complete_run_type"
months = dg.MonthlyPartitionsDefinition(start_date=config.start_date())


@dg.op(pool=WAREHOUSE_POOL)
def cluster_month(context: dg.OpExecutionContext, warehouse: Warehouse) -> int:
    """Re-store the partition's month of bm_unit_period by run type and BM unit: only the run type
    of the run's `p114/complete_run_type` tag (set by the sensor: the run that completed the month;
    the runs before it are already stored by unit), every run type without it (the Launchpad)."""
    window = context.partition_time_window
    first, last = window.start.date(), window.end.date() - dt.timedelta(days=1)
    run_type = context.run.tags.get(COMPLETE_RUN_TYPE_TAG)
    # 0 without touching the warehouse when the table (or the DuckDB file) is not there yet
    rows = warehouse.cluster_dates(CLUSTERED_TABLE, first, last, run_type)
    if not rows:
        context.log.info(f"nothing re-stored for {first}..{last} in {warehouse.location()}: no {CLUSTERED_TABLE} rows "
                         "there yet, or a warehouse that clusters by itself (BigQuery)")  # fmt: skip
    context.add_output_metadata({"rows": rows, "dates": f"{first}..{last}", "run type": run_type or "every run type"})
    return rows


@dg.job(partitions_def=months, tags={"p114/kind": "maintenance"})
def cluster_months():
    """Store months of bm_unit_period by BM unit, so one unit over many dates reads few blocks."""
    cluster_month()


def complete_months(loaded: Iterable[str], month_keys: Iterable[str]) -> list[tuple[str, str]]:
    """(month partition key, run type) of each month of `month_keys` whose every date has the run
    type loaded, among the (date, run type) partition keys `loaded`."""
    dates: dict[tuple[dt.date, str], set[dt.date]] = {}
    for key in loaded:
        day, run_type = split_partition_key(key)
        dates.setdefault((day.replace(day=1), run_type), set()).add(day)
    wanted = set(month_keys)
    return sorted((first.isoformat(), run_type) for (first, run_type), days in dates.items()
                  if first.isoformat() in wanted and len(days) == calendar.monthrange(first.year, first.month)[1])  # fmt: skip


@dg.sensor(
    name="cluster_loaded_months",
    job=cluster_months,
    minimum_interval_seconds=config.cluster_interval_seconds(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a cluster_months run for a month once every date of it is loaded (bm_unit_period) for a run "
    "type: once per month and run type, so a month is stored by BM unit after its SF runs are in and again as each "
    "later run completes it. The run waits for the warehouse pool like any writer. Idle on BigQuery, which clusters "
    "by itself.",
)
def cluster_loaded_months(context: dg.SensorEvaluationContext):
    if config.warehouse_kind() == "bigquery":
        return dg.SkipReason("BigQuery clusters each date partition by itself: nothing to store")
    requested = set(json.loads(context.cursor)) if context.cursor else set()
    loaded = context.instance.get_materialized_partitions(dg.AssetKey(CLUSTERED_TABLE))
    complete = complete_months(loaded, months.get_partition_keys())
    new = [(month, run_type) for month, run_type in complete if f"{month}|{run_type}" not in requested]
    if not new:
        return dg.SkipReason(f"no month newly complete ({len(complete)} month-run pairs complete, all requested before)")
    context.update_cursor(json.dumps(sorted(requested | {f"{month}|{run_type}" for month, run_type in new})))
    return [dg.RunRequest(run_key=f"{month}|{run_type}", partition_key=month, tags={COMPLETE_RUN_TYPE_TAG: run_type})
            for month, run_type in new]  # fmt: skip
