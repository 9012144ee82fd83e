"""Months of `bm_unit_period` stored by BM unit (DuckDB): the job that makes a year of one-unit
lookups cheap (README, bench_year: 1.7-2.1 s -> 0.23-0.29 s for one unit over 365 dates).

A partition is written sorted by unit within its own date, so a lookup of one unit over a year
reads a block per column and date. `Warehouse.cluster_dates` re-stores a month's rows by run type
and unit across its dates (the same rows, one transaction; BigQuery clusters by itself, so there
it does nothing). It holds the `warehouse` pool: DuckDB takes one writer, and a month's rewrite
takes about a minute. A partition of this job is a calendar month: launch it for a month, or a
backfill of months from the UI. The schedule (off until turned on) does last month on the 20th,
when its SF runs are in (about 14 days after each date). A date re-loaded later (R1 to DF runs
land months later) is written by unit within its own date again: the month's other dates stay
clustered, and a backfill of the job's older months re-stores them whole.
"""

import datetime as dt

import dagster as dg

from p114_assets import config
from p114_assets.defs.table_assets import WAREHOUSE_POOL
from p114_assets.warehouse.base import Warehouse

CLUSTERED_TABLE = "bm_unit_period"
months = dg.MonthlyPartitionsDefinition(start_date=config.start_date())


@dg.op(pool=WAREHOUSE_POOL)
def cluster_month(context: dg.OpExecutionContext, warehouse: Warehouse) -> int:
    """Re-store the partition's month of bm_unit_period by run type and BM unit."""
    window = context.partition_time_window
    first, last = window.start.date(), window.end.date() - dt.timedelta(days=1)
    if not warehouse.table_exists(CLUSTERED_TABLE):
        context.log.info(f"{CLUSTERED_TABLE} is not in {warehouse.location()} yet: nothing to store")
        return 0
    rows = warehouse.cluster_dates(CLUSTERED_TABLE, first, last)
    context.add_output_metadata({"rows": rows, "dates": f"{first}..{last}"})
    return rows


@dg.job(partitions_def=months, tags={"p114/kind": "maintenance"})
def cluster_months():
    """Store months of bm_unit_period by BM unit, so one unit over many dates reads few blocks."""
    cluster_month()


cluster_last_month = dg.build_schedule_from_partitioned_job(
    cluster_months, name="cluster_last_month", hour_of_day=6, day_of_month=20,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)  # fmt: skip
