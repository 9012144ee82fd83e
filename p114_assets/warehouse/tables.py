"""Table definitions shared by every engine: the raw tables come from the S0142 layouts (one
definition, core/s0142/layout.py); this module turns a definition into each engine's DDL so the
engines cannot drift apart."""

from __future__ import annotations

import dataclasses

from p114_assets.core.s0142.layout import BM_UNIT_PERIOD, RAW_TABLES, Column, TableSpec

DUCKDB_TYPES = {"text": "VARCHAR", "float": "DOUBLE", "int": "BIGINT", "date": "DATE", "timestamp": "TIMESTAMP"}
BIGQUERY_TYPES = {"text": "STRING", "float": "FLOAT64", "int": "INT64", "date": "DATE", "timestamp": "DATETIME"}

# Derived tables (one partition = one settlement date), computed by the SQL in warehouse/sql.py.
SETTLEMENT_CANONICAL = dataclasses.replace(
    BM_UNIT_PERIOD,
    name="settlement_canonical",
    key=("settlement_date", "settlement_period", "bm_unit_id"),
    description="The bm_unit_period rows of the most mature run of each date (DF > RF > R3 > R2 > R1 > SF > II; "
    "same run type: the later publication stamp), run_type saying which. Exactly one run per date.",
)

RUN_RECONCILIATION = TableSpec(
    "run_reconciliation",
    (
        Column("bm_unit_id", "text", nullable=False),
        Column("settlement_date", "date", nullable=False),
        Column("settlement_period", "int", nullable=False),
        Column("from_run_type", "text", "the earlier of two consecutive runs present for the date", nullable=False),
        Column("to_run_type", "text", "the later one", nullable=False),
        Column("from_publication_ts", "timestamp"),
        Column("to_publication_ts", "timestamp"),
        Column("presence", "text", "both | to_only | from_only: a unit-period in one run only is compared with zero"),
        Column("metered_volume_delta_mwh", "float", "to - from, BM unit metered volume (BP7 8)"),
        Column("balancing_services_volume_delta_mwh", "float", "to - from, BP7 5"),
        Column("non_delivery_charge_delta_gbp", "float", "to - from, BP7 3"),
        Column("bm_cashflow_delta_gbp", "float", "to - from, sum of the unit's BO4 bid + offer cashflows"),
    ),
    key=("settlement_date", "settlement_period", "bm_unit_id", "from_run_type", "to_run_type"),
    cluster_by=("bm_unit_id",),
    description="How each unit's volumes and cashflows moved between consecutive settlement runs of a date.",
)

DERIVED_TABLES: dict[str, TableSpec] = {t.name: t for t in (SETTLEMENT_CANONICAL, RUN_RECONCILIATION)}
TABLES: dict[str, TableSpec] = {**RAW_TABLES, **DERIVED_TABLES}


def duckdb_columns(table: TableSpec) -> list[tuple[str, str]]:
    return [(c.name, DUCKDB_TYPES[c.type]) for c in table.columns]


def duckdb_create(table: TableSpec, schema: str) -> str:
    cols = ",\n  ".join(
        f'"{name}" {sql_type}{"" if col.nullable else " NOT NULL"}'
        for (name, sql_type), col in zip(duckdb_columns(table), table.columns)
    )
    return f'CREATE TABLE IF NOT EXISTS {schema}."{table.name}" (\n  {cols}\n)'
