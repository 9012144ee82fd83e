"""Read-side queries of the market assets and the comparison marts: what they show as metadata,
what their checks judge, and the inputs of the acceptance estimate (computed in Python, core)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from p114_assets.warehouse.base import SCHEMA, Warehouse
from p114_assets.warehouse.market_sql import summed
from p114_assets.warehouse.sql import date_literal, dates_between


def snapshot_dates(warehouse: Warehouse, start: dt.date, end: dt.date) -> set[dt.date]:
    """Dates of [start, end] that already have a snapshot of the BM unit reference list."""
    rows = warehouse.query(f"SELECT DISTINCT settlement_date FROM {SCHEMA}.bm_unit_snapshot "
                           f"WHERE {dates_between('settlement_date', start, end)}").to_pylist()  # fmt: skip
    return {r["settlement_date"] for r in rows}


def bm_unit_history(warehouse: Warehouse) -> dict:
    """Units, intervals, current intervals and the dates bm_units spans."""
    return warehouse.query(f"""SELECT COUNT(DISTINCT bm_unit_id) AS units, COUNT(*) AS intervals,
                                      SUM(CASE WHEN valid_to IS NULL THEN 1 ELSE 0 END) AS current_intervals,
                                      MIN(valid_from) AS first_date, MAX(last_seen) AS last_date
                               FROM {SCHEMA}.bm_units""").to_pylist()[0]  # fmt: skip


def bm_unit_intervals(warehouse: Warehouse) -> pa.Table:
    return warehouse.query(f"SELECT bm_unit_id, valid_from, valid_to FROM {SCHEMA}.bm_units")


def estimate_inputs(warehouse: Warehouse, day: dt.date) -> tuple[pa.Table, pa.Table, pa.Table]:
    """What the acceptance estimate of a date reads: BOALF segments of the date and the day before
    (an acceptance of 23:50 reaches past midnight), and the date's PN and BOD of the units with
    acceptances."""
    window = dates_between("settlement_date", day - dt.timedelta(days=1), day)
    accepted = f"SELECT DISTINCT bm_unit_id FROM {SCHEMA}.acceptance WHERE {window} AND bm_unit_id IS NOT NULL"
    acceptances = warehouse.query(f"""
        SELECT bm_unit_id, acceptance_number, acceptance_time_utc, time_from_utc, time_to_utc, level_from_mw, level_to_mw
        FROM {SCHEMA}.acceptance WHERE {window} AND bm_unit_id IS NOT NULL""")  # fmt: skip
    fpn = warehouse.query(f"""
        SELECT bm_unit_id, time_from_utc, time_to_utc, level_from_mw, level_to_mw FROM {SCHEMA}.physical_notification
        WHERE settlement_date = {date_literal(day)} AND bm_unit_id IN ({accepted})""")  # fmt: skip
    pairs = warehouse.query(f"""
        SELECT bm_unit_id, pair_number, time_from_utc, time_to_utc, level_from_mw, level_to_mw,
               offer_price_gbp_per_mwh, bid_price_gbp_per_mwh
        FROM {SCHEMA}.bid_offer WHERE settlement_date = {date_literal(day)} AND bm_unit_id IN ({accepted})""")  # fmt: skip
    return acceptances, fpn, pairs


def comparison_totals(warehouse: Warehouse, start: dt.date, end: dt.date) -> dict:
    """Units compared and the summed figures of bm_revenue_comparison over the dates."""
    return warehouse.query(f"""SELECT COUNT(DISTINCT bm_unit_id) AS units, {summed()} FROM {SCHEMA}.bm_revenue_comparison
                               WHERE {dates_between("settlement_date", start, end)}""").to_pylist()[0]  # fmt: skip


def revenue_differences(warehouse: Warehouse, start: dt.date, end: dt.date) -> pa.Table:
    """Per unit and date: settled and indicative BM cashflow, where both are known."""
    return warehouse.query(f"""
        SELECT settlement_date, bm_unit_id, lead_party_id, run_type, settled_bm_cashflow_gbp, indicative_bm_cashflow_gbp
        FROM {SCHEMA}.bm_revenue_comparison_daily
        WHERE {dates_between("settlement_date", start, end)}
          AND settled_bm_cashflow_gbp IS NOT NULL AND indicative_bm_cashflow_gbp IS NOT NULL""")  # fmt: skip


def leaderboard_top(warehouse: Warehouse, limit: int = 10) -> list[dict]:
    """The first rows of unit_revenue_leaderboard: batteries first, then by fuel type and rank."""
    return warehouse.query(f"""SELECT * FROM {SCHEMA}.unit_revenue_leaderboard
                               ORDER BY fuel_type_order, fuel_type, rank_in_fuel_type LIMIT {int(limit)}""").to_pylist()  # fmt: skip


def self_balancing_rows(warehouse: Warehouse, start: dt.date, end: dt.date) -> list[dict]:
    return warehouse.query(f"""SELECT * FROM {SCHEMA}.self_balancing_comparison
                               WHERE {dates_between("settlement_date", start, end)} ORDER BY settlement_date""").to_pylist()  # fmt: skip
