"""Marts that put market data beside the settlement truth (group `marts`, daily): the acceptance
estimate, the settled vs indicative vs estimated revenue comparison and its roll-ups, unit revenue
per MW with its leaderboard, and the self-balancing comparison.

Formulas and sign conventions: docs/marts.md. The estimate is a pure core function
(core/acceptance_estimate.py); everything else is SQL in warehouse/market_sql.py (and what is read back, market_queries.py).
"""


import datetime as dt
from decimal import Decimal

import dagster as dg
import polars as pl

from p114_assets.core.acceptance_estimate import estimate
from p114_assets.core.settlement import period_bounds_exprs, settlement_periods
from p114_assets.defs.table_assets import derived_asset, refresh, row_count_metadata
from p114_assets.defs.market.assets import to_table
from p114_assets.defs.partitions import date_mapping, dates_of
from p114_assets.warehouse import market_queries, market_sql
from p114_assets.warehouse.base import Warehouse
from p114_assets.warehouse.market_tables import (
    ACCEPTANCE_ESTIMATE,
    BM_REVENUE_COMPARISON,
    BM_REVENUE_COMPARISON_DAILY,
    BM_REVENUE_COMPARISON_PARTY_DAILY,
    SELF_BALANCING_COMPARISON,
    SETTLEMENT_PERIODS,
    UNIT_REVENUE_DAILY,
)

GROUP = "marts"
LEADERBOARD_VIEW = "unit_revenue_leaderboard"
CLASSIFICATION_REACH = 29  # the default classification window reaches back 29 dates


def _write_calendar(warehouse: Warehouse, dates: list[dt.date]) -> None:
    """The settlement periods (with UTC bounds) of the run's dates, for the SQL to join."""
    warehouse.replace_date_rows(SETTLEMENT_PERIODS.name, dates[0], dates[-1], to_table(SETTLEMENT_PERIODS, settlement_periods(dates[0], dates[-1])))


