"""Runs heal themselves (issue 15, failure 2): a run whose process is gone is marked failed and its
pool slots freed; a live one is never touched; a command waiting for the pool says which run holds
it and gives up after its time, interrupting its own run if Dagster's executor is the one waiting.

Real Dagster instances (SQLite storage, the `warehouse` pool limited to one slot), real processes
as run workers (killed with SIGKILL), real in-process runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

from p114_assets.app.pool_wait import PoolGate, PoolWaitTimeout
from p114_assets.defs.run_health import (
    HOST_TAG, LAUNCHED_BY_TAG, PID_REUSE_SLACK_SECONDS, PID_TAG, Worker, heal_dead_runs, pool_holders, worker_status,
)  # fmt: skip
from p114_assets.defs.run_launcher import LocalRunLauncher

POOL = "warehouse"


@pytest.fixture
def instance():
    with dg.instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance:
        yield instance


@pytest.fixture
def worker():
    """A real process standing for a run's worker; killed at the end if the test did not."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(10)


def kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)


def holding_run(instance, pid: int, launched_by: str = "p114 materialize") -> str:
    """A STARTED run of process `pid` on this host, holding the pool's one slot."""
    import socket

    run = create_run_for_test(instance, job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED,
                              tags={PID_TAG: str(pid), HOST_TAG: socket.gethostname(), LAUNCHED_BY_TAG: launched_by})  # fmt: skip
    storage = instance.event_log_storage
    storage.set_concurrency_slots(POOL, 1)
    assert storage.claim_concurrency_slot(POOL, run.run_id, "raw_tables").is_claimed
    return run.run_id


def status(instance, run_id: str) -> dg.DagsterRunStatus:
    return instance.get_run_by_id(run_id).status


def claimed(instance) -> list[str]:
    return [s.run_id for s in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots]


def test_a_killed_run_is_marked_failed_and_frees_its_slot(instance, worker):
    run_id = holding_run(instance, worker.pid)
    assert heal_dead_runs(instance) == []  # alive: untouched
    assert status(instance, run_id) == dg.DagsterRunStatus.STARTED and claimed(instance) == [run_id]
    kill(worker)
    healed = heal_dead_runs(instance)
    assert [(h.run_id, h.status, h.slots) for h in healed] == [(run_id, "FAILURE", 1)]
    assert status(instance, run_id) == dg.DagsterRunStatus.FAILURE
    assert claimed(instance) == []
    assert heal_dead_runs(instance) == []  # once


def test_a_zombie_worker_is_dead(instance):
    """A killed worker its parent has not reaped yet (a code server's run) still has a pid."""
    zombie = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        run_id = holding_run(instance, zombie.pid)
        os.kill(zombie.pid, signal.SIGKILL)
        time.sleep(0.5)  # not waited for: a zombie
        record = instance.get_run_records(dg.RunsFilter(run_ids=[run_id]))[0]
        assert worker_status(instance, record, local_launcher=False) is Worker.DEAD
    finally:
        zombie.wait(10)


def test_a_process_that_reused_the_pid_later_does_not_keep_a_dead_run_alive(instance):
    import socket

    run = create_run_for_test(instance, job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED)
    # past the slack by more than psutil's error: a process's start is read against the boot time
    # in whole seconds, up to 1 s early (0.54 s on the machine where +0.5 s made this fail)
    time.sleep(PID_REUSE_SLACK_SECONDS + 1.5)
    newer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # created after the run
    try:
        instance.add_run_tags(run.run_id, {PID_TAG: str(newer.pid), HOST_TAG: socket.gethostname()})
        record = instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id]))[0]
        assert worker_status(instance, record, local_launcher=False) is Worker.DEAD
    finally:
        kill(newer)


def test_a_run_of_another_host_or_without_a_pid_is_never_failed(instance):
    other = create_run_for_test(instance, job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED,
                                tags={PID_TAG: "999999", HOST_TAG: "another-host"})  # fmt: skip
    launched = create_run_for_test(instance, job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED)
    assert heal_dead_runs(instance, local_launcher=True) == []
    assert status(instance, other.run_id) == status(instance, launched.run_id) == dg.DagsterRunStatus.STARTED


def test_a_launched_run_is_judged_by_the_pid_its_worker_recorded(instance, worker):
    """Runs launched by the daemon record "Started process for run (pid: N)"; the local launcher's
    health check (what Dagster's run monitoring calls) answers from it."""
    from dagster._core.events import EngineEventData

    run = create_run_for_test(instance, job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED)
    instance.report_engine_event(f"Started process for run (pid: {worker.pid}).", run, EngineEventData.in_process(worker.pid))
    launcher = LocalRunLauncher()
    launcher.register_instance(instance)
    assert launcher.supports_check_run_worker_health
    assert launcher.check_run_worker_health(run).status == dg._core.launcher.WorkerStatus.RUNNING
    kill(worker)
    assert launcher.check_run_worker_health(run).status == dg._core.launcher.WorkerStatus.FAILED
    assert heal_dead_runs(instance, local_launcher=False) == []  # not trusted unless the runs are local processes
    assert [h.run_id for h in heal_dead_runs(instance, local_launcher=True)] == [run.run_id]


