"""SQL of the market data and of the marts that put it beside the settlement truth: the BM unit
history, the revenue comparison, unit revenue per MW (and its leaderboard view) and the
self-balancing comparison. What their assets and checks read back is in warehouse/market_queries.py.

Written in the portable subset of warehouse/sql.py (DATE literals, CASE, window functions,
explicit GROUP BY), transpiled to BigQuery by the engine. Sign conventions (docs/marts.md): BO4
and EBOCF cashflows + = paid to the party; the BP7 non-delivery charge + = paid by the party;
volumes: offers +, bids -. Money, volumes and prices are exact decimals in every table read here
(DECIMAL on DuckDB, NUMERIC on BigQuery), so sums and differences are exact; ROUND(x, 2) / ROUND(x, 3)
keep each output at its column's scale and stay DECIMAL / NUMERIC on both engines (BigQuery does
not coerce FLOAT64 into a NUMERIC column). Only ratios (GBP per MW, shares) are floats.
"""

from __future__ import annotations

import datetime as dt

from p114_assets.core.settlement import BATTERY_FUEL_TYPES, UnitKind
from p114_assets.warehouse.base import SCHEMA
from p114_assets.warehouse.market_tables import BM_UNIT_ATTRIBUTES
from p114_assets.warehouse.sql import dates_between, unit_kind, units_as_of

ATTRIBUTES = [c.name for c in BM_UNIT_ATTRIBUTES]


# ---------------------------------------------------------------------------------------------
# BM units: intervals from the daily snapshots


def bm_unit_intervals() -> str:
    """Every unit's history as intervals of consecutive snapshots that say the same thing about it.

    A new interval starts where any attribute differs from the unit's previous snapshot, or where
    the unit was missing from the snapshot before (it left the list and came back). An interval
    ends (valid_to, exclusive) at the first snapshot date after its last one, whether the unit
    changed then or left the list; NULL while it is current."""
    changed = " OR ".join(f"{a} IS DISTINCT FROM prev_{a}" for a in ATTRIBUTES)
    previous = ", ".join(f"LAG(s.{a}) OVER (PARTITION BY s.bm_unit_id ORDER BY s.settlement_date) AS prev_{a}" for a in ATTRIBUTES)
    return f"""
    WITH snapshot_dates AS (
        SELECT settlement_date, DENSE_RANK() OVER (ORDER BY settlement_date) AS snapshot_number
        FROM (SELECT DISTINCT settlement_date FROM {SCHEMA}.bm_unit_snapshot) AS d
    ),
    numbered AS (
        SELECT s.*, n.snapshot_number,
               LAG(n.snapshot_number) OVER (PARTITION BY s.bm_unit_id ORDER BY s.settlement_date) AS previous_number,
               {previous}
        FROM {SCHEMA}.bm_unit_snapshot AS s
        JOIN snapshot_dates AS n ON n.settlement_date = s.settlement_date
    ),
    flagged AS (
        SELECT *, CASE WHEN previous_number IS NULL OR previous_number <> snapshot_number - 1 OR {changed}
                       THEN 1 ELSE 0 END AS starts_interval
        FROM numbered
    ),
    islands AS (
        SELECT *, SUM(starts_interval) OVER (PARTITION BY bm_unit_id ORDER BY settlement_date
                                             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS interval_number
        FROM flagged
    ),
    intervals AS (
        SELECT bm_unit_id, interval_number, MIN(settlement_date) AS valid_from, MAX(settlement_date) AS last_seen,
               MAX(snapshot_number) AS last_number
        FROM islands
        GROUP BY bm_unit_id, interval_number
    )
    SELECT i.bm_unit_id, i.valid_from, n.settlement_date AS valid_to, i.last_seen, {", ".join(f"s.{a}" for a in ATTRIBUTES)}
    FROM intervals AS i
    JOIN {SCHEMA}.bm_unit_snapshot AS s ON s.bm_unit_id = i.bm_unit_id AND s.settlement_date = i.valid_from
    LEFT JOIN snapshot_dates AS n ON n.snapshot_number = i.last_number + 1
    """


# ---------------------------------------------------------------------------------------------
# Revenue comparison: settled (S0142 BO4) beside indicative (EBOCF) beside estimated (BOALF)


