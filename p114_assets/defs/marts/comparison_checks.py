"""Checks on the revenue comparison."""


from collections.abc import Iterator

import dagster as dg
import polars as pl
from pydantic import Field

from p114_assets.core import market_quality
from p114_assets.defs.check_results import report
from p114_assets.defs.partitions import dates_of, settlement_date_partitions
from p114_assets.warehouse import market_queries
from p114_assets.warehouse.base import Warehouse


class RevenueCheckConfig(dg.Config):
    """When a unit's settled and indicative BM cashflow of a day are worth a warning."""

    warn_share: float = Field(default=market_quality.DEFAULT_WARN_SHARE, description="WARN beyond this share of the larger figure ...")
    warn_floor_gbp: float = Field(default=market_quality.DEFAULT_WARN_FLOOR_GBP, description="... when also more than this many GBP apart")


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(
        "settled_vs_indicative", asset="bm_revenue_comparison_daily", partitions_def=settlement_date_partitions,
        description=f"[WARN] a unit's settled BM cashflow of the day (S0142 BO4, canonical run) and Elexon's indicative one "
        f"(EBOCF) differ by more than {market_quality.DEFAULT_WARN_SHARE:.0%} of the larger and GBP "
        f"{market_quality.DEFAULT_WARN_FLOOR_GBP:,.0f} (run config: warn_share, warn_floor_gbp)")],  # fmt: skip
    name="bm_revenue_comparison_checks",
)
def bm_revenue_comparison_checks(context: dg.AssetCheckExecutionContext, config: RevenueCheckConfig,
                                 warehouse: Warehouse) -> Iterator[dg.AssetCheckResult]:  # fmt: skip
    dates = dates_of(context)
    rows = pl.from_arrow(market_queries.revenue_differences(warehouse, dates[0], dates[-1]))
    outcomes = {}
    for day in dates:
        today = rows.filter(pl.col("settlement_date") == day).drop("settlement_date") if rows.height else rows
        outcomes[day.isoformat()] = [market_quality.settled_vs_indicative(today, config.warn_share, config.warn_floor_gbp)]
    yield from report(context, "bm_revenue_comparison_daily", outcomes)


COMPARISON_CHECKS = [bm_revenue_comparison_checks]
