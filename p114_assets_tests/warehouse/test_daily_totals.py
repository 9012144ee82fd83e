"""bm_unit_period_daily: the totals per date, run and unit kind that the raw load writes with each
partition, so the report's coverage and energy by unit kind read a few rows a date instead of
scanning bm_unit_period. On DuckDB files and on the BigQuery emulator with the real client."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from p114_assets.warehouse import queries
from p114_assets.warehouse.duckdb import DuckDBWarehouse
from p114_assets_tests.market_scenario import raw_table

DAY, NEXT = dt.date(2024, 6, 5), dt.date(2024, 6, 6)
TRANSMISSION, SUPPLIER, SECONDARY = "transmission (T_, T__)", "supplier (2__, C__)", "secondary (V__)"


@pytest.fixture(params=["duckdb", "bigquery"])
def warehouse(request, tmp_path):
    if request.param == "duckdb":
        return DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    return request.getfixturevalue("bq_warehouse")


def partition(day: dt.date, run_type: str, metered: dict[tuple[str, int], str]) -> dict:
    """A bm_unit_period partition of the given (unit, period) -> metered MWh."""
    rows = [{"settlement_date": day, "run_type": run_type, "settlement_period": period, "bm_unit_id": unit,
             "lead_party_id": "P", "metered_volume_mwh": Decimal(mwh)} for (unit, period), mwh in metered.items()]  # fmt: skip
    return {"bm_unit_period": raw_table("bm_unit_period", rows)}


def daily(warehouse) -> list[tuple]:
    return [(r["settlement_date"], r["run_type"], r["unit_kind"], r["bm_units"], r["periods"], r["row_count"], r["metered_volume_mwh"])
            for r in warehouse.query("SELECT * FROM p114.bm_unit_period_daily ORDER BY settlement_date, run_type, unit_kind").to_pylist()]  # fmt: skip


SF = {("T_A-1", 1): "1.500", ("T_A-1", 2): "2.250", ("T_B-1", 1): "-0.125", ("2__AX", 1): "-3.000", ("2__AX", 2): "-1.000",
      ("V__C", 2): "0.010"}  # fmt: skip


def test_each_load_writes_its_partitions_totals_and_a_reload_replaces_them(warehouse):
    warehouse.replace_partition(partition(DAY, "SF", SF), DAY, "SF")
    warehouse.replace_partition(partition(NEXT, "SF", {("T_A-1", 1): "4.000"}), NEXT, "SF")
    # by hand: T_ units 1.5 + 2.25 - 0.125; 2__ unit -3 - 1; V__ unit 0.01
    assert daily(warehouse) == [
        (DAY, "SF", SECONDARY, 1, 1, 1, Decimal("0.010")),
        (DAY, "SF", SUPPLIER, 1, 2, 2, Decimal("-4.000")),
        (DAY, "SF", TRANSMISSION, 2, 2, 3, Decimal("3.625")),
        (NEXT, "SF", TRANSMISSION, 1, 1, 1, Decimal("4.000")),
    ]
    # the same partition again, other rows: its totals are replaced, the other date's kept
    warehouse.replace_partition(partition(DAY, "SF", {("T_A-1", 1): "7.000", ("T_A-1", 2): "0.500"}), DAY, "SF")
    assert daily(warehouse) == [(DAY, "SF", TRANSMISSION, 1, 2, 2, Decimal("7.500")),
                                (NEXT, "SF", TRANSMISSION, 1, 1, 1, Decimal("4.000"))]  # fmt: skip


def test_the_reports_coverage_and_energy_read_the_totals_and_match_a_scan(warehouse, small_market):
    from p114_assets.core.synthetic import generate_file
    from p114_assets.core.s0142.parser import parse_bytes

    for run_type in ("II", "SF"):
        generated = generate_file(small_market, DAY, run_type)
        warehouse.replace_partition(parse_bytes(generated.text, generated.file_name.name).tables, DAY, run_type)
    warehouse.replace_partition(partition(NEXT, "SF", SF), NEXT, "SF")
    energy = {(r["settlement_date"], r["run_type"], r["kind"]): float(r["gwh"]) for r in queries.energy_by_unit_kind(warehouse)}
    assert energy[(NEXT, "SF", TRANSMISSION)] == pytest.approx(0.003625) and energy[(NEXT, "SF", SUPPLIER)] == pytest.approx(-0.004)
    scanned = warehouse.query(
        "SELECT settlement_date, run_type, COUNT(DISTINCT bm_unit_id) AS units, COUNT(DISTINCT settlement_period) AS periods, "
        "COUNT(*) AS n, SUM(metered_volume_mwh) AS mwh FROM p114.bm_unit_period GROUP BY settlement_date, run_type "
        "ORDER BY settlement_date, run_type").to_pylist()  # fmt: skip
    assert [(r["settlement_date"], r["run_type"], r["units"], r["periods"], r["rows"]) for r in queries.coverage(warehouse)] == [
        (r["settlement_date"], r["run_type"], r["units"], r["periods"], r["n"]) for r in scanned]
    for r in scanned:  # the kinds add up to the partition's metered energy
        kinds = [gwh for (day, run, _), gwh in energy.items() if (day, run) == (r["settlement_date"], r["run_type"])]
        assert sum(kinds) * 1000 == pytest.approx(float(r["mwh"]))


def test_a_warehouse_without_the_totals_gets_them_from_its_rows_on_the_next_write(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    warehouse.replace_partition(partition(DAY, "SF", SF), DAY, "SF")
    with warehouse.connect() as con:  # as an earlier release left it
        con.execute("DROP TABLE p114.bm_unit_period_daily")
    assert [float(r["gwh"]) for r in queries.energy_by_unit_kind(warehouse)] == pytest.approx([0.00001, -0.004, 0.003625])  # scanned
    warehouse.replace_partition(partition(NEXT, "SF", {("V__C", 1): "2.000"}), NEXT, "SF")
    assert daily(warehouse) == [
        (DAY, "SF", SECONDARY, 1, 1, 1, Decimal("0.010")),
        (DAY, "SF", SUPPLIER, 1, 2, 2, Decimal("-4.000")),
        (DAY, "SF", TRANSMISSION, 2, 2, 3, Decimal("3.625")),
        (NEXT, "SF", SECONDARY, 1, 1, 1, Decimal("2.000")),
    ]


def test_the_raw_write_takes_a_partitions_totals_from_the_rows_in_hand(tmp_path, monkeypatch):
    """Read back from bm_unit_period, a partition's totals cost a scan that grew with the file
    (0.03 CPU s at 1 date, 0.13-0.15 s at 240 in the write's statement profile): the write
    computes them from the rows it is writing, and reads no stored bm_unit_period rows."""
    import re
    from contextlib import contextmanager

    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    warehouse.replace_partition(partition(DAY, "SF", SF), DAY, "SF")
    statements, connect = [], DuckDBWarehouse.connect

    class Recorded:
        def __init__(self, con):
            self._con = con

        def execute(self, sql, *args):
            statements.append(sql)
            return self._con.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self._con, name)

    @contextmanager
    def recorded(self, *args, **kwargs):
        with connect(self, *args, **kwargs) as con:
            yield Recorded(con)

    monkeypatch.setattr(DuckDBWarehouse, "connect", recorded)
    warehouse.replace_partition(partition(NEXT, "SF", SF), NEXT, "SF")
    reads = [sql for sql in statements if re.search(r'SELECT[\s\S]*FROM p114\."?bm_unit_period"?(?![_\w])', sql)]
    assert statements and reads == []
    monkeypatch.undo()
    assert [row[:2] for row in daily(warehouse)] == [(DAY, "SF")] * 3 + [(NEXT, "SF")] * 3
    assert daily(warehouse)[3:] == [(NEXT, *row[1:]) for row in daily(warehouse)[:3]]


def test_new_duckdb_files_get_small_blocks_and_the_newer_storage_and_existing_files_keep_theirs(tmp_path):
    """64 KiB blocks (bench_year) and storage v1.5.0, whose checkpoints re-use the metadata of
    unchanged row groups (a partition's write no longer grows with the file)."""
    import duckdb

    def block_size_and_storage(path) -> tuple[int, str]:
        with duckdb.connect(str(path), read_only=True) as con:
            size = con.execute("SELECT block_size FROM pragma_database_size()").fetchall()[0][0]
            tags = con.execute("SELECT tags FROM duckdb_databases() WHERE NOT internal AND database_name <> 'memory'").fetchall()[0][0]
            return size, tags["storage_version"]

    new = DuckDBWarehouse(path=str(tmp_path / "new.duckdb"))
    new.replace_partition(partition(DAY, "SF", SF), DAY, "SF")
    assert block_size_and_storage(new.path) == (65536, "v1.5.0+")
    with duckdb.connect(str(tmp_path / "old.duckdb")) as con:  # made with DuckDB's default blocks and storage
        con.execute("CREATE TABLE t (i INTEGER)")
    old = DuckDBWarehouse(path=str(tmp_path / "old.duckdb"))
    old.replace_partition(partition(DAY, "SF", SF), DAY, "SF")
    assert block_size_and_storage(old.path) == (262144, "v1.0.0+")
    assert old.query("SELECT COUNT(*) AS n FROM p114.bm_unit_period").column("n")[0].as_py() == 6
