"""SQL of the derived tables, written once in a portable subset that DuckDB and BigQuery both run:
`DATE 'YYYY-MM-DD'` literals, CASE, window functions, explicit GROUP BY columns, no engine-only
functions. Every rule comes from core (run precedence from core.settlement), never restated here.
"""

from __future__ import annotations

import datetime as dt

from p114_assets.core.classification import Thresholds
from p114_assets.core.settlement import RUN_PRECEDENCE, UNIT_PREFIXES, UNIT_TYPE_KINDS, UnitKind, unit_kind_labels
from p114_assets.warehouse.base import SCHEMA


def date_literal(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def dates_between(column: str, start: dt.date, end: dt.date) -> str:
    return f"{column} BETWEEN {date_literal(start)} AND {date_literal(end)}"


def run_rank(column: str = "run_type") -> str:
    """Maturity of a run type as a number (II lowest, DF highest), from core.settlement."""
    whens = " ".join(f"WHEN '{run}' THEN {rank}" for run, rank in RUN_PRECEDENCE.items())
    return f"(CASE {column} {whens} END)"


def canonical_runs(start: dt.date, end: dt.date) -> str:
    """The pointer rows of settlement_canonical_runs: for each date with a loaded run, the most
    mature one (same run type: the later stamp), from the narrow loaded_runs table."""
    return f"""
    WITH ranked AS (
        SELECT settlement_date, run_type, publication_ts,
               ROW_NUMBER() OVER (PARTITION BY settlement_date
                                  ORDER BY {run_rank()} DESC, publication_ts DESC) AS pick
        FROM {SCHEMA}.loaded_runs
        WHERE {dates_between("settlement_date", start, end)}
    )
    SELECT settlement_date, run_type, publication_ts FROM ranked WHERE pick = 1
    """


def canonical_view(columns: list[str], schema: str | None = SCHEMA) -> str:
    """The SELECT of the settlement_canonical view: bm_unit_period rows of the run the pointer
    names for each date (joined on date and run type, so a re-published run shows its new rows at
    once), and is_stale: a more mature run of the date is loaded than the one chosen. `columns` are
    bm_unit_period's; `schema` None leaves table names unqualified (DuckDB resolves them in the
    view's own schema, so the view works however the file is attached)."""
    p = f"{schema}." if schema else ""
    return f"""
    SELECT {", ".join(f"b.{c}" for c in columns)}, s.is_stale
    FROM {p}bm_unit_period AS b
    JOIN (
        SELECT c.settlement_date, c.run_type,
               COALESCE(MAX({run_rank("l.run_type")}) > MIN({run_rank("c.run_type")}), FALSE) AS is_stale
        FROM {p}settlement_canonical_runs AS c
        LEFT JOIN {p}loaded_runs AS l ON l.settlement_date = c.settlement_date
        GROUP BY c.settlement_date, c.run_type
    ) AS s
      ON b.settlement_date = s.settlement_date AND b.run_type = s.run_type
    """


def valid_view(table: str, schema: str | None = SCHEMA) -> str:
    """The SELECT of `<table>_valid`: the raw table's rows of the partitions whose loaded version
    passed every blocking check (partition_status holds one 'loaded' row per partition, so the join
    never repeats a row)."""
    p = f"{schema}." if schema else ""
    return f"""
    SELECT t.* FROM {p}{table} AS t
    JOIN {p}partition_status AS s
      ON s.settlement_date = t.settlement_date AND s.run_type = t.run_type
    WHERE s.version = 'loaded' AND s.blocking_passed
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
        SELECT b.settlement_date, b.run_type, b.publication_ts, b.settlement_period, b.period_start_utc,
               b.period_end_utc, b.bm_unit_id, b.metered_volume_mwh, b.balancing_services_volume_mwh, b.non_delivery_charge_gbp,
               COALESCE(c.bm_cashflow_gbp, 0) AS bm_cashflow_gbp
        FROM {SCHEMA}.bm_unit_period AS b
        LEFT JOIN cash AS c
          ON b.settlement_date = c.settlement_date AND b.run_type = c.run_type
         AND b.settlement_period = c.settlement_period AND b.bm_unit_id = c.bm_unit_id
        WHERE {dates_between("b.settlement_date", start, end)}
    ),
    runs AS (  -- from the narrow loaded_runs: read from unit, DuckDB held every unit-period of the range at once
        SELECT settlement_date, run_type, publication_ts FROM {SCHEMA}.loaded_runs
        WHERE {dates_between("settlement_date", start, end)}
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
               u.settlement_period, u.period_start_utc, u.period_end_utc, u.bm_unit_id,
               CASE WHEN u.run_type = s.to_run_type THEN 1 ELSE 0 END AS is_to,
               {", ".join(f"u.{v}" for v in values)}
        FROM steps AS s
        JOIN unit AS u
          ON u.settlement_date = s.settlement_date
         AND (u.run_type = s.to_run_type OR u.run_type = s.from_run_type)
        WHERE s.from_run_type IS NOT NULL
    ),
    sides AS (
        SELECT settlement_date, settlement_period, period_start_utc, period_end_utc, bm_unit_id, from_run_type,
               to_run_type, from_publication_ts, to_publication_ts,
               MAX(is_to) AS has_to, MAX(1 - is_to) AS has_from,
               {sides}
        FROM paired
        GROUP BY settlement_date, settlement_period, period_start_utc, period_end_utc, bm_unit_id, from_run_type,
                 to_run_type, from_publication_ts, to_publication_ts
    )
    SELECT bm_unit_id, settlement_date, settlement_period, period_start_utc, period_end_utc, from_run_type, to_run_type,
           from_publication_ts, to_publication_ts,
           CASE WHEN has_to = 1 AND has_from = 1 THEN 'both' WHEN has_to = 1 THEN 'to_only' ELSE 'from_only' END
               AS presence,
           {delta_columns}
    FROM sides
    """


# ---------------------------------------------------------------------------------------------
# Marts. Sign conventions (PRODUCT.md section 4): BO4 cashflows + = paid to the party; the BP7
# non-delivery charge + = paid by the party; PPC 2 BM unit cashflow + = credit, 3 energy imbalance
# cashflow + = debit, 5 non-delivery charge + = debit, 6 RCRC + = credit. Money is rounded to the
# penny and volumes to the kWh only in the output, never in between.

def unit_kind(unit: str, unit_type: str | None = None, labels: dict[UnitKind, str] | None = None) -> str:
    """The kind of a BM unit (core.settlement.UnitKind values, or the given labels) as SQL: by its
    Elexon BM unit type where known (UNIT_TYPE_KINDS), else by its id's prefix, tested as a prefix
    (STARTS_WITH: in LIKE 'V__%' each _ is a wildcard)."""
    name = {kind: (labels or {}).get(kind, kind.value) for kind in UnitKind}
    by_type = [f"WHEN UPPER(TRIM({unit_type})) = '{code}' THEN '{name[kind]}'" for code, kind in UNIT_TYPE_KINDS.items()] if unit_type else []
    by_prefix = [f"WHEN STARTS_WITH({unit}, '{prefix}') THEN '{name[kind]}'" for prefix, kind in UNIT_PREFIXES]
    return f"(CASE {' '.join(by_type + by_prefix)} ELSE '{name[UnitKind.OTHER]}' END)"


def unit_kind_case(column: str = "bm_unit_id") -> str:
    """The kind of the BM unit in `column` by its prefix, as its label ("supplier (2__, C__)", ...)."""
    return unit_kind(column, labels=unit_kind_labels())


def units_as_of(keys: str) -> str:
    """For each (bm_unit_id, settlement_date) of the query `keys`, what bm_units says about the unit
    as of that date: the interval covering the date, else (a date before p114's first snapshot)
    the unit's first interval after it. Units the list never held get no row (callers fall back to
    the id's prefix)."""
    return f"""
        SELECT bm_unit_id, settlement_date, bm_unit_type, fuel_type, lead_party_id, generation_capacity_mw, demand_capacity_mw
        FROM (
            SELECT k.bm_unit_id, k.settlement_date, u.bm_unit_type, u.fuel_type, u.lead_party_id,
                   u.generation_capacity_mw, u.demand_capacity_mw,
                   ROW_NUMBER() OVER (PARTITION BY k.bm_unit_id, k.settlement_date
                                      ORDER BY CASE WHEN u.valid_from <= k.settlement_date THEN 0 ELSE 1 END, u.valid_from) AS pick
            FROM ({keys}) AS k
            JOIN {SCHEMA}.bm_units AS u
              ON u.bm_unit_id = k.bm_unit_id
             AND ((u.valid_from <= k.settlement_date AND (u.valid_to IS NULL OR k.settlement_date < u.valid_to))
                  OR u.valid_from > k.settlement_date)
        ) AS candidates
        WHERE pick = 1"""


# The table whose rows a view's rows are a subset of (the keys units_as_of looks up are read there).
ROWS_WITHIN = {"settlement_canonical": "bm_unit_period"}


def with_unit_kind(table: str, start: dt.date, end: dt.date) -> str:
    """Rows of a table with bm_unit_id and settlement_date, dates [start, end], each with its unit's
    kind as of the date (`unit_kind`). The units to look up are read from the view's base table
    (ROWS_WITHIN; a superset, which the join leaves out): a view read twice in one query is
    materialized whole by DuckDB (settlement_canonical over 30 dates: ~700 MB held in memory)."""
    keys = ROWS_WITHIN.get(table, table)
    return f"""
        SELECT t.*, {unit_kind("t.bm_unit_id", "r.bm_unit_type")} AS unit_kind
        FROM {SCHEMA}.{table} AS t
        LEFT JOIN ({units_as_of(f"SELECT DISTINCT bm_unit_id, settlement_date FROM {SCHEMA}.{keys} WHERE {dates_between('settlement_date', start, end)}")}) AS r
          ON r.bm_unit_id = t.bm_unit_id AND r.settlement_date = t.settlement_date
        WHERE {dates_between("t.settlement_date", start, end)}"""


VLP = f"unit_kind = '{UnitKind.SECONDARY.value}'"
SUPPLIER = f"unit_kind = '{UnitKind.SUPPLIER.value}'"


def vlp_revenue_period(start: dt.date, end: dt.date) -> str:
    """Per VLP unit and period, from the canonical run of each date: accepted volumes and BM cashflow
    from the unit's BO4 pairs, the non-delivery charge from BP7 3, and what they net to."""
    return f"""
    WITH canon AS (
        SELECT * FROM ({with_unit_kind("settlement_canonical", start, end)}) AS k WHERE {VLP}
    ),
    chosen AS (
        SELECT DISTINCT settlement_date, run_type, publication_ts FROM canon
    ),
    vlp_units AS (
        SELECT DISTINCT settlement_date, bm_unit_id FROM canon
    ),
    pairs AS (
        SELECT b.settlement_date, b.settlement_period, b.bm_unit_id,
               SUM(COALESCE(b.accepted_offer_volume_mwh, 0)) AS offer_mwh,
               SUM(COALESCE(b.accepted_bid_volume_mwh, 0)) AS bid_mwh,
               SUM(COALESCE(b.bid_cashflow_gbp, 0) + COALESCE(b.offer_cashflow_gbp, 0)) AS cashflow_gbp
        FROM {SCHEMA}.bid_offer_pair AS b
        JOIN chosen AS c
          ON b.settlement_date = c.settlement_date AND b.run_type = c.run_type AND b.publication_ts = c.publication_ts
        JOIN vlp_units AS v ON b.settlement_date = v.settlement_date AND b.bm_unit_id = v.bm_unit_id
        WHERE {dates_between("b.settlement_date", start, end)}
        GROUP BY b.settlement_date, b.settlement_period, b.bm_unit_id
    )
    SELECT c.bm_unit_id, c.lead_party_id, c.settlement_date, c.settlement_period, c.period_start_utc,
           c.period_end_utc, c.run_type,
           ROUND(COALESCE(p.offer_mwh, 0), 3) AS accepted_offer_volume_mwh,
           ROUND(COALESCE(p.bid_mwh, 0), 3) AS accepted_bid_volume_mwh,
           ROUND(COALESCE(p.cashflow_gbp, 0), 2) AS bm_cashflow_gbp,
           ROUND(COALESCE(c.non_delivery_charge_gbp, 0), 2) AS non_delivery_charge_gbp,
           ROUND(COALESCE(p.cashflow_gbp, 0) - COALESCE(c.non_delivery_charge_gbp, 0), 2) AS net_balancing_revenue_gbp,
           c.metered_volume_mwh, c.balancing_services_volume_mwh,
           CASE WHEN c.balancing_services_volume_mwh IS NULL OR c.balancing_services_volume_mwh = 0 THEN NULL
                ELSE c.metered_volume_mwh / c.balancing_services_volume_mwh END AS delivery_ratio
    FROM canon AS c
    LEFT JOIN pairs AS p
      ON c.settlement_date = p.settlement_date AND c.settlement_period = p.settlement_period AND c.bm_unit_id = p.bm_unit_id
    """


def vlp_revenue_daily(start: dt.date, end: dt.date) -> str:
    """vlp_revenue_period summed per unit and date."""
    return f"""
    SELECT bm_unit_id, lead_party_id, settlement_date, run_type,
           ROUND(SUM(accepted_offer_volume_mwh), 3) AS accepted_offer_volume_mwh,
           ROUND(SUM(accepted_bid_volume_mwh), 3) AS accepted_bid_volume_mwh,
           ROUND(SUM(bm_cashflow_gbp), 2) AS bm_cashflow_gbp,
           ROUND(SUM(non_delivery_charge_gbp), 2) AS non_delivery_charge_gbp,
           ROUND(SUM(net_balancing_revenue_gbp), 2) AS net_balancing_revenue_gbp,
           ROUND(SUM(metered_volume_mwh), 3) AS metered_volume_mwh,
           ROUND(SUM(balancing_services_volume_mwh), 3) AS balancing_services_volume_mwh,
           CASE WHEN SUM(balancing_services_volume_mwh) = 0 THEN NULL
                ELSE SUM(metered_volume_mwh) / SUM(balancing_services_volume_mwh) END AS delivery_ratio,
           SUM(CASE WHEN accepted_offer_volume_mwh <> 0 OR accepted_bid_volume_mwh <> 0 THEN 1 ELSE 0 END)
               AS periods_with_acceptances
    FROM {SCHEMA}.vlp_revenue_period
    WHERE {dates_between("settlement_date", start, end)}
    GROUP BY bm_unit_id, lead_party_id, settlement_date, run_type
    """


def vlp_party_daily(start: dt.date, end: dt.date) -> str:
    """Every party leading at least one VLP unit on a date, with its day's PPC items of the
    canonical run and its net settlement position = BM cashflow - non-delivery charge - energy
    imbalance cashflow + RCRC (+ = the party is paid); beside it the compensation cashflows (PPC 9,
    + = debit; PPC 10, + = credit; both [I]) and the position after them."""
    return f"""
    WITH vlp_parties AS (
        SELECT settlement_date, lead_party_id AS party_id, run_type, publication_ts, COUNT(DISTINCT bm_unit_id) AS vlp_units
        FROM ({with_unit_kind("settlement_canonical", start, end)}) AS k
        WHERE {VLP} AND lead_party_id IS NOT NULL
        GROUP BY settlement_date, lead_party_id, run_type, publication_ts
    ),
    charges AS (
        SELECT p.settlement_date, p.party_id,
               SUM(p.bm_unit_cashflow_gbp) AS cashflow, SUM(p.non_delivery_charge_gbp) AS non_delivery,
               SUM(p.energy_imbalance_cashflow_gbp) AS imbalance, SUM(p.residual_cashflow_reallocation_gbp) AS rcrc,
               SUM(p.vlp_compensation_cashflow_gbp) AS vlp_compensation,
               SUM(p.supplier_compensation_cashflow_gbp) AS supplier_compensation
        FROM {SCHEMA}.party_period AS p
        JOIN vlp_parties AS v
          ON p.settlement_date = v.settlement_date AND p.party_id = v.party_id
         AND p.run_type = v.run_type AND p.publication_ts = v.publication_ts
        WHERE {dates_between("p.settlement_date", start, end)}
        GROUP BY p.settlement_date, p.party_id
    )
    SELECT v.party_id, v.settlement_date, v.run_type, v.vlp_units,
           ROUND(c.cashflow, 2) AS bm_cashflow_gbp,
           ROUND(c.non_delivery, 2) AS non_delivery_charge_gbp,
           ROUND(c.imbalance, 2) AS energy_imbalance_cashflow_gbp,
           ROUND(c.rcrc, 2) AS residual_cashflow_reallocation_gbp,
           ROUND(c.cashflow - c.non_delivery - c.imbalance + c.rcrc, 2) AS net_settlement_position_gbp,
           ROUND(c.vlp_compensation, 2) AS vlp_compensation_cashflow_gbp,
           ROUND(c.supplier_compensation, 2) AS supplier_compensation_cashflow_gbp,
           ROUND(c.cashflow - c.non_delivery - c.imbalance + c.rcrc
                 - COALESCE(c.vlp_compensation, 0) + COALESCE(c.supplier_compensation, 0), 2) AS net_position_after_compensation_gbp
    FROM vlp_parties AS v
    LEFT JOIN charges AS c ON v.settlement_date = c.settlement_date AND v.party_id = c.party_id
    """


def unit_classification(window_ends: list[dt.date], t: Thresholds) -> str:
    """One row per non-supplier BM unit active in the window ending on each date (see
    core/classification.py for the rule; the CASE below is built from the same Thresholds)."""
    first = min(window_ends) - dt.timedelta(days=t.window_days - 1)
    ends = " UNION ALL ".join(
        f"SELECT {date_literal(end)} AS window_end, {date_literal(end - dt.timedelta(days=t.window_days - 1))} AS window_start"
        for end in sorted(window_ends)
    )
    return f"""
    WITH ends AS ({ends}),
    daily AS (
        SELECT settlement_date, bm_unit_id, MAX(run_type) AS run_type,
               SUM(ABS(COALESCE(period_fpn_mwh, 0))) AS a_self,
               SUM(ABS(COALESCE(balancing_services_volume_mwh, 0))) AS a_so,
               SUM(ABS(COALESCE(metered_volume_mwh, 0) - COALESCE(period_fpn_mwh, 0)
                       - COALESCE(balancing_services_volume_mwh, 0))) AS a_dev
        FROM ({with_unit_kind("settlement_canonical", first, max(window_ends))}) AS k
        WHERE NOT ({SUPPLIER})
        GROUP BY settlement_date, bm_unit_id
    ),
    windows AS (
        SELECT e.window_start, e.window_end, d.bm_unit_id,
               COUNT(DISTINCT d.settlement_date) AS days_with_data,
               STRING_AGG(DISTINCT d.run_type, ',' ORDER BY d.run_type NULLS FIRST) AS run_types_used,
               SUM(d.a_self) AS a_self, SUM(d.a_so) AS a_so, SUM(d.a_dev) AS a_dev
        FROM ends AS e
        JOIN daily AS d ON d.settlement_date BETWEEN e.window_start AND e.window_end
        GROUP BY e.window_start, e.window_end, d.bm_unit_id
    ),
    shares AS (
        SELECT *, a_self + a_so + a_dev AS a_tot,
               CASE WHEN a_self + a_so + a_dev = 0 THEN NULL ELSE a_so / (a_self + a_so + a_dev) END AS so_share,
               CASE WHEN a_self + a_so + a_dev = 0 THEN NULL ELSE a_dev / (a_self + a_so + a_dev) END AS dev_share
        FROM windows
    )
    SELECT bm_unit_id, window_end AS settlement_date, window_start, window_end, {t.window_days} AS window_days,
           days_with_data, run_types_used,
           ROUND(a_self, 3) AS a_self_mwh, ROUND(a_so, 3) AS a_so_mwh, ROUND(a_dev, 3) AS a_dev_mwh,
           ROUND(a_tot, 3) AS a_tot_mwh, so_share, dev_share,
           CASE WHEN a_tot < {t.min_activity_mwh} OR a_tot = 0 THEN 'inactive'
                WHEN so_share >= {t.so_directed_min_share} THEN 'so_directed'
                WHEN so_share <= {t.self_dispatched_max_so_share}
                 AND dev_share <= {t.self_dispatched_max_dev_share} THEN 'self_dispatched'
                WHEN dev_share > {t.imbalance_exposed_min_dev_share} THEN 'imbalance_exposed'
                ELSE 'mixed' END AS class,
           {t.min_activity_mwh} AS min_activity_mwh, {t.so_directed_min_share} AS so_directed_min_share,
           {t.self_dispatched_max_so_share} AS self_dispatched_max_so_share,
           {t.self_dispatched_max_dev_share} AS self_dispatched_max_dev_share,
           {t.imbalance_exposed_min_dev_share} AS imbalance_exposed_min_dev_share
    FROM shares
    """

