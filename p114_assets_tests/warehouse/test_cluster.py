"""cluster_dates: a range of dates of bm_unit_period stored by run type and BM unit across the
dates (DuckDB re-writes the range; BigQuery clusters by itself), with the same rows before and
after, and partitions still replaceable afterwards. On DuckDB files and on the BigQuery emulator."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from p114_assets.warehouse import sql
from p114_assets.warehouse.duckdb import DuckDBWarehouse
from p114_assets_tests.market_scenario import raw_table

DAYS = [dt.date(2024, 6, 1), dt.date(2024, 6, 2), dt.date(2024, 6, 3)]
UNITS = ["T_B-1", "2__AX", "T_A-1"]


@pytest.fixture(params=["duckdb", "bigquery"])
def warehouse(request, tmp_path):
    if request.param == "duckdb":
        return DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    return request.getfixturevalue("bq_warehouse")


def metered(day: dt.date, run_type: str, unit: str, period: int) -> Decimal:
    """A distinct value for every row, so a row moved to the wrong key would show."""
    return Decimal(f"{day.day}{'SR'.index(run_type[0])}{UNITS.index(unit)}{period}.125")


def partition(day: dt.date, run_type: str, periods: int = 2, extra: str = "0") -> dict:
    rows = [{"settlement_date": day, "run_type": run_type, "settlement_period": p, "bm_unit_id": u, "lead_party_id": "P",
             "metered_volume_mwh": metered(day, run_type, u, p) + Decimal(extra)} for u in UNITS for p in range(1, periods + 1)]  # fmt: skip
    return {"bm_unit_period": raw_table("bm_unit_period", rows)}


def rows(warehouse, table: str = "bm_unit_period") -> list[tuple]:
    return [(r["settlement_date"], r["run_type"], r["bm_unit_id"], r["settlement_period"], r["metered_volume_mwh"])
            for r in warehouse.query(f"SELECT * FROM p114.{table} ORDER BY settlement_date, run_type, bm_unit_id, "
                                     "settlement_period").to_pylist()]  # fmt: skip


def load(warehouse) -> None:
    for day in DAYS:
        for run_type in ("SF", "R1"):
            warehouse.replace_partition(partition(day, run_type), day, run_type)
    warehouse.replace_dates("settlement_canonical_runs", DAYS[0], DAYS[-1], sql.canonical_runs(DAYS[0], DAYS[-1]))


def test_clustering_keeps_every_row_and_a_partition_loaded_after_it_replaces_its_own_rows(warehouse):
    load(warehouse)
    stored, canonical = rows(warehouse), rows(warehouse, "settlement_canonical")
    assert len(stored) == 3 * 2 * 3 * 2 and {r[1] for r in canonical} == {"R1"}

    warehouse.cluster_dates("bm_unit_period", DAYS[0], DAYS[1])
    assert rows(warehouse) == stored
    assert rows(warehouse, "settlement_canonical") == canonical

    # a new version of a clustered partition: its rows replaced (values + 1), every other kept
    warehouse.replace_partition(partition(DAYS[0], "R1", extra="1"), DAYS[0], "R1")
    expected = [(*r[:4], r[4] + 1) if (r[0], r[1]) == (DAYS[0], "R1") else r for r in stored]
    assert rows(warehouse) == expected
    assert rows(warehouse, "settlement_canonical") == [r for r in expected if r[1] == "R1"]


def stored_order(warehouse: DuckDBWarehouse) -> list[tuple]:
    return [(r["run_type"], r["bm_unit_id"], r["settlement_date"], r["settlement_period"])
            for r in warehouse.query("SELECT * FROM p114.bm_unit_period ORDER BY rowid").to_pylist()]  # fmt: skip


# 5 rows: a batch per unit and run (a unit's 4 rows each), batches never mix runs; committed
# together, or each batch in a commit of its own
@pytest.mark.parametrize(("batch_rows", "commit_rows"), [(500_000, 2_000_000), (5, 2_000_000), (5, 5)])
def test_duckdb_stores_the_range_by_run_then_unit_across_its_dates_and_leaves_other_dates_in_place(tmp_path, batch_rows, commit_rows):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"), cluster_batch_rows=batch_rows, cluster_commit_rows=commit_rows)
    assert warehouse.cluster_dates("bm_unit_period", DAYS[0], DAYS[1]) == 0  # nothing written yet: nothing to do
    load(warehouse)
    before = stored_order(warehouse)
    # as loaded: a partition at a time, each sorted by unit within its date
    assert before[:6] == [("SF", u, DAYS[0], p) for u in sorted(UNITS) for p in (1, 2)]

    assert warehouse.cluster_dates("bm_unit_period", DAYS[0], DAYS[1]) == 2 * 2 * 3 * 2
    after = stored_order(warehouse)
    untouched = [r for r in before if r[2] == DAYS[2]]
    clustered = [(run, u, d, p) for run in ("R1", "SF") for u in sorted(UNITS) for d in DAYS[:2] for p in (1, 2)]
    assert after == untouched + clustered  # the range's new copy after the rows it did not touch
    keys = rows_of(warehouse)
    assert len(keys) == len(set(keys)) == 3 * 2 * 3 * 2  # no row lost or doubled: each key once


def test_duckdb_clustering_that_stops_between_commits_keeps_every_row_once(tmp_path, monkeypatch):
    """A run that fails after its first commit: the units committed are stored by unit, the rest
    as they were, and no row is lost or doubled."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"), cluster_batch_rows=5, cluster_commit_rows=5)
    load(warehouse)
    stored = rows(warehouse)
    commits = 0
    committed = DuckDBWarehouse._committed

    def failing_second(self, con):
        nonlocal commits
        commits += 1
        if commits == 2:
            raise OSError("disk gone")
        return committed(self, con)

    monkeypatch.setattr(DuckDBWarehouse, "_committed", failing_second)
    with pytest.raises(OSError, match="disk gone"):
        warehouse.cluster_dates("bm_unit_period", DAYS[0], DAYS[1])
    monkeypatch.undo()
    assert rows(warehouse) == stored
    first_unit = [r for r in stored_order(warehouse) if r[:2] == ("R1", sorted(UNITS)[0]) and r[2] in DAYS[:2]]
    assert first_unit == stored_order(warehouse)[-4:]  # the first batch moved to the end, by unit
    assert warehouse.cluster_dates("bm_unit_period", DAYS[0], DAYS[1]) == 2 * 2 * 3 * 2  # run again: the whole range
    assert rows(warehouse) == stored


