"""The instance settings' run coordinator: Dagster's run limits still apply, the backfill
daemon's loop waits the configured interval, not Dagster's fixed 30 s, and an asset backfill
requests its next stage only once the runs of the previous one have ended."""

import inspect
import logging
import shutil
import threading
import time
import types
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution import asset_backfill
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
from dagster._core.storage.tags import BACKFILL_ID_TAG
from concurrent.futures import Future

from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._daemon import backfill as backfill_daemon
from dagster._daemon import controller
from dagster._daemon.backfill import execute_backfill_iteration_loop

from p114_assets.app.event_log import instance_at
from p114_assets.app import instance as instance_module
from p114_assets.app.instance import (
    DAGSTERS_BACKFILL_ITERATION, DAGSTERS_CANDIDATES, DAGSTERS_DAEMON_ITERATION, DAGSTERS_STALL_CHECK, IterationGate,
    P114RunCoordinator, candidates_unless_waiting, iteration_that_waits_for_its_stage, stall_check_that_knows_what_was_held,
)  # fmt: skip

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_interval(monkeypatch):
    monkeypatch.setattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS", controller.DEFAULT_DAEMON_INTERVAL_SECONDS)
    monkeypatch.setattr(asset_backfill, "execute_asset_backfill_iteration_inner", asset_backfill.execute_asset_backfill_iteration_inner)
    monkeypatch.setattr(asset_backfill, "_backfill_is_stalled", asset_backfill._backfill_is_stalled)
    monkeypatch.setattr(asset_backfill, "_get_candidate_asset_graph_subset", asset_backfill._get_candidate_asset_graph_subset)
    monkeypatch.setattr(backfill_daemon, "execute_backfill_iteration", backfill_daemon.execute_backfill_iteration)
    monkeypatch.setattr(instance_module.gate, "interval", instance_module.gate.interval)
    monkeypatch.setattr(instance_module.gate, "last", None)
    monkeypatch.setattr(instance_module.gate, "looked", False)


def test_the_project_instance_has_the_short_intervals_and_dagsters_limits(tmp_path, restore_interval):
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    with instance_at(tmp_path) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, P114RunCoordinator)
        assert (coordinator.dequeue_interval_seconds, coordinator.backfill_interval_seconds, coordinator.backfill_wake_seconds) == (1, 5, 1)
        assert controller.DEFAULT_DAEMON_INTERVAL_SECONDS == 1  # the loop looks every second...
        assert backfill_daemon.execute_backfill_iteration == instance_module.gate.iteration
        assert instance_module.gate.interval == 5  # ...and iterates every 5 s unless something changed
        assert coordinator.backfill_waits_for_stages
        assert asset_backfill.execute_asset_backfill_iteration_inner is iteration_that_waits_for_its_stage
        assert asset_backfill._backfill_is_stalled is stall_check_that_knows_what_was_held
        assert asset_backfill._get_candidate_asset_graph_subset is candidates_unless_waiting
        assert instance.run_launcher.warm_start  # runs forked from a process that imported Dagster once
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config.max_concurrent_runs == 2
        assert concurrency.pool_config.default_pool_limit == 1


class RecordedWaits(threading.Event):
    """A shutdown event that records how long the daemon loop meant to sleep, without sleeping."""

    def __init__(self):
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout=None):
        self.waits.append(timeout)
        return super().wait(0)


def test_the_backfill_daemon_loop_sleeps_the_configured_interval(restore_interval):
    P114RunCoordinator.from_config_value(None, {"backfill_interval_seconds": 2, "backfill_wake_seconds": 2})
    assert backfill_daemon.execute_backfill_iteration is DAGSTERS_DAEMON_ITERATION  # no gate: every look iterates
    waits = RecordedWaits()
    with dg.DagsterInstance.ephemeral() as instance:
        context = types.SimpleNamespace(instance=instance)  # no backfills: each iteration finds nothing to do
        for _ in execute_backfill_iteration_loop(context, logging.getLogger("test"), waits, until=time.time() + 0.3):
            pass
    assert waits.waits and all(1.0 < w <= 2.0 for w in waits.waits)  # Dagster's own loop: 30 s


