"""The run launcher of the local instance (dagster_home/dagster.yaml): Dagster's default launcher
(each run a process of its own), with two changes for runs of a code location this machine runs.

Health. The default launcher has no health check, so the monitoring daemon cannot tell a killed run
from a running one and its pool slots stay taken for ever. This one answers from the run's process
(defs/run_health.py): a run whose process is gone is marked failed by the daemon, which then frees
its slots (`free_slots_after_run_end_seconds`).

Warm start. Dagster's code server starts each run as a fresh interpreter (multiprocessing "spawn")
that imports Dagster before it imports the code: about 2.2 CPU s and 2.2-2.4 s before the run
starts, paid by every run and on the critical path of every stage of a backfill (bench_backfill).
This launcher starts the run with the code server's own entry (`start_run_in_subprocess`, with the
same arguments), but forked from a forkserver (Python's multiprocessing) that imported Dagster once.
Only modules that start no threads at import are preloaded: a fork carries no threads, and polars,
pyarrow, DuckDB and numpy start theirs at import, so each run imports those itself, and p114's own
code afresh (a run of an edited code location runs the code as saved, as with the code server).
Terminating such a run sends its process SIGINT, what Dagster's termination thread sends it.

Only for instances whose runs are processes of the daemon's machine; the deploy/ instances keep
their own launchers.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import socket
import sys
import threading

import dagster as dg
from dagster._core.errors import DagsterLaunchFailedError
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus

from p114_assets.defs.run_health import Worker, launched_worker_pid, process_alive, worker_status

# Tags of a run this launcher forked (terminated by a signal to its process, not through a code
# server) and of the machine whose process it is (a pid means nothing on another).
WORKER_TAG = "p114/worker"
WORKER_HOST_TAG = "p114/worker_host"
FORKED = "forked"
# What the forkserver imports once: Dagster and the modules of a run's start, none of which start a
# thread at import (p114_assets_tests/defs/test_run_launcher.py checks it).
PRELOAD = [
    "dagster",
    "dagster._grpc.impl",
    "dagster._core.execution.api",
    "dagster._core.storage.runs.sqlite.sqlite_run_storage",
    "dagster._core.storage.event_log.sqlite.sqlite_event_log",
    "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage",
    "dagster._core.storage.local_compute_log_manager",
]
_forkserver_lock = threading.Lock()


def warm_context() -> multiprocessing.context.BaseContext:
    """The forkserver context, its preload set (the forkserver starts at the first run)."""
    with _forkserver_lock:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context


def start_warm(context: multiprocessing.context.BaseContext, target, args: list) -> multiprocessing.process.BaseProcess:
    """`target(*args)` in a process forked from the forkserver of `context` (`warm_context()`), started."""
    process = context.Process(target=target, args=args)
    process.start()
    # Runs outlive the daemon, as they outlive it under the code server: without this the
    # daemon's exit (multiprocessing's atexit) would wait for every run in progress to end.
    multiprocessing.process._children.discard(process)  # type: ignore[attr-defined]
    return process


class LocalRunLauncher(dg.DefaultRunLauncher):
    """Dagster's default run launcher, with a health check by the run's process and runs forked
    from a process that imported Dagster once."""

    def __init__(self, inst_data=None, warm_start: bool = True):
        super().__init__(inst_data=inst_data)
        self.warm_start = warm_start

    def start_forkserver(self) -> None:
        """Start the forkserver now (the daemon calls this at its first look at backfills), so
        that the first run of the daemon's life does not wait for it to import Dagster."""
        if self.warm_start:
            from multiprocessing import forkserver

            warm_context()
            forkserver.ensure_running()

    @classmethod
    def config_type(cls) -> dict:
        return {"warm_start": dg.Field(bool, is_required=False, default_value=True,
                                       description="Fork runs from a process that imported Dagster once (else the code server spawns them).")}  # fmt: skip

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, warm_start=config_value.get("warm_start", True))

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        if not (self.warm_start and runs_on_this_machine(context)):
            return super().launch_run(context)
        from dagster._grpc.impl import IPCErrorMessage, StartRunInSubprocessSuccessful, start_run_in_subprocess
        from dagster._grpc.types import ExecuteExternalJobArgs
        from dagster._serdes import serialize_value
        from dagster._utils.error import serializable_error_info_from_exc_info
        from dagster._utils.hosted_user_process import recon_job_from_origin

        self._instance.add_run_tags(run.run_id, {WORKER_TAG: FORKED, WORKER_HOST_TAG: socket.gethostname()})
        args = ExecuteExternalJobArgs(job_origin=run.remote_job_origin, run_id=run.run_id, instance_ref=self._instance.get_ref())
        context_ = warm_context()
        events, termination = context_.Queue(), context_.Event()
        try:
            process = start_warm(context_, start_run_in_subprocess,
                                 [serialize_value(args), recon_job_from_origin(run.job_code_origin), events, termination])  # fmt: skip
        except Exception as error:
            raise DagsterLaunchFailedError("could not fork the run's process",
                                              serializable_error_info=serializable_error_info_from_exc_info(sys.exc_info())) from error  # fmt: skip
        # As the code server does: the launch is done once the process has loaded the run.
        while True:
            try:
                message = events.get(timeout=0.05)
            except queue.Empty:
                if not process.is_alive():
                    raise DagsterLaunchFailedError(f"the run's process exited with code {process.exitcode} before it started") from None
                continue
            if isinstance(message, IPCErrorMessage):
                raise DagsterLaunchFailedError(message.message, serializable_error_info=message.serializable_error_info)
            if isinstance(message, StartRunInSubprocessSuccessful):
                break
        self._run_ids.add(run.run_id)
        threading.Thread(target=_reap, args=(process, events), name=f"p114-run-{run.run_id[:8]}", daemon=True).start()

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.tags.get(WORKER_TAG) != FORKED:
            return super().terminate(run_id)
        if run.is_finished:
            return False
        host = run.tags.get(WORKER_HOST_TAG)
        if host != socket.gethostname():
            self._instance.report_engine_event(f"The run's process is on {host}, not this machine: not terminated from here.", run,
                                               cls=self.__class__)  # fmt: skip
            return False
        self._instance.report_run_canceling(run)
        found = launched_worker_pid(self._instance, run_id)
        if found is None or not process_alive(*found):
            self._instance.report_engine_event("No process of the run to send the termination to.", run, cls=self.__class__)
            return False
        os.kill(found[0], signal.SIGINT)  # what Dagster's termination thread sends the run's process
        return True

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


def runs_on_this_machine(context: LaunchRunContext) -> bool:
    """Whether the run's code location is one Dagster started here from the workspace, with this
    interpreter (not a code server of another host or a container image, nor another Python)."""
    from dagster._core.remote_origin import ManagedGrpcPythonEnvCodeLocationOrigin

    run = context.dagster_run
    origin = run.job_code_origin
    if context.workspace is None or run.remote_job_origin is None or origin is None:
        return False
    location_origin = run.remote_job_origin.repository_origin.code_location_origin
    if not isinstance(location_origin, ManagedGrpcPythonEnvCodeLocationOrigin):
        return False
    repository = origin.repository_origin
    return repository.container_image is None and os.path.realpath(repository.executable_path or "") == os.path.realpath(sys.executable)


def _reap(process: multiprocessing.process.BaseProcess, events) -> None:
    """Read the run process's last messages (so it never blocks writing them) and wait for it."""
    from dagster._grpc.impl import RunInSubprocessComplete

    while process.is_alive():
        try:
            if isinstance(events.get(timeout=1.0), RunInSubprocessComplete):
                break
        except queue.Empty:
            continue
        except (EOFError, OSError):
            break
    process.join()
    events.close()