def _canonical_runs(start: dt.date, end: dt.date) -> str:
    return f"""SELECT DISTINCT settlement_date, run_type, publication_ts FROM {SCHEMA}.settlement_canonical
               WHERE {dates_between("settlement_date", start, end)}"""


def _settled_bo4(start: dt.date, end: dt.date, per_period: bool = True) -> str:
    """BO4 of the canonical run, summed per unit (and period): cashflow and net accepted volume."""
    period = "b.settlement_period, " if per_period else ""
    return f"""
        SELECT b.settlement_date, {period}b.bm_unit_id,
               SUM(COALESCE(b.bid_cashflow_gbp, 0) + COALESCE(b.offer_cashflow_gbp, 0)) AS cash,
               SUM(COALESCE(b.accepted_bid_volume_mwh, 0) + COALESCE(b.accepted_offer_volume_mwh, 0)) AS vol
        FROM {SCHEMA}.bid_offer_pair AS b
        JOIN ({_canonical_runs(start, end)}) AS r
          ON b.settlement_date = r.settlement_date AND b.run_type = r.run_type AND b.publication_ts = r.publication_ts
        WHERE {dates_between("b.settlement_date", start, end)}
        GROUP BY b.settlement_date, {period}b.bm_unit_id"""


def bm_revenue_comparison(start: dt.date, end: dt.date) -> str:
    """Per unit and period, every unit-period where settlement, EBOCF or the estimate has anything.
    A source with no rows at all for a date gives NULL (not loaded), else 0 where it has nothing
    for the unit-period; differences are NULL where either side is."""
    window = dates_between("settlement_date", start, end)
    return f"""
    WITH runs AS ({_canonical_runs(start, end)}),
    settled AS ({_settled_bo4(start, end)}),
    indicative AS (
        SELECT settlement_date, settlement_period, bm_unit_id, SUM(cashflow_gbp) AS cash
        FROM {SCHEMA}.indicative_cashflow WHERE {window} AND bm_unit_id IS NOT NULL
        GROUP BY settlement_date, settlement_period, bm_unit_id
    ),
    estimated AS (
        SELECT settlement_date, settlement_period, bm_unit_id, SUM(cashflow_gbp) AS cash, SUM(volume_mwh) AS vol,
               SUM(CASE WHEN pair_number IS NULL THEN volume_mwh ELSE 0 END) AS unpriced
        FROM {SCHEMA}.acceptance_estimate WHERE {window}
        GROUP BY settlement_date, settlement_period, bm_unit_id
    ),
    keys AS (
        SELECT settlement_date, settlement_period, bm_unit_id FROM settled WHERE cash <> 0 OR vol <> 0
        UNION SELECT settlement_date, settlement_period, bm_unit_id FROM indicative
        UNION SELECT settlement_date, settlement_period, bm_unit_id FROM estimated
    ),
    has_indicative AS (SELECT DISTINCT settlement_date FROM {SCHEMA}.indicative_cashflow WHERE {window}),
    has_estimate AS (SELECT DISTINCT settlement_date FROM {SCHEMA}.acceptance_estimate WHERE {window}),
    parties AS (
        SELECT settlement_date, bm_unit_id, MAX(lead_party_id) AS lead_party_id
        FROM {SCHEMA}.settlement_canonical WHERE {window} GROUP BY settlement_date, bm_unit_id
    ),
    reference AS ({units_as_of("SELECT DISTINCT bm_unit_id, settlement_date FROM keys")}),
    compared AS (
        SELECT k.bm_unit_id, COALESCE(p.lead_party_id, ref.lead_party_id) AS lead_party_id,
               k.settlement_date, k.settlement_period, r.run_type,
               CASE WHEN r.run_type IS NULL THEN NULL ELSE COALESCE(s.cash, 0) END AS settled_cash,
               CASE WHEN hi.settlement_date IS NULL THEN NULL ELSE COALESCE(i.cash, 0) END AS indicative_cash,
               CASE WHEN he.settlement_date IS NULL THEN NULL ELSE COALESCE(e.cash, 0) END AS estimate_cash,
               CASE WHEN r.run_type IS NULL THEN NULL ELSE COALESCE(s.vol, 0) END AS settled_vol,
               CASE WHEN he.settlement_date IS NULL THEN NULL ELSE COALESCE(e.vol, 0) END AS estimate_vol,
               CASE WHEN he.settlement_date IS NULL THEN NULL ELSE COALESCE(e.unpriced, 0) END AS unpriced
        FROM keys AS k
        LEFT JOIN runs AS r ON r.settlement_date = k.settlement_date
        LEFT JOIN settled AS s ON s.settlement_date = k.settlement_date AND s.settlement_period = k.settlement_period AND s.bm_unit_id = k.bm_unit_id
        LEFT JOIN indicative AS i ON i.settlement_date = k.settlement_date AND i.settlement_period = k.settlement_period AND i.bm_unit_id = k.bm_unit_id
        LEFT JOIN estimated AS e ON e.settlement_date = k.settlement_date AND e.settlement_period = k.settlement_period AND e.bm_unit_id = k.bm_unit_id
        LEFT JOIN has_indicative AS hi ON hi.settlement_date = k.settlement_date
        LEFT JOIN has_estimate AS he ON he.settlement_date = k.settlement_date
        LEFT JOIN parties AS p ON p.settlement_date = k.settlement_date AND p.bm_unit_id = k.bm_unit_id
        LEFT JOIN reference AS ref ON ref.settlement_date = k.settlement_date AND ref.bm_unit_id = k.bm_unit_id
    )
    SELECT c.bm_unit_id, c.lead_party_id, c.settlement_date, c.settlement_period, sp.period_start_utc, sp.period_end_utc,
           c.run_type,
           ROUND(c.settled_cash, 2) AS settled_bm_cashflow_gbp,
           ROUND(c.indicative_cash, 2) AS indicative_bm_cashflow_gbp,
           ROUND(c.estimate_cash, 2) AS acceptance_estimate_gbp,
           ROUND(c.settled_vol, 3) AS settled_accepted_volume_mwh,
           ROUND(c.estimate_vol, 3) AS estimated_accepted_volume_mwh,
           ROUND(c.indicative_cash - c.settled_cash, 2) AS indicative_minus_settled_gbp,
           ROUND(c.estimate_cash - c.settled_cash, 2) AS estimate_minus_settled_gbp,
           ROUND(c.estimate_vol - c.settled_vol, 3) AS estimated_minus_settled_volume_mwh,
           ROUND(c.unpriced, 3) AS estimate_unpriced_volume_mwh
    FROM compared AS c
    JOIN {SCHEMA}.settlement_periods AS sp ON sp.settlement_date = c.settlement_date AND sp.settlement_period = c.settlement_period
    """