def test_the_loop_looks_every_wake_and_iterates_only_when_something_changed(restore_interval, monkeypatch):
    """Dagster's loop reaches the gate through the module: it looks every second, and Dagster's
    iteration runs at the first look and then only when a run ended or a backfill was
    created (here: once the interval has passed)."""
    P114RunCoordinator.from_config_value(None, {"backfill_interval_seconds": 5})
    iterations: list[float] = []

    def dagsters_iteration(context, logger, **kwargs):
        iterations.append(time.time())
        yield None

    monkeypatch.setattr(instance_module, "DAGSTERS_DAEMON_ITERATION", dagsters_iteration)
    waits = RecordedWaits()
    with dg.DagsterInstance.ephemeral() as instance:
        context = types.SimpleNamespace(instance=instance)
        for _ in execute_backfill_iteration_loop(context, logging.getLogger("test"), waits, until=time.time() + 0.3):
            pass
        assert waits.waits and all(0.5 < w <= 1.0 for w in waits.waits)
        assert len(iterations) == 1  # nothing changed after the first


def test_a_run_that_ends_or_a_new_backfill_makes_the_next_look_iterate():
    gate = IterationGate(interval=5)
    with dg.DagsterInstance.ephemeral() as instance:
        assert gate.due(instance, time.time())  # the first look iterates
        gate.last = time.time() - 1.5  # the last iteration: 1.5 s ago, past the lookback
        instance.add_run(DagsterRun(job_name="j", run_id="r1", status=DagsterRunStatus.STARTED))
        assert not gate.due(instance, gate.last + 2)  # a run that starts changes no stage
        assert gate.due(instance, gate.last + 5)  # the interval
        gate.last = time.time() - 1.5
        instance.handle_run_event("r1", dg.DagsterEvent(dg.DagsterEventType.RUN_SUCCESS.value, job_name="j"))
        assert instance.get_run_by_id("r1").status == DagsterRunStatus.SUCCESS
        assert gate.due(instance, gate.last + 2)  # a run ended after the last iteration
        gate.last = time.time() + 2  # an iteration after it (past the lookback)
        assert not gate.due(instance, gate.last + 0.5)
        gate.last = time.time() - 1.5
        instance.add_backfill(PartitionBackfill("b1", BulkActionStatus.REQUESTED, from_failure=False, tags={},
                                                backfill_timestamp=time.time(), partition_names=["2024-07-01"]))  # fmt: skip
        assert gate.due(instance, gate.last + 2)  # a backfill launched after it


def test_a_change_seen_while_an_iteration_is_in_flight_is_left_for_the_next_look(monkeypatch):
    """Dagster skips a backfill whose iteration is still running in its thread pool: a look that
    finds a change then must not count as an iteration, or the change would wait for the interval."""
    gate = IterationGate(interval=5)
    calls: list[dict] = []
    monkeypatch.setattr(instance_module, "DAGSTERS_DAEMON_ITERATION", lambda context, logger, **kwargs: iter([calls.append(kwargs)]))
    running, done = Future(), Future()
    done.set_result(None)
    with dg.DagsterInstance.ephemeral() as instance:
        context = types.SimpleNamespace(instance=instance)
        list(gate.iteration(context, None, backfill_futures={"b1": running}))
        assert len(calls) == 1 and gate.last is None  # Dagster was called (other backfills go on), nothing taken as handled
        list(gate.iteration(context, None, backfill_futures={"b1": done}))
        assert len(calls) == 2 and gate.last is not None
        list(gate.iteration(context, None, backfill_futures={"b1": done}))
        assert len(calls) == 2  # nothing changed since


