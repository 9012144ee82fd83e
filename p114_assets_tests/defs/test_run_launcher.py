"""The local run launcher's warm start: runs forked from a process that imported Dagster once, only
for code locations Dagster started here with this interpreter, terminated by a signal to their
process. Real instances and real processes; the whole path (daemon, code server, a run forked,
terminated from the UI) is in system/test_healing.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import dagster as dg
import psutil
import pytest
from dagster._core.events import EngineEventData
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, ManagedGrpcPythonEnvCodeLocationOrigin
from dagster._core.test_utils import create_run_for_test
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from p114_assets.defs.run_launcher import FORKED, PRELOAD, WORKER_HOST_TAG, WORKER_TAG, LocalRunLauncher, runs_on_this_machine

HERE = {WORKER_TAG: FORKED, WORKER_HOST_TAG: socket.gethostname()}


def test_the_preloaded_modules_start_no_thread():
    """A fork carries only the forking thread: a module that started one at import would leave the
    run's process with a thread pool that is not there (a hang at its first use)."""
    code = "import importlib, os\nfor m in %r: importlib.import_module(m)\nprint(len(os.listdir('/proc/self/task')))" % PRELOAD
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"
    polars = subprocess.run([sys.executable, "-c", "import polars, os; print(len(os.listdir('/proc/self/task')))"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert int(polars) > 1  # why polars is not preloaded: this would pass for the wrong reason otherwise
    assert "polars" not in PRELOAD and "duckdb" not in PRELOAD and "pyarrow" not in PRELOAD


def test_a_process_that_started_warm_runs_outlives_it_at_once(tmp_path: Path):
    """The daemon exits (a restart) while a run it forked is in progress: the daemon is gone at
    once and the run goes on, as runs of a code server outlive the daemon. multiprocessing would
    otherwise make the daemon's exit wait for the run to end."""
    pid_file = tmp_path / "pid"
    code = textwrap.dedent(f"""
        import pathlib, time
        from p114_assets.defs.run_launcher import start_warm, warm_context
        process = start_warm(warm_context(), time.sleep, [60])
        pathlib.Path({str(pid_file)!r}).write_text(str(process.pid))
    """)
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], check=True, timeout=50)
    assert time.monotonic() - started < 30  # not the run's 60 s
    run = psutil.Process(int(pid_file.read_text()))
    try:
        assert run.is_running() and run.status() != psutil.STATUS_ZOMBIE
    finally:
        run.kill()


def test_start_forkserver_starts_it_with_dagster_imported():
    from multiprocessing import forkserver

    LocalRunLauncher(warm_start=True).start_forkserver()
    server = psutil.Process(forkserver._forkserver._forkserver_pid)
    for _ in range(100):  # (until it has exec'd: a moment after the fork its command line is still ours)
        if "multiprocessing.forkserver" in " ".join(server.cmdline()):
            break
        time.sleep(0.05)
    assert "multiprocessing.forkserver" in " ".join(server.cmdline()) and "dagster" in " ".join(server.cmdline())
    assert server.ppid() == os.getpid()


def _context(location_origin, executable: str = sys.executable, image: str | None = None, workspace=object()):
    repository = types.SimpleNamespace(container_image=image, executable_path=executable)
    run = types.SimpleNamespace(
        job_code_origin=types.SimpleNamespace(repository_origin=repository),
        remote_job_origin=types.SimpleNamespace(repository_origin=types.SimpleNamespace(code_location_origin=location_origin)),
    )
    return types.SimpleNamespace(dagster_run=run, workspace=workspace)


def test_only_a_location_dagster_started_here_with_this_interpreter_is_forked():
    managed = ManagedGrpcPythonEnvCodeLocationOrigin(LoadableTargetOrigin(executable_path=sys.executable, module_name="m"), "p114")
    assert runs_on_this_machine(_context(managed))
    assert not runs_on_this_machine(_context(managed, executable="/usr/bin/python3.9"))  # the workspace names another Python
    assert not runs_on_this_machine(_context(managed, image="registry/p114:1"))
    assert not runs_on_this_machine(_context(managed, workspace=None))
    assert not runs_on_this_machine(_context(GrpcServerCodeLocationOrigin(host="10.0.0.5", port=4000, location_name="p114")))


def test_warm_start_is_on_by_default_and_can_be_turned_off():
    assert LocalRunLauncher.from_config_value(None, {}).warm_start
    assert not LocalRunLauncher.from_config_value(None, {"warm_start": False}).warm_start


@pytest.fixture
def instance():
    with dg.instance_for_test(overrides={"run_launcher": {"module": "p114_assets.defs.run_launcher", "class": "LocalRunLauncher"}}) as instance:
        assert isinstance(instance.run_launcher, LocalRunLauncher)
        yield instance


def test_terminating_a_forked_run_interrupts_its_process(instance, tmp_path: Path):
    """What the UI's Terminate does for a forked run: the run is canceling and its process gets
    SIGINT, the interrupt Dagster's own termination thread raises in a run's process."""
    got = tmp_path / "interrupted"
    worker = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import pathlib, signal, sys, time
        signal.signal(signal.SIGINT, lambda *_: (pathlib.Path({str(got)!r}).write_text("SIGINT"), sys.exit(0)))
        print("ready", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert worker.stdout.readline().strip() == "ready"
        run = create_run_for_test(instance, job_name="j", status=dg.DagsterRunStatus.STARTED, tags=HERE)
        instance.report_engine_event(f"Started process for run (pid: {worker.pid}).", run, EngineEventData.in_process(worker.pid))
        assert instance.run_launcher.terminate(run.run_id)
        assert worker.wait(10) == 0 and got.read_text() == "SIGINT"
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELING
    finally:
        if worker.poll() is None:
            worker.kill()


def test_a_forked_run_whose_process_is_gone_is_not_terminated(instance):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(10)
    run = create_run_for_test(instance, job_name="j", status=dg.DagsterRunStatus.STARTED, tags=HERE)
    instance.report_engine_event("Started process for run.", run, EngineEventData.in_process(gone.pid))
    time.sleep(0.1)
    assert not instance.run_launcher.terminate(run.run_id)
    messages = [r.event_log_entry.dagster_event.message for r in instance.get_records_for_run(run.run_id).records if r.event_log_entry.dagster_event]
    assert "[LocalRunLauncher] No process of the run to send the termination to." in messages


def test_a_forked_run_of_another_machine_is_not_signalled_from_here(instance):
    """Its pid would name some process of this machine."""
    run = create_run_for_test(instance, job_name="j", status=dg.DagsterRunStatus.STARTED,
                              tags={WORKER_TAG: FORKED, WORKER_HOST_TAG: "another-host"})  # fmt: skip
    instance.report_engine_event("Started process for run.", run, EngineEventData.in_process(os.getpid()))  # a live pid here
    assert not instance.run_launcher.terminate(run.run_id)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED


def test_a_run_the_code_server_started_is_terminated_through_it(instance, monkeypatch):
    calls = []
    monkeypatch.setattr(dg.DefaultRunLauncher, "terminate", lambda self, run_id: calls.append(run_id) or True)
    run = create_run_for_test(instance, job_name="j", status=dg.DagsterRunStatus.STARTED)
    assert instance.run_launcher.terminate(run.run_id)
    assert calls == [run.run_id]