def test_a_finished_run_still_holding_a_slot_frees_it(instance, worker):
    run_id = holding_run(instance, worker.pid)
    instance.report_run_failed(instance.get_run_by_id(run_id), "failed without releasing")
    assert claimed(instance) == [run_id]
    assert [(h.run_id, h.slots) for h in heal_dead_runs(instance)] == [(run_id, 1)]
    assert claimed(instance) == []


def test_waiting_for_a_live_holder_says_which_run_and_gives_up(instance, worker):
    run_id = holding_run(instance, worker.pid)
    said: list[str] = []
    started = time.monotonic()
    with pytest.raises(PoolWaitTimeout) as raised:
        PoolGate(instance, POOL, timeout=1.5, say=said.append, poll=0.2).wait_free()
    assert 1.4 < time.monotonic() - started < 10
    assert said == [f"waiting for the warehouse pool slot held by run {run_id[:8]} (p114 materialize, started "
                    + said[0].split("started ")[1]]  # fmt: skip
    assert f"pid {worker.pid}" in said[0] and "giving up after 1.5 s (P114_POOL_WAIT_SECONDS)" in said[0]
    message = str(raised.value)
    assert message.startswith(f"gave up after 1.5 s waiting for the warehouse pool slot held by run {run_id[:8]} (")
    assert "P114_POOL_WAIT_SECONDS" in message and "\n" not in message
    assert status(instance, run_id) == dg.DagsterRunStatus.STARTED and claimed(instance) == [run_id]  # a live run is left alone


def test_a_holder_that_dies_while_a_command_waits_is_healed_and_the_wait_ends(instance, worker):
    run_id = holding_run(instance, worker.pid)
    said: list[str] = []
    threading.Timer(1.0, kill, args=(worker,)).start()
    started = time.monotonic()
    PoolGate(instance, POOL, timeout=60, say=said.append, poll=0.2).wait_free()
    assert time.monotonic() - started < 10
    assert said[0].startswith("waiting for the warehouse pool slot held by run")
    assert said[-1] == f"run {run_id[:8]} (p114 materialize) died without finishing: marked FAILURE, 1 pool slot(s) freed"
    assert pool_holders(instance, POOL) is None


@dg.asset(pool=POOL)
def writes_the_warehouse() -> None:
    """A step of the warehouse pool."""


def test_a_run_that_finds_the_slot_taken_after_the_check_says_so_and_is_interrupted(instance, worker):
    """The race: the slot is free when checked, then taken before the run claims it. Dagster's
    executor would wait in silence; the watcher says so and gives up after the wait."""
    said: list[str] = []
    gate = PoolGate(instance, POOL, timeout=2, say=said.append, poll=0.2)
    gate.wait_free()  # free now
    run_id = holding_run(instance, worker.pid)  # taken now
    started = time.monotonic()
    with pytest.raises(PoolWaitTimeout, match=f"gave up after 2 s waiting for the warehouse pool slot held by run {run_id[:8]}"):
        with gate.watching() as tags:
            dg.materialize([writes_the_warehouse], instance=instance, tags=tags, raise_on_error=False,
                           run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
    assert time.monotonic() - started < 30
    assert any(m.startswith(f"waiting for the warehouse pool slot held by run {run_id[:8]}") for m in said), said
    ours = [r for r in instance.get_run_records() if r.dagster_run.run_id != run_id]
    assert len(ours) == 1 and ours[0].dagster_run.is_finished
    info = instance.event_log_storage.get_concurrency_info(POOL)
    assert ours[0].dagster_run.run_id not in {s.run_id for s in info.pending_steps}  # its claim withdrawn
    assert claimed(instance) == [run_id]


def test_an_in_memory_instance_is_not_watched_for_pool_waits():
    """`p114 materialize` without DAGSTER_HOME: no other run can hold its pool, and a watcher thread
    reading the in-memory SQLite beside the run once made the run's status write fail."""
    with dg.DagsterInstance.ephemeral() as instance:
        with PoolGate(instance, "warehouse", 60).watching() as tags:
            assert tags  # the run is still tagged
            assert not [t for t in threading.enumerate() if t.name == "p114-pool-watch"]
    with dg.instance_for_test() as instance:  # a persistent instance is watched
        with PoolGate(instance, "warehouse", 60).watching():
            assert [t for t in threading.enumerate() if t.name == "p114-pool-watch"]
