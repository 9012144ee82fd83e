"""Every read-side query, by name: the summaries assets record after a refresh, what checks read,
the report, `p114 status`, and the runner's row counts. Written once in the portable SQL of sql.py,
run through the Warehouse interface, so each works on DuckDB and BigQuery alike.

Reads only, never writes: the writes are the engines' (duckdb.py, bigquery.py) and the derived
tables' SELECTs are in sql.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from p114_assets.warehouse import sql
from p114_assets.warehouse.base import SCHEMA, Warehouse
from p114_assets.warehouse.tables import REFERENCE_TABLES


def _between(start: dt.date, end: dt.date, column: str = "settlement_date") -> str:
    return sql.dates_between(column, start, end)


# -- what assets record after a refresh --------------------------------------------------------


def rows_by_run(warehouse: Warehouse, table: str, start: dt.date, end: dt.date) -> list[dict]:
    """Rows per settlement date and run type (`n`), in order."""
    return warehouse.query(
        f"SELECT settlement_date, run_type, COUNT(*) AS n FROM {SCHEMA}.{table} WHERE {_between(start, end)} "
        f"GROUP BY settlement_date, run_type ORDER BY settlement_date, run_type"
    ).to_pylist()


def reconciliation_moves(warehouse: Warehouse, start: dt.date, end: dt.date) -> list[dict]:
    """Per date and pair of runs: unit-periods compared, and the sums of absolute metered and
    BM cashflow deltas."""
    return warehouse.query(
        f"SELECT settlement_date, from_run_type, to_run_type, COUNT(*) AS n, "
        f"SUM(ABS(metered_volume_delta_mwh)) AS metered, SUM(ABS(bm_cashflow_delta_gbp)) AS cashflow "
        f"FROM {SCHEMA}.run_reconciliation WHERE {_between(start, end)} "
        f"GROUP BY settlement_date, from_run_type, to_run_type ORDER BY settlement_date, from_run_type"
    ).to_pylist()


def _totals(warehouse: Warehouse, table: str, start: dt.date, end: dt.date, columns: str) -> dict:
    row = warehouse.query(f"SELECT {columns} FROM {SCHEMA}.{table} WHERE {_between(start, end)}").to_pylist()[0]
    # exact sums (DECIMAL / NUMERIC), shown as numbers in Dagster's metadata, which takes no Decimal
    return {k: (float(round(v, 2)) if isinstance(v, (float, Decimal)) else (v or 0)) for k, v in row.items()}


def vlp_revenue_totals(warehouse: Warehouse, start: dt.date, end: dt.date) -> dict:
    """VLP units and their summed BM cashflow, non-delivery charge and net revenue over the dates."""
    return _totals(warehouse, "vlp_revenue_period", start, end,
                   "COUNT(DISTINCT bm_unit_id) AS vlp_units, SUM(bm_cashflow_gbp) AS bm_cashflow_gbp, "
                   "SUM(non_delivery_charge_gbp) AS non_delivery_charge_gbp, "
                   "SUM(net_balancing_revenue_gbp) AS net_balancing_revenue_gbp")  # fmt: skip


def vlp_party_totals(warehouse: Warehouse, start: dt.date, end: dt.date) -> dict:
    """VLP parties and their summed net settlement position over the dates."""
    return _totals(warehouse, "vlp_party_daily", start, end,
                   "COUNT(DISTINCT party_id) AS vlp_parties, SUM(net_settlement_position_gbp) AS net_settlement_position_gbp")


def top_vlp_units(warehouse: Warehouse, start: dt.date, end: dt.date, limit: int = 10) -> list[dict]:
    """The VLP units of highest net balancing revenue over the dates (`net`)."""
    return warehouse.query(
        f"SELECT bm_unit_id, lead_party_id, SUM(net_balancing_revenue_gbp) AS net FROM {SCHEMA}.vlp_revenue_daily "
        f"WHERE {_between(start, end)} GROUP BY bm_unit_id, lead_party_id ORDER BY net DESC LIMIT {int(limit)}"
    ).to_pylist()


def classified_units(warehouse: Warehouse, day: dt.date) -> list[dict]:
    """Class, A_tot and window of every unit classified on a date."""
    return warehouse.query(f"SELECT class, a_tot_mwh, window_days FROM {SCHEMA}.unit_classification "
                           f"WHERE settlement_date = {sql.date_literal(day)}").to_pylist()  # fmt: skip


# -- what checks read ------------------------------------------------------------------------------


def runs_by_date(warehouse: Warehouse, table: str, start: dt.date, end: dt.date) -> pa.Table:
    """The distinct (settlement_date, run_type) of a table over the dates."""
    return warehouse.query(f"SELECT DISTINCT settlement_date, run_type FROM {SCHEMA}.{table} WHERE {_between(start, end)}")


def units_by_date(warehouse: Warehouse, table: str, start: dt.date, end: dt.date) -> dict[dt.date, set[str]]:
    """The BM units of each settlement date of a table."""
    rows = warehouse.query(
        f"SELECT DISTINCT settlement_date, bm_unit_id FROM {SCHEMA}.{table} WHERE {_between(start, end)}"
    ).to_pylist()
    by_date: dict[dt.date, set[str]] = {}
    for row in rows:
        by_date.setdefault(row["settlement_date"], set()).add(row["bm_unit_id"])
    return by_date


def vlp_cashflow_paths(warehouse: Warehouse, start: dt.date, end: dt.date) -> pa.Table:
    """Per VLP party and date, the two paths to its BM cashflow: its PPC (`ppc_gbp`) and its VLP
    units' BO4 cashflows (`units_gbp`), with the count of other units it leads (`other_units`);
    unit kinds as of the date from bm_units, else the id's prefix."""
    window = _between(start, end)
    warehouse.create_tables(list(REFERENCE_TABLES))  # empty until market data is loaded
    return warehouse.query(f"""
        WITH units AS (
            SELECT lead_party_id, settlement_date, SUM(bm_cashflow_gbp) AS units_gbp
            FROM {SCHEMA}.vlp_revenue_daily WHERE {window} GROUP BY lead_party_id, settlement_date),
        others AS (
            SELECT lead_party_id, settlement_date, COUNT(DISTINCT bm_unit_id) AS other_units
            FROM ({sql.with_unit_kind("settlement_canonical", start, end)}) AS k WHERE NOT ({sql.VLP})
            GROUP BY lead_party_id, settlement_date)
        SELECT p.settlement_date, p.party_id, p.bm_cashflow_gbp AS ppc_gbp, u.units_gbp, o.other_units
        FROM {SCHEMA}.vlp_party_daily AS p
        LEFT JOIN units AS u ON u.lead_party_id = p.party_id AND u.settlement_date = p.settlement_date
        LEFT JOIN others AS o ON o.lead_party_id = p.party_id AND o.settlement_date = p.settlement_date
        WHERE {_between(start, end, "p.settlement_date")}
    """)  # fmt: skip


