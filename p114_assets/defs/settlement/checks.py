"""Per-partition asset checks on the settlement assets, visible in the UI.

The rules themselves live in core/quality.py (shared with `p114 validate`); here they are read
from the warehouse one partition at a time and reported to Dagster. ERROR rules are blocking:
downstream assets do not materialize from a partition that failed one.

A run that covers several partitions (a chunk of a backfill) records one evaluation per partition
and yields an overall result for the run (passed only if every partition passed), because Dagster
attributes a check result to a partition only in single-partition runs.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import polars as pl

from p114_assets.core import quality
from p114_assets.core.s0142.tables import RAW_TABLES, TableSpec
from p114_assets.defs.check_results import report, spec
from p114_assets.defs.partitions import dates_of, partition_key, partitions_of, settlement_date_partitions, settlement_run_partitions
from p114_assets.defs.settlement.resources import LandingZone
from p114_assets.defs.table_assets import WAREHOUSE_POOL
from p114_assets.warehouse import queries
from p114_assets.warehouse.base import Warehouse


def _raw_table_checks(table: TableSpec) -> dg.AssetChecksDefinition:
    specs = [spec(rule, table.name, settlement_run_partitions) for rule in quality.rules_for(table)]

    @dg.multi_asset_check(specs=specs, name=f"{table.name}_checks", pool=WAREHOUSE_POOL)
    def _checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[dg.AssetCheckResult]:
        outcomes = {}
        for settlement_date, run_type in partitions_of(context):
            rows = pl.from_arrow(warehouse.read_partition(table.name, settlement_date, run_type))
            outcomes[str(partition_key(settlement_date, run_type))] = quality.partition_outcomes(table, rows, settlement_date)
        yield from report(context, table.name, outcomes)

    return _checks


@dg.multi_asset_check(
    specs=[spec(rule, "s0142_file", settlement_run_partitions) for rule in (quality.HEADER_MATCHES_PARTITION, quality.TRAILER_LINE_COUNT)],
    name="s0142_file_checks",
)
def s0142_file_checks(context: dg.AssetCheckExecutionContext, landing: LandingZone) -> Iterator[dg.AssetCheckResult]:
    outcomes = {}
    for settlement_date, run_type in partitions_of(context):
        landed = landing.latest(settlement_date, run_type)
        outcomes[str(partition_key(settlement_date, run_type))] = quality.file_outcomes(landed, (settlement_date, run_type))
    yield from report(context, "s0142_file", outcomes)


@dg.multi_asset_check(
    specs=[spec(rule, "settlement_canonical", settlement_date_partitions)
           for rule in (quality.ONE_RUN_PER_DATE, quality.VLP_UNITS_STILL_PRESENT)],  # fmt: skip
    name="settlement_canonical_checks",
    pool=WAREHOUSE_POOL,
)
def settlement_canonical_checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[dg.AssetCheckResult]:
    dates = dates_of(context)
    units = queries.units_by_date(warehouse, "settlement_canonical", dates[0] - dt.timedelta(days=1), dates[-1])
    runs = queries.runs_by_date(warehouse, "settlement_canonical", dates[0], dates[-1])
    runs_df = pl.from_arrow(runs) if runs.num_rows else pl.DataFrame(schema={"settlement_date": pl.Date, "run_type": pl.String})
    outcomes = {}
    for day in dates:
        previous = units.get(day - dt.timedelta(days=1))
        outcomes[day.isoformat()] = [
            quality.one_run_per_date(runs_df.filter(pl.col("settlement_date") == day), [day]),
            quality.vlp_units_still_present(units.get(day, set()), previous, day),
        ]
    yield from report(context, "settlement_canonical", outcomes)


RAW_TABLE_CHECKS = [_raw_table_checks(table) for table in RAW_TABLES.values()]
CHECKS: list[dg.AssetChecksDefinition] = [s0142_file_checks, *RAW_TABLE_CHECKS, settlement_canonical_checks]