SUMMED = ("settled_bm_cashflow_gbp", "indicative_bm_cashflow_gbp", "acceptance_estimate_gbp", "settled_accepted_volume_mwh",
           "estimated_accepted_volume_mwh", "indicative_minus_settled_gbp", "estimate_minus_settled_gbp",
           "estimated_minus_settled_volume_mwh", "estimate_unpriced_volume_mwh")  # fmt: skip


def summed() -> str:
    """The comparison's figures summed (money to the penny, volumes to the kWh)."""
    return ",\n           ".join(f"ROUND(SUM({c}), {2 if c.endswith('_gbp') else 3}) AS {c}" for c in SUMMED)


def bm_revenue_comparison_daily(start: dt.date, end: dt.date) -> str:
    """bm_revenue_comparison summed per unit and date (a sum is NULL only if every period's is)."""
    return f"""
    SELECT bm_unit_id, MAX(lead_party_id) AS lead_party_id, settlement_date, MAX(run_type) AS run_type,
           {summed()},
           COUNT(*) AS periods
    FROM {SCHEMA}.bm_revenue_comparison WHERE {dates_between("settlement_date", start, end)}
    GROUP BY bm_unit_id, settlement_date
    """


def bm_revenue_comparison_party_daily(start: dt.date, end: dt.date) -> str:
    """bm_revenue_comparison_daily summed per lead party and date."""
    return f"""
    SELECT lead_party_id, settlement_date, MAX(run_type) AS run_type,
           {summed()},
           COUNT(DISTINCT bm_unit_id) AS units
    FROM {SCHEMA}.bm_revenue_comparison_daily WHERE {dates_between("settlement_date", start, end)}
    GROUP BY lead_party_id, settlement_date
    """


