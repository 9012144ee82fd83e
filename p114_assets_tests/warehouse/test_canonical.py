"""Canonical settlement as a view over a pointer table, loaded_runs and is_stale, the UTC period
times, and bringing a warehouse an earlier release built up to date: on DuckDB files and on the
BigQuery emulator with the real client."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from p114_assets.core.synthetic import generate_file
from p114_assets.core.s0142.parser import parse_bytes
from p114_assets.core.settlement import period_start_utc
from p114_assets.warehouse import sql
from p114_assets.warehouse.duckdb import DuckDBWarehouse
from p114_assets.warehouse.tables import SETTLEMENT_TABLES, TABLES

DAY = dt.date(2024, 5, 1)
UTC = dt.timezone.utc


@pytest.fixture(params=["duckdb", "bigquery"])
def warehouse(request, tmp_path):
    if request.param == "duckdb":
        return DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    return request.getfixturevalue("bq_warehouse")


def parsed(market, day: dt.date, run_type: str, restamp: str | None = None) -> dict[str, pa.Table]:
    generated = generate_file(market, day, run_type)
    tables = parse_bytes(generated.text, generated.file_name.name).tables
    if restamp:  # the same run published again, later
        stamp = dt.datetime.strptime(restamp, "%Y%m%d%H%M%S")
        tables = {n: t.set_column(t.schema.get_field_index("publication_ts"), t.schema.field("publication_ts"),
                                  pa.array([stamp] * t.num_rows, t.schema.field("publication_ts").type))
                  for n, t in tables.items()}  # fmt: skip
    return tables


def canonical(warehouse) -> pl.DataFrame:
    return pl.from_arrow(warehouse.query(
        "SELECT settlement_date, run_type, publication_ts, is_stale, COUNT(*) AS n FROM p114.settlement_canonical "
        "GROUP BY settlement_date, run_type, publication_ts, is_stale")).with_columns(pl.col("publication_ts").cast(pl.Datetime("us")))  # fmt: skip


def refresh(warehouse, day: dt.date = DAY) -> int:
    return warehouse.replace_dates("settlement_canonical_runs", day, day, sql.canonical_runs(day, day))


def test_canonical_reads_the_pointed_run_and_says_when_a_more_mature_one_has_landed(warehouse, small_market):
    ii, sf = parsed(small_market, DAY, "II"), parsed(small_market, DAY, "SF")
    n = ii["bm_unit_period"].num_rows
    warehouse.replace_partition(ii, DAY, "II")
    assert refresh(warehouse) == 1  # one pointer row per date
    assert canonical(warehouse).select("run_type", "is_stale", "n").rows() == [("II", False, n)]

    warehouse.replace_partition(sf, DAY, "SF")  # lands; canonical has not been refreshed yet
    assert canonical(warehouse).select("run_type", "is_stale", "n").rows() == [("II", True, n)]
    assert warehouse.query("SELECT run_type FROM p114.loaded_runs ORDER BY run_type").column("run_type").to_pylist() == ["II", "SF"]

    refresh(warehouse)
    assert canonical(warehouse).select("run_type", "is_stale", "n").rows() == [("SF", False, n)]
    rows = pl.from_arrow(warehouse.query("SELECT * FROM p114.settlement_canonical"))
    assert rows.columns == TABLES["settlement_canonical"].column_names

    # SF published again with a later stamp: the view shows the new rows at once (never an empty date)
    warehouse.replace_partition(parsed(small_market, DAY, "SF", restamp="20240601120000"), DAY, "SF")
    assert canonical(warehouse).select("run_type", "publication_ts", "is_stale", "n").rows() == [
        ("SF", dt.datetime(2024, 6, 1, 12), False, n)]
    refresh(warehouse)
    pointer = warehouse.query("SELECT run_type, publication_ts FROM p114.settlement_canonical_runs").to_pylist()
    assert [(p["run_type"], p["publication_ts"].replace(tzinfo=None)) for p in pointer] == [("SF", dt.datetime(2024, 6, 1, 12))]


def test_canonical_is_a_view_nothing_is_copied(warehouse, small_market):
    warehouse.replace_partition(parsed(small_market, DAY, "SF"), DAY, "SF")
    refresh(warehouse)
    if isinstance(warehouse, DuckDBWarehouse):
        kinds = dict(duckdb.connect(warehouse.path, read_only=True).sql(  # the file opened as a user would
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'p114'").fetchall())
        assert kinds["settlement_canonical"] == "VIEW" and kinds["settlement_canonical_runs"] == "BASE TABLE"
        with duckdb.connect(warehouse.path, read_only=True) as con:
            assert con.sql("SELECT count(*) FROM p114.p114.settlement_canonical").fetchone()[0] == 60 * 48
    else:
        with warehouse.bigquery.get_client() as client:
            view = client.get_table(f"{warehouse.bigquery.project}.{warehouse.dataset}.settlement_canonical")
        assert view.table_type == "VIEW", view.table_type  # (the emulator does not echo view_query back)


def test_the_view_passes_settlement_date_straight_from_the_partitioned_table():
    """BigQuery prunes a view's partitions only when the filter reaches the partitioning column
    itself: the view's settlement_date must be bm_unit_period's, not an expression or the pointer's."""
    view = sqlglot.parse_one(sql.canonical_view(TABLES["bm_unit_period"].column_names), read="duckdb")
    sources = {t.alias_or_name: t.name for t in view.find_all(exp.Table)}
    date = next(p for p in view.selects if p.alias_or_name == "settlement_date")
    assert isinstance(date, exp.Column) and sources[date.table] == "bm_unit_period"
    assert [s.alias_or_name for s in view.selects] == TABLES["settlement_canonical"].column_names


