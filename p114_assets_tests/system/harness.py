"""A running Dagster for system tests and benchmarks: `dagster-webserver` and `dagster-daemon` on
127.0.0.1 with a throwaway DAGSTER_HOME, the repository's workspace, and a GraphQL client to drive
them as the UI does.

Every process starts in its own process group and is killed as a group on stop (the webserver
and the daemon each start a code server, and the daemon's runs are further processes). Every wait
is bounded; logs are kept in files that `DagsterProcesses.log_tail()` prints.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = "p114"
REPOSITORY = "__repository__"
ASSET_JOB = "__ASSET_JOB"
TERMINAL_RUN_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}
TERMINAL_BACKFILL_STATUSES = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED", "FAILING"}

T = TypeVar("T")


class Timeout(AssertionError):
    pass


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except (httpx.HTTPError, GraphQLError) as exc:  # a server still starting, or busy
            last_error = exc
        if time.monotonic() > deadline:
            raise Timeout(f"timed out after {timeout:.0f} s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def instance_yaml(extra: str = "") -> str:
    """The project's instance settings (dagster_home/dagster.yaml: run and pool concurrency), plus
    `extra` YAML."""
    return (REPO / "dagster_home" / "dagster.yaml").read_text() + ("\n" + extra if extra else "")


class GraphQLError(RuntimeError):
    pass


class DagsterGraphQL:
    """The webserver's GraphQL API: what the UI calls."""

    def __init__(self, url: str, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.client = httpx.Client(timeout=timeout)

    def query(self, text: str, **variables: Any) -> dict:
        response = self.client.post(f"{self.url}/graphql", json={"query": text, "variables": variables})
        response.raise_for_status()
        answer = response.json()
        if answer.get("errors"):
            raise GraphQLError("; ".join(e.get("message", "?") for e in answer["errors"]))
        return answer["data"]

    # --- launching -------------------------------------------------------------------------------

    def launch_backfill(self, asset_keys: list[str], partition_keys: list[str], title: str = "system test") -> str:
        from p114_assets.app.launcher import launch_backfill

        return launch_backfill(self.url, asset_keys, partition_keys, title=title)

    def launch_run(self, asset_keys: list[str], tags: Mapping[str, str], check_keys: list[tuple[str, str]] | None = None) -> str:
        """A run of the implicit asset job over `asset_keys` (and these checks), as the UI's
        "Materialize" button launches it for one partition (its tags name the partition)."""
        return self.launch_job(ASSET_JOB, tags, {
            "assetSelection": [{"path": [key]} for key in asset_keys],
            "assetCheckSelection": [{"assetKey": {"path": [a]}, "name": c} for a, c in (check_keys or [])],
        })  # fmt: skip

    def launch_job(self, job_name: str, tags: Mapping[str, str], selection: Mapping | None = None) -> str:
        """A run of job `job_name`, as the UI's Launchpad launches it (tags name the partition)."""
        data = self.query(
            """mutation Launch($params: ExecutionParams!) {
                 launchRun(executionParams: $params) {
                   __typename
                   ... on LaunchRunSuccess { run { runId } }
                   ... on PythonError { message }
                   ... on InvalidSubsetError { message }
                   ... on RunConfigValidationInvalid { errors { message } }
                 }
               }""",
            params={
                "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job_name, **(selection or {})},
                "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
            },
        )["launchRun"]
        if data["__typename"] != "LaunchRunSuccess":
            raise GraphQLError(f"launchRun: {data}")
        return data["run"]["runId"]

    def reexecute(self, run_id: str, strategy: str = "ALL_STEPS") -> str:
        data = self.query(
            """mutation Reexecute($params: ReexecutionParams!) {
                 launchRunReexecution(reexecutionParams: $params) {
                   __typename
                   ... on LaunchRunSuccess { run { runId } }
                   ... on PythonError { message }
                 }
               }""",
            params={"parentRunId": run_id, "strategy": strategy},
        )["launchRunReexecution"]
        if data["__typename"] != "LaunchRunSuccess":
            raise GraphQLError(f"launchRunReexecution: {data}")
        return data["run"]["runId"]

    # --- reading ---------------------------------------------------------------------------------

    def run(self, run_id: str) -> dict:
        return self.query(
            """query Run($id: ID!) { runOrError(runId: $id) { __typename
                 ... on Run { runId status tags { key value } startTime endTime
                              stepStats { stepKey status startTime endTime } } } }""",
            id=run_id,
        )["runOrError"]

    def runs(self, tags: Mapping[str, str] | None = None, statuses: list[str] | None = None, limit: int = 200) -> list[dict]:
        filter_: dict[str, Any] = {}
        if tags:
            filter_["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        if statuses:
            filter_["statuses"] = statuses
        return self.query(
            """query Runs($filter: RunsFilter, $limit: Int) { runsOrError(filter: $filter, limit: $limit) {
                 __typename ... on Runs { results { runId status tags { key value } startTime endTime } } } }""",
            filter=filter_, limit=limit,
        )["runsOrError"]["results"]

    def wait_run(self, run_id: str, timeout: float = 240) -> dict:
        return wait_for(f"run {run_id} to finish", lambda: (r := self.run(run_id)).get("status") in TERMINAL_RUN_STATUSES and r, timeout)

    def backfill(self, backfill_id: str) -> dict:
        return self.query(
            """query Backfill($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
                 ... on PartitionBackfill { id status numPartitions timestamp endTimestamp
                                            runs { runId status tags { key value } } }
                 ... on PythonError { message } } }""",
            id=backfill_id,
        )["partitionBackfillOrError"]

    def wait_backfill(self, backfill_id: str, timeout: float = 300) -> dict:
        def done():
            found = self.backfill(backfill_id)
            return found if found.get("status") in TERMINAL_BACKFILL_STATUSES and found["status"] != "FAILING" else None

        return wait_for(f"backfill {backfill_id} to finish", done, timeout, interval=1.0)

    def check_executions(self, asset: str, check: str, partition: str | None = None, limit: int = 50) -> list[dict]:
        """Executions of one asset check, newest first, as the UI's check page lists them."""
        return self.query(
            """query Executions($asset: AssetKeyInput!, $check: String!, $partition: String, $limit: Int!) {
                 assetCheckExecutions(assetKey: $asset, checkName: $check, partition: $partition, limit: $limit) {
                   runId status partition evaluation { partition severity description success } } }""",
            asset={"path": [asset]}, check=check, partition=partition, limit=limit,
        )["assetCheckExecutions"]

    def sensor_ticks(self, sensor: str, limit: int = 20) -> list[dict]:
        """A sensor's latest ticks, newest first."""
        data = self.query(
            """query Ticks($selector: SensorSelector!, $limit: Int) { sensorOrError(sensorSelector: $selector) {
                 __typename ... on Sensor { sensorState { ticks(limit: $limit) {
                   tickId status timestamp endTimestamp skipReason runIds error { message } } } } } }""",
            selector={"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": sensor}, limit=limit,
        )["sensorOrError"]
        return data["sensorState"]["ticks"] if data["__typename"] == "Sensor" else []

    def wait_ticks(self, sensor: str, count: int, after: float, timeout: float) -> list[dict]:
        """Wait until `sensor` has finished `count` ticks that started after the timestamp `after`."""
        def enough():
            done = [t for t in self.sensor_ticks(sensor, limit=count + 10) if t["timestamp"] > after and t["status"] != "STARTED"]
            return done if len(done) >= count else None

        return wait_for(f"{count} ticks of {sensor}", enough, timeout, interval=1.0)

    def _sensor_selector(self, sensor: str) -> dict:
        return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": sensor}

    def stop_sensor(self, sensor: str) -> None:
        found = self.query("query S($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor { id } } }",
                           s=self._sensor_selector(sensor))["sensorOrError"]  # fmt: skip
        self.query("mutation Stop($id: String) { stopSensor(id: $id) { __typename } }", id=found["id"])

    def start_sensor(self, sensor: str) -> None:
        self.query("mutation Start($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename } }", s=self._sensor_selector(sensor))

    def wait_idle(self, timeout: float = 300) -> None:
        """Wait until no run is queued or in progress and no backfill is still requesting runs."""
        active = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]

        def idle() -> bool:
            backfills = self.query('{ partitionBackfillsOrError(status: REQUESTED) { ... on PartitionBackfills { results { id } } } }')
            return not self.runs(statuses=active, limit=1) and not backfills["partitionBackfillsOrError"]["results"]

        wait_for("no run or backfill in progress", idle, timeout, interval=1.0)

    def set_pool_limit(self, pool: str, limit: int) -> None:
        assert self.query("mutation Set($key: String!, $limit: Int!) { setConcurrencyLimit(concurrencyKey: $key, limit: $limit) }",
                          key=pool, limit=limit)["setConcurrencyLimit"]  # fmt: skip

    def pool(self, pool: str) -> dict:
        """A concurrency pool's limit, and the runs whose steps hold or wait for its slots."""
        return self.query(
            """query Pool($key: String!) { instance { concurrencyLimit(concurrencyKey: $key) {
                 slotCount pendingStepCount pendingStepRunIds claimedSlots { runId stepKey } } } }""", key=pool,
        )["instance"]["concurrencyLimit"]  # fmt: skip

    def daemons_healthy(self) -> bool:
        statuses = self.query("{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }")
        required = [d for d in statuses["instance"]["daemonHealth"]["allDaemonStatuses"] if d["required"]]
        return bool(required) and all(d["healthy"] for d in required)

    def location_loaded(self) -> bool:
        data = self.query(
            """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
                 locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
        )["workspaceOrError"]
        for entry in data.get("locationEntries", []):
            if entry["name"] == LOCATION and entry["loadStatus"] == "LOADED":
                if entry["locationOrLoadError"]["__typename"] == "PythonError":
                    raise RuntimeError(f"code location {LOCATION} failed to load: {entry['locationOrLoadError']['message']}")
                return True
        return False


@dataclass
class DagsterProcesses:
    """A webserver and a daemon on 127.0.0.1, and where their logs go."""

    home: Path
    url: str
    env: dict[str, str]
    logs: dict[str, Path] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def graphql(self) -> DagsterGraphQL:
        return DagsterGraphQL(self.url)

    def log_tail(self, lines: int = 80) -> str:
        parts = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines() if path.exists() else []
            parts.append(f"----- {name} ({path}), last {min(lines, len(text))} of {len(text)} lines -----")
            parts += text[-lines:]
        return "\n".join(parts)

    def stop(self, grace: float = 15.0) -> None:
        """Stop every process group: SIGTERM, then SIGKILL after `grace` seconds."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):  # the group: code servers and runs too
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)


def start_dagster(home: Path, env: Mapping[str, str], log_dir: Path, timeout: float = 180.0,
                  instance_extra: str = "") -> DagsterProcesses:  # fmt: skip
    """Start `dagster-webserver` and `dagster-daemon` with DAGSTER_HOME=`home` (a dagster.yaml with
    the project's settings is written there) and the repository's workspace, on a free port.
    Returns when the code location is loaded and the daemons report healthy."""
    home.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(instance_yaml(instance_extra))
    port = free_port()
    full_env = {**os.environ, **env, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    workspace = str(REPO / "workspace.yaml")
    # Create the instance's storage once, before two processes (and their code servers) race to
    # create the same SQLite schema.
    subprocess.run([str(BIN / "dagster"), "instance", "migrate"], cwd=REPO, env=full_env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)  # fmt: skip
    commands = {
        "webserver": [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", workspace],
        "daemon": [str(BIN / "dagster-daemon"), "run", "-w", workspace],
    }
    running = DagsterProcesses(home=home, url=f"http://127.0.0.1:{port}", env=dict(env))
    try:
        for name, command in commands.items():
            log = log_dir / f"{name}.log"
            running.logs[name] = log
            with log.open("ab") as out:
                running.processes[name] = subprocess.Popen(
                    command, cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group: stopped as one, with its children
                )  # fmt: skip
        client = running.graphql

        def up() -> bool:
            for name, process in running.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"dagster {name} exited with {process.returncode}:\n{running.log_tail()}")
            return client.location_loaded() and client.daemons_healthy()

        wait_for("the webserver to load the code location and the daemons to report healthy", up, timeout)
    except BaseException:
        running.stop()
        raise
    return running


@contextlib.contextmanager
def running_dagster(home: Path, env: Mapping[str, str], log_dir: Path, **kwargs) -> Iterator[DagsterProcesses]:
    running = start_dagster(home, env, log_dir, **kwargs)
    try:
        yield running
    finally:
        running.stop()
