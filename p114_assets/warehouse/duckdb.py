"""The embedded warehouse: one DuckDB file, no set-up.

DuckDB lets one process write a file at a time. Connections are therefore short-lived (opened per
operation, closed at once), a held lock is waited for with backoff rather than failing the run,
and Dagster's `warehouse` concurrency pool keeps writers from queueing up in the first place.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import errno
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential_jitter

from p114_assets.warehouse import sql, stored
from p114_assets.warehouse.unit_batches import batches as _batches, consecutive as _consecutive
from p114_assets.warehouse.base import SCHEMA, Warehouse
from p114_assets.warehouse.tables import (PARTITION_STATUS, QUARANTINE_SUFFIX, REFERENCE_TABLES, STORED_RAW_TABLES, TABLES, VALID_VIEWS, VIEWS, duckdb_columns,
                                          cluster_order, duckdb_create, write_columns, write_order)  # fmt: skip

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


def _libc_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


_MALLOC_TRIM = _libc_malloc_trim()
# Arrow's allocator (mimalloc here), taken at import: a parse swaps the default for glibc's while it runs
_ARROW_POOL = pa.default_memory_pool()


def _return_freed_memory() -> None:
    """Give the memory freed by a closed connection back to the system. DuckDB's threads allocate
    through glibc's malloc, which keeps freed memory in per-thread arenas: a run's resident memory
    then stays at the largest any query ever took, and the next step's peak adds to it (measured:
    ~150 MB of a raw run's 1 GB). malloc_trim(0) costs a few milliseconds. Arrow's allocator kept
    ~250 MB after the largest table's write (one-chunk copy, sorted batches) while the next file parsed."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
    _ARROW_POOL.release_unused()


def _is_lock_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def in_write_order(rows: pa.Table, columns: Sequence[str], batch_rows: int) -> pa.RecordBatchReader:
    """The rows sorted by `columns`, as a stream of batches taken one at a time: Arrow sorts
    indices (cheaper than an ORDER BY in DuckDB, which holds the whole payload while it sorts),
    and no sorted copy of the table exists at once, so DuckDB writes row groups as they come. The
    take reads the parser's chunks: a one-chunk copy was the raw run's peak (~130 MB) for no CPU saved."""
    order = pc.sort_indices(rows, sort_keys=[(c, "ascending") for c in columns])

    def batches() -> Iterator[pa.RecordBatch]:
        for start in range(0, len(order), batch_rows):
            yield from rows.take(order[start : start + batch_rows]).to_batches()

    return pa.RecordBatchReader.from_batches(rows.schema, batches())