# ---------------------------------------------------------------------------------------------
# Unit revenue per MW, from the settlement truth


def unit_revenue_daily(start: dt.date, end: dt.date) -> str:
    """Per unit and date of the canonical run: BM cashflow (BO4), non-delivery charge (BP7 3), net,
    capacity and fuel type from bm_units as of the date; the rolling figures are set by
    unit_revenue_rolling in the same transaction."""
    window = dates_between("settlement_date", start, end)
    capacity = "GREATEST(COALESCE(ref.generation_capacity_mw, 0), ABS(COALESCE(ref.demand_capacity_mw, 0)))"
    return f"""
    WITH canon AS (
        SELECT settlement_date, bm_unit_id, MAX(lead_party_id) AS lead_party_id, MAX(run_type) AS run_type,
               SUM(COALESCE(non_delivery_charge_gbp, 0)) AS non_delivery
        FROM {SCHEMA}.settlement_canonical WHERE {window}
        GROUP BY settlement_date, bm_unit_id
    ),
    cash AS ({_settled_bo4(start, end, per_period=False)}),
    reference AS ({units_as_of("SELECT DISTINCT bm_unit_id, settlement_date FROM canon")})
    SELECT c.bm_unit_id, COALESCE(c.lead_party_id, ref.lead_party_id) AS lead_party_id, c.settlement_date, c.run_type,
           {unit_kind("c.bm_unit_id", "ref.bm_unit_type")} AS unit_kind, ref.fuel_type,
           ROUND(COALESCE(b.cash, 0), 2) AS bm_cashflow_gbp,
           ROUND(c.non_delivery, 2) AS non_delivery_charge_gbp,
           ROUND(COALESCE(b.cash, 0) - c.non_delivery, 2) AS net_revenue_gbp,
           CASE WHEN {capacity} > 0 THEN {capacity} END AS capacity_mw,
           CASE WHEN {capacity} > 0 THEN (COALESCE(b.cash, 0) - c.non_delivery) / {capacity} END AS gbp_per_mw,
           CAST(NULL AS BIGINT) AS days_30d, CAST(NULL AS DOUBLE) AS gbp_per_mw_year_30d,
           CAST(NULL AS BIGINT) AS days_365d, CAST(NULL AS DOUBLE) AS gbp_per_mw_year_365d
    FROM canon AS c
    LEFT JOIN cash AS b ON b.settlement_date = c.settlement_date AND b.bm_unit_id = c.bm_unit_id
    LEFT JOIN reference AS ref ON ref.settlement_date = c.settlement_date AND ref.bm_unit_id = c.bm_unit_id
    """


ROLLING_DAYS = (30, 365)


def unit_revenue_rolling(start: dt.date, end: dt.date) -> str:
    """Set the rolling figures of every date whose windows hold a date of [start, end] (up to 364
    days after `end`), from the rows in the table: sum of net revenue over the window / dates of
    the unit in it x 365 / the date's capacity. Run after the dates' rows are replaced, in the
    same transaction, so whatever order dates are (re)computed in, each date ends up with windows
    of the rows present."""
    reach = dt.timedelta(days=max(ROLLING_DAYS) - 1)
    frames = {n: f"PARTITION BY bm_unit_id ORDER BY day_number RANGE BETWEEN {n - 1} PRECEDING AND CURRENT ROW" for n in ROLLING_DAYS}
    windows = ",\n                   ".join(
        f"COUNT(*) OVER ({frames[n]}) AS days_{n}d, SUM(net_revenue_gbp) OVER ({frames[n]}) AS sum_{n}d" for n in ROLLING_DAYS)
    annualised = ", ".join(
        f"days_{n}d, CASE WHEN capacity_mw > 0 THEN sum_{n}d / days_{n}d * 365 / capacity_mw END AS gbp_per_mw_year_{n}d"
        for n in ROLLING_DAYS)
    updates = ", ".join(f"days_{n}d = r.days_{n}d, gbp_per_mw_year_{n}d = r.gbp_per_mw_year_{n}d" for n in ROLLING_DAYS)
    affected = (start, end + reach)
    return f"""
    UPDATE {SCHEMA}.unit_revenue_daily AS t
    SET {updates}
    FROM (
        SELECT bm_unit_id, settlement_date, {annualised}
        FROM (
            SELECT bm_unit_id, settlement_date, capacity_mw,
                   {windows}
            FROM (SELECT bm_unit_id, settlement_date, capacity_mw, net_revenue_gbp,
                         DATE_DIFF('day', DATE '1970-01-01', settlement_date) AS day_number
                  FROM {SCHEMA}.unit_revenue_daily
                  WHERE {dates_between("settlement_date", start - reach, affected[1])}) AS days
        ) AS rolled
        WHERE {dates_between("settlement_date", *affected)}
    ) AS r
    WHERE t.bm_unit_id = r.bm_unit_id AND t.settlement_date = r.settlement_date
      AND {dates_between("t.settlement_date", *affected)}
    """  # fmt: skip


