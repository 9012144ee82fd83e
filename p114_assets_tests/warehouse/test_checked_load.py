"""Check before swap on both engines (a DuckDB file; the BigQuery emulator with the real client):
a partition's rows are checked before they replace the old ones, a failing version is quarantined,
partition_status and the valid views say so; and the one-pass checks give the rules' outcomes."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pyarrow as pa
import pytest

from p114_assets.core import partition_checks, quality
from p114_assets.core.s0142.parser import parse_bytes
from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.core.synthetic import generate_file
from p114_assets.warehouse import checked_load, stored
from p114_assets.warehouse.duckdb import DuckDBWarehouse

DAY = dt.date(2024, 5, 1)


@pytest.fixture(params=["duckdb", "bigquery"])
def warehouse(request, tmp_path):
    if request.param == "duckdb":
        return DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    return request.getfixturevalue("bq_warehouse")


@pytest.fixture(scope="module")
def parsed(small_market):
    generated = generate_file(small_market, DAY, "SF")
    return parse_bytes(generated.text, generated.file_name.name)


def count(warehouse, table: str) -> int:
    return warehouse.query(f"SELECT COUNT(*) AS n FROM p114.{table}").to_pylist()[0]["n"]


def bm_values(warehouse, table: str = "bm_unit_period") -> list[tuple]:
    rows = warehouse.query(f"SELECT bm_unit_id, settlement_period, metered_volume_mwh FROM p114.{table}").to_pylist()
    return sorted((r["bm_unit_id"], r["settlement_period"], r["metered_volume_mwh"]) for r in rows)


def test_a_bad_version_is_quarantined_and_the_good_rows_stay(warehouse, parsed):
    n = parsed.tables["bm_unit_period"].num_rows
    first = checked_load.load_partition(warehouse, parsed.tables, parsed.header, DAY, "SF")
    assert first.loaded and first.failed == []
    before = bm_values(warehouse)
    assert len(before) == n

    # A later version holding a tenth of the units: well formed, far fewer rows.
    units = sorted(set(parsed.tables["bm_unit_period"].column("bm_unit_id").to_pylist()))[: max(1, n // 480)]
    cut = {name: (pl.from_arrow(t).filter(pl.col("bm_unit_id").is_in(units)).to_arrow() if "bm_unit_id" in t.column_names else t)
           for name, t in parsed.tables.items()}  # fmt: skip
    second = checked_load.load_partition(warehouse, cut, parsed.header, DAY, "SF")
    assert not second.loaded and second.failed == ["bm_unit_period.rows_vs_previous_version"]
    assert bm_values(warehouse) == before  # count and values
    assert bm_values(warehouse, "bm_unit_period_quarantine") == sorted(
        (r["bm_unit_id"], r["settlement_period"], r["metered_volume_mwh"]) for r in cut["bm_unit_period"].to_pylist())
    status = warehouse.query("SELECT version, blocking_passed, failed_checks, row_counts FROM p114.partition_status").to_pylist()
    status.sort(key=lambda r: r["version"])
    assert [(r["version"], r["blocking_passed"], r["failed_checks"]) for r in status] == [
        ("loaded", True, None), ("quarantined", False, "bm_unit_period.rows_vs_previous_version")]
    assert json.loads(status[0]["row_counts"])["bm_unit_period"] == n
    assert json.loads(status[1]["row_counts"])["bm_unit_period"] == cut["bm_unit_period"].num_rows
    assert count(warehouse, "bm_unit_period_valid") == n

    # A good version again: it loads, and the quarantined one goes (one quarantined version at most).
    assert checked_load.load_partition(warehouse, parsed.tables, parsed.header, DAY, "SF").loaded
    assert count(warehouse, "bm_unit_period_quarantine") == 0
    assert warehouse.query("SELECT version FROM p114.partition_status").to_pylist() == [{"version": "loaded"}]


def test_the_valid_views_leave_out_partitions_without_a_passing_status(warehouse, parsed):
    # Loaded straight (no checks, as an earlier release did): raw rows, but no passing status.
    warehouse.replace_partition(parsed.tables, DAY, "SF")
    assert checked_load.load_partition(warehouse, {n: t.slice(0, 0) for n, t in parsed.tables.items()}, parsed.header, DAY, "II").loaded is False
    assert count(warehouse, "bm_unit_period") == parsed.tables["bm_unit_period"].num_rows
    assert count(warehouse, "bm_unit_period_valid") == 0
    assert count(warehouse, "party_period_valid") == 0


def test_the_previous_rows_of_a_partition_loaded_before_partition_status_are_counted(tmp_path, parsed):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    warehouse.replace_partition(parsed.tables, DAY, "SF")
    assert checked_load.previous_rows(warehouse, DAY, "SF") == {name: t.num_rows for name, t in parsed.tables.items()}
    assert checked_load.previous_rows(warehouse, DAY, "II") is None


def test_the_one_pass_checks_give_the_rules_outcomes(parsed):
    frames = {name: pl.from_arrow(t) for name, t in stored.stored_rows(parsed.tables).items()}
    bad = frames["bm_unit_period"]
    bad = pl.concat([bad, bad.head(1)]).with_columns(  # a duplicate, and a period out of range (its unit keeps 48 distinct)
        pl.when(pl.int_range(pl.len()) == 1).then(51).otherwise(pl.col("settlement_period")).alias("settlement_period"))
    cases = {**frames, "bm_unit_period": bad}
    for table_frames in (frames, cases):
        fast = partition_checks.partition_outcomes(table_frames, DAY, None)
        for name, spec in RAW_TABLES.items():
            slow = quality.partition_outcomes(spec, table_frames[name], DAY)
            assert [(o.check, o.passed, o.description) for o in fast[name][: len(slow)]] == [(o.check, o.passed, o.description) for o in slow]
    failed = partition_checks.blocking_failures(partition_checks.partition_outcomes(cases, DAY, None))
    assert failed == ["bm_unit_period.no_duplicate_unit_periods", "bm_unit_period.periods_per_day", "bm_unit_period.schema"]


@pytest.mark.parametrize("counts, previous, ratio, passed", [
    ({"bm_unit_period": 480}, None, 0.5, True),
    ({"bm_unit_period": 240}, {"bm_unit_period": 480}, 0.5, True),  # exactly half: kept
    ({"bm_unit_period": 239}, {"bm_unit_period": 480}, 0.5, False),
    ({"bm_unit_period": 0}, {"bm_unit_period": 480}, 0.0, True),  # 0 turns the rule off
    ({"bm_unit_period": 480, "bid_offer_pair": 1}, {"bm_unit_period": 480, "bid_offer_pair": 10}, 0.5, False),
])  # fmt: skip
def test_rows_vs_previous_version(counts, previous, ratio, passed):
    assert partition_checks.rows_vs_previous(counts, previous, ratio).passed is passed


def test_a_released_load_frees_the_largest_table_before_the_next_parse_may_start(tmp_path, parsed):
    """Issue 14's 1 GB a run: raw_tables hands each partition's rows over (release) and starts the
    next file's parse once the largest table is written (after_peak). Then that table's memory is
    already free: the next parse never overlaps both the partition's rows and the write's peak."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    # copies in Arrow's own memory pool, so that freeing them shows in total_allocated_bytes
    tables = {name: pa.concat_tables([t, t.slice(0, 0)]).combine_chunks().take(pa.array(range(t.num_rows)))
              for name, t in parsed.tables.items()}  # fmt: skip
    largest = max(tables.values(), key=lambda t: t.num_rows)
    largest_bytes = largest.nbytes
    del largest
    before, seen = pa.total_allocated_bytes(), []
    done = checked_load.load_partition(warehouse, tables, parsed.header, DAY, "SF",
                                       after_peak=lambda: seen.append(pa.total_allocated_bytes()), release=True)  # fmt: skip
    assert done.loaded and tables == {}  # handed over
    assert len(seen) == 1  # called once
    # the largest table was gone when the next parse could start (what is allocated then: the other
    # tables and every table's period times, far less than the largest; kept, it would be more than before)
    assert seen[0] < before - largest_bytes / 2, (before, seen, largest_bytes)
    assert count(warehouse, "bm_unit_period") == parsed.tables["bm_unit_period"].num_rows


