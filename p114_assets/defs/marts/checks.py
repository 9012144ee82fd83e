"""Checks on the marts."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from p114_assets.core import quality
from p114_assets.defs.check_results import report
from p114_assets.defs.derived import WAREHOUSE_POOL
from p114_assets.defs.partitions import dates_of, settlement_date_partitions
from p114_assets.warehouse import sql
from p114_assets.warehouse.base import SCHEMA, Warehouse


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(
        "vlp_cashflow_reconciles", asset="vlp_party_daily", partitions_def=settlement_date_partitions,
        additional_deps=["vlp_revenue_daily"],
        description="[WARN] for a VLP party leading only V__ units, its units' BO4 cashflows equal its PPC BM unit "
        "cashflow: two independent paths through the file agree")],  # fmt: skip
    name="vlp_party_daily_checks",
    pool=WAREHOUSE_POOL,
)
def vlp_party_daily_checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[dg.AssetCheckResult]:
    dates = dates_of(context)
    window = sql.dates_between("settlement_date", dates[0], dates[-1])
    rows = pl.from_arrow(warehouse.query(f"""
        WITH units AS (
            SELECT lead_party_id, settlement_date, SUM(bm_cashflow_gbp) AS units_gbp
            FROM {SCHEMA}.vlp_revenue_daily WHERE {window} GROUP BY lead_party_id, settlement_date),
        others AS (
            SELECT lead_party_id, settlement_date, COUNT(DISTINCT bm_unit_id) AS other_units
            FROM {SCHEMA}.settlement_canonical WHERE {window} AND NOT {sql.VLP} GROUP BY lead_party_id, settlement_date)
        SELECT p.settlement_date, p.party_id, p.bm_cashflow_gbp AS ppc_gbp, u.units_gbp, o.other_units
        FROM {SCHEMA}.vlp_party_daily AS p
        LEFT JOIN units AS u ON u.lead_party_id = p.party_id AND u.settlement_date = p.settlement_date
        LEFT JOIN others AS o ON o.lead_party_id = p.party_id AND o.settlement_date = p.settlement_date
        WHERE {sql.dates_between("p.settlement_date", dates[0], dates[-1])}
    """))  # fmt: skip
    outcomes = {}
    for day in dates:
        today = rows.filter(pl.col("settlement_date") == day).drop("settlement_date") if rows.height else rows
        outcomes[day.isoformat()] = [quality.vlp_cashflow_reconciles(today)]
    yield from report(context, "vlp_party_daily", outcomes)


CHECKS = [vlp_party_daily_checks]
