"""The run coordinator p114's instance settings name (dagster_home/dagster.yaml): Dagster's queued
run coordinator, plus settings of the backfill daemon Dagster 1.13 does not expose: how often it
iterates over backfills and what wakes it sooner, and whether an asset backfill requests its next
stage only once the runs of the previous one have ended.

An asset backfill advances in stages: the raw partitions, then the daily tables of their dates,
then the classification windows. The backfill daemon requests each stage at its next iteration
after the previous stage ended, and Dagster fixes that loop at 30 s
(`dagster._daemon.controller.DEFAULT_DAEMON_INTERVAL_SECONDS`, read when the loop starts; making
it configurable was proposed in dagster-io/dagster#11860 and not merged). A 30-date backfill spent
more time waiting for iterations than loading. The daemon builds this coordinator from the
instance settings before it starts its loops, so setting the interval here reaches the backfill
loop of `dagster-daemon run` and of `dagster dev` alike; the webserver, which builds it too, has no
such loop. `p114_assets_tests/app/test_instance.py` fails if a Dagster upgrade moves the constant.

Stages. A range run of raw partitions writes its materializations one event per partition and
asset, in no date order, and the daemon requests the children of whatever it has seen at each
iteration: an iteration in the middle of a run's burst of events split a chunk's dates into several
derived runs, each with its own process start-up and turn at the one-slot warehouse pool (a 30-date
backfill made 44 runs of the derived stage), and a daily mart whose other parent was still loading
somewhere waited for a stage of its own. With `backfill_waits_for_stages` (on in p114's settings)
an iteration computes and records everything as Dagster does, but submits no run while a run of the
same backfill is still queued or in progress: the next stage is then requested in one iteration,
when all of the previous one is known, so it comes in runs of the backfill policy's full size
(a month of dates for the daily tables, their marts in the same runs, and for 30 dates or fewer
the classification windows too). Nothing is lost by waiting: Dagster's candidates are the
children of everything materialized so far that were not requested yet. The first iteration
(the roots) is never held back, and failed or canceled runs have ended, so they release it. An
iteration that held its requests is not "stalled" to Dagster's stall check (which would mark the
held stage failed if the last run ended a moment after the hold).

While it waits, an iteration does not look for the next stage at all: Dagster's candidates (every
unrequested target partition of a child of what has been materialized) are taken as none, so the
iteration only records what the runs materialized (the progress the UI shows). Dagster's search
through the candidates grows with the backfill: in the raw stage of a 1,461-date backfill it took
1.7-3.6 CPU s an iteration and grew as the dates landed, which every 5 s kept the daemon at half
a core of the two the runs need (bench_backfill --dates 1461 --units 20). Candidates are
recomputed from scratch at every iteration, so none is lost: the first iteration after the runs
end finds them all.

Waking. Waiting the interval between iterations cost a backfill up to 5 s at each of its edges: its
first runs were requested up to 5 s after the launch, each next stage up to 5 s after the previous
one ended, and the backfill was marked completed up to 5 s after its last run (4.6, 4.7 and 5.6 s
of a 30-date backfill's 80 in one run of bench_backfill). So the daemon's loop looks every `backfill_wake_seconds` (1) for something
that changed since the last iteration: a backfill created, or a run that ended (one indexed query
each). Only then, or once `backfill_interval_seconds` have passed, does it iterate:
a waiting backfill is not iterated more often than before, and the progress the UI shows is still
recorded at least every 5 s.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.execution import asset_backfill
from dagster._core.execution.backfill import BulkActionsFilter
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.storage.dagster_run import FINISHED_STATUSES, NOT_FINISHED_STATUSES
from dagster._core.storage.tags import BACKFILL_ID_TAG
from dagster._daemon import backfill as backfill_daemon
from dagster._daemon import controller
from dagster._time import get_current_timestamp

DEFAULT_BACKFILL_INTERVAL_SECONDS = 5
DEFAULT_BACKFILL_WAKE_SECONDS = 1
# Run and backfill timestamps are stored to the microsecond from clocks of other processes: look a
# second further back than the last iteration (at worst one more iteration).
WAKE_LOOKBACK_SECONDS = 1.0
DAGSTERS_DAEMON_ITERATION = backfill_daemon.execute_backfill_iteration
DAGSTERS_BACKFILL_ITERATION = asset_backfill.execute_asset_backfill_iteration_inner
DAGSTERS_STALL_CHECK = asset_backfill._backfill_is_stalled
DAGSTERS_CANDIDATES = asset_backfill._get_candidate_asset_graph_subset
# Backfills whose run requests the latest iteration held back (read by the stall check below).
held_back: set[str] = set()
# The backfill whose iteration runs in this thread, while its runs have not ended (the daemon may
# iterate several backfills at once, in threads).
waiting = threading.local()


def iteration_that_waits_for_its_stage(*, backfill_id: str, asset_backfill_data, asset_graph_view, **kwargs):
    """Dagster's asset backfill iteration, with its run requests held back while a run of the
    backfill is still queued or in progress (its bookkeeping is kept: materialized and failed
    partitions, the event cursor). Not finished means what it means to Dagster when it decides
    whether a backfill's runs are complete: not started, queued, starting, started, canceling."""
    held_back.discard(backfill_id)
    instance = asset_graph_view.get_inner_queryer_for_back_compat().instance
    runs = dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}, statuses=NOT_FINISHED_STATUSES)
    # the first stage (the roots) is never held back
    holds = bool(asset_backfill_data.requested_runs_for_target_roots and instance.get_run_ids(filters=runs, limit=1))
    waiting.backfill = backfill_id if holds else None
    try:
        result = DAGSTERS_BACKFILL_ITERATION(backfill_id=backfill_id, asset_backfill_data=asset_backfill_data,
                                             asset_graph_view=asset_graph_view, **kwargs)  # fmt: skip
    finally:
        waiting.backfill = None
    if not holds:
        return result
    held_back.add(backfill_id)
    if result.run_requests:  # (none without candidates; kept should Dagster request something else)
        kwargs["logger"].info(f"Holding back {len(result.run_requests)} run(s) until the backfill's runs in progress end")
    return result._replace(run_requests=[], reserved_run_ids=[])


