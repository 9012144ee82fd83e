"""The run launcher of the local instance (dagster_home/dagster.yaml): Dagster's default launcher
(each run a process of the code server), plus the health check Dagster's run monitoring asks run
launchers for. The default launcher has none, so the monitoring daemon cannot tell a killed run
from a running one and its pool slots stay taken for ever. This one answers from the run's process
(defs/run_health.py): a run whose process is gone is marked failed by the daemon, which then frees
its slots (`free_slots_after_run_end_seconds`).

Only for instances whose runs are processes of the daemon's machine; the deploy/ instances keep
their own launchers.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

from p114_assets.defs.run_health import Worker, worker_status


class LocalRunLauncher(dg.DefaultRunLauncher):
    """Dagster's default run launcher, with a health check by the run's process."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        record = next(iter(self._instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id]), limit=1)), None)
        if record is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "no record of the run")
        if worker_status(self._instance, record, local_launcher=True) is Worker.DEAD:
            return CheckRunHealthResult(WorkerStatus.FAILED, "the run's process is gone (killed, or out of memory)")
        return CheckRunHealthResult(WorkerStatus.RUNNING)
