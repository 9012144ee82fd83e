"""The instance settings' run coordinator: Dagster's run limits still apply, and the backfill
daemon's loop waits the configured interval, not Dagster's fixed 30 s."""

import logging
import shutil
import threading
import time
import types
from pathlib import Path

import dagster as dg
import pytest
from dagster._daemon import controller
from dagster._daemon.backfill import execute_backfill_iteration_loop

from p114_assets.app.instance import P114RunCoordinator

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_interval(monkeypatch):
    monkeypatch.setattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS", controller.DEFAULT_DAEMON_INTERVAL_SECONDS)


def test_the_project_instance_has_the_short_intervals_and_dagsters_limits(tmp_path, restore_interval):
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, P114RunCoordinator)
        assert (coordinator.dequeue_interval_seconds, coordinator.backfill_interval_seconds) == (1, 5)
        assert controller.DEFAULT_DAEMON_INTERVAL_SECONDS == 5
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
    P114RunCoordinator.from_config_value(None, {"backfill_interval_seconds": 2})
    waits = RecordedWaits()
    with dg.DagsterInstance.ephemeral() as instance:
        context = types.SimpleNamespace(instance=instance)  # no backfills: each iteration finds nothing to do
        for _ in execute_backfill_iteration_loop(context, logging.getLogger("test"), waits, until=time.time() + 0.3):
            pass
    assert waits.waits and all(1.0 < w <= 2.0 for w in waits.waits)  # Dagster's own loop: 30 s


def test_an_interval_under_a_second_is_refused(restore_interval):
    with pytest.raises(dg.DagsterInvalidConfigError, match="backfill_interval_seconds=0"):
        P114RunCoordinator(backfill_interval_seconds=0)