def candidates_unless_waiting(*args, **kwargs):
    """Dagster's candidates for the next stage; none for a backfill waiting for its runs."""
    if getattr(waiting, "backfill", None) is not None:
        return AssetGraphSubset()
    return DAGSTERS_CANDIDATES(*args, **kwargs)


def stall_check_that_knows_what_was_held(*, backfill_id: str, **kwargs) -> bool:
    """Dagster's check that a backfill is stalled (no progress, every run ended: mark what is left
    failed), except for a backfill whose requests this iteration held back. Its last run can end
    between the hold and this check: the iteration then looks stalled, and without this its held
    stage would be marked failed instead of requested at the next iteration."""
    if backfill_id in held_back:
        return False
    return DAGSTERS_STALL_CHECK(backfill_id=backfill_id, **kwargs)


class IterationGate:
    """When the backfill daemon's loop, looking every `wake` s, iterates: at once when a backfill
    was created or a run ended since the last iteration, otherwise `interval` s after it. (A run
    that is queued or starts changes no stage: waking for those cost the daemon CPU for nothing.)"""

    def __init__(self, interval: float):
        self.interval = interval
        self.last: float | None = None  # when the last iteration started
        self.looked = False

    def due(self, instance: dg.DagsterInstance, now: float) -> bool:
        if self.last is None or now - self.last >= self.interval:
            return True
        since = dt.datetime.fromtimestamp(self.last - WAKE_LOOKBACK_SECONDS, dt.timezone.utc).replace(tzinfo=None)
        return bool(instance.get_run_ids(dg.RunsFilter(updated_after=since, statuses=list(FINISHED_STATUSES)), limit=1)
                    or instance.get_backfills(filters=BulkActionsFilter(created_after=since), limit=1))  # fmt: skip

    def iteration(self, workspace_process_context, logger, **kwargs):
        """Dagster's daemon iteration over every backfill, when due."""
        now = get_current_timestamp()
        if not self.looked:  # the daemon's first look: its run launcher may warm up meanwhile
            self.looked = True
            start = getattr(workspace_process_context.instance.run_launcher, "start_forkserver", None)
            if start is not None:
                threading.Thread(target=start, name="p114-forkserver-start", daemon=True).start()
        if not self.due(workspace_process_context.instance, now):
            yield None
            return
        # An iteration still in flight in Dagster's thread pool is skipped by Dagster: what changed
        # meanwhile is left for the next tick to see, not taken as handled.
        in_flight = any(not future.done() for future in (kwargs.get("backfill_futures") or {}).values())
        if not in_flight:
            self.last = now
        yield from DAGSTERS_DAEMON_ITERATION(workspace_process_context, logger, **kwargs)