@derived_asset(
    ACCEPTANCE_ESTIMATE,
    [dg.AssetDep("acceptance", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1)),
     dg.AssetDep("physical_notification"), dg.AssetDep("bid_offer")],
    GROUP, kinds=frozenset({"python"}),
)  # fmt: skip
def acceptance_estimate(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """The acceptance-based estimate of every accepted unit's balancing volumes and cashflows, per
    period and BOD pair, as Modo and Enact estimate them: the BOALF level minus FPN (PN), integrated
    over each acceptance's profile (MW to MWh, split at period boundaries), allocated to the BOD
    pairs in pair order stacked out from FPN (offers +, bids -), each pair's volume priced at its
    offer or bid price. A later acceptance replaces an earlier one where their profiles overlap.
    Acceptances of the day before that reach past midnight count."""
    dates = dates_of(context)
    warehouse.create_tables(["acceptance", "physical_notification", "bid_offer"])
    total, notes = 0, {}
    for day in dates:
        inputs = [pl.from_arrow(table) for table in market_queries.estimate_inputs(warehouse, day)]
        result = estimate(day, *inputs)
        frame = result.rows.with_columns(period_bounds_exprs())
        total += warehouse.replace_date_rows(ACCEPTANCE_ESTIMATE.name, day, day, to_table(ACCEPTANCE_ESTIMATE, frame))
        for key, value in result.notes.items():
            notes[key] = notes.get(key, 0) + value
        context.log.info(f"acceptance_estimate {day}: {frame.height:,} rows, {frame['bm_unit_id'].n_unique():,} units"
                         + (f"; {result.notes}" if result.notes else ""))  # fmt: skip
    return dg.MaterializeResult(metadata={**row_count_metadata(dates, total), **notes})


@derived_asset(
    BM_REVENUE_COMPARISON,
    [dg.AssetDep("settlement_canonical"), dg.AssetDep("bid_offer_pair", partition_mapping=date_mapping()),
     dg.AssetDep("indicative_cashflow"), dg.AssetDep("acceptance_estimate"), dg.AssetDep("bm_units")],
    GROUP,
)  # fmt: skip
def bm_revenue_comparison(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Per BM unit, date and period, for every unit with acceptances: the settled BM cashflow
    (S0142 BO4 of the canonical run, with its run type) beside Elexon's indicative cashflow (EBOCF)
    and the acceptance-based estimate, with settled and estimated accepted volumes and the
    differences (indicative - settled, estimate - settled). NULL: that source has nothing loaded
    for the date; 0: it has, but nothing for the unit-period. + = paid to the party."""
    dates = dates_of(context)
    warehouse.create_tables(["indicative_cashflow", "acceptance_estimate"])
    _write_calendar(warehouse, dates)
    _, rows = refresh(context, warehouse, BM_REVENUE_COMPARISON, market_sql.bm_revenue_comparison)
    totals = market_queries.comparison_totals(warehouse, dates[0], dates[-1])
    # exact sums (Decimal) shown as numbers: Dagster metadata takes floats, and these have 2 or 3 decimals
    shown = {k: (float(v) if isinstance(v, Decimal) else v) for k, v in totals.items() if v is not None}
    return dg.MaterializeResult(metadata={**row_count_metadata(dates, rows), **shown})


@derived_asset(BM_REVENUE_COMPARISON_DAILY, [dg.AssetDep("bm_revenue_comparison")], GROUP)
def bm_revenue_comparison_daily(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """bm_revenue_comparison summed per unit and date: settled, indicative and estimated BM
    cashflow, volumes and differences of the day."""
    dates, rows = refresh(context, warehouse, BM_REVENUE_COMPARISON_DAILY, market_sql.bm_revenue_comparison_daily)
    return dg.MaterializeResult(metadata=row_count_metadata(dates, rows))


@derived_asset(BM_REVENUE_COMPARISON_PARTY_DAILY, [dg.AssetDep("bm_revenue_comparison_daily")], GROUP)
def bm_revenue_comparison_party_daily(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """bm_revenue_comparison summed per lead party and date."""
    dates, rows = refresh(context, warehouse, BM_REVENUE_COMPARISON_PARTY_DAILY, market_sql.bm_revenue_comparison_party_daily)
    return dg.MaterializeResult(metadata=row_count_metadata(dates, rows))


@derived_asset(
    UNIT_REVENUE_DAILY,
    [dg.AssetDep("settlement_canonical"), dg.AssetDep("bid_offer_pair", partition_mapping=date_mapping()), dg.AssetDep("bm_units")],
    GROUP,
)  # fmt: skip
def unit_revenue_daily(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Every BM unit's revenue per day from the settlement truth (canonical run): BM cashflow (BO4,
    + = paid to the party), non-delivery charge (BP7 3, + = paid by the party), net revenue; with
    capacity (max of generation and |demand| capacity) and fuel type from bm_units as of the date,
    GBP per MW for the day, and rolling 30- and 365-day GBP per MW per year (the window's net
    revenue / the unit's dates in it x 365 / capacity). Also refreshes the view
    unit_revenue_leaderboard: units ranked within their fuel type, batteries first."""
    dates = dates_of(context)
    rows = warehouse.replace_dates(UNIT_REVENUE_DAILY.name, dates[0], dates[-1], market_sql.unit_revenue_daily(dates[0], dates[-1]),
                                   then=[market_sql.unit_revenue_rolling(dates[0], dates[-1])])  # fmt: skip
    warehouse.replace_view(LEADERBOARD_VIEW, market_sql.unit_revenue_leaderboard())
    top = market_queries.leaderboard_top(warehouse, 10)
    table = "| fuel type | rank | unit | party | MW | GBP/MW/yr (30 d) | GBP/MW/yr (365 d) |\n|---|---|---|---|---|---|---|\n" + "\n".join(
        f"| {r['fuel_type']} | {r['rank_in_fuel_type']} | {r['bm_unit_id']} | {r['lead_party_id'] or ''} | {r['capacity_mw']:,.1f} | "
        f"{r['gbp_per_mw_year_30d']:,.0f} | {(r['gbp_per_mw_year_365d'] or 0):,.0f} |" for r in top)  # fmt: skip
    return dg.MaterializeResult(metadata={**row_count_metadata(dates, rows), "leaderboard": dg.MetadataValue.md(table),
                                          "leaderboard_view": f"p114.{LEADERBOARD_VIEW}"})  # fmt: skip


@derived_asset(
    SELF_BALANCING_COMPARISON,
    [dg.AssetDep("unit_classification"),
     dg.AssetDep("acceptance_estimate", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-CLASSIFICATION_REACH)),
     dg.AssetDep("settlement_canonical", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-CLASSIFICATION_REACH))],
    GROUP,
)  # fmt: skip
def self_balancing_comparison(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """p114's self-balancing classification (MWh-weighted shares of each class, unit_classification's
    window ending on the date) beside the old figure it replaces: units present in P114 with no
    BOALF acceptance in the same window, counted by rows. Also the same anti-join weighted by MWh,
    and the supplier unit rows the old count included, so the gap can be read: part is the
    criterion (no acceptance is not self-balancing), part the weighting (rows are not MWh), part
    the population (supplier units are never accepted)."""
    dates = dates_of(context)
    warehouse.create_tables(["acceptance_estimate", "acceptance", "unit_classification"])
    _, rows = refresh(context, warehouse, SELF_BALANCING_COMPARISON, market_sql.self_balancing_comparison)
    last = market_queries.self_balancing_rows(warehouse, dates[-1], dates[-1])
    metadata: dict = row_count_metadata(dates, rows)
    if last:
        r = last[0]

        def pct(v):
            return "-" if v is None else f"{v:.1%}"

        metadata["comparison"] = dg.MetadataValue.md(
            f"Window {r['window_start']} .. {r['window_end']}:\n\n| measure | self-balancing share |\n|---|---|\n"
            f"| p114: self_dispatched, MWh-weighted | {pct(r['self_dispatched_share'])} |\n"
            f"| old: units without BOALF acceptance, by rows | {pct(r['antijoin_share_by_rows'])} |\n"
            f"| old criterion, weighted by MWh | {pct(r['antijoin_share_by_mwh'])} |\n\n"
            f"{r['antijoin_supplier_rows'] or 0:,} of the {r['antijoin_rows'] or 0:,} rows the old figure counted are supplier units'; "
            f"BOALF data on {r['acceptance_dates'] or 0} of the window's {r['window_days']} dates.")  # fmt: skip
    return dg.MaterializeResult(metadata=metadata)


COMPARISON_ASSETS = [acceptance_estimate, bm_revenue_comparison, bm_revenue_comparison_daily, bm_revenue_comparison_party_daily,
                     unit_revenue_daily, self_balancing_comparison]  # fmt: skip
