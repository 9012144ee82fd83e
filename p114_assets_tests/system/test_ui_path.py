"""The path users take, in a running Dagster: runs and asset backfills launched through GraphQL
(what the UI calls), check results per partition in every run shape, blocking checks failing runs
and backfills, automation refreshing derived tables, alerts reaching a webhook, `p114 status`.

One webserver + daemon serves every test (see conftest.py); each test uses its own settlement
dates, so the order of the tests does not matter.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from click.testing import CliRunner

from p114_assets.app.cli import main
from p114_assets.defs.executor import FREED_SLOT, TOOK_SLOT
from p114_assets.defs.partitions import settlement_run_partitions
from p114_assets.warehouse.duckdb import DuckDBWarehouse
from p114_assets_tests.system.conftest import BAD, FIRST_DATE, GOOD, RAW, UNITS, System, key, raw_check_keys, run_partition
from p114_assets_tests.system.harness import wait_for

pytestmark = pytest.mark.slow

BM_CHECKS = ["periods_per_day", "every_unit_every_period", "no_duplicate_unit_periods", "bpi_matches_bp7", "schema", "value_ranges"]
CHUNK = [dt.date(2025, 3, 5), dt.date(2025, 3, 6), dt.date(2025, 3, 7)]  # the middle one is bad
SWITCH = dt.date(2025, 3, 10)  # SF, then R1 lands
RANGE = [dt.date(2025, 3, 11), dt.date(2025, 3, 12)]
STAGES = [dt.date(2025, 6, 2), dt.date(2025, 6, 3), dt.date(2025, 6, 4)]  # no other test's date within 30 days


def latest_execution(system: System, check: str, partition: str, asset: str = "bm_unit_period") -> dict:
    executions = system.graphql.check_executions(asset, check, partition=partition, limit=1)
    assert executions, f"no execution of {asset}:{check} for {partition}"
    return executions[0]


def assert_checks_of_partition(system: System, partition: str, failed: set[str]) -> None:
    """Every bm_unit_period check has an evaluation stored for this partition: the failed ones
    FAILED, every other one SUCCEEDED (not "execution failed", not a partition-less result)."""
    for check in BM_CHECKS:
        execution = latest_execution(system, check, partition)
        assert execution["evaluation"] is not None, f"{check} of {partition}: {execution['status']}, no evaluation"
        assert execution["evaluation"]["partition"] == partition
        assert execution["status"] == ("FAILED" if check in failed else "SUCCEEDED"), (check, execution)


def test_a_single_partition_run_records_every_check_on_its_partition_in_one_process(system, good_run):
    assert good_run["status"] == "SUCCESS"
    assert_checks_of_partition(system, key(GOOD, "SF"), failed=set())
    # the run executed its steps in its own process, not a process per step
    events = system.graphql.query(
        """query Events($id: ID!) { logsForRun(runId: $id) { __typename
             ... on EventConnection { events { __typename ... on MessageEvent { message } } } } }""",
        id=good_run["runId"],
    )["logsForRun"]["events"]
    messages = [e.get("message", "") for e in events]
    assert any("in process" in m for m in messages) and not any("multiprocess" in m for m in messages), messages[:5]


def test_a_failed_blocking_check_of_a_one_partition_backfill_fails_run_and_backfill(system, bad_backfill):
    assert bad_backfill["status"] == "COMPLETED_FAILED", bad_backfill
    assert [r["status"] for r in bad_backfill["runs"]] == ["FAILURE"]
    assert_checks_of_partition(system, key(BAD, "SF"), failed={"periods_per_day", "every_unit_every_period"})
    failed_runs = system.graphql.runs(tags={"dagster/backfill": bad_backfill["id"]}, statuses=["FAILURE"])
    assert [r["runId"] for r in failed_runs] == [bad_backfill["runs"][0]["runId"]]


def test_a_chunk_loads_its_good_partitions_and_fails_only_the_bad_one(system):
    for day in CHUNK:
        system.write(day, "SF", periods=47 if day == CHUNK[1] else None)
    backfill_id = system.graphql.launch_backfill(RAW, [key(d, "SF") for d in CHUNK], title="a chunk with a bad partition")
    backfill = system.graphql.wait_backfill(backfill_id)
    assert backfill["status"] == "COMPLETED_FAILED"
    assert len(backfill["runs"]) == 1 and backfill["runs"][0]["status"] == "FAILURE"  # one chunk of three
    tags = {t["key"]: t["value"] for t in backfill["runs"][0]["tags"]}
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (key(CHUNK[0], "SF"), key(CHUNK[-1], "SF"))
    assert_checks_of_partition(system, key(CHUNK[1], "SF"), failed={"periods_per_day", "every_unit_every_period"})
    for day in (CHUNK[0], CHUNK[2]):
        assert_checks_of_partition(system, key(day, "SF"), failed=set())
    status = system.graphql.query(
        """query Status($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill {
             partitionStatuses { results { partitionName runStatus } } } } }""", id=backfill_id)  # fmt: skip
    by_partition = {r["partitionName"]: r["runStatus"] for r in status["partitionBackfillOrError"]["partitionStatuses"]["results"]} \
        if status["partitionBackfillOrError"].get("partitionStatuses") else {}  # fmt: skip
    materialized = system.graphql.query(
        """query M($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
             assetPartitionStatuses { ... on MultiPartitionStatuses { ranges { primaryDimStartKey primaryDimEndKey
               secondaryDim { ... on DefaultPartitionStatuses { materializedPartitions failedPartitions } } } } } } } }""",
        key={"path": ["bm_unit_period"]},
    )["assetNodeOrError"]["assetPartitionStatuses"]["ranges"]
    failed_keys = {f"{r['primaryDimStartKey']}|{p}" for r in materialized for p in r["secondaryDim"]["failedPartitions"]
                   if r["primaryDimStartKey"] == r["primaryDimEndKey"]}  # fmt: skip
    assert key(CHUNK[1], "SF") in failed_keys or by_partition.get(key(CHUNK[1], "SF")) == "FAILURE", (materialized, by_partition)


def test_a_re_execution_records_its_checks_on_the_partition(system, bad_backfill):
    run_id = system.graphql.reexecute(bad_backfill["runs"][0]["runId"])
    run = system.graphql.wait_run(run_id)
    assert run["status"] == "FAILURE"
    execution = latest_execution(system, "periods_per_day", key(BAD, "SF"))
    assert execution["runId"] == run_id and execution["status"] == "FAILED"
    assert latest_execution(system, "schema", key(BAD, "SF"))["status"] == "SUCCEEDED"


def test_a_range_run_records_every_partition(system):
    for day in RANGE:
        system.write(day, "II")
    tags = {"dagster/asset_partition_range_start": key(RANGE[0], "II"), "dagster/asset_partition_range_end": key(RANGE[-1], "II")}
    run = system.graphql.wait_run(system.graphql.launch_run(RAW, tags, raw_check_keys(system)))
    assert run["status"] == "SUCCESS"
    for day in RANGE:
        assert_checks_of_partition(system, key(day, "II"), failed=set())


def slot_held(system: System, run_id: str) -> tuple[float, float]:
    """When a raw run took and freed the warehouse slot, from its log (epoch ms)."""
    events = system.graphql.query(
        """query Events($id: ID!) { logsForRun(runId: $id) { __typename ... on EventConnection {
             events { __typename ... on MessageEvent { message timestamp } } } } }""", id=run_id,
    )["logsForRun"]["events"]  # fmt: skip
    took = [float(e["timestamp"]) for e in events if e.get("message", "").startswith(TOOK_SLOT)]
    freed = [float(e["timestamp"]) for e in events if e.get("message", "").startswith(FREED_SLOT)]
    assert len(took) == len(freed) == 1, events
    return took[0], freed[0]


def test_the_warehouse_pool_keeps_the_writers_of_concurrent_runs_apart(system):
    """Runs execute their steps in one process; the `warehouse` pool (one slot) still serializes
    the DuckDB writers of different runs: with no slot free, both runs start, parse their first
    file and wait; given one slot, they write one after the other."""
    days = [dt.date(2025, 3, 17), dt.date(2025, 3, 18)]
    for day in days:
        system.write(day, "SF")
    client = system.graphql
    client.stop_sensor("p114_automation")  # its runs would also wait at the pool, holding the two run slots
    client.wait_idle()
    client.set_pool_limit("warehouse", 0)
    try:
        ids = [client.launch_run(RAW, dict(settlement_run_partitions.get_tags_for_partition_key(key(d, "SF"))), raw_check_keys(system))
               for d in days]  # fmt: skip
        wait_for("both runs to wait for a warehouse slot",
                 lambda: set(ids) <= set(client.pool("warehouse")["pendingStepRunIds"]), 240, 1)  # fmt: skip
        assert all(client.run(i)["status"] == "STARTED" for i in ids)  # both in progress at once
    finally:
        client.set_pool_limit("warehouse", 1)
        client.start_sensor("p114_automation")
    runs = [client.wait_run(i) for i in ids]
    assert [r["status"] for r in runs] == ["SUCCESS", "SUCCESS"]
    first, second = sorted(slot_held(system, i) for i in ids)
    assert first[1] <= second[0], (first, second)  # the second took the slot once the first had freed it


def canonical_runs(system: System, day: dt.date) -> set[str]:
    warehouse = DuckDBWarehouse(path=str(system.warehouse))
    if not warehouse.table_exists("settlement_canonical"):
        return set()
    rows = warehouse.query(f"SELECT DISTINCT run_type FROM p114.settlement_canonical WHERE settlement_date = DATE '{day}'").to_pylist()
    return {r["run_type"] for r in rows}


def automation_runs_for(system: System, day: dt.date) -> list[dict]:
    runs = system.graphql.runs(tags={"dagster/sensor_name": "p114_automation"})
    wanted = day.isoformat()
    found = []
    for run in runs:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        first = tags.get("dagster/partition") or tags.get("dagster/asset_partition_range_start")
        last = tags.get("dagster/partition") or tags.get("dagster/asset_partition_range_end")
        if first and first <= wanted <= last:
            found.append(run)
    return found


def test_canonical_switches_from_sf_to_r1_by_automation_alone(system):
    system.write(SWITCH, "SF")
    assert run_partition(system, SWITCH, "SF")["status"] == "SUCCESS"
    wait_for(f"automation to build canonical settlement of {SWITCH} from SF", lambda: canonical_runs(system, SWITCH) == {"SF"}, 360, 2)

    system.write(SWITCH, "R1")
    r1 = run_partition(system, SWITCH, "R1")
    assert r1["status"] == "SUCCESS"
    wait_for(f"automation to switch canonical settlement of {SWITCH} to R1", lambda: canonical_runs(system, SWITCH) == {"R1"}, 360, 2)
    # requested by one of the first two evaluations of the automation sensor that finished after
    # the R1 run ended (an evaluation that started just before may already see it)
    ticks = sorted((t for t in system.graphql.sensor_ticks("p114_automation", limit=50) if (t["endTimestamp"] or 0) >= r1["endTime"]),
                   key=lambda t: t["timestamp"])  # fmt: skip
    refreshing = {r["runId"] for r in automation_runs_for(system, SWITCH)}
    first_two = [run_id for tick in ticks[:2] for run_id in tick["runIds"]]
    assert refreshing & set(first_two), (ticks[:3], refreshing)


def test_failed_checks_and_incomplete_days_reach_the_webhook_once(system, bad_backfill, good_run):
    failed = lambda: system.webhook.alerts("check_failed", key(BAD, "SF"))  # noqa: E731
    wait_for("the check failure alerts of the bad partition", lambda: len(failed()) >= 2, 120, 1)
    checks = sorted(a["check"] for a in failed())
    # one alert per failed check and partition, though the partition was evaluated by two runs
    # (the backfill and, maybe, a re-execution): each failed evaluation is one alert
    assert {"periods_per_day", "every_unit_every_period"} <= set(checks)
    assert all(a["asset"] == "bm_unit_period" and a["severity"] == "ERROR" for a in failed() if a["asset"] == "bm_unit_period")

    def covers(alert: dict, day: dt.date, run_type: str) -> bool:
        dates, run = alert["partition"].split("|")
        first, _, last = dates.partition("..")
        return run == run_type and first <= day.isoformat() <= (last or first)

    wait_for(f"an incomplete-day alert covering R1 of {GOOD}",
             lambda: any(covers(a, GOOD, "R1") for a in system.webhook.alerts("incomplete_day")), 120, 1)  # fmt: skip
    incomplete = system.webhook.alerts("incomplete_day")
    # from the first date the warehouse holds, not 60 days before today; one alert per stretch
    assert all(a["partition"] >= FIRST_DATE.isoformat() for a in incomplete)
    assert len(incomplete) < 60, [a["partition"] for a in incomplete]


def test_status_prints_fail_for_the_bad_partition(system, bad_backfill, good_run, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(system.dagster.home))
    result = CliRunner().invoke(main, ["status", "--start", str(GOOD), "--end", str(BAD), "--warehouse", str(system.warehouse)])
    assert result.exit_code == 0, result.output
    cells = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
             for line in result.stdout.splitlines() if line.startswith("│ 2025-03-0")}  # fmt: skip
    assert cells[str(GOOD)][1] == "ok" and cells[str(BAD)][1] == "FAIL", result.stdout


BACKFILL_RUNS = """query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results {
  runId status creationTime startTime endTime assetSelection { path } } } } }"""


def test_a_backfill_of_raw_and_daily_assets_requests_each_stage_whole(system):
    """The UI's asset backfill of the raw assets of three dates and every daily table of those
    dates: the raw chunk, then, once it has ended, one run of every daily table, mart and
    classification window of the three dates (the stage is requested when the runs of the previous
    one have ended, not in fragments of what had landed at one daemon iteration)."""
    from p114_assets.app.launcher import graph_backfill_ranges, launch_asset_backfill
    from p114_assets.app.runner import DERIVED_KEYS

    for day in STAGES:
        system.write(day, "SF")
    daily = [k.to_user_string() for k in DERIVED_KEYS]
    backfill_id = launch_asset_backfill(system.graphql.url, graph_backfill_ranges([(d, "SF") for d in STAGES], RAW, daily),
                                        title="raw and daily, three dates")  # fmt: skip
    assert system.graphql.wait_backfill(backfill_id, timeout=600)["status"] == "COMPLETED_SUCCESS"
    filter_ = {"tags": [{"key": "dagster/backfill", "value": backfill_id}]}
    runs = sorted(system.graphql.query(BACKFILL_RUNS, filter=filter_)["runsOrError"]["results"], key=lambda r: r["creationTime"])
    assert [sorted(".".join(a["path"]) for a in r["assetSelection"]) for r in runs] == [sorted(RAW), sorted(daily)]
    assert runs[1]["creationTime"] >= runs[0]["endTime"]
    assert canonical_runs(system, STAGES[-1]) == {"SF"}
    for day in STAGES:
        assert_checks_of_partition(system, key(day, "SF"), failed=set())


def test_the_cluster_months_job_stores_a_month_by_unit_from_the_launchpad(system):
    """The UI's Launchpad runs cluster_months for a month of two loaded dates on the running
    instance: the run takes the warehouse pool like any writer, succeeds, and the month keeps every
    row, now stored by run type and BM unit across its dates instead of date by date. The daemon's
    cluster_loaded_months sensor (on by default) leaves that month alone: two of its 30 dates."""
    days = [dt.date(2025, 9, 1), dt.date(2025, 9, 2)]  # no other test's month
    for day in days:
        system.write(day, "SF")
        assert run_partition(system, day, "SF")["status"] == "SUCCESS"
    month = "settlement_date BETWEEN DATE '2025-09-01' AND DATE '2025-09-30'"
    keys = f"SELECT settlement_date, run_type, bm_unit_id, settlement_period, metered_volume_mwh FROM p114.bm_unit_period WHERE {month} ORDER BY ALL"
    warehouse = DuckDBWarehouse(path=str(system.warehouse))

    def units_as_stored() -> list[str]:
        return [r["bm_unit_id"] for r in warehouse.query(f"SELECT bm_unit_id FROM p114.bm_unit_period WHERE {month} ORDER BY rowid").to_pylist()]

    before = warehouse.query(keys).to_pylist()
    assert len(before) == 2 * 48 * UNITS and units_as_stored() != sorted(units_as_stored())  # date by date
    # the sensor that clusters a month by itself is on in the running daemon, and leaves a month
    # with two of its 30 dates alone
    loaded = time.time()
    ticks = system.graphql.wait_ticks("cluster_loaded_months", 1, after=loaded, timeout=60)
    assert ticks[0]["status"] == "SKIPPED" and ticks[0]["runIds"] == [] and "no month newly complete" in ticks[0]["skipReason"]
    run = system.graphql.wait_run(system.graphql.launch_job("cluster_months", {"dagster/partition": "2025-09-01"}))
    assert run["status"] == "SUCCESS"
    assert warehouse.query(keys).to_pylist() == before
    assert units_as_stored() == sorted(units_as_stored())  # a unit's rows of both dates together
