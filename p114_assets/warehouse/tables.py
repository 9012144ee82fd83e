"""Table definitions shared by every engine: the raw tables come from the S0142 layouts (one
definition, core/s0142/layout.py); this module turns a definition into each engine's DDL so the
engines cannot drift apart."""

from __future__ import annotations

from p114_assets.core.s0142.layout import RAW_TABLES, TableSpec

DUCKDB_TYPES = {"text": "VARCHAR", "float": "DOUBLE", "int": "BIGINT", "date": "DATE", "timestamp": "TIMESTAMP"}
BIGQUERY_TYPES = {"text": "STRING", "float": "FLOAT64", "int": "INT64", "date": "DATE", "timestamp": "DATETIME"}

TABLES: dict[str, TableSpec] = dict(RAW_TABLES)


def duckdb_columns(table: TableSpec) -> list[tuple[str, str]]:
    return [(c.name, DUCKDB_TYPES[c.type]) for c in table.columns]


def duckdb_create(table: TableSpec, schema: str) -> str:
    cols = ",\n  ".join(
        f'"{name}" {sql_type}{"" if col.nullable else " NOT NULL"}'
        for (name, sql_type), col in zip(duckdb_columns(table), table.columns)
    )
    return f'CREATE TABLE IF NOT EXISTS {schema}."{table.name}" (\n  {cols}\n)'
