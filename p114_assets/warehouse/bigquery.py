"""The production warehouse: a BigQuery dataset, on dagster-gcp's BigQueryResource.

- Tables are created on first use from the same definitions as DuckDB's (warehouse/tables.py),
  partitioned by `settlement_date` (DAY) and clustered by the definition's `cluster_by` (`run_type`,
  `bm_unit_id` where the table has them); columns a newer release defines are added, never dropped.
- A partition replace is atomic: every table's new rows are first loaded into a staging table
  (Parquet, straight from Arrow, expiring after an hour), then one multi-statement transaction
  deletes the partition and inserts the staged rows in every table. A failure before the swap
  leaves the old rows untouched; a failure inside it rolls back. A partition that failed its
  blocking checks (warehouse/checked_load.py) goes the same way into the `<table>_quarantine`
  tables instead, and either transaction writes the partition's partition_status row. Date bounds are DATE literals
  (dagster-gcp's IO manager writes timestamp strings that fail on DATE columns: dagster #13147).
- SQL is written once, in the portable subset DuckDB runs (warehouse/sql.py), and transpiled to
  BigQuery's dialect by sqlglot, which also points `p114.<table>` at the configured dataset.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from dagster_gcp import BigQueryResource
from google.api_core.exceptions import BadRequest, NotFound
from google.api_core.retry import Retry
from google.cloud import bigquery
from pydantic import Field
from sqlglot import exp

from p114_assets.core.s0142.tables import TableSpec
from p114_assets.warehouse import sql, stored
from p114_assets.warehouse.base import SCHEMA, Warehouse
from p114_assets.warehouse.tables import (BIGQUERY_TYPES, PARTITION_STATUS, QUARANTINE_SUFFIX, REFERENCE_TABLES, STORED_RAW_TABLES, TABLES,
                                          VALID_VIEWS, VIEWS)  # fmt: skip

STAGING_TTL = dt.timedelta(hours=1)  # staging tables of a crashed load clean themselves up


def is_concurrent_update(exc: BaseException) -> bool:
    """BigQuery aborts a transaction (HTTP 400) when another one changed the same table first; the
    work is intact and safe to run again. Every other 400 is a real error and is not retried."""
    return isinstance(exc, BadRequest) and "concurrent update" in str(exc).lower()


# Two runs swapping partitions of one table at once (a pool limit above 1) conflict now and then:
# run the transaction again with backoff, for ten minutes at most.
SWAP_RETRY = Retry(predicate=is_concurrent_update, initial=1.0, maximum=30.0, multiplier=2.0, timeout=600.0)


def schema_fields(table: TableSpec) -> list[bigquery.SchemaField]:
    return [
        bigquery.SchemaField(c.name, BIGQUERY_TYPES[c.type], mode="NULLABLE" if c.nullable else "REQUIRED",
                             description=(f"[{c.confidence}] " if c.confidence else "") + (c.description or "")[:1000])  # fmt: skip
        for c in table.columns
    ]


_PARAMETER_TYPES = ((bool, "BOOL"), (int, "INT64"), (float, "FLOAT64"), (decimal.Decimal, "NUMERIC"),
                    (dt.datetime, "TIMESTAMP"), (dt.date, "DATE"), (str, "STRING"))  # datetime before date: it is one


def query_parameter(value: Any) -> bigquery.ScalarQueryParameter:
    """A positional query parameter of the BigQuery type of a Python value."""
    for python_type, bigquery_type in _PARAMETER_TYPES:
        if isinstance(value, python_type):
            return bigquery.ScalarQueryParameter(None, bigquery_type, value)
    raise TypeError(f"cannot bind a {type(value).__name__} as a BigQuery query parameter")


class BigQueryWarehouse(Warehouse):
    """p114's tables in a BigQuery dataset (project, location and credentials from the
    BigQueryResource: application-default credentials unless configured otherwise)."""

    bigquery: BigQueryResource
    dataset: str = Field(default=SCHEMA, description="dataset holding p114's tables; created on first use")
    use_storage_api: bool = Field(
        default=True,
        description="read query results through the BigQuery Storage Read API (faster; needs "
        "roles/bigquery.readSessionUser). Turn off where it is not available.",
    )

    def location(self) -> str:
        return f"bigquery:{self.bigquery.project}.{self.dataset}"

    # -- SQL ----------------------------------------------------------------------------------

    def to_bigquery(self, sql: str) -> str:
        """The portable (DuckDB-read) SQL in BigQuery's dialect, with `p114.<table>` pointing at the
        configured project and dataset."""
        statements = []
        for tree in sqlglot.parse(sql, read="duckdb"):
            for table in tree.find_all(exp.Table):
                if table.db == SCHEMA:
                    table.set("db", exp.to_identifier(self.dataset))
                    if self.bigquery.project:
                        table.set("catalog", exp.to_identifier(self.bigquery.project))
            statements.append(tree.sql(dialect="bigquery"))
        return ";\n".join(statements)

    def _table_id(self, name: str) -> str:
        return f"{self.bigquery.project}.{self.dataset}.{name}"

    def _ref(self, name: str) -> str:
        return f"`{self._table_id(name)}`"

    # -- tables -------------------------------------------------------------------------------

    def ensure_tables(self, client: bigquery.Client, names: Iterable[str]) -> None:
        """The dataset and these tables, created where missing and widened where a newer release
        defines more columns."""
        dataset = bigquery.Dataset(f"{self.bigquery.project}.{self.dataset}")
        if self.bigquery.location:
            dataset.location = self.bigquery.location
        client.create_dataset(dataset, exists_ok=True)
        for name in names:
            if name in VIEWS:
                self._ensure_canonical_view(client)
            else:
                self._ensure_table(client, TABLES[name])

    def _ensure_canonical_view(self, client: bigquery.Client) -> None:
        """The settlement_canonical view over bm_unit_period and the pointer table; a canonical
        table an earlier release copied becomes pointer rows (the run it holds per date) first."""
        for name in ("bm_unit_period", stored.LOADED_RUNS, stored.CANONICAL_RUNS):
            self._ensure_table(client, TABLES[name])
        view_id = self._table_id("settlement_canonical")
        columns = TABLES["bm_unit_period"].column_names
        query = self.to_bigquery(sql.canonical_view(columns))
        try:
            existing = client.get_table(view_id)
        except NotFound:
            existing = None
        if existing is not None and existing.table_type == "TABLE":
            copy = self._table_id("settlement_canonical_copy")
            client.copy_table(view_id, copy).result()
            client.delete_table(view_id)
            existing = None
        try:
            client.get_table(self._table_id("settlement_canonical_copy"))
            client.query(self.to_bigquery(stored.pointer_from_copy(SCHEMA))).result()
            client.delete_table(self._table_id("settlement_canonical_copy"))
        except NotFound:
            pass
        if existing is not None and existing.view_query == query:
            return
        view = bigquery.Table(view_id)
        view.view_query = query
        view.description = TABLES["settlement_canonical"].description
        if existing is None:
            client.create_table(view, exists_ok=True)
        else:
            client.update_table(view, ["view_query"])

    def _ensure_table(self, client: bigquery.Client, spec: TableSpec) -> None:
        try:
            table = client.get_table(self._table_id(spec.name))
        except NotFound:
            table = bigquery.Table(self._table_id(spec.name), schema=schema_fields(spec))
            table.description = spec.description
            if "settlement_date" in spec.column_names:
                table.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field="settlement_date")
            if spec.cluster_by:
                table.clustering_fields = list(spec.cluster_by)
            client.create_table(table, exists_ok=True)
            if spec.name == PARTITION_STATUS.name:
                self._create_valid_views(client)
            if spec.name == stored.LOADED_RUNS and self.table_exists("bm_unit_period"):
                client.query(self.to_bigquery(stored.loaded_runs_from_rows(SCHEMA))).result()  # runs loaded before it existed
            if spec.name == stored.DAILY and self.table_exists("bm_unit_period"):
                client.query(self.to_bigquery(stored.daily_from_rows(SCHEMA))).result()  # partitions loaded before it existed
            return
        present = {f.name for f in table.schema}
        missing = [f for f in schema_fields(spec) if f.name not in present]
        if missing:  # a newer release added columns: add them (always NULLABLE), never drop any, in one update
            table.schema = [*table.schema, *[bigquery.SchemaField(f.name, f.field_type, mode="NULLABLE",
                                                                  description=f.description) for f in missing]]  # fmt: skip
            client.update_table(table, ["schema"])

    def _create_valid_views(self, client: bigquery.Client) -> None:
        """The `<raw table>_valid` views, with partition_status (the raw tables first: they read them)."""
        for name in STORED_RAW_TABLES:
            self._ensure_table(client, STORED_RAW_TABLES[name])
        for view in VALID_VIEWS:
            client.query(f"CREATE OR REPLACE VIEW {self._ref(view)} AS "
                         f"{self.to_bigquery(sql.valid_view(view.removesuffix('_valid')))}").result()  # fmt: skip

    def _stage(self, client: bigquery.Client, name: str, rows: pa.Table) -> str:
        """Load rows into a new staging table (expiring soon) and return its id."""
        staging = f"{self.bigquery.project}.{self.dataset}._staging_{name}_{uuid.uuid4().hex[:12]}"
        table = bigquery.Table(staging, schema=schema_fields(TABLES[name]))
        table.expires = dt.datetime.now(dt.timezone.utc) + STAGING_TTL
        client.create_table(table)
        buffer = io.BytesIO()
        pq.write_table(rows.select(TABLES[name].column_names), buffer)
        buffer.seek(0)
        config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.PARQUET, schema=schema_fields(TABLES[name]),
                                        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE)  # fmt: skip
        client.load_table_from_file(buffer, staging, job_config=config).result()
        return staging

    def _swap(self, client: bigquery.Client, statements: list[str]) -> None:
        """Run the statements as one transaction: all of them, or none (again, if a concurrent
        transaction on the same table aborted it)."""
        script = "BEGIN TRANSACTION;\n" + ";\n".join(statements) + ";\nCOMMIT TRANSACTION;"
        SWAP_RETRY(lambda: self._run_script(client, script))()

    def _run_script(self, client: bigquery.Client, script: str) -> None:
        client.query(script).result()

    def _partition(self, settlement_date: dt.date, run_type: str) -> str:
        return f"settlement_date = {sql.date_literal(settlement_date)} AND run_type = '{run_type}'"

    def _put_statements(self, name: str, staging: str, settlement_date: dt.date, run_type: str, into: str | None = None) -> list[str]:
        """Replace the partition's rows of `name` (or of `into`, a table of its columns) by the staged ones."""
        target, columns = self._ref(into or name), ", ".join(f"`{c}`" for c in TABLES[name].column_names)
        return [f"DELETE FROM {target} WHERE {self._partition(settlement_date, run_type)}",
                f"INSERT INTO {target} ({columns}) SELECT {columns} FROM `{staging}`"]  # fmt: skip

    def _status_statements(self, staging: str, settlement_date: dt.date, run_type: str, versions: Sequence[str]) -> list[str]:
        listed = ", ".join(f"'{v}'" for v in versions)
        return [f"DELETE FROM {self._ref(PARTITION_STATUS.name)} WHERE {self._partition(settlement_date, run_type)} "
                f"AND version IN ({listed})",
                f"INSERT INTO {self._ref(PARTITION_STATUS.name)} SELECT * FROM `{staging}`"]  # fmt: skip

    def replace_partition(self, tables: Mapping[str, pa.Table], settlement_date: dt.date, run_type: str,
                          status: pa.Table | None = None, after_largest: Callable[[], None] | None = None,
                          release: bool = False) -> dict[str, int]:  # fmt: skip
        tables = stored.stored_rows(tables, release)
        checked = [PARTITION_STATUS.name, *(f"{name}{QUARANTINE_SUFFIX}" for name in tables)] if status is not None else []
        with self.bigquery.get_client() as client:
            self.ensure_tables(client, [*tables, stored.LOADED_RUNS, stored.DAILY, *checked])
            staged: dict[str, str] = {}
            try:
                for name, rows in sorted(tables.items(), key=lambda item: -item[1].num_rows):  # the largest first
                    staged[name] = self._stage(client, name, rows)
                    if after_largest is not None:
                        after_largest()
                        after_largest = None
                statements = []
                for name in tables:
                    statements += self._put_statements(name, staged[name], settlement_date, run_type)
                if "bm_unit_period" in tables:
                    statements += self._loaded_run_statements(tables["bm_unit_period"], settlement_date, run_type)
                if status is not None:  # a checked load: its status row, and no quarantined version any more
                    staged[PARTITION_STATUS.name] = self._stage(client, PARTITION_STATUS.name, status)
                    statements += [f"DELETE FROM {self._ref(f'{name}{QUARANTINE_SUFFIX}')} WHERE {self._partition(settlement_date, run_type)}"
                                   for name in tables]  # fmt: skip
                    statements += self._status_statements(staged[PARTITION_STATUS.name], settlement_date, run_type, ("loaded", "quarantined"))
                self._swap(client, statements)
            finally:
                for staging in staged.values():
                    client.delete_table(staging, not_found_ok=True)
        return {name: rows.num_rows for name, rows in tables.items()}

    def quarantine_partition(self, tables: Mapping[str, pa.Table], settlement_date: dt.date, run_type: str, status: pa.Table) -> None:
        """As on DuckDB: the staged rows go to the quarantine tables, not the raw ones, in one transaction."""
        tables = stored.stored_rows(tables)
        with self.bigquery.get_client() as client:
            self.ensure_tables(client, [*(f"{name}{QUARANTINE_SUFFIX}" for name in tables), PARTITION_STATUS.name])
            staged: dict[str, str] = {}
            try:
                for name, rows in tables.items():
                    staged[name] = self._stage(client, name, rows)
                staged[PARTITION_STATUS.name] = self._stage(client, PARTITION_STATUS.name, status)
                statements = []
                for name in tables:
                    statements += self._put_statements(name, staged[name], settlement_date, run_type, into=f"{name}{QUARANTINE_SUFFIX}")
                statements += self._status_statements(staged[PARTITION_STATUS.name], settlement_date, run_type, ("quarantined",))
                self._swap(client, statements)
            finally:
                for staging in staged.values():
                    client.delete_table(staging, not_found_ok=True)

    def _loaded_run_statements(self, rows: pa.Table, settlement_date: dt.date, run_type: str) -> list[str]:
        """Replace the partition's row of loaded_runs and its bm_unit_period_daily rows (inside the swap's transaction)."""
        statements = [f"DELETE FROM {self._ref(stored.LOADED_RUNS)} WHERE settlement_date = {sql.date_literal(settlement_date)} "
                      f"AND run_type = '{run_type}'"]  # fmt: skip
        loaded = stored.loaded_run(rows)
        if loaded is not None:
            row = loaded.to_pylist()[0]
            values = (f"{sql.date_literal(row['settlement_date'])}, '{row['run_type']}', "
                      f"DATETIME '{row['publication_ts']:%Y-%m-%d %H:%M:%S}', '{row['flow_version']}', "
                      f"TIMESTAMP '{row['loaded_at']:%Y-%m-%d %H:%M:%S.%f}+00'")  # fmt: skip
            columns = ", ".join(TABLES[stored.LOADED_RUNS].column_names)
            statements.append(f"INSERT INTO {self._ref(stored.LOADED_RUNS)} ({columns}) VALUES ({values})")
        partition = self._partition(settlement_date, run_type)  # the partition's totals, from its rows just put
        return [*statements, f"DELETE FROM {self._ref(stored.DAILY)} WHERE {partition}",
                self.to_bigquery(stored.daily_from_rows(SCHEMA, partition))]

    def _count(self, client: bigquery.Client, table: str, where: str = "TRUE") -> int:
        counted = client.query(f"SELECT COUNT(*) AS n FROM {self._ref(table)} WHERE {where}").result()
        return int(next(iter(counted))["n"])

    def replace_dates(self, table: str, start: dt.date, end: dt.date, select_sql: str, then: Sequence[str] = ()) -> int:
        if table in VIEWS:
            raise ValueError(f"{table} is a view: refresh the tables it reads")
        columns = ", ".join(f"`{c}`" for c in TABLES[table].column_names)
        window = sql.dates_between("settlement_date", start, end)
        with self.bigquery.get_client() as client:
            self.ensure_tables(client, [table, *REFERENCE_TABLES])
            self._swap(client, [f"DELETE FROM {self._ref(table)} WHERE {window}",
                                f"INSERT INTO {self._ref(table)} ({columns}) SELECT {columns} FROM ({self.to_bigquery(select_sql)}) AS derived",
                                *(self.to_bigquery(statement) for statement in then)])  # fmt: skip
            if table == stored.CANONICAL_RUNS:
                self._ensure_canonical_view(client)
            return self._count(client, table, window)

    def replace_date_rows(self, table: str, start: dt.date, end: dt.date, rows: pa.Table) -> int:
        columns = ", ".join(f"`{c}`" for c in TABLES[table].column_names)
        with self.bigquery.get_client() as client:
            self.ensure_tables(client, [table])
            staging = self._stage(client, table, rows)
            try:
                self._swap(client, [f"DELETE FROM {self._ref(table)} WHERE {sql.dates_between('settlement_date', start, end)}",
                                    f"INSERT INTO {self._ref(table)} ({columns}) SELECT {columns} FROM `{staging}`"])  # fmt: skip
            finally:
                client.delete_table(staging, not_found_ok=True)
        return rows.num_rows

    def replace_table(self, table: str, select_sql: str) -> int:
        columns = ", ".join(f"`{c}`" for c in TABLES[table].column_names)
        with self.bigquery.get_client() as client:
            self.ensure_tables(client, [table, *REFERENCE_TABLES])
            self._swap(client, [f"DELETE FROM {self._ref(table)} WHERE TRUE",
                                f"INSERT INTO {self._ref(table)} ({columns}) SELECT {columns} FROM ({self.to_bigquery(select_sql)}) AS derived"])  # fmt: skip
            return self._count(client, table)

    def cluster_dates(self, table: str, start: dt.date, end: dt.date, run_type: str | None = None) -> int:
        """Nothing to do: BigQuery keeps each date partition's storage clustered by the table's
        clustering columns itself (automatic re-clustering), and prunes by partition first."""
        return 0

    def replace_view(self, name: str, select_sql: str) -> None:
        with self.bigquery.get_client() as client:
            self.ensure_tables(client, [])
            client.query(f"CREATE OR REPLACE VIEW {self._ref(name)} AS {self.to_bigquery(select_sql)}").result()

    def create_tables(self, names: Sequence[str]) -> None:
        with self.bigquery.get_client() as client:
            self.ensure_tables(client, names)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a read-only query; `?` placeholders are bound to `params` as BigQuery positional
        query parameters (never written into the SQL)."""
        config = bigquery.QueryJobConfig(query_parameters=[query_parameter(v) for v in params]) if params else None
        with self.bigquery.get_client() as client:
            result = client.query(self.to_bigquery(sql), job_config=config).to_arrow(create_bqstorage_client=self.use_storage_api)
        # The client marks DATETIME columns with Arrow extension metadata (google:sqlType:datetime),
        # which other Arrow readers (polars) take for an extension type: return plain Arrow, as DuckDB does.
        return pa.Table.from_arrays(result.columns, schema=pa.schema([f.remove_metadata() for f in result.schema]))

    def table_exists(self, table: str) -> bool:
        with self.bigquery.get_client() as client:
            try:
                client.get_table(self._table_id(table))
                return True
            except NotFound:
                return False