@pytest.mark.parametrize("day, periods", [(dt.date(2024, 3, 31), 46), (dt.date(2024, 10, 27), 50)])
def test_every_table_with_settlement_period_carries_its_utc_times_on_clock_change_days(warehouse, small_market, day, periods):
    warehouse.replace_partition(parsed(small_market, day, "SF"), day, "SF")
    refresh(warehouse, day)
    warehouse.replace_dates("vlp_revenue_period", day, day, sql.vlp_revenue_period(day, day))
    expected = [(p, period_start_utc(day, p), period_start_utc(day, p) + dt.timedelta(minutes=30)) for p in range(1, periods + 1)]
    assert all({"period_start_utc", "period_end_utc"} <= set(t.column_names) for t in TABLES.values()
               if "settlement_period" in t.column_names)  # market tables too (filled by their own converters)
    with_periods = [n for n, t in SETTLEMENT_TABLES.items() if "settlement_period" in t.column_names and n != "run_reconciliation"]
    assert len(with_periods) == 8  # six raw tables, canonical, vlp_revenue_period (reconciliation: no pair of runs here)
    for name in with_periods:
        assert TABLES[name].column_names.index("period_start_utc") == TABLES[name].column_names.index("settlement_period") + 1
        got = warehouse.query(f"SELECT DISTINCT settlement_period, period_start_utc, period_end_utc FROM p114.{name} "
                              f"ORDER BY settlement_period").to_pylist()  # fmt: skip
        got = [(r["settlement_period"], r["period_start_utc"], r["period_end_utc"]) for r in got]
        assert got == [e for e in expected if e[0] in {g[0] for g in got}], name  # BO4: only periods with pairs
        if name in ("system_period", "bm_unit_period", "settlement_canonical"):
            assert got == expected, name


