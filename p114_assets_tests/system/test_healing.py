"""Runs heal themselves, in a running Dagster (issue 15.2): the daemon's run monitoring marks a
run killed with SIGKILL failed and frees its place in the `warehouse` pool; a classification window
built before a date of it landed is rebuilt by automation alone once the date lands.

The shared webserver + daemon of conftest.py (its instance has the project's dagster.yaml: the
local run launcher and run monitoring); dates of their own."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
from collections.abc import Iterator

import dagster as dg
import duckdb
import psutil
import pytest

from p114_assets.app.event_log import instance_at
from p114_assets.defs.partitions import settlement_run_partitions
from p114_assets.warehouse.duckdb import DuckDBWarehouse
from p114_assets_tests.system.conftest import RAW, System, key, raw_check_keys, run_partition
from p114_assets_tests.system.harness import wait_for

pytestmark = pytest.mark.slow

KILLED = dt.date(2025, 3, 31)
WINDOW = [dt.date(2025, 3, 24), dt.date(2025, 3, 25)]  # the second's window is built before the first lands


def worker_pid(system: System, run_id: str) -> int | None:
    """The pid the run's worker recorded ("Started process for run (pid: N).")."""
    events = system.graphql.query(
        """query Events($id: ID!) { logsForRun(runId: $id) { __typename
             ... on EventConnection { events { __typename ... on MessageEvent { message } } } } }""", id=run_id,
    )["logsForRun"].get("events", [])  # fmt: skip
    for event in events:
        found = re.search(r"Started process for run \(pid: (\d+)\)", event.get("message") or "")
        if found:
            return int(found.group(1))
    return None


def holds_the_pool(system: System, run_id: str) -> bool:
    pool = system.graphql.pool("warehouse")
    return run_id in pool["pendingStepRunIds"] or run_id in {s["runId"] for s in pool["claimedSlots"]}


@contextlib.contextmanager
def a_run_waiting_in_the_pool(system: System, day: dt.date) -> Iterator[tuple[str, int]]:
    """(run id, pid) of a raw run of `day` launched from the UI, started, its writer waiting in the
    `warehouse` pool (no slot: the limit is 0 until the end); automation stopped meanwhile."""
    system.write(day, "SF")
    client = system.graphql
    client.stop_sensor("p114_automation")  # its runs would wait at the pool too
    client.wait_idle()
    client.set_pool_limit("warehouse", 0)
    try:
        tags = dict(settlement_run_partitions.get_tags_for_partition_key(key(day, "SF")))
        run_id = client.launch_run(RAW, tags, raw_check_keys(system))
        pid = wait_for("the run's worker to record its pid", lambda: worker_pid(system, run_id), 240, 1)
        wait_for("the run's writer to wait in the warehouse pool", lambda: holds_the_pool(system, run_id), 240, 1)
        yield run_id, pid
    finally:
        client.set_pool_limit("warehouse", 1)
        client.start_sensor("p114_automation")


def ended(system: System, run_id: str, timeout: float) -> dict:
    return wait_for("the run to end", lambda: (r := system.graphql.run(run_id))["status"] in ("FAILURE", "CANCELED", "SUCCESS") and r,
                    timeout, 1)  # fmt: skip


def test_the_daemon_marks_a_killed_run_failed_and_frees_its_place_in_the_pool(system):
    with a_run_waiting_in_the_pool(system, KILLED) as (run_id, pid):
        os.kill(pid, signal.SIGKILL)
        # run monitoring polls every 10 s (dagster_home/dagster.yaml), frees slots 5 s after the run ended
        assert ended(system, run_id, 120)["status"] == "FAILURE"
        wait_for("the killed run's place in the pool to be freed", lambda: not holds_the_pool(system, run_id), 120, 1)


TERMINATED = dt.date(2025, 3, 30)


