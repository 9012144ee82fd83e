"""SQL of the derived tables, written once in a portable subset that DuckDB and BigQuery both run:
`DATE 'YYYY-MM-DD'` literals, CASE, window functions, explicit GROUP BY columns, no engine-only
functions. Every rule comes from core (run precedence from core.settlement), never restated here.
"""

from __future__ import annotations

import datetime as dt

from p114_assets.core.settlement import RUN_PRECEDENCE
from p114_assets.warehouse.base import SCHEMA


def date_literal(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def dates_between(column: str, start: dt.date, end: dt.date) -> str:
    return f"{column} BETWEEN {date_literal(start)} AND {date_literal(end)}"


def run_rank(column: str = "run_type") -> str:
    """Maturity of a run type as a number (II lowest, DF highest), from core.settlement."""
    whens = " ".join(f"WHEN '{run}' THEN {rank}" for run, rank in RUN_PRECEDENCE.items())
    return f"(CASE {column} {whens} END)"


def canonical(start: dt.date, end: dt.date) -> str:
    """bm_unit_period rows of the most mature run of each date (same run type: later stamp)."""
    return f"""
    WITH runs AS (
        SELECT settlement_date, run_type, MAX(publication_ts) AS publication_ts
        FROM {SCHEMA}.bm_unit_period
        WHERE {dates_between("settlement_date", start, end)}
        GROUP BY settlement_date, run_type
    ),
    ranked AS (
        SELECT settlement_date, run_type, publication_ts,
               ROW_NUMBER() OVER (PARTITION BY settlement_date
                                  ORDER BY {run_rank()} DESC, publication_ts DESC) AS pick
        FROM runs
    )
    SELECT b.*
    FROM {SCHEMA}.bm_unit_period AS b
    JOIN ranked AS r
      ON b.settlement_date = r.settlement_date AND b.run_type = r.run_type
     AND b.publication_ts = r.publication_ts AND r.pick = 1
    WHERE {dates_between("b.settlement_date", start, end)}
    """


def run_reconciliation(start: dt.date, end: dt.date) -> str:
    """Per unit, date and period: how metered volume, balancing services volume, non-delivery
    charge and BM cashflow moved between consecutive runs present for the date. A unit-period in
    only one of the two runs is compared with zero and `presence` says which."""
    values = ("metered_volume_mwh", "balancing_services_volume_mwh", "non_delivery_charge_gbp", "bm_cashflow_gbp")
    deltas = {
        "metered_volume_mwh": "metered_volume_delta_mwh",
        "balancing_services_volume_mwh": "balancing_services_volume_delta_mwh",
        "non_delivery_charge_gbp": "non_delivery_charge_delta_gbp",
        "bm_cashflow_gbp": "bm_cashflow_delta_gbp",
    }
    sides = ",\n               ".join(
        f"MAX(CASE WHEN is_to = 1 THEN {v} END) AS to_{v}, MAX(CASE WHEN is_to = 0 THEN {v} END) AS from_{v}"
        for v in values
    )
    delta_columns = ",\n           ".join(
        f"CASE WHEN has_to = 1 AND has_from = 1 THEN to_{v} - from_{v} "
        f"WHEN has_to = 1 THEN to_{v} ELSE -from_{v} END AS {deltas[v]}"
        for v in values
    )
    return f"""
    WITH cash AS (
        SELECT settlement_date, run_type, settlement_period, bm_unit_id,
               SUM(COALESCE(bid_cashflow_gbp, 0) + COALESCE(offer_cashflow_gbp, 0)) AS bm_cashflow_gbp
        FROM {SCHEMA}.bid_offer_pair
        WHERE {dates_between("settlement_date", start, end)}
        GROUP BY settlement_date, run_type, settlement_period, bm_unit_id
    ),
    unit AS (
        SELECT b.settlement_date, b.run_type, b.publication_ts, b.settlement_period, b.bm_unit_id,
               b.metered_volume_mwh, b.balancing_services_volume_mwh, b.non_delivery_charge_gbp,
               COALESCE(c.bm_cashflow_gbp, 0) AS bm_cashflow_gbp
        FROM {SCHEMA}.bm_unit_period AS b
        LEFT JOIN cash AS c
          ON b.settlement_date = c.settlement_date AND b.run_type = c.run_type
         AND b.settlement_period = c.settlement_period AND b.bm_unit_id = c.bm_unit_id
        WHERE {dates_between("b.settlement_date", start, end)}
    ),
    runs AS (
        SELECT DISTINCT settlement_date, run_type, publication_ts FROM unit
    ),
    steps AS (
        SELECT settlement_date, run_type AS to_run_type, publication_ts AS to_publication_ts,
               LAG(run_type) OVER (PARTITION BY settlement_date ORDER BY {run_rank()}, publication_ts) AS from_run_type,
               LAG(publication_ts) OVER (PARTITION BY settlement_date ORDER BY {run_rank()}, publication_ts)
                   AS from_publication_ts
        FROM runs
    ),
    paired AS (
        SELECT s.settlement_date, s.from_run_type, s.to_run_type, s.from_publication_ts, s.to_publication_ts,
               u.settlement_period, u.bm_unit_id,
               CASE WHEN u.run_type = s.to_run_type THEN 1 ELSE 0 END AS is_to,
               {", ".join(f"u.{v}" for v in values)}
        FROM steps AS s
        JOIN unit AS u
          ON u.settlement_date = s.settlement_date
         AND (u.run_type = s.to_run_type OR u.run_type = s.from_run_type)
        WHERE s.from_run_type IS NOT NULL
    ),
    sides AS (
        SELECT settlement_date, settlement_period, bm_unit_id, from_run_type, to_run_type,
               from_publication_ts, to_publication_ts,
               MAX(is_to) AS has_to, MAX(1 - is_to) AS has_from,
               {sides}
        FROM paired
        GROUP BY settlement_date, settlement_period, bm_unit_id, from_run_type, to_run_type,
                 from_publication_ts, to_publication_ts
    )
    SELECT bm_unit_id, settlement_date, settlement_period, from_run_type, to_run_type,
           from_publication_ts, to_publication_ts,
           CASE WHEN has_to = 1 AND has_from = 1 THEN 'both' WHEN has_to = 1 THEN 'to_only' ELSE 'from_only' END
               AS presence,
           {delta_columns}
    FROM sides
    """
