"""Checks on the marts."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from p114_assets.core import quality
from p114_assets.defs.check_results import report, spec
from p114_assets.defs.partitions import dates_of, settlement_date_partitions
from p114_assets.defs.table_assets import WAREHOUSE_POOL
from p114_assets.warehouse import queries
from p114_assets.warehouse.base import Warehouse


@dg.multi_asset_check(
    specs=[spec(quality.VLP_CASHFLOW_RECONCILES, "vlp_party_daily", settlement_date_partitions,
                additional_deps=["vlp_revenue_daily"])],  # fmt: skip
    name="vlp_party_daily_checks",
    pool=WAREHOUSE_POOL,
)
def vlp_party_daily_checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator:
    dates = dates_of(context)
    rows = pl.from_arrow(queries.vlp_cashflow_paths(warehouse, dates[0], dates[-1]))
    outcomes = {}
    for day in dates:
        today = rows.filter(pl.col("settlement_date") == day).drop("settlement_date") if rows.height else rows
        outcomes[day.isoformat()] = [quality.vlp_cashflow_reconciles(today)]
    yield from report(context, "vlp_party_daily", outcomes)


CHECKS = [vlp_party_daily_checks]
