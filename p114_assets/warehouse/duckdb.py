"""The embedded warehouse: one DuckDB file, no set-up.

DuckDB lets one process write a file at a time. Connections are therefore short-lived (opened per
operation, closed at once), a held lock is waited for with backoff rather than failing the run,
and Dagster's `warehouse` concurrency pool keeps writers from queueing up in the first place.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from pydantic import Field
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential_jitter

from p114_assets.warehouse.base import SCHEMA, Warehouse
from p114_assets.warehouse.tables import REFERENCE_TABLES, TABLES, duckdb_columns, duckdb_create

log = logging.getLogger(__name__)


CATALOG = "warehouse"


def _sql_string(text: str) -> str:
    return text.replace("'", "''")


DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file


def duckdb_file_problem(path: str | Path) -> str | None:
    """Why an existing file is not a DuckDB database (None: it is one), read from its header, so a
    gzip or text file given as a warehouse is named as such rather than failing deep in DuckDB."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    if head[8:12] != DUCKDB_MAGIC:
        what = "a gzip file" if head[:2] == b"\x1f\x8b" else ("an empty file" if not head else "another kind of file")
        return f"{path} is not a DuckDB database ({what})"
    return None


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back after a failure, keeping the failure: when DuckDB has already aborted the
    transaction (a full disk), ROLLBACK itself fails with "no transaction is active", which would
    hide the real cause."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


def _is_lock_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


class DuckDBWarehouse(Warehouse):
    """p114's tables in an embedded DuckDB file, schema `p114`."""

    path: str = Field(default="data/p114.duckdb", description="DuckDB database file; created on first use")
    lock_wait_seconds: float = Field(default=300, description="how long to wait for another writer's lock")

    def location(self) -> str:
        return f"duckdb:{Path(self.path).resolve()}"

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one unit of work, retried while another process holds the file lock."""

        @retry(
            retry=retry_if_exception(_is_lock_conflict),
            wait=wait_exponential_jitter(multiplier=0.2, max=5),
            stop=stop_after_delay(self.lock_wait_seconds),
            reraise=True,
            before_sleep=lambda state: log.info("DuckDB file %s is locked; waiting", self.path),
        )
        def open_connection() -> duckdb.DuckDBPyConnection:
            if not read_only:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # DuckDB names a file's catalog after its stem: "p114.duckdb" would make "p114.<table>"
            # ambiguous between catalog and schema. Attaching under an alias keeps "p114.<table>"
            # meaning schema p114, as on BigQuery.
            con = duckdb.connect(":memory:")
            try:
                mode = " (READ_ONLY)" if read_only else ""
                con.execute(f"ATTACH '{_sql_string(self.path)}' AS {CATALOG}{mode}")
                con.execute(f"USE {CATALOG}")
                con.execute("SET TimeZone = 'UTC'")  # instants (TIMESTAMPTZ) read back in UTC, whatever the machine's zone
            except BaseException:
                con.close()
                raise
            return con

        con = open_connection()
        try:
            yield con
        finally:
            con.close()

    def ensure_table(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        """Create the table if it is new, and add columns a newer release defines (never drops)."""
        spec = TABLES[name]
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        con.execute(duckdb_create(spec, SCHEMA))
        existing = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_catalog = ? AND table_schema = ? AND table_name = ?",
                [CATALOG, SCHEMA, name],
            ).fetchall()
        }
        for column, sql_type in duckdb_columns(spec):
            if column not in existing:
                con.execute(f'ALTER TABLE {SCHEMA}."{name}" ADD COLUMN "{column}" {sql_type}')

    def replace_partition(self, tables: Mapping[str, pa.Table], settlement_date: dt.date, run_type: str) -> dict[str, int]:
        written: dict[str, int] = {}
        with self._transaction(list(tables)) as con:
            for name, table in tables.items():
                columns = ", ".join(f'"{c}"' for c in TABLES[name].column_names)
                con.execute(
                    f'DELETE FROM {SCHEMA}."{name}" WHERE settlement_date = ? AND run_type = ?', [settlement_date, run_type]
                )
                con.register("incoming_rows", table)
                con.execute(f'INSERT INTO {SCHEMA}."{name}" ({columns}) SELECT {columns} FROM incoming_rows')
                con.unregister("incoming_rows")
                written[name] = table.num_rows
        return written

    @contextmanager
    def _transaction(self, tables: Sequence[str]) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction, the tables created first (DDL outside it);
        committed when the block ends, rolled back if it raises."""
        with self.connect() as con:
            for name in tables:
                self.ensure_table(con, name)
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise

    def replace_dates(self, table: str, start: dt.date, end: dt.date, select_sql: str, then: Sequence[str] = ()) -> int:
        columns = ", ".join(f'"{c}"' for c in TABLES[table].column_names)
        with self._transaction([table, *REFERENCE_TABLES]) as con:
            con.execute(f'DELETE FROM {SCHEMA}."{table}" WHERE settlement_date BETWEEN ? AND ?', [start, end])
            written = con.execute(
                f'INSERT INTO {SCHEMA}."{table}" ({columns}) SELECT {columns} FROM ({select_sql}) AS derived'
            ).fetchall()[0][0]
            for statement in then:
                con.execute(statement)
        return int(written)

    def replace_date_rows(self, table: str, start: dt.date, end: dt.date, rows: pa.Table) -> int:
        columns = ", ".join(f'"{c}"' for c in TABLES[table].column_names)
        with self._transaction([table]) as con:
            con.execute(f'DELETE FROM {SCHEMA}."{table}" WHERE settlement_date BETWEEN ? AND ?', [start, end])
            con.register("incoming_rows", rows)
            con.execute(f'INSERT INTO {SCHEMA}."{table}" ({columns}) SELECT {columns} FROM incoming_rows')
            con.unregister("incoming_rows")
        return rows.num_rows

    def replace_table(self, table: str, select_sql: str) -> int:
        columns = ", ".join(f'"{c}"' for c in TABLES[table].column_names)
        with self._transaction([table, *REFERENCE_TABLES]) as con:
            con.execute(f'DELETE FROM {SCHEMA}."{table}"')
            written = con.execute(
                f'INSERT INTO {SCHEMA}."{table}" ({columns}) SELECT {columns} FROM ({select_sql}) AS derived'
            ).fetchall()[0][0]
        return int(written)

    def replace_view(self, name: str, select_sql: str) -> None:
        with self.connect() as con:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            con.execute(f'CREATE OR REPLACE VIEW {SCHEMA}."{name}" AS {select_sql}')

    def create_tables(self, names: Sequence[str]) -> None:
        with self.connect() as con:
            for name in names:
                self.ensure_table(con, name)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        if not Path(self.path).exists():
            raise FileNotFoundError(f"no warehouse at {self.path}: materialize something first")
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).to_arrow_table()

    def table_exists(self, table: str) -> bool:
        if not Path(self.path).exists():
            return False
        with self.connect(read_only=True) as con:
            found = con.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_catalog = ? AND table_schema = ? AND table_name = ?",
                [CATALOG, SCHEMA, table],
            ).fetchall()
        return found[0][0] > 0
