"""The warehouse interface every engine implements. Asset code talks to this and nothing else, so
switching DuckDB for BigQuery is a resource change, never an asset change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg
import pyarrow as pa

SCHEMA = "p114"  # DuckDB schema / BigQuery dataset default; table names are those of TABLES.md


class Warehouse(dg.ConfigurableResource):
    """Where p114's tables live. Implementations: DuckDBWarehouse (embedded default),
    BigQueryWarehouse (production)."""

    def replace_partition(self, tables: Mapping[str, pa.Table], settlement_date: dt.date, run_type: str,
                          status: pa.Table | None = None, after_largest: Callable[[], None] | None = None,
                          release: bool = False) -> dict[str, int]:  # fmt: skip
        """Replace the rows of one (settlement date, run type) in every given raw table, atomically:
        afterwards each table holds exactly the given rows for that partition, and if anything
        fails no table has changed. Returns rows written per table. With `status` (the partition's
        partition_status row, version 'loaded': a load that passed its checks), in the same
        transaction the row replaces the partition's status rows and its quarantined rows go.
        `after_largest` is called once the largest table is written (or staged): the write's memory
        peak is then behind, and the caller may start work of its own (the next partition's parse).
        `release`: the caller hands the rows over (`tables` must be a dict, which is emptied), so the
        warehouse may free each table as soon as it is written (DuckDB does) rather than on return."""
        raise NotImplementedError

    def quarantine_partition(self, tables: Mapping[str, pa.Table], settlement_date: dt.date, run_type: str, status: pa.Table) -> None:
        """Keep a partition's rejected rows in the `<table>_quarantine` tables (replacing any
        earlier rejected version of the partition) with their partition_status row (version
        'quarantined'), atomically. The raw tables are not touched."""
        raise NotImplementedError

    def replace_dates(self, table: str, start: dt.date, end: dt.date, select_sql: str, then: Sequence[str] = ()) -> int:
        """Replace the rows of settlement dates [start, end] of a derived table by the rows of
        `select_sql`, atomically; `then`: statements (portable SQL, e.g. an UPDATE of rolling
        figures that read the new rows) run in the same transaction. Returns the rows written."""
        raise NotImplementedError

    def replace_date_rows(self, table: str, start: dt.date, end: dt.date, rows: pa.Table) -> int:
        """Replace the rows of settlement dates [start, end] of a table by `rows` (Arrow, the
        table's columns), atomically: afterwards the table holds exactly these rows for those
        dates, and if anything fails it has not changed. Returns the rows written."""
        raise NotImplementedError

    def replace_table(self, table: str, select_sql: str) -> int:
        """Replace every row of a table by the rows of `select_sql`, atomically."""
        raise NotImplementedError

    def cluster_dates(self, table: str, start: dt.date, end: dt.date, run_type: str | None = None) -> int:
        """Store the rows of settlement dates [start, end] of a table in the order of its clustering
        columns across those dates (run type, BM unit, then date and period), so a query of a few
        BM units reads a block per column of the whole range rather than one per date. The rows are
        the same before and after, each row once even if it stops part way. `run_type`: only that run's rows (the other runs'
        stay where they are). Returns the rows re-stored (0: nothing to do)."""
        raise NotImplementedError

    def replace_view(self, name: str, select_sql: str) -> None:
        """Create or replace the view `p114.<name>` as `select_sql` (portable SQL)."""
        raise NotImplementedError

    def create_tables(self, names: Sequence[str]) -> None:
        """Create these tables where missing (empty), so SQL may read them before anything is
        written to them."""
        raise NotImplementedError

    def read_partition(self, table: str, settlement_date: dt.date, run_type: str | None = None,
                       columns: Sequence[str] | None = None) -> pa.Table:  # fmt: skip
        """Every row of one settlement date (and run type, for raw tables): all columns, or `columns`."""
        where = f"settlement_date = DATE '{settlement_date.isoformat()}'"
        if run_type is not None:
            where += f" AND run_type = '{run_type}'"
        selected = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        return self.query(f"SELECT {selected} FROM {SCHEMA}.{table} WHERE {where}")

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a read-only query. Table names are written `p114.<table>`."""
        raise NotImplementedError

    def table_exists(self, table: str) -> bool:
        raise NotImplementedError

    def existing_tables(self, tables: Sequence[str]) -> set[str]:
        """Those of `tables` that exist (an engine may ask once for all)."""
        return {table for table in tables if self.table_exists(table)}

    def location(self) -> str:
        """Where the data is, for logs and metadata (never holds a secret)."""
        raise NotImplementedError