def test_the_daemons_first_look_starts_its_run_launchers_forkserver(monkeypatch):
    """So that the first run of the daemon's life starts warm too (defs/run_launcher.py)."""
    gate = IterationGate(interval=5)
    started = threading.Event()
    calls: list[str] = []
    launcher = types.SimpleNamespace(start_forkserver=lambda: calls.append("start") or started.set())
    monkeypatch.setattr(instance_module, "DAGSTERS_DAEMON_ITERATION", lambda context, logger, **kwargs: iter([None]))
    context = types.SimpleNamespace(instance=types.SimpleNamespace(run_launcher=launcher))
    list(gate.iteration(context, None))
    assert started.wait(5)
    gate.last = None  # due again: still one start
    list(gate.iteration(context, None))
    time.sleep(0.1)
    assert calls == ["start"]


def test_an_interval_under_a_second_is_refused(restore_interval):
    with pytest.raises(dg.DagsterInvalidConfigError, match="backfill_interval_seconds=0"):
        P114RunCoordinator(backfill_interval_seconds=0)
    with pytest.raises(dg.DagsterInvalidConfigError, match="backfill_wake_seconds=6"):
        P114RunCoordinator(backfill_interval_seconds=5, backfill_wake_seconds=6)


def test_the_daemon_reaches_the_backfill_iteration_through_the_module():
    """The stage wait replaces a module attribute: Dagster must still look it up there (an upgrade
    that imports it elsewhere would silently bypass it)."""
    assert "execute_asset_backfill_iteration_inner(" in inspect.getsource(asset_backfill.execute_asset_backfill_iteration)
    assert "_backfill_is_stalled(" in inspect.getsource(asset_backfill.execute_asset_backfill_iteration)
    assert "_get_candidate_asset_graph_subset(" in inspect.getsource(asset_backfill._execute_asset_backfill_iteration_inner)
    assert "execute_backfill_iteration(" in inspect.getsource(backfill_daemon.execute_backfill_iteration_loop)


def _iteration(instance: dg.DagsterInstance, roots_requested: bool = True) -> list:
    """The run requests the stage-waiting iteration lets through when Dagster's wants one run."""
    result = iteration_that_waits_for_its_stage(
        backfill_id="b1", asset_backfill_data=types.SimpleNamespace(requested_runs_for_target_roots=roots_requested),
        asset_graph_view=types.SimpleNamespace(get_inner_queryer_for_back_compat=lambda: types.SimpleNamespace(instance=instance)),
        backfill_start_timestamp=0.0, logger=logging.getLogger("test"), run_config=None,
    )  # fmt: skip
    assert len(result.run_requests) == len(result.reserved_run_ids)
    return result.run_requests


@pytest.fixture
def dagsters_iteration_wants_a_run(monkeypatch):
    monkeypatch.setattr(instance_module, "held_back", set())
    def wants_a_run(**kwargs):
        return asset_backfill.AssetBackfillIterationResult([dg.RunRequest(partition_key="2024-07-01")], None, ["r"])

    monkeypatch.setattr(instance_module, "DAGSTERS_BACKFILL_ITERATION", wants_a_run)


@pytest.mark.parametrize("status", [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED])
def test_a_stage_waits_while_a_run_of_its_backfill_has_not_ended(dagsters_iteration_wants_a_run, status):
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_run(DagsterRun(job_name="j", run_id="other", status=status, tags={BACKFILL_ID_TAG: "b2"}))
        assert len(_iteration(instance)) == 1  # another backfill's run does not hold this one
        instance.add_run(DagsterRun(job_name="j", run_id="ours", status=status, tags={BACKFILL_ID_TAG: "b1"}))
        assert _iteration(instance) == []
        assert len(_iteration(instance, roots_requested=False)) == 1  # the first stage is never held


@pytest.mark.parametrize("status", [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED])
def test_a_stage_goes_once_the_runs_of_its_backfill_have_ended(dagsters_iteration_wants_a_run, status):
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_run(DagsterRun(job_name="j", run_id="ours", status=status, tags={BACKFILL_ID_TAG: "b1"}))
        assert len(_iteration(instance)) == 1


