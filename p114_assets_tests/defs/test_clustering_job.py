"""The cluster_months job: a month of bm_unit_period re-stored by run type and BM unit in a real
Dagster run, holding the warehouse pool; the sensor, on by default, that requests a month once
every date of it is loaded for a run type."""

import datetime as dt

import dagster as dg

from p114_assets.defs.partitions import partition_key
from p114_assets.definitions import defs as code_location
from p114_assets.defs.settlement.clustering import COMPLETE_RUN_TYPE_TAG, cluster_loaded_months, cluster_months, complete_months
from p114_assets.defs.table_assets import WAREHOUSE_POOL
from p114_assets.warehouse.duckdb import DuckDBWarehouse
from p114_assets_tests.warehouse.test_cluster import DAYS, UNITS, load, rows, stored_order


def test_a_run_of_a_month_stores_its_rows_by_run_then_unit_and_keeps_every_row(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    load(warehouse)  # June 1-3, SF and R1, three units, two periods
    before = rows(warehouse)
    result = cluster_months.execute_in_process(partition_key="2024-06-01", resources={"warehouse": warehouse})
    assert result.success
    assert result.output_for_node("cluster_month") == 3 * 2 * 3 * 2
    assert rows(warehouse) == before
    assert stored_order(warehouse) == [(run, u, d, p) for run in ("R1", "SF") for u in sorted(UNITS) for d in DAYS for p in (1, 2)]
    # a month with no rows, and a warehouse with no bm_unit_period yet: nothing to do
    assert cluster_months.execute_in_process(partition_key="2024-07-01", resources={"warehouse": warehouse}).output_for_node("cluster_month") == 0
    empty = DuckDBWarehouse(path=str(tmp_path / "empty.duckdb"))
    assert cluster_months.execute_in_process(partition_key="2024-06-01", resources={"warehouse": empty}).output_for_node("cluster_month") == 0


def test_a_run_the_sensor_requested_for_a_run_type_re_stores_that_run_type_only(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    load(warehouse)
    before, order = rows(warehouse), stored_order(warehouse)
    result = cluster_months.execute_in_process(partition_key="2024-06-01", resources={"warehouse": warehouse},
                                               tags={COMPLETE_RUN_TYPE_TAG: "SF"})  # fmt: skip
    assert result.output_for_node("cluster_month") == 3 * 3 * 2
    assert rows(warehouse) == before
    after = stored_order(warehouse)
    assert [r for r in after if r[0] == "R1"] == [r for r in order if r[0] == "R1"]  # R1 left as loaded
    assert after[-18:] == [("SF", u, d, p) for u in sorted(UNITS) for d in DAYS for p in (1, 2)]


def test_the_job_holds_the_warehouse_pool_and_its_sensor_starts_on():
    assert cluster_months.graph.node_defs[0].pool == WAREHOUSE_POOL  # DuckDB takes one writer
    assert cluster_loaded_months.default_status == dg.DefaultSensorStatus.RUNNING
    assert cluster_loaded_months.job_name == "cluster_months"


def _keys(first: dt.date, days: int, run_type: str) -> list[str]:
    return [str(partition_key(first + dt.timedelta(days=i), run_type)) for i in range(days)]


def test_a_month_is_complete_once_every_date_of_it_has_the_run_type():
    months = ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert complete_months(_keys(dt.date(2024, 2, 1), 28, "SF"), months) == []  # 2024 is a leap year: 29 dates
    assert complete_months(_keys(dt.date(2024, 2, 1), 29, "SF"), months) == [("2024-02-01", "SF")]
    # a month of R1 dates does not complete the SF month; a month outside the partitions is not asked for
    loaded = _keys(dt.date(2024, 1, 1), 31, "R1") + _keys(dt.date(2024, 1, 2), 30, "SF") + _keys(dt.date(2024, 4, 1), 30, "SF")
    assert complete_months(loaded, months) == [("2024-01-01", "R1")]


def _tick(instance: dg.DagsterInstance, cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=code_location)
    result = cluster_loaded_months.evaluate_tick(context)
    return list(result.run_requests or []), result.cursor


def _load(instance: dg.DagsterInstance, keys: list[str]) -> None:
    for key in keys:
        instance.report_runless_asset_event(dg.AssetMaterialization("bm_unit_period", partition=key))


def test_the_sensor_requests_a_month_once_its_last_date_is_loaded_and_once_more_per_run_type():
    with dg.instance_for_test() as instance:
        _load(instance, _keys(dt.date(2024, 6, 1), 29, "SF") + _keys(dt.date(2024, 7, 1), 30, "SF"))
        requests, cursor = _tick(instance, None)
        assert requests == []  # June lacks its 30th, July its 31st
        _load(instance, _keys(dt.date(2024, 6, 30), 1, "SF"))
        requests, cursor = _tick(instance, cursor)
        assert [(r.partition_key, r.run_key) for r in requests] == [("2024-06-01", "2024-06-01|SF")]
        assert _tick(instance, cursor)[0] == []  # once: a date re-loaded later does not request it again
        _load(instance, _keys(dt.date(2024, 6, 1), 30, "R1"))  # the R1 run of every date, months later
        requests, cursor = _tick(instance, cursor)
        assert [(r.partition_key, r.run_key) for r in requests] == [("2024-06-01", "2024-06-01|R1")]


def test_the_sensor_is_idle_on_bigquery(monkeypatch):
    monkeypatch.setenv("P114_WAREHOUSE", "bigquery")
    with dg.instance_for_test() as instance:
        _load(instance, _keys(dt.date(2024, 6, 1), 30, "SF"))
        context = dg.build_sensor_context(instance=instance, definitions=code_location)
        assert cluster_loaded_months.evaluate_tick(context).run_requests == []
        assert "BigQuery" in cluster_loaded_months.evaluate_tick(context).skip_message