class DuckDBWarehouse(Warehouse):
    """p114's tables in an embedded DuckDB file, schema `p114`."""

    path: str = Field(default="data/p114.duckdb", description="DuckDB database file; created on first use")
    lock_wait_seconds: float = Field(default=300, description="how long to wait for another writer's lock")
    row_group_size: int = Field(
        default=16384,
        description="rows per row group of what this writes (DuckDB's default 122,880): min/max zone maps are "
        "kept per row group, so smaller groups let a lookup of a few BM units skip more of a year (on a synthetic "
        "60-date table: warm lookups ~5x faster, full scans ~1.4x slower, file ~20% larger). Applies to rows "
        "written from now on.",
    )
    block_size: int = Field(
        default=65536,
        description="bytes per storage block of a warehouse file this creates (DuckDB's default 262,144). A query "
        "reads whole blocks, and each column of a date sits in blocks of its own, so one BM unit over a year reads a "
        "block per column and date: 64 KiB blocks read 4x fewer bytes than 256 KiB ones for ~15% more bytes on disk "
        "(16 and 32 KiB blocks lose bit-packing and double the file). See bench_year. Fixed when the file is created; "
        "an existing file keeps its own.",
    )

    storage_version: str = Field(
        default="v1.5.0",
        description="DuckDB storage format of a file this creates (DuckDB's default: v0.10.2's), in which each checkpoint "
        "rewrote every row group's metadata, so a partition's write grew with the file (checkpoint 0.05 CPU s at 1 date, "
        "1.0 s at 240); v1.5.0 re-uses unchanged row groups' (0.1-0.2 s at 240). Needs DuckDB 1.5+ to read; kept as block_size.",
    )

    write_batch_rows: int = Field(
        default=16_384,
        description="rows the partition write takes at a time, in write order: DuckDB reads batches ahead, so larger ones "
        "raise a raw run's peak (bench_rawrun, 7 partitions: 16K 884-893 MiB, 32K 911-916, 64K 963-1,011), CPU within noise.",
    )

    cluster_batch_rows: int = Field(
        default=100_000,
        description="rows cluster_dates sorts at a time (whole BM units of one run): small enough to sort within "
        "cluster_memory_limit without spilling (a 500,000-row sort took ~200 MB more).",
    )

    cluster_row_group_size: int = Field(
        default=122880,
        description="rows per row group of what cluster_dates writes (DuckDB's default): once a unit's rows of a "
        "month sit together, large groups lose no skipping (DuckDB also skips by each segment's min/max), and a "
        "fresh process reads a table's row-group list before its first query, so fewer groups open faster.",
    )

    cluster_commit_rows: int = Field(
        default=6_000_000,
        description="rows cluster_dates moves in one transaction (whole batches of units), each followed by a "
        "checkpoint: DuckDB holds what a transaction appends and deletes until then, so a commit, not the month, "
        "bounds it. Each checkpoint also rewrites the month's partly deleted row groups, so fewer commits cost less "
        "CPU (a month of 8,000 units, bench_cluster: 2M rows 633 MiB and 2.99 CPU s a date, 4M 669 MiB and 2.20, "
        "6M 659 MiB and 1.77; one transaction ran out of memory at 256MB).",
    )

    cluster_memory_limit: str = Field(
        default="256MB",
        description="DuckDB's memory limit while cluster_dates runs (past it DuckDB spills beside the file): with "
        "its commits and batches, a month of 8,000 units clusters in ~0.4 GB over the process's own.",
    )

    sql_memory_limit: str = Field(
        default="256MB",
        description="DuckDB's memory limit while it computes derived tables (replace_dates, replace_table): past it "
        "DuckDB spills to a temporary folder beside the file. The classification of 30 dates peaked at 1.6 GB "
        "without it, 0.64 GB with 384MB, 0.51 GB with 256MB (at some cost in time; the derived run of 30 dates: "
        "834 MiB at 384MB, 715 MiB at 256MB in 12.2 s against 13.2). Clustering has its own limit. Not applied to the raw partition write, which streams and which a limit "
        "only slows. Empty: DuckDB's default (80% of RAM).",
    )

    raw_disabled_compression: str = Field(
        default="fsst",
        description="DuckDB compression methods the raw partition write does not try (comma-separated; empty: all). "
        "FSST's analysis of every string segment cost ~0.1 CPU s of the 1.2 s insert of bm_unit_period for no smaller "
        "file (README, bench_partition). Raw write only (older files: v1.5.0 storage keeps such strings as DICT_FSST).",
    )

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
            # DuckDB names a file's catalog after its stem ("p114.<table>" would be ambiguous between catalog
            # and schema): attached under an alias, "p114.<table>" means schema p114, as on BigQuery.
            con = duckdb.connect(":memory:")
            try:
                options = f"ROW_GROUP_SIZE {int(self.row_group_size)}" + (", READ_ONLY" if read_only else "")
                if not read_only and not Path(self.path).exists():  # DuckDB refuses a block size a file was not made with
                    options += f", BLOCK_SIZE {int(self.block_size)}, STORAGE_VERSION '{_sql_string(self.storage_version)}'"
                con.execute(f"ATTACH '{_sql_string(self.path)}' AS {CATALOG} ({options})")
                con.execute(f"USE {CATALOG}")
                con.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ columns come back in UTC, whatever the machine's zone
            except BaseException:
                con.close()
                raise
            return con

        con = open_connection()
        try:
            yield con
        finally:
            con.close()
            _return_freed_memory()

    def ensure_tables(self, con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
        """Create the tables (and view) that are new, and bring those a previous release made up to
        date: add the columns a newer release defines (never drops), fill their period times, list
        the runs already loaded, and turn a canonical copy into pointer rows and the view. One look
        at the catalog for all of them (each costs a query)."""
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        catalog = self._catalog(con)
        copied = catalog.get("settlement_canonical", ("", set()))[0] == "BASE TABLE"
        view = copied or "settlement_canonical_copy" in catalog or any(n in VIEWS for n in names)
        valid = PARTITION_STATUS.name in names  # the valid views read it and every raw table
        wanted = [*(("bm_unit_period", stored.LOADED_RUNS, stored.CANONICAL_RUNS) if view else ()), *names,
                  *(STORED_RAW_TABLES if valid else ())]  # fmt: skip
        if copied:  # out of the view's way first; converted below
            con.execute(f"ALTER TABLE {SCHEMA}.settlement_canonical RENAME TO settlement_canonical_copy")
        for name in dict.fromkeys(n for n in wanted if n not in VIEWS):
            self._ensure_table(con, name, catalog)
        if view:
            self._ensure_canonical_view(con)
        if valid and any(v not in catalog for v in VALID_VIEWS):
            for name in VALID_VIEWS:
                con.execute(f"CREATE OR REPLACE VIEW {SCHEMA}.{name} AS {sql.valid_view(name.removesuffix('_valid'), schema=None)}")

    def ensure_table(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        self.ensure_tables(con, [name])

    def _catalog(self, con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, dict[str, str]]]:
        """Each table or view of the schema: its type ('BASE TABLE', 'VIEW') and columns' types."""
        found: dict[str, tuple[str, dict[str, str]]] = {}
        for table, kind, column, data_type in con.execute(
            "SELECT t.table_name, t.table_type, c.column_name, c.data_type FROM information_schema.tables AS t "
            "LEFT JOIN information_schema.columns AS c USING (table_catalog, table_schema, table_name) "
            "WHERE t.table_catalog = ? AND t.table_schema = ?", [CATALOG, SCHEMA]).fetchall():  # fmt: skip
            found.setdefault(table, (kind, {}))[1][column] = data_type
        return found

    def _ensure_table(self, con: duckdb.DuckDBPyConnection, name: str, catalog: dict[str, tuple[str, dict[str, str]]]) -> None:
        spec = TABLES[name]
        if name not in catalog:
            con.execute(duckdb_create(spec, SCHEMA))
            if name == stored.LOADED_RUNS and "bm_unit_period" in catalog:
                con.execute(stored.loaded_runs_from_rows(SCHEMA))  # runs loaded before this table existed
            if name == stored.DAILY and "bm_unit_period" in catalog:
                con.execute(stored.daily_from_rows(SCHEMA))  # partitions loaded before this table existed
            return
        added = [(column, sql_type) for column, sql_type in duckdb_columns(spec) if column not in catalog[name][1]]
        for column, sql_type in added:
            con.execute(f'ALTER TABLE {SCHEMA}."{name}" ADD COLUMN "{column}" {sql_type}')
        for column, sql_type in duckdb_columns(spec):  # money and volumes an earlier release kept as DOUBLE
            if sql_type.startswith("DECIMAL") and catalog[name][1].get(column, sql_type) != sql_type:
                con.execute(f'ALTER TABLE {SCHEMA}."{name}" ALTER COLUMN "{column}" SET DATA TYPE {sql_type}')
                log.info("%s.%s is now %s (was %s)", name, column, sql_type, catalog[name][1][column])
        if stored.PERIOD_START in dict(added):
            self._fill_period_times(con, name)

    def _fill_period_times(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        """Rows written before the period-time columns existed get them, computed by core."""
        periods = con.execute(stored.periods_without_times(SCHEMA, name)).to_arrow_table()
        if periods.num_rows:
            con.register("period_times", stored.period_times(periods))
            con.execute(stored.fill_period_times(SCHEMA, name, "period_times"))
            con.unregister("period_times")
            log.info("filled period_start_utc and period_end_utc of %s (%d date-periods)", name, periods.num_rows)

    def _ensure_canonical_view(self, con: duckdb.DuckDBPyConnection) -> None:
        """The settlement_canonical view; pointer rows first from a copy an earlier release made."""
        if "settlement_canonical_copy" in self._catalog(con):
            con.execute("BEGIN TRANSACTION")
            con.execute(stored.pointer_from_copy(SCHEMA))
            con.execute(f"DROP TABLE {SCHEMA}.settlement_canonical_copy")
            con.execute("COMMIT")
            log.info("settlement_canonical: the copied table became pointer rows and a view")
        columns = [f'"{c}"' for c in TABLES["bm_unit_period"].column_names]
        con.execute(f"CREATE OR REPLACE VIEW {SCHEMA}.settlement_canonical AS {sql.canonical_view(columns, schema=None)}")

    def _put_rows(self, con: duckdb.DuckDBPyConnection, name: str, rows: pa.Table, settlement_date: dt.date, run_type: str,
                  into: str | None = None) -> None:  # fmt: skip
        """Replace one partition's rows of table `name` (or of `into`, a table of the same columns)."""
        target = into or name
        columns = ", ".join(f'"{c}"' for c in TABLES[name].column_names)
        con.execute(f'DELETE FROM {SCHEMA}."{target}" WHERE settlement_date = ? AND run_type = ?', [settlement_date, run_type])
        con.register("incoming_rows", in_write_order(rows, write_columns(TABLES[name]), self.write_batch_rows))
        con.execute(f'INSERT INTO {SCHEMA}."{target}" ({columns}) SELECT {columns} FROM incoming_rows')
        con.unregister("incoming_rows")

    def _put_status(self, con: duckdb.DuckDBPyConnection, status: pa.Table, settlement_date: dt.date, run_type: str,
                    versions: Sequence[str]) -> None:  # fmt: skip
        """Replace the partition's partition_status rows of these versions by `status`."""
        marks = ", ".join("?" for _ in versions)
        con.execute(f"DELETE FROM {SCHEMA}.{PARTITION_STATUS.name} WHERE settlement_date = ? AND run_type = ? AND version IN ({marks})",
                    [settlement_date, run_type, *versions])  # fmt: skip
        con.register("status_row", status)
        con.execute(f"INSERT INTO {SCHEMA}.{PARTITION_STATUS.name} SELECT {', '.join(PARTITION_STATUS.column_names)} FROM status_row")
        con.unregister("status_row")

    def replace_partition(self, tables: Mapping[str, pa.Table], settlement_date: dt.date, run_type: str,
                          status: pa.Table | None = None, after_largest: Callable[[], None] | None = None,
                          release: bool = False) -> dict[str, int]:  # fmt: skip
        tables = stored.stored_rows(tables, release)
        names = list(tables)
        loaded = stored.loaded_run(tables["bm_unit_period"]) if "bm_unit_period" in tables else None
        checked = [PARTITION_STATUS.name, *(f"{name}{QUARANTINE_SUFFIX}" for name in names)] if status is not None else []
        written: dict[str, int] = {}
        with self._transaction([*names, stored.LOADED_RUNS, stored.DAILY, *checked], raw=True) as con:
            if "bm_unit_period" in names:  # its daily totals from the rows in hand: read back, they cost a scan that grew with the file
                con.execute(f"DELETE FROM {SCHEMA}.{stored.DAILY} WHERE settlement_date = ? AND run_type = ?", [settlement_date, run_type])
                con.register("partition_rows", tables["bm_unit_period"].select(stored.DAILY_FROM))  # held to the commit
                con.execute(stored.daily_from_rows(SCHEMA, source="partition_rows"))
                con.unregister("partition_rows")
            for name in sorted(names, key=lambda n: -tables[n].num_rows):  # the largest, and the peak, first
                table = tables.pop(name) if release else tables[name]
                self._put_rows(con, name, table, settlement_date, run_type)
                written[name] = table.num_rows
                del table  # released: this table's memory goes now, not at the commit
                if after_largest is not None:
                    _return_freed_memory()  # the insert's transient (~150 MB of the largest), before the caller's next work
                    after_largest()
                    after_largest = None
            written = {name: written[name] for name in names}  # in the caller's order
            if status is not None:  # a checked load: its status, and no quarantined version any more
                for name in names:
                    con.execute(f'DELETE FROM {SCHEMA}."{name}{QUARANTINE_SUFFIX}" WHERE settlement_date = ? AND run_type = ?', [settlement_date, run_type])
                self._put_status(con, status, settlement_date, run_type, ("loaded", "quarantined"))
            if "bm_unit_period" in names:
                con.execute(f"DELETE FROM {SCHEMA}.{stored.LOADED_RUNS} WHERE settlement_date = ? AND run_type = ?", [settlement_date, run_type])
                if loaded is not None:
                    con.register("loaded_run", loaded)
                    con.execute(f"INSERT INTO {SCHEMA}.{stored.LOADED_RUNS} SELECT * FROM loaded_run")
                    con.unregister("loaded_run")
        return written

    def quarantine_partition(self, tables: Mapping[str, pa.Table], settlement_date: dt.date, run_type: str, status: pa.Table) -> None:
        tables = stored.stored_rows(tables)
        quarantine = {name: f"{name}{QUARANTINE_SUFFIX}" for name in tables}
        with self._transaction([*quarantine.values(), PARTITION_STATUS.name], raw=True) as con:
            for name, rows in tables.items():
                self._put_rows(con, name, rows, settlement_date, run_type, into=quarantine[name])
            self._put_status(con, status, settlement_date, run_type, ("quarantined",))

    @contextmanager
    def _transaction(self, tables: Sequence[str], bounded: bool = False, raw: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction, the tables created first (DDL outside it);
        committed when the block ends, rolled back if it raises. `bounded`: SQL that may need more
        memory than a run should take (sql_memory_limit) spills to disk instead. `raw`: a raw
        partition's write (without the raw_disabled_compression methods)."""
        with self.connect() as con:
            if bounded:
                self._bound(con)
            if raw and self.raw_disabled_compression:
                con.execute(f"SET disabled_compression_methods = '{_sql_string(self.raw_disabled_compression)}'")
            self.ensure_tables(con, tables)
            with self._committed(con):
                yield con

    def _bound(self, con: duckdb.DuckDBPyConnection, limit: str | None = None) -> None:
        """Past sql_memory_limit (or `limit`), this connection's SQL spills to a folder beside the file."""
        if limit := limit or self.sql_memory_limit:
            con.execute(f"SET memory_limit = '{_sql_string(limit)}'")
            con.execute(f"SET temp_directory = '{_sql_string(str(Path(self.path).resolve()))}.tmp'")

    @contextmanager
    def _committed(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """One transaction on an open connection: committed when the block ends, rolled back if it raises."""
        con.execute("BEGIN TRANSACTION")
        try:
            yield
            con.execute("COMMIT")
        except BaseException as exc:
            _rollback(con)
            if isinstance(exc, duckdb.Error) and "No space left on device" in str(exc):  # name the cause, in one line
                raise OSError(errno.ENOSPC, "No space left on device", str(Path(self.path).resolve())) from exc
            raise

    def replace_dates(self, table: str, start: dt.date, end: dt.date, select_sql: str, then: Sequence[str] = ()) -> int:
        if table in VIEWS:
            raise ValueError(f"{table} is a view: refresh the tables it reads")
        columns = ", ".join(f'"{c}"' for c in TABLES[table].column_names)
        with self._transaction([table, *REFERENCE_TABLES], bounded=True) as con:
            con.execute(f'DELETE FROM {SCHEMA}."{table}" WHERE settlement_date BETWEEN ? AND ?', [start, end])
            written = con.execute(
                f'INSERT INTO {SCHEMA}."{table}" ({columns}) SELECT {columns} FROM ({select_sql}) AS derived '
                f"ORDER BY {write_order(TABLES[table])}"
            ).fetchall()[0][0]
            for statement in then:
                con.execute(statement)
        if table == stored.CANONICAL_RUNS:
            self.create_tables(["settlement_canonical"])
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
        with self._transaction([table, *REFERENCE_TABLES], bounded=True) as con:
            con.execute(f'DELETE FROM {SCHEMA}."{table}"')
            written = con.execute(
                f'INSERT INTO {SCHEMA}."{table}" ({columns}) SELECT {columns} FROM ({select_sql}) AS derived'
            ).fetchall()[0][0]
        return int(written)

    def cluster_dates(self, table: str, start: dt.date, end: dt.date, run_type: str | None = None) -> int:
        """The range's rows are written again in `cluster_order` (a partition's write sorts only
        within its own date) and the old copies deleted, a batch of BM units at a time
        (`cluster_batch_rows`): each date is stored by unit, so a batch reads only its units' row
        groups and sorts in memory (sorting a month at once spilled: ten times the CPU). The new
        rows are appended after every row id the table had, so the delete names the old ones by row
        id. Batches are committed together up to `cluster_commit_rows`: each commit moves whole
        units (every row of theirs in the range, once), so a run that stops keeps every row, some
        units stored by unit and the rest as they were. Each commit is checkpointed, and the SQL
        runs within `cluster_memory_limit`: what DuckDB holds for a transaction (its appended and
        deleted rows, until a checkpoint writes them out) is then bounded by a commit, not by the
        month (one transaction for a month of 8,000 units grew by ~400 MB). `run_type`: only that
        run's rows, so a month completed by a later run does not re-store the runs clustered before."""
        dates, ref = "settlement_date BETWEEN ? AND ?", f'{SCHEMA}."{table}"'
        run, unit = (c for c in TABLES[table].cluster_by)  # run_type, bm_unit_id
        units = f'{dates} AND "{run}" = ? AND "{unit}" BETWEEN ? AND ?'
        if not Path(self.path).exists():
            return 0
        clustered = self.model_copy(update={"row_group_size": self.cluster_row_group_size})
        written = 0
        with clustered.connect() as con:
            if table not in self._catalog(con):
                return 0
            self._bound(con, self.cluster_memory_limit)
            of_run = f' AND "{run}" = ?' if run_type else ""
            groups = con.execute(f'SELECT "{run}", "{unit}", COUNT(*) FROM {ref} WHERE {dates}{of_run} GROUP BY ALL ORDER BY 1, 2',
                                 [start, end, *([run_type] if run_type else [])]).fetchall()  # fmt: skip
            batches = _batches(groups, self.cluster_batch_rows)
            for commit in _consecutive(batches, self.cluster_commit_rows, one_run=False):
                with self._committed(con):
                    before = con.execute(f"SELECT MAX(rowid) FROM {ref}").fetchall()[0][0]
                    for run_value, first, last, _ in commit:
                        parameters = [start, end, run_value, first, last, before]
                        written += con.execute(f"INSERT INTO {ref} SELECT * FROM {ref} WHERE {units} AND rowid <= ? "
                                               f"ORDER BY {cluster_order(TABLES[table])}", parameters).fetchall()[0][0]  # fmt: skip
                        con.execute(f"DELETE FROM {ref} WHERE {units} AND rowid <= ?", parameters)
                # what a commit leaves in memory (its last, partial row group and the delete
                # markers of the rows it moved) is written out now, not held until the month ends
                con.execute("CHECKPOINT")
                _return_freed_memory()
        return int(written)

    def replace_view(self, name: str, select_sql: str) -> None:
        with self.connect() as con:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            con.execute(f'CREATE OR REPLACE VIEW {SCHEMA}."{name}" AS {select_sql}')

    def create_tables(self, names: Sequence[str]) -> None:
        with self.connect() as con:
            self.ensure_tables(con, names)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        if not Path(self.path).exists():
            raise FileNotFoundError(f"no warehouse at {self.path}: materialize something first")
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).to_arrow_table()

    def table_exists(self, table: str) -> bool:
        return bool(self.existing_tables([table]))

    def existing_tables(self, tables: Sequence[str]) -> set[str]:
        """One connection for all (opening one costs ~40 ms of CPU: a raw load asked for 8 tables)."""
        if not Path(self.path).exists() or not tables:
            return set()
        marks = ", ".join("?" for _ in tables)
        with self.connect(read_only=True) as con:
            found = con.execute(f"SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = ? "
                                f"AND table_name IN ({marks})", [CATALOG, SCHEMA, *tables]).fetchall()  # fmt: skip
        return {name for (name,) in found}