def test_a_run_forked_warm_is_terminated_from_the_ui_and_frees_its_place_in_the_pool(system):
    """The launcher forks a run from the process that imported Dagster once (not a fresh
    interpreter of the code server), and Terminate in the UI reaches it while it waits for the
    pool: the run is canceled at once, its process exits and its place in the pool is freed."""
    client = system.graphql
    with a_run_waiting_in_the_pool(system, TERMINATED) as (run_id, pid):
        assert "multiprocessing.forkserver" in " ".join(psutil.Process(pid).parent().cmdline())
        assert {"key": "p114/worker", "value": "forked"} in client.run(run_id)["tags"]
        result = client.query("""mutation T($id: String!) { terminateRun(runId: $id) { __typename
                                   ... on TerminateRunFailure { message } ... on PythonError { message } } }""", id=run_id)  # fmt: skip
        assert result["terminateRun"]["__typename"] == "TerminateRunSuccess", result
        # within run monitoring's cancel timeout (60 s), which would mark it canceled with its process still waiting
        assert ended(system, run_id, 30)["status"] == "CANCELED"
        wait_for("the canceled run's place in the pool to be freed", lambda: not holds_the_pool(system, run_id), 120, 1)
        wait_for("the run's process to exit", lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 30, 1)


def failures(system: System, run_id: str) -> list[str]:
    """The error messages of a run's failed steps and of the run (for an assertion's message)."""
    events = system.graphql.query(
        """query Events($id: ID!) { logsForRun(runId: $id) { __typename ... on EventConnection { events { __typename
             ... on ExecutionStepFailureEvent { error { message cause { message } } } ... on RunFailureEvent { message } } } } }""", id=run_id,
    )["logsForRun"].get("events", [])  # fmt: skip
    found = []
    for event in events:
        if event["__typename"] == "ExecutionStepFailureEvent":
            found.append(((event["error"].get("cause") or {}).get("message") or event["error"]["message"]).strip())
        elif event["__typename"] == "RunFailureEvent":
            found.append(event["message"])
    return found


def window_days(system: System, day: dt.date) -> set[int]:
    try:
        table = DuckDBWarehouse(path=str(system.warehouse)).read_partition("unit_classification", day, columns=["days_with_data"])
    except duckdb.Error:  # a run is writing it: ask again
        return set()
    return set(table.column("days_with_data").to_pylist())


def has_canonical(system: System, day: dt.date) -> bool:
    try:
        warehouse = DuckDBWarehouse(path=str(system.warehouse))
        return warehouse.table_exists("settlement_canonical") and warehouse.read_partition("settlement_canonical", day).num_rows > 0
    except duckdb.Error:  # a run is writing it: ask again
        return False


def classification_runs(system: System, day: dt.date) -> list[str]:
    with instance_at(system.dagster.home) as instance:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("unit_classification"), asset_partitions=[day.isoformat()]), limit=20
        ).records
        return [r.run_id for r in records]


def test_a_window_built_before_a_date_of_it_landed_is_rebuilt_by_automation_alone(system):
    first, second = WINDOW
    system.write(second, "SF")
    assert run_partition(system, second, "SF")["status"] == "SUCCESS"
    client = system.graphql
    wait_for(f"automation to build canonical settlement of {second}", lambda: has_canonical(system, second), 360, 2)
    client.wait_idle()
    built = client.wait_run(client.launch_run(["unit_classification"], {"dagster/partition": second.isoformat()}))
    assert built["status"] == "SUCCESS", failures(system, built["runId"])
    before = window_days(system, second)  # built while the first date was still to load (other tests load earlier dates)
    assert len(before) == 1 and 1 <= min(before) < 30

    system.write(first, "SF")
    assert run_partition(system, first, "SF")["status"] == "SUCCESS"
    rebuilt = wait_for(f"automation to rebuild the window of {second} once {first} landed",
                       lambda: [r for r in classification_runs(system, second) if r != built["runId"]], 360, 2)  # fmt: skip
    tags = {t["key"]: t["value"] for t in client.run(rebuilt[0])["tags"]}
    assert tags.get("dagster/sensor_name") == "p114_automation"
    assert window_days(system, second) == {min(before) + 1}  # now with the date that landed
