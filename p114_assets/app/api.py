"""The Python API, for notebooks and scripts: p114's tables as DataFrames.

    import p114_assets as p114

    vlp = p114.read("vlp_revenue_daily", start="2024-10-21", end="2024-10-27")        # polars
    units = p114.read("bm_unit_period", start="2024-10-27", run_type="SF", units=["V__AFLEX001"],
                      frame="pandas")                                                    # pandas
    wh = p114.Warehouse("data/p114.duckdb")        # a DuckDB file; Warehouse() = P114_WAREHOUSE's
    wh.tables()                                    # {table: rows}

The warehouse is the one the Dagster definitions and the CLI use: P114_WAREHOUSE (`duckdb`, the
default, at P114_DUCKDB_PATH; or `bigquery` with P114_BQ_PROJECT, P114_BQ_DATASET, ...), read
through config.py; a path picks a DuckDB file instead. The SQL is warehouse/queries.py's, with every
value bound as a parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import pyarrow as pa

from p114_assets.core.settlement import RUN_TYPES
from p114_assets.warehouse import queries
from p114_assets.warehouse.base import Warehouse as Engine
from p114_assets.warehouse.tables import TABLES

Frame = Literal["polars", "pandas", "arrow"]
DateLike = dt.date | str | None


def _date(value: DateLike, name: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected a date (YYYY-MM-DD)") from None


def _many(value: str | Iterable[str] | None) -> list[str] | None:
    return None if value is None else ([value] if isinstance(value, str) else list(value))


def _frame(table: pa.Table, frame: Frame):
    if frame == "arrow":
        return table
    if frame == "pandas":
        return table.to_pandas()
    if frame == "polars":
        import polars as pl

        return pl.from_arrow(table)
    raise ValueError(f"frame={frame!r}: expected 'polars', 'pandas' or 'arrow'")


class Warehouse:
    """p114's warehouse, read as DataFrames. `Warehouse()` is the one P114_WAREHOUSE picks;
    `Warehouse("file.duckdb")` a DuckDB file; `Warehouse(engine)` any warehouse resource (a
    DuckDBWarehouse or BigQueryWarehouse)."""

    def __init__(self, where: str | Path | Engine | None = None):
        from p114_assets.warehouse.duckdb import DuckDBWarehouse, duckdb_file_problem

        if isinstance(where, Engine):
            self.engine = where
        elif where is None:
            from p114_assets.defs.resources import warehouse_from_env

            self.engine = warehouse_from_env(outside_dagster=True)
        else:
            self.engine = DuckDBWarehouse(path=str(Path(where).expanduser().absolute()))
        if isinstance(self.engine, DuckDBWarehouse):
            path = Path(self.engine.path)
            if not path.is_file():
                raise FileNotFoundError(f"no warehouse at {path.absolute()}" + (" (a folder)" if path.is_dir() else ""))
            problem = duckdb_file_problem(path)
            if problem:
                raise ValueError(problem)

    def __repr__(self) -> str:
        return f"Warehouse({self.engine.location()})"

    def tables(self) -> dict[str, int]:
        """Every table the warehouse holds, with its rows."""
        existing = self.engine.existing_tables(list(TABLES))  # asked once: each ask is a connection
        return {name: queries.table_rows(self.engine, name) for name in TABLES if name in existing}

    def read(self, table: str, start: DateLike = None, end: DateLike = None, run_type: str | Iterable[str] | None = None,
             units: str | Iterable[str] | None = None, parties: str | Iterable[str] | None = None,
             columns: Iterable[str] | None = None, frame: Frame = "polars"):  # fmt: skip
        """Rows of `table` (a name of the table contract, README "Tables") for settlement dates
        `start`..`end` (inclusive; either may be left open), run types (`"SF"` or several), BM units
        and parties, in the order of the table's key, as a polars (default), pandas or Arrow frame."""
        start, end = _date(start, "start"), _date(end, "end")
        if start and end and end < start:
            raise ValueError(f"end={end} is before start={start}")
        runs = _many(run_type)
        unknown = [r for r in runs or [] if r not in RUN_TYPES]
        if unknown:
            raise ValueError(f"run_type {', '.join(map(repr, unknown))}: expected {', '.join(RUN_TYPES)}")
        if table in TABLES and not self.engine.table_exists(table):
            raise LookupError(f"{table} is not in {self.engine.location()} yet: materialize it first")
        rows = queries.read_table(self.engine, table, start, end, runs, _many(units), _many(parties),
                                  list(columns) if columns is not None else None)  # fmt: skip
        return _frame(rows, frame)


def read(table: str, start: DateLike = None, end: DateLike = None, run_type: str | Iterable[str] | None = None,
         units: str | Iterable[str] | None = None, parties: str | Iterable[str] | None = None,
         columns: Iterable[str] | None = None, frame: Frame = "polars", warehouse: str | Path | Engine | None = None):  # fmt: skip
    """`Warehouse(warehouse).read(...)`: rows of one table as a DataFrame, from the warehouse
    P114_WAREHOUSE picks unless `warehouse` names a DuckDB file (or is a warehouse resource)."""
    return Warehouse(warehouse).read(table, start, end, run_type, units, parties, columns, frame)