# -- status, the runner, the report ----------------------------------------------------------------


def loaded_partitions(warehouse: Warehouse, start: dt.date, end: dt.date) -> set[tuple[dt.date, str]]:
    """The (settlement date, run type) partitions loaded in bm_unit_period over the dates."""
    if not warehouse.table_exists("bm_unit_period"):
        return set()
    return {(r["settlement_date"], r["run_type"]) for r in runs_by_date(warehouse, "bm_unit_period", start, end).to_pylist()}


def row_counts(warehouse: Warehouse, table: str, start: dt.date, end: dt.date, by_run: bool) -> list[dict]:
    """Rows (`n`) per settlement date, and per run type too when `by_run`, over the dates."""
    group = "settlement_date, run_type" if by_run else "settlement_date"
    return warehouse.query(f"SELECT {group}, COUNT(*) AS n FROM {SCHEMA}.{table} WHERE {_between(start, end)} "
                           f"GROUP BY {group}").to_pylist()  # fmt: skip


def table_rows(warehouse: Warehouse, table: str) -> int:
    """Every row of a table."""
    return int(warehouse.query(f"SELECT count(*) AS n FROM {SCHEMA}.{table}").column("n")[0].as_py())


def _daily(warehouse: Warehouse) -> bool:
    """Whether bm_unit_period_daily is there to read (a warehouse an earlier release built and nothing
    has written since has only bm_unit_period: then the report scans it, as it used to)."""
    return warehouse.table_exists("bm_unit_period_daily")