def unit_revenue_leaderboard() -> str:
    """The latest date's units with a capacity, ranked by annualised GBP/MW (30 days) within their
    fuel type, battery storage first (core.settlement.BATTERY_FUEL_TYPES)."""
    batteries = ", ".join(f"'{f}'" for f in BATTERY_FUEL_TYPES)
    return f"""
    SELECT u.settlement_date, COALESCE(u.fuel_type, 'UNKNOWN') AS fuel_type,
           CASE WHEN UPPER(u.fuel_type) IN ({batteries}) THEN 0 ELSE 1 END AS fuel_type_order,
           RANK() OVER (PARTITION BY COALESCE(u.fuel_type, 'UNKNOWN') ORDER BY u.gbp_per_mw_year_30d DESC) AS rank_in_fuel_type,
           u.bm_unit_id, u.lead_party_id, u.unit_kind, u.capacity_mw, u.net_revenue_gbp,
           u.gbp_per_mw_year_30d, u.gbp_per_mw_year_365d, u.days_30d, u.days_365d, u.run_type
    FROM {SCHEMA}.unit_revenue_daily AS u
    WHERE u.capacity_mw > 0 AND u.gbp_per_mw_year_30d IS NOT NULL
      AND u.settlement_date = (SELECT MAX(settlement_date) FROM {SCHEMA}.unit_revenue_daily)
    """


# ---------------------------------------------------------------------------------------------
# Self-balancing: p114's MWh-weighted classification beside the old anti-join count


