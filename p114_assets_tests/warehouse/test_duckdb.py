"""The DuckDB warehouse, on real DuckDB files."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import time

import duckdb
import pyarrow as pa
import pytest

from p114_assets.core.synthetic import generate_file
from p114_assets.core.s0142.parser import parse_bytes
from p114_assets.core.s0142.tables import add_period_times
from p114_assets.warehouse.duckdb import DuckDBWarehouse, in_write_order

DAY = dt.date(2024, 5, 1)


@pytest.fixture(scope="module")
def tables(small_market):
    generated = generate_file(small_market, DAY, "SF")
    return parse_bytes(generated.text, generated.file_name.name).tables


def counts(warehouse: DuckDBWarehouse, table: str = "bm_unit_period") -> dict:
    rows = warehouse.query(f"SELECT settlement_date, run_type, count(*) AS n FROM p114.{table} GROUP BY ALL ORDER BY ALL").to_pylist()
    return {(r["settlement_date"], r["run_type"]): r["n"] for r in rows}


def test_replace_partition_is_idempotent_and_leaves_other_partitions(tmp_path, tables):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    written = warehouse.replace_partition(tables, DAY, "SF")
    assert written == {name: t.num_rows for name, t in tables.items()}
    renamed = {name: t.set_column(t.schema.get_field_index("run_type"), "run_type", pa.array(["II"] * t.num_rows)) for name, t in tables.items()}
    warehouse.replace_partition(renamed, DAY, "II")
    warehouse.replace_partition(tables, DAY, "SF")  # again: the same rows, not twice as many
    n = tables["bm_unit_period"].num_rows
    assert counts(warehouse) == {(DAY, "II"): n, (DAY, "SF"): n}
    for name, table in tables.items():
        assert counts(warehouse, name) == {(DAY, "II"): table.num_rows, (DAY, "SF"): table.num_rows}


def test_tables_are_queryable_as_p114_dot_table_and_round_trip_values(tmp_path, tables):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    warehouse.replace_partition(tables, DAY, "SF")
    back = warehouse.query("SELECT * FROM p114.bm_unit_period ORDER BY settlement_period, bm_unit_id")
    original = add_period_times(tables["bm_unit_period"]).sort_by([("settlement_period", "ascending"), ("bm_unit_id", "ascending")])
    assert back.to_pylist() == original.to_pylist()
    # The file opened directly (as a user would): schema p114 in catalog p114
    with duckdb.connect(str(tmp_path / "p114.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM p114.p114.system_period").fetchone()[0] == tables["system_period"].num_rows


def test_a_failed_replace_changes_nothing(tmp_path, tables):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    warehouse.replace_partition(tables, DAY, "SF")
    before = {name: counts(warehouse, name) for name in tables}
    broken = dict(tables)
    # the last table fails to insert (a NOT NULL key is missing) after the others were replaced
    bad = tables["account_period"].set_column(
        tables["account_period"].schema.get_field_index("party_id"), "party_id", pa.nulls(tables["account_period"].num_rows, pa.string()))
    broken["account_period"] = bad
    smaller = {name: t.slice(0, 1) for name, t in broken.items() if name != "account_period"}
    with pytest.raises(duckdb.Error):
        warehouse.replace_partition({**smaller, "account_period": bad}, DAY, "SF")
    assert {name: counts(warehouse, name) for name in tables} == before


def test_new_columns_are_added_to_an_existing_table(tmp_path, tables):
    path = tmp_path / "p114.duckdb"
    with duckdb.connect(str(path)) as con:  # a table created by an older release, missing a column
        con.execute("CREATE SCHEMA p114")
        con.execute("CREATE TABLE p114.p114.system_period (settlement_date DATE, run_type VARCHAR)")
    warehouse = DuckDBWarehouse(path=str(path))
    warehouse.replace_partition({"system_period": tables["system_period"]}, DAY, "SF")
    back = warehouse.query("SELECT supplier_sourcing_cost_gbp_per_mwh FROM p114.system_period")
    assert back.num_rows == tables["system_period"].num_rows


def test_party_period_of_an_older_release_gets_the_renamed_compensation_columns(tmp_path, tables):
    """The README's migration: PPC 9 / 10 were compensation_cashflow_9_gbp / _10_gbp. Loading into
    such a table adds the new columns; the old ones stay, keep their rows' values and are NULL in
    rows loaded now; the README's UPDATE copies them across."""
    path = tmp_path / "p114.duckdb"
    warehouse = DuckDBWarehouse(path=str(path))
    warehouse.replace_partition({"party_period": tables["party_period"]}, DAY, "SF")
    with duckdb.connect(str(path)) as con:  # turn the table into the older release's
        con.execute("ALTER TABLE p114.p114.party_period RENAME COLUMN vlp_compensation_cashflow_gbp TO compensation_cashflow_9_gbp")
        con.execute("ALTER TABLE p114.p114.party_period RENAME COLUMN supplier_compensation_cashflow_gbp TO compensation_cashflow_10_gbp")
        con.execute("UPDATE p114.p114.party_period SET compensation_cashflow_9_gbp = 1.25, run_type = 'II'")
    warehouse.replace_partition({"party_period": tables["party_period"]}, DAY, "SF")
    rows = warehouse.query("SELECT run_type, count(*) AS n, count(compensation_cashflow_9_gbp) AS old, "
                           "count(vlp_compensation_cashflow_gbp) AS new FROM p114.party_period GROUP BY ALL ORDER BY ALL").to_pylist()
    n = tables["party_period"].num_rows
    filled = tables["party_period"]["vlp_compensation_cashflow_gbp"].drop_null().__len__()
    assert filled > 0  # the generated file has PPC 9 for its VLPs
    assert rows == [{"run_type": "II", "n": n, "old": n, "new": 0}, {"run_type": "SF", "n": n, "old": 0, "new": filled}]
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE p114.p114.party_period SET vlp_compensation_cashflow_gbp = compensation_cashflow_9_gbp, "
                    "supplier_compensation_cashflow_gbp = compensation_cashflow_10_gbp "
                    "WHERE vlp_compensation_cashflow_gbp IS NULL AND supplier_compensation_cashflow_gbp IS NULL")
    copied = warehouse.query("SELECT DISTINCT vlp_compensation_cashflow_gbp AS v FROM p114.party_period WHERE run_type = 'II'")
    assert copied.to_pylist() == [{"v": 1.25}]