def rows_of(warehouse: DuckDBWarehouse) -> list[tuple]:
    return [tuple(r.values()) for r in warehouse.query("SELECT settlement_date, run_type, bm_unit_id, settlement_period "
                                                        "FROM p114.bm_unit_period ORDER BY ALL").to_pylist()]  # fmt: skip


def test_bigquery_leaves_clustering_to_its_own_storage(bq_warehouse):
    load(bq_warehouse)
    stored = rows(bq_warehouse)
    assert bq_warehouse.cluster_dates("bm_unit_period", DAYS[0], DAYS[-1]) == 0
    assert rows(bq_warehouse) == stored


def test_duckdb_clustering_one_run_type_leaves_the_other_runs_where_they_are(tmp_path):
    """The sensor's run for a month that R1 completed re-stores R1's rows only: SF's stay as they
    were stored, and every row is kept."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"), cluster_batch_rows=5)
    load(warehouse)
    stored, before = rows(warehouse), stored_order(warehouse)

    assert warehouse.cluster_dates("bm_unit_period", DAYS[0], DAYS[1], run_type="R1") == 2 * 3 * 2
    after = stored_order(warehouse)
    assert [r for r in after if r[0] == "SF"] == [r for r in before if r[0] == "SF"]  # as loaded: a date at a time
    r1_clustered = [("R1", u, d, p) for u in sorted(UNITS) for d in DAYS[:2] for p in (1, 2)]
    assert after[-len(r1_clustered):] == r1_clustered
    assert rows(warehouse) == stored