def coverage(warehouse: Warehouse) -> list[dict]:
    """(date, run type) partitions present in bm_unit_period, with units, periods and rows (from the
    totals written with each partition: a few rows a date, where bm_unit_period has 384,000)."""
    if not warehouse.table_exists("bm_unit_period"):
        return []
    if not _daily(warehouse):
        return warehouse.query(
            f"SELECT settlement_date, run_type, count(DISTINCT bm_unit_id) AS units, "
            f"count(DISTINCT settlement_period) AS periods, count(*) AS rows "
            f"FROM {SCHEMA}.bm_unit_period GROUP BY settlement_date, run_type ORDER BY settlement_date, run_type"
        ).to_pylist()
    # a unit has one kind, so units and rows add up over kinds; every kind's units have every period of a good partition
    return warehouse.query(
        f"SELECT settlement_date, run_type, CAST(SUM(bm_units) AS BIGINT) AS units, MAX(periods) AS periods, "
        f"CAST(SUM(row_count) AS BIGINT) AS rows FROM {SCHEMA}.bm_unit_period_daily "
        f"GROUP BY settlement_date, run_type ORDER BY settlement_date, run_type"
    ).to_pylist()


def energy_by_unit_kind(warehouse: Warehouse) -> list[dict]:
    """Metered energy (GWh, + = export) per settlement date, run and BM unit kind (core.settlement)."""
    if not _daily(warehouse):
        return warehouse.query(
            f"SELECT settlement_date, run_type, {sql.unit_kind_case('bm_unit_id')} AS kind, sum(metered_volume_mwh) / 1000 AS gwh "
            f"FROM {SCHEMA}.bm_unit_period GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ).to_pylist()
    return warehouse.query(
        f"SELECT settlement_date, run_type, unit_kind AS kind, SUM(metered_volume_mwh) / 1000 AS gwh "
        f"FROM {SCHEMA}.bm_unit_period_daily GROUP BY settlement_date, run_type, unit_kind ORDER BY 1, 2, 3"
    ).to_pylist()


def vlp_revenue_by_party(warehouse: Warehouse) -> list[dict]:
    """Net balancing revenue of each VLP party's units per settlement date."""
    return warehouse.query(
        f"SELECT lead_party_id AS party_id, settlement_date, SUM(net_balancing_revenue_gbp) AS net_balancing_revenue_gbp "
        f"FROM {SCHEMA}.vlp_revenue_daily GROUP BY lead_party_id, settlement_date"
    ).to_pylist()


def vlp_positions(warehouse: Warehouse) -> list[dict]:
    """Every row of vlp_party_daily, by date and party."""
    return warehouse.query(
        f"SELECT party_id, settlement_date, run_type, vlp_units, bm_cashflow_gbp, non_delivery_charge_gbp, "
        f"energy_imbalance_cashflow_gbp, residual_cashflow_reallocation_gbp, net_settlement_position_gbp "
        f"FROM {SCHEMA}.vlp_party_daily ORDER BY settlement_date, party_id"
    ).to_pylist()


def latest_date(warehouse: Warehouse, table: str) -> dt.date | None:
    """The last settlement date in a table (None: empty)."""
    return warehouse.query(f"SELECT MAX(settlement_date) AS d FROM {SCHEMA}.{table}").column("d")[0].as_py()


# -- the Python API and exports ------------------------------------------------------------------


def table_filter(table: str, start: dt.date | None = None, end: dt.date | None = None, run_types=None, units=None,
                 parties=None) -> tuple[str, list]:  # fmt: skip
    """The WHERE clause (with `?` placeholders) and its parameters selecting rows of a table by
    settlement dates, run types, BM units and parties. Values are always bound, never written into
    the SQL, so a unit id with a quote in it is only a unit id. A filter on a column the table does
    not have is a ValueError naming the table and the column."""
    from p114_assets.warehouse.tables import TABLES

    if table not in TABLES:
        raise ValueError(f"no table {table!r}; the tables are {', '.join(TABLES)}")
    columns = TABLES[table].column_names
    where, params = [], []
    if (start is not None or end is not None) and "settlement_date" not in columns:
        raise ValueError(f"{table} has no settlement_date column to filter on")
    if start is not None:
        where.append("settlement_date >= ?")
        params.append(start)
    if end is not None:
        where.append("settlement_date <= ?")
        params.append(end)
    for column, values in (("run_type", run_types), ("bm_unit_id", units), ("party_id", parties)):
        if values is None:
            continue
        values = [values] if isinstance(values, str) else list(values)
        if column not in columns:
            raise ValueError(f"{table} has no {column} column to filter on")
        if not values:
            where.append("FALSE")
            continue
        where.append(f"{column} IN ({', '.join('?' for _ in values)})")
        params += [str(v) for v in values]
    return (" AND ".join(where) or "TRUE"), params


def read_table(warehouse: Warehouse, table: str, start: dt.date | None = None, end: dt.date | None = None,
               run_types=None, units=None, parties=None, columns: list[str] | None = None) -> pa.Table:  # fmt: skip
    """Rows of one table (see table_filter), in the order of its key; `columns` picks columns
    (default: all). Tables are named from warehouse/tables.py, columns from their schema: nothing a
    caller passes is written into the SQL."""
    from p114_assets.warehouse.tables import TABLES

    where, params = table_filter(table, start, end, run_types, units, parties)
    known = TABLES[table].column_names
    unknown = [c for c in columns or [] if c not in known]
    if unknown:
        raise ValueError(f"{table} has no column {', '.join(map(repr, unknown))}")
    select = ", ".join(columns or known)
    order = ", ".join(TABLES[table].key)
    rows = warehouse.query(f"SELECT {select} FROM {SCHEMA}.{table} WHERE {where} ORDER BY {order}", params)
    # money, volumes and prices in the table's own decimals on every engine (BigQuery's NUMERIC
    # comes back with 9 decimals: 0E-9 for 0.00)
    declared = TABLES[table].arrow_schema()
    return rows.cast(pa.schema([declared.field(f.name).with_nullable(True) if pa.types.is_decimal(f.type) and f.name in declared.names
                                and f.type != declared.field(f.name).type else f for f in rows.schema]))


def rows_per_date(warehouse: Warehouse, table: str, start: dt.date | None = None, end: dt.date | None = None,
                  run_types=None) -> dict[dt.date, int]:  # fmt: skip
    """Rows of a table per settlement date it holds in [start, end] (and run types): what an
    export will write, counted before it starts."""
    where, params = table_filter(table, start, end, run_types)
    rows = warehouse.query(f"SELECT settlement_date, COUNT(*) AS n FROM {SCHEMA}.{table} WHERE {where} "
                           f"GROUP BY settlement_date", params).to_pylist()  # fmt: skip
    return {r["settlement_date"]: int(r["n"]) for r in rows}


def vlp_unit_summary(warehouse: Warehouse, start: dt.date, end: dt.date) -> pa.Table:
    """The seed dashboard's first view: per VLP unit over the dates, its party, days, BM cashflow,
    non-delivery charge, net balancing revenue and accepted volumes, best first."""
    return warehouse.query(
        f"SELECT lead_party_id, bm_unit_id, COUNT(DISTINCT settlement_date) AS days, "
        f"SUM(bm_cashflow_gbp) AS bm_cashflow_gbp, SUM(non_delivery_charge_gbp) AS non_delivery_charge_gbp, "
        f"SUM(net_balancing_revenue_gbp) AS net_balancing_revenue_gbp, "
        f"SUM(accepted_offer_volume_mwh) AS accepted_offer_volume_mwh, SUM(accepted_bid_volume_mwh) AS accepted_bid_volume_mwh "
        f"FROM {SCHEMA}.vlp_revenue_daily WHERE settlement_date >= ? AND settlement_date <= ? "
        f"GROUP BY lead_party_id, bm_unit_id ORDER BY net_balancing_revenue_gbp DESC, bm_unit_id", [start, end])


def vlp_party_breakdown(warehouse: Warehouse, start: dt.date, end: dt.date) -> pa.Table:
    """The seed dashboard's second view: each VLP party's settlement position per day over the
    dates, item by item."""
    return warehouse.query(
        f"SELECT settlement_date, party_id, run_type, vlp_units, bm_cashflow_gbp, non_delivery_charge_gbp, "
        f"energy_imbalance_cashflow_gbp, residual_cashflow_reallocation_gbp, net_settlement_position_gbp "
        f"FROM {SCHEMA}.vlp_party_daily WHERE settlement_date >= ? AND settlement_date <= ? "
        f"ORDER BY settlement_date, party_id", [start, end])


def days_with_data(warehouse: Warehouse, table: str, start: dt.date, end: dt.date) -> int:
    """How many settlement dates in [start, end] a table holds rows for."""
    return int(warehouse.query(f"SELECT COUNT(DISTINCT settlement_date) AS n FROM {SCHEMA}.{table} "
                               f"WHERE settlement_date >= ? AND settlement_date <= ?", [start, end]).column("n")[0].as_py())  # fmt: skip
