"""Checks on the market tables, per partition (settlement date), visible in the UI: pandera
structure and the segments' time order are ERROR (blocking: the marts do not run from a date that
failed them), value ranges WARN. The rules are in core/market_quality.py."""


from collections.abc import Iterator

import dagster as dg
import polars as pl

from p114_assets.core import market_quality
from p114_assets.core.quality import schema_outcome
from p114_assets.core.s0142.tables import TableSpec
from p114_assets.defs.check_results import report
from p114_assets.defs.market.assets import MARKET_DATASET_ASSETS, SEGMENT_TABLES
from p114_assets.defs.partitions import dates_of, settlement_date_partitions
from p114_assets.warehouse import market_queries
from p114_assets.warehouse.base import Warehouse
from p114_assets.warehouse.market_tables import BM_UNIT_SNAPSHOT, BM_UNITS, MARKET_TABLES

DESCRIPTIONS = {
    "schema": "[ERROR] pandera: column types, nullability, periods in 1..50",
    "value_ranges": "[WARN] pandera: prices within sane bounds",
    "segments_run_forward": "[ERROR] every MW segment ends at or after it starts",
}


def _table_checks(table: TableSpec) -> dg.AssetChecksDefinition:
    names = ["schema", "value_ranges", *(["segments_run_forward"] if table.name in SEGMENT_TABLES else [])]
    specs = [dg.AssetCheckSpec(name, asset=table.name, partitions_def=settlement_date_partitions,
                               blocking=DESCRIPTIONS[name].startswith("[ERROR]"), description=DESCRIPTIONS[name])
             for name in names]  # fmt: skip

    @dg.multi_asset_check(specs=specs, name=f"{table.name}_checks")
    def _checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[dg.AssetCheckResult]:
        outcomes = {}
        for day in dates_of(context):
            rows = pl.from_arrow(warehouse.read_partition(table.name, day))
            outcomes[day.isoformat()] = [o for o in market_quality.market_partition_outcomes(table, rows) if o.check in names]
        yield from report(context, table.name, outcomes)

    return _checks


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec("intervals_do_not_overlap", asset=BM_UNITS.name, partitions_def=settlement_date_partitions, blocking=True,
                          description="[ERROR] each unit's intervals are ordered and do not overlap: one answer as of any date"),
        dg.AssetCheckSpec("snapshot_schema", asset=BM_UNITS.name, partitions_def=settlement_date_partitions, blocking=True,
                          description="[ERROR] pandera on the date's snapshot of the reference list"),
    ],  # fmt: skip
    name="bm_units_checks",
)
def bm_units_checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[dg.AssetCheckResult]:
    warehouse.create_tables([BM_UNITS.name, BM_UNIT_SNAPSHOT.name])
    overlap = market_quality.intervals_do_not_overlap(pl.from_arrow(market_queries.bm_unit_intervals(warehouse)))
    outcomes = {}
    for day in dates_of(context):
        snapshot = pl.from_arrow(warehouse.read_partition(BM_UNIT_SNAPSHOT.name, day))
        schema = schema_outcome(BM_UNIT_SNAPSHOT, snapshot, "structure")
        schema.check = "snapshot_schema"
        outcomes[day.isoformat()] = [overlap, schema]
    yield from report(context, BM_UNITS.name, outcomes)


MARKET_CHECKS = [bm_units_checks, *(_table_checks(MARKET_TABLES[a.key.path[-1]]) for a in MARKET_DATASET_ASSETS)]