def test_a_writer_waits_for_another_process_to_release_the_file(tmp_path, tables):
    path = tmp_path / "p114.duckdb"
    DuckDBWarehouse(path=str(path)).replace_partition(tables, DAY, "SF")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        time.sleep(2)
        con.close()
    """)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "locked"
    started = time.perf_counter()
    DuckDBWarehouse(path=str(path), lock_wait_seconds=30).replace_partition(tables, DAY, "SF")
    assert time.perf_counter() - started > 0.5  # it waited for the lock rather than failing
    holder.wait(timeout=10)
    with pytest.raises(duckdb.IOException):  # and a short wait gives up with DuckDB's own error
        holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('x', flush=True); time.sleep(3)"],
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        holder.stdout.readline()
        DuckDBWarehouse(path=str(path), lock_wait_seconds=0.5).replace_partition(tables, DAY, "SF")
    holder.wait(timeout=10)


def test_queries_on_a_missing_warehouse_say_so(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "none.duckdb"))
    assert not warehouse.table_exists("bm_unit_period")
    with pytest.raises(FileNotFoundError, match="no warehouse at"):
        warehouse.query("SELECT 1")
    assert not (tmp_path / "none.duckdb").exists()  # reading never creates the file


def test_the_unit_kind_case_is_core_settlements_rule_in_sql():
    from p114_assets.core.settlement import unit_kind, unit_kind_labels
    from p114_assets.warehouse.sql import unit_kind_case

    ids = ["2__AGESL000", "C__AEDFC001", "V__ABCDE001", "T_DRAXX-1", "T__JKENT001", "E_BURBO-1", "E__BLSBY-1", "I_IFA-1",
           "M_MISC-1", "V_NOTVLP", "Z_X"]  # fmt: skip
    rows = duckdb.connect().execute(f"SELECT id, {unit_kind_case('id')} AS kind FROM (SELECT unnest(?) AS id)", [ids]).fetchall()
    got = dict(rows)
    assert got["2__AGESL000"] == got["C__AEDFC001"] == "supplier (2__, C__)"
    assert (got["V__ABCDE001"], got["T_DRAXX-1"], got["M_MISC-1"]) == ("secondary (V__)", "transmission (T_, T__)", "miscellaneous (M_)")
    assert got["T__JKENT001"] == got["T_DRAXX-1"] and got["E__BLSBY-1"] == got["E_BURBO-1"] == "embedded (E_, E__)"
    assert got["V_NOTVLP"] == got["Z_X"] == "other"
    labels = unit_kind_labels()
    assert got == {i: labels.get(unit_kind(i), "other") for i in ids}  # the SQL and the Python rule agree


def test_rows_are_stored_in_bm_unit_order_whatever_order_they_arrive_in(tmp_path, tables):
    """The write sorts (BM unit, date, period) in Arrow, not DuckDB: the file keeps that order."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    rows = tables["bm_unit_period"]
    shuffled = {**tables, "bm_unit_period": pa.concat_tables([rows.slice(n // 2), rows.slice(0, n // 2)]) if (n := rows.num_rows) else rows}
    warehouse.replace_partition(shuffled, DAY, "SF")
    stored = warehouse.query("SELECT bm_unit_id, settlement_period FROM p114.bm_unit_period").to_pylist()  # storage order
    keys = [(r["bm_unit_id"], r["settlement_period"]) for r in stored]
    assert len(keys) == rows.num_rows > 0 and keys == sorted(keys)
    assert len({k for k, _ in keys}) > 1  # more than one unit, so the order was really imposed


def test_in_write_order_streams_sorted_batches_of_at_most_batch_rows_from_many_chunks():
    rows = pa.chunked_array([["b", "a", "c"], ["a", "b"]])
    table = pa.table({"unit": rows, "period": pa.chunked_array([[2, 1, 1], [2, 1]])})
    batches = list(in_write_order(table, ["unit", "period"], batch_rows=2))
    assert [b.num_rows for b in batches] == [2, 2, 1]
    assert pa.Table.from_batches(batches).to_pylist() == [
        {"unit": "a", "period": 1}, {"unit": "a", "period": 2}, {"unit": "b", "period": 1},
        {"unit": "b", "period": 2}, {"unit": "c", "period": 1},
    ]  # fmt: skip


def test_derived_sql_runs_under_the_memory_limit_and_the_partition_write_does_not(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"), sql_memory_limit="100MB")
    with warehouse._transaction(["loaded_runs"], bounded=True) as con:
        bounded = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    with warehouse._transaction(["loaded_runs"]) as con:
        unbounded = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert bounded[0] in ("95.3 MiB", "100.0 MB") and bounded[1] == f"{(tmp_path / 'p114.duckdb').resolve()}.tmp"
    assert unbounded != bounded[0]


def _compressions(path, table: str, column: str) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {c for (c,) in con.execute(f"SELECT DISTINCT compression FROM pragma_storage_info('p114.p114.{table}') "
                                          "WHERE column_name = ? AND segment_type = 'VARCHAR'", [column]).fetchall()}  # fmt: skip


@pytest.mark.parametrize("disabled, fsst_stored", [("fsst", False), ("", True)])
def test_the_raw_write_skips_the_compression_methods_it_is_told_to_and_reads_back_the_same(tmp_path, tables, disabled, fsst_stored):
    """Long distinct strings are where DuckDB picks FSST when it may (the control case): the raw
    write skips it (raw_disabled_compression) and the rows read back the same; other writes keep all methods.
    A file in DuckDB's older storage format (from v1.5.0, DuckDB stores such strings as DICT_FSST instead)."""
    rows = tables["bm_unit_period"]
    names = pa.array([f"a trading unit of the synthetic market, number {i:07d}" for i in range(rows.num_rows)])
    wordy = {**tables, "bm_unit_period": rows.set_column(rows.schema.get_field_index("trading_unit_name"), "trading_unit_name", names)}
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"), raw_disabled_compression=disabled, storage_version="v0.10.2")
    warehouse.replace_partition(wordy, DAY, "SF")
    assert ("FSST" in _compressions(tmp_path / "p114.duckdb", "bm_unit_period", "trading_unit_name")) is fsst_stored
    back = warehouse.query("SELECT * FROM p114.bm_unit_period ORDER BY settlement_period, bm_unit_id")
    original = add_period_times(wordy["bm_unit_period"]).sort_by([("settlement_period", "ascending"), ("bm_unit_id", "ascending")])
    assert back.to_pylist() == original.to_pylist()
    with warehouse._transaction(["loaded_runs"]) as con:  # not a raw write: DuckDB's default
        assert con.execute("SELECT current_setting('disabled_compression_methods')").fetchone()[0] == ""