def test_a_load_that_keeps_its_rows_leaves_the_callers_tables_alone(tmp_path, parsed):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    tables = dict(parsed.tables)
    seen = []
    assert checked_load.load_partition(warehouse, tables, parsed.header, DAY, "SF", after_peak=lambda: seen.append(1)).loaded
    assert tables.keys() == parsed.tables.keys() and seen == [1]


def test_a_released_load_never_holds_its_largest_table_twice(tmp_path, parsed):
    """Issue 14's 1 GB a run: the parser's columns come in many chunks. The write takes its sorted
    batches from those chunks: no one-chunk copy of a table is made, after the checks or in the
    write, so Arrow never holds the largest table twice (that copy was ~130 MB of the raw run's peak)."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"), write_batch_rows=64)
    # copies in Arrow's own memory pool (so what is held shows in its figures), in 4 chunks a column
    tables = {name: pa.Table.from_batches(t.take(pa.array(range(t.num_rows))).to_batches(max_chunksize=max(1, t.num_rows // 4)), t.schema)
              for name, t in parsed.tables.items()}  # fmt: skip
    largest = max(tables, key=lambda n: tables[n].num_rows)
    largest_bytes = tables[largest].nbytes
    assert tables[largest].column(0).num_chunks > 1 and tables[largest].num_rows > 4 * 64
    watched = pa.proxy_memory_pool(pa.default_memory_pool())  # its own peak, from now on
    previous_pool = pa.default_memory_pool()
    pa.set_memory_pool(watched)
    try:
        before = watched.bytes_allocated()
        assert checked_load.load_partition(warehouse, tables, parsed.header, DAY, "SF", release=True).loaded
        peak = watched.max_memory()
    finally:
        pa.set_memory_pool(previous_pool)
    # a one-chunk copy of the largest table alone would be its bytes (measured: 2.0x with the copy;
    # 0.5-0.6x without: the period times, the sort indices, the batches DuckDB reads ahead)
    assert peak - before < largest_bytes, (before, peak, largest_bytes)
    assert count(warehouse, largest) == parsed.tables[largest].num_rows
    stored = warehouse.query(f"SELECT bm_unit_id, settlement_period FROM p114.{largest}").to_pylist()
    assert [(r["bm_unit_id"], r["settlement_period"]) for r in stored] == sorted((r["bm_unit_id"], r["settlement_period"]) for r in stored)


@pytest.mark.parametrize("new", [1, 7])
def test_the_previous_rows_of_new_partitions_take_three_connections(tmp_path, parsed, duckdb_connections, new):
    """Issue 14's raw run: every partition of a backfill is new, and each connection costs ~40 ms of
    CPU (ATTACH reads the catalog). Asking whether each table exists one connection at a time made
    10 connections and 0.42 CPU s a partition (bench_rawrun's warehouse); a run of 7 now asks for
    all its partitions at once."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    assert checked_load.load_partition(warehouse, parsed.tables, parsed.header, DAY, "SF").loaded
    duckdb_connections.clear()
    partitions = [(DAY + dt.timedelta(days=i), "SF") for i in range(1, new + 1)]
    assert checked_load.previous_rows_of(warehouse, partitions) == dict.fromkeys(partitions)  # no status row, no rows: counted
    assert len(duckdb_connections) == 3  # which tables exist; the status rows; the rows counted


def test_the_previous_rows_of_a_run_s_partitions_are_asked_together(warehouse, parsed, small_market):
    """A raw run asks for its partitions' previous rows at once, before it parses: one loaded with
    a partition_status row, one loaded before partition_status existed (counted), one never loaded."""
    ii = parse_bytes((generated := generate_file(small_market, DAY, "II")).text, generated.file_name.name)
    assert checked_load.load_partition(warehouse, dict(parsed.tables), parsed.header, DAY, "SF").loaded
    warehouse.replace_partition(ii.tables, DAY, "II")  # no partition_status row
    later = DAY + dt.timedelta(days=1)
    assert checked_load.previous_rows_of(warehouse, [(DAY, "SF"), (DAY, "II"), (later, "SF")]) == {
        (DAY, "SF"): {name: t.num_rows for name, t in parsed.tables.items()},
        (DAY, "II"): {name: t.num_rows for name, t in ii.tables.items()},
        (later, "SF"): None,
    }
    assert checked_load.previous_rows_of(warehouse, []) == {}