def test_a_warehouse_built_by_an_earlier_release_is_converted_on_first_use(tmp_path, small_market):
    """A canonical table that copied rows, raw tables without period times, no loaded_runs: the next
    write turns the copy into pointer rows and the view, fills the period times, lists the runs."""
    path = tmp_path / "p114.duckdb"
    warehouse = DuckDBWarehouse(path=str(path))
    old_day, new_day = dt.date(2024, 3, 31), dt.date(2024, 4, 1)
    warehouse.replace_partition(parsed(small_market, old_day, "II"), old_day, "II")
    warehouse.replace_partition(parsed(small_market, old_day, "SF"), old_day, "SF")
    with duckdb.connect(str(path)) as con:  # make it look like the earlier release's file
        con.execute("DROP TABLE p114.p114.loaded_runs")
        for name in TABLES:
            if "period_start_utc" in TABLES[name].column_names and name in {r[0] for r in con.sql(
                    "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()}:  # fmt: skip
                con.execute(f"ALTER TABLE p114.p114.{name} DROP COLUMN period_start_utc")
                con.execute(f"ALTER TABLE p114.p114.{name} DROP COLUMN period_end_utc")
        # the earlier release chose II here (say SF had failed a check): the conversion keeps that choice
        con.execute("CREATE TABLE p114.p114.settlement_canonical AS SELECT * FROM p114.p114.bm_unit_period WHERE run_type = 'II'")

    warehouse.replace_partition(parsed(small_market, new_day, "SF"), new_day, "SF")  # first use
    kinds = {r["table_name"]: r["table_type"] for r in warehouse.query(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'p114'").to_pylist()}
    assert kinds["settlement_canonical"] == "VIEW" and "settlement_canonical_copy" not in kinds
    assert canonical(warehouse).select("settlement_date", "run_type", "is_stale").rows() == [(old_day, "II", True)]
    assert warehouse.query("SELECT settlement_date, run_type FROM p114.loaded_runs ORDER BY ALL").to_pylist() == [
        {"settlement_date": old_day, "run_type": "II"}, {"settlement_date": old_day, "run_type": "SF"},
        {"settlement_date": new_day, "run_type": "SF"}]
    missing = warehouse.query("SELECT COUNT(*) AS n FROM p114.bm_unit_period WHERE period_start_utc IS NULL").column("n")[0].as_py()
    assert missing == 0
    spring = warehouse.query("SELECT MAX(period_end_utc) AS e FROM p114.system_period WHERE settlement_date = DATE '2024-03-31'")
    assert spring.column("e")[0].as_py() == dt.datetime(2024, 3, 31, 23, 0, tzinfo=UTC)  # 46 periods, filled by core's rule



def test_the_derived_sql_of_a_range_never_holds_the_range_s_unit_periods_in_memory(tmp_path, small_market):
    """DuckDB materializes (holds whole in memory) a view or a CTE that a query reads twice: read
    twice, settlement_canonical over 30 real-scale dates took ~700 MB and the reconciliation's unit
    rows ~400 MB (issue 14). The SQL that reads every unit-period of a range reads it once, so it
    streams. (Whether DuckDB materializes also depends on the rows' count, so the view's reads are
    counted in the SQL, the CTEs in the plan.)"""
    days = [DAY + dt.timedelta(days=i) for i in range(3)]
    first, last = days[0], days[-1]
    marts = {"vlp_revenue_period": sql.vlp_revenue_period(first, last), "vlp_party_daily": sql.vlp_party_daily(first, last),
             "unit_classification": sql.unit_classification(days, sql.Thresholds())}  # fmt: skip
    for name, select in marts.items():
        views = [t for t in sqlglot.parse_one(select, read="duckdb").find_all(exp.Table) if t.name == "settlement_canonical"]
        assert len(views) == 1, f"{name} reads settlement_canonical {len(views)} times"

    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    for day in days:
        for run_type in ("II", "SF"):
            warehouse.replace_partition(parsed(small_market, day, run_type), day, run_type)
    warehouse.replace_dates("settlement_canonical_runs", first, last, sql.canonical_runs(first, last))
    with warehouse.connect(read_only=True) as con:
        for name, select in {"run_reconciliation": sql.run_reconciliation(first, last), **marts}.items():
            plan = "\n".join(row[1] for row in con.execute(f"EXPLAIN {select}").fetchall())
            held = [line.split("CTE Name:")[1].strip(" │") for line in plan.splitlines() if "CTE Name:" in line]
            assert "unit" not in held, f"{name} holds the unit-periods of the range ({held}) in memory"