def self_balancing_comparison(start: dt.date, end: dt.date) -> str:
    """Per window of unit_classification ending in [start, end]: the MWh shares of its classes, and
    over the same window and canonical rows, the old figure: units with no BOALF acceptance (no
    acceptance_estimate row), their share of unit-periods counted by rows, and the same share
    weighted by MWh, with the supplier rows the old count included."""
    classes = ("self_dispatched", "so_directed", "imbalance_exposed", "mixed", "inactive")
    shares = ",\n               ".join(
        f"CASE WHEN SUM(a_tot_mwh) > 0 THEN SUM(CASE WHEN class = '{c}' THEN a_tot_mwh ELSE 0 END) / SUM(a_tot_mwh) END AS {c}_share"
        for c in classes)  # fmt: skip
    return f"""
    WITH windows AS (
        SELECT DISTINCT settlement_date AS window_end, window_start, window_days
        FROM {SCHEMA}.unit_classification WHERE {dates_between("settlement_date", start, end)}
    ),
    bounds AS (SELECT MIN(window_start) AS first_date, MAX(window_end) AS last_date FROM windows),
    daily AS (
        SELECT c.settlement_date, c.bm_unit_id, COUNT(*) AS unit_periods,
               SUM(ABS(COALESCE(c.period_fpn_mwh, 0)) + ABS(COALESCE(c.balancing_services_volume_mwh, 0))
                   + ABS(COALESCE(c.metered_volume_mwh, 0) - COALESCE(c.period_fpn_mwh, 0)
                         - COALESCE(c.balancing_services_volume_mwh, 0))) AS mwh
        FROM {SCHEMA}.settlement_canonical AS c
        JOIN bounds AS b ON c.settlement_date BETWEEN b.first_date AND b.last_date
        GROUP BY c.settlement_date, c.bm_unit_id
    ),
    accepted AS (
        SELECT DISTINCT e.settlement_date, e.bm_unit_id FROM {SCHEMA}.acceptance_estimate AS e
        JOIN bounds AS b ON e.settlement_date BETWEEN b.first_date AND b.last_date
    ),
    acceptance_dates AS (
        SELECT DISTINCT a.settlement_date FROM {SCHEMA}.acceptance AS a
        JOIN bounds AS b ON a.settlement_date BETWEEN b.first_date AND b.last_date
    ),
    reference AS ({units_as_of("SELECT DISTINCT bm_unit_id, settlement_date FROM daily")}),
    per_unit AS (
        SELECT w.window_end, d.bm_unit_id, SUM(d.unit_periods) AS unit_periods, SUM(d.mwh) AS mwh,
               MAX(CASE WHEN a.bm_unit_id IS NULL THEN 0 ELSE 1 END) AS was_accepted,
               MAX(CASE WHEN {unit_kind("d.bm_unit_id", "r.bm_unit_type")} = '{UnitKind.SUPPLIER.value}' THEN 1 ELSE 0 END) AS supplier
        FROM windows AS w
        JOIN daily AS d ON d.settlement_date BETWEEN w.window_start AND w.window_end
        LEFT JOIN accepted AS a ON a.settlement_date = d.settlement_date AND a.bm_unit_id = d.bm_unit_id
        LEFT JOIN reference AS r ON r.settlement_date = d.settlement_date AND r.bm_unit_id = d.bm_unit_id
        GROUP BY w.window_end, d.bm_unit_id
    ),
    antijoin AS (
        SELECT window_end, COUNT(*) AS units, SUM(1 - was_accepted) AS units_without,
               SUM(unit_periods) AS unit_periods, SUM(CASE WHEN was_accepted = 0 THEN unit_periods ELSE 0 END) AS periods_without,
               SUM(mwh) AS mwh, SUM(CASE WHEN was_accepted = 0 THEN mwh ELSE 0 END) AS mwh_without,
               SUM(CASE WHEN supplier = 1 THEN unit_periods ELSE 0 END) AS supplier_periods
        FROM per_unit GROUP BY window_end
    ),
    classified AS (
        SELECT settlement_date AS window_end, COUNT(*) AS units, SUM(a_tot_mwh) AS mwh,
               {shares}
        FROM {SCHEMA}.unit_classification WHERE {dates_between("settlement_date", start, end)}
        GROUP BY settlement_date
    ),
    data_dates AS (
        SELECT w.window_end, COUNT(a.settlement_date) AS dates
        FROM windows AS w LEFT JOIN acceptance_dates AS a ON a.settlement_date BETWEEN w.window_start AND w.window_end
        GROUP BY w.window_end
    )
    SELECT w.window_end AS settlement_date, w.window_start, w.window_end, w.window_days,
           c.units AS classified_units, ROUND(c.mwh, 3) AS classified_mwh,
           c.self_dispatched_share, c.so_directed_share, c.imbalance_exposed_share, c.mixed_share, c.inactive_share,
           j.units AS antijoin_units, j.units_without AS antijoin_units_without_acceptance,
           j.unit_periods AS antijoin_rows, j.periods_without AS antijoin_rows_without_acceptance,
           CASE WHEN j.unit_periods > 0 THEN j.periods_without / CAST(j.unit_periods AS DOUBLE) END AS antijoin_share_by_rows,
           CASE WHEN j.mwh > 0 THEN j.mwh_without / j.mwh END AS antijoin_share_by_mwh,
           j.supplier_periods AS antijoin_supplier_rows, dd.dates AS acceptance_dates
    FROM windows AS w
    LEFT JOIN classified AS c ON c.window_end = w.window_end
    LEFT JOIN antijoin AS j ON j.window_end = w.window_end
    LEFT JOIN data_dates AS dd ON dd.window_end = w.window_end
    """