gate = IterationGate(DEFAULT_BACKFILL_INTERVAL_SECONDS)


class P114RunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator with `backfill_interval_seconds`: at most this many seconds between the
    backfill daemon's iterations (Dagster's: 30), and sooner when something changed, looked for
    every `backfill_wake_seconds`. Each iteration of an active backfill costs the daemon some CPU
    (it evaluates the backfill's asset graph), so not much less than 5 s."""

    def __init__(self, backfill_interval_seconds: int = DEFAULT_BACKFILL_INTERVAL_SECONDS, backfill_waits_for_stages: bool = True,
                 backfill_wake_seconds: int = DEFAULT_BACKFILL_WAKE_SECONDS, **kwargs: Any):  # fmt: skip
        super().__init__(**kwargs)
        self.set_backfill_interval(backfill_interval_seconds, backfill_wake_seconds)
        self.set_backfill_stages(backfill_waits_for_stages)

    def set_backfill_stages(self, wait: bool) -> None:
        self.backfill_waits_for_stages = wait
        asset_backfill.execute_asset_backfill_iteration_inner = iteration_that_waits_for_its_stage if wait else DAGSTERS_BACKFILL_ITERATION
        asset_backfill._backfill_is_stalled = stall_check_that_knows_what_was_held if wait else DAGSTERS_STALL_CHECK
        asset_backfill._get_candidate_asset_graph_subset = candidates_unless_waiting if wait else DAGSTERS_CANDIDATES

    def set_backfill_interval(self, seconds: int, wake_seconds: int = DEFAULT_BACKFILL_WAKE_SECONDS) -> None:
        if seconds < 1:
            raise dg.DagsterInvalidConfigError(f"backfill_interval_seconds={seconds}: expected at least 1", [], None)
        if not 1 <= wake_seconds <= seconds:
            raise dg.DagsterInvalidConfigError(f"backfill_wake_seconds={wake_seconds}: expected 1 to backfill_interval_seconds ({seconds})",
                                               [], None)  # fmt: skip
        self.backfill_interval_seconds = seconds
        self.backfill_wake_seconds = wake_seconds
        # The loop's sleep (read when the loop starts) is the wake; the gate keeps the interval.
        controller.DEFAULT_DAEMON_INTERVAL_SECONDS = wake_seconds
        gate.interval = seconds
        backfill_daemon.execute_backfill_iteration = gate.iteration if wake_seconds < seconds else DAGSTERS_DAEMON_ITERATION

    @classmethod
    def config_type(cls) -> dict:
        return {
            **super().config_type(),
            "backfill_interval_seconds": dg.Field(
                int, is_required=False, default_value=DEFAULT_BACKFILL_INTERVAL_SECONDS,
                description="Seconds between the backfill daemon's iterations (Dagster's default: 30).",
            ),
            "backfill_wake_seconds": dg.Field(
                int, is_required=False, default_value=DEFAULT_BACKFILL_WAKE_SECONDS,
                description="Seconds between the backfill daemon's looks for a new backfill or a run that ended, "
                "which make it iterate before backfill_interval_seconds.",
            ),
            "backfill_waits_for_stages": dg.Field(
                bool, is_required=False, default_value=True,
                description="An asset backfill requests its next stage only once its runs in progress have ended (Dagster: at every iteration).",
            ),
        }  # fmt: skip

    @classmethod
    def from_config_value(cls, inst_data, config_value: Mapping[str, Any]) -> P114RunCoordinator:
        coordinator = super().from_config_value(inst_data, config_value)  # Dagster's settings
        coordinator.set_backfill_interval(config_value.get("backfill_interval_seconds", DEFAULT_BACKFILL_INTERVAL_SECONDS),
                                          config_value.get("backfill_wake_seconds", DEFAULT_BACKFILL_WAKE_SECONDS))  # fmt: skip
        coordinator.set_backfill_stages(config_value.get("backfill_waits_for_stages", True))
        return coordinator
