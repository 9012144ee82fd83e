"""The cluster_months job: a month of bm_unit_period re-stored by run type and BM unit in a real
Dagster run, holding the warehouse pool; the schedule that runs it is off until turned on."""

import dagster as dg

from p114_assets.defs.settlement.clustering import cluster_last_month, cluster_months
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


def test_the_job_holds_the_warehouse_pool_and_its_schedule_starts_off():
    assert cluster_months.graph.node_defs[0].pool == WAREHOUSE_POOL  # DuckDB takes one writer
    assert cluster_last_month.default_status == dg.DefaultScheduleStatus.STOPPED