def test_a_held_stage_is_not_stalled_when_its_last_run_ends_right_after_the_hold(dagsters_iteration_wants_a_run, monkeypatch):
    """The last run of the backfill ends between the hold and Dagster's stall check: to that check
    nothing moved and every run has ended, so it would mark the held stage failed."""
    asked: list[str] = []
    monkeypatch.setattr(instance_module, "DAGSTERS_STALL_CHECK", lambda *, backfill_id, **_: asked.append(backfill_id) or True)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_run(DagsterRun(job_name="j", run_id="ours", status=DagsterRunStatus.STARTED, tags={BACKFILL_ID_TAG: "b1"}))
        assert _iteration(instance) == []
        assert stall_check_that_knows_what_was_held(backfill_id="b1", logger=None) is False
        assert stall_check_that_knows_what_was_held(backfill_id="b2", logger=None) is True  # not held: Dagster's answer
        assert asked == ["b2"]
        instance.delete_run("ours")
        assert len(_iteration(instance)) == 1  # the next iteration requests the stage...
        assert stall_check_that_knows_what_was_held(backfill_id="b1", logger=None) is True  # ...and no longer shields it


def test_a_backfill_waiting_for_its_runs_looks_for_no_next_stage(dagsters_iteration_wants_a_run, restore_interval, monkeypatch):
    """While a backfill's runs have not ended, its iteration only records progress: Dagster's search
    for the next stage's candidates (which grows with the backfill) gets none, in that iteration's
    thread only; another backfill iterated at the same time in another thread gets Dagster's."""
    P114RunCoordinator()  # the patches, as the daemon's instance installs them
    monkeypatch.setattr(instance_module, "DAGSTERS_CANDIDATES", lambda *args, **kwargs: "Dagster's candidates")
    seen: list = []

    def dagsters_iteration(*, backfill_id, **kwargs):
        seen.append(asset_backfill._get_candidate_asset_graph_subset(None, None, None, None))
        beside = threading.Thread(target=lambda: seen.append(asset_backfill._get_candidate_asset_graph_subset(None, None, None, None)))
        beside.start()
        beside.join()
        return asset_backfill.AssetBackfillIterationResult([], None, [])

    monkeypatch.setattr(instance_module, "DAGSTERS_BACKFILL_ITERATION", dagsters_iteration)
    with dg.DagsterInstance.ephemeral() as instance:
        assert _iteration(instance) == [] and seen == ["Dagster's candidates"] * 2  # no run in progress
        instance.add_run(DagsterRun(job_name="j", run_id="ours", status=DagsterRunStatus.STARTED, tags={BACKFILL_ID_TAG: "b1"}))
        seen.clear()
        assert _iteration(instance) == []
        assert seen[0].is_empty and seen[1] == "Dagster's candidates"  # this thread none; the other thread Dagster's
        assert "b1" in instance_module.held_back  # nothing moved, and that is no stall
        seen.clear()
        _iteration(instance, roots_requested=False)  # the first stage is never held
        assert seen == ["Dagster's candidates"] * 2
        instance.delete_run("ours")
        seen.clear()
        _iteration(instance)  # the runs ended: Dagster's search, at once
        assert seen == ["Dagster's candidates"] * 2 and "b1" not in instance_module.held_back


def test_dagsters_iteration_comes_back_when_the_setting_is_off(restore_interval):
    P114RunCoordinator(backfill_waits_for_stages=False)
    assert asset_backfill.execute_asset_backfill_iteration_inner is DAGSTERS_BACKFILL_ITERATION
    assert asset_backfill._backfill_is_stalled is DAGSTERS_STALL_CHECK
    assert asset_backfill._get_candidate_asset_graph_subset is DAGSTERS_CANDIDATES
    P114RunCoordinator()
    assert asset_backfill.execute_asset_backfill_iteration_inner is iteration_that_waits_for_its_stage
    assert asset_backfill._backfill_is_stalled is stall_check_that_knows_what_was_held
