"""The instance settings' event log storage: Dagster's SQLite event log, with a kept connection
per database and synchronous=NORMAL commits, that other processes read as before."""

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from p114_assets.app.event_log import KEPT_DATABASES, P114SqliteEventLogStorage, instance_at

REPO = Path(__file__).resolve().parents[2]


@dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2024-07-01"),
          check_specs=[dg.AssetCheckSpec("non_empty", asset="rows")])  # fmt: skip
def rows(context: dg.AssetExecutionContext):
    context.log.info(f"loading {context.partition_key}")
    yield dg.MaterializeResult(metadata={"rows": 3})
    yield dg.AssetCheckResult(passed=True, check_name="non_empty")


@pytest.fixture
def home(tmp_path):
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    return tmp_path


def _synchronous(storage: SqliteEventLogStorage, shard: str) -> int:
    with storage._connect(shard) as conn:
        return conn.exec_driver_sql("PRAGMA synchronous").scalar()


def test_the_project_instance_keeps_dagsters_sqlite_event_log_in_its_home(home):
    with instance_at(home) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, P114SqliteEventLogStorage)
        assert Path(storage._base_dir) == home / "history" / "runs"
        assert _synchronous(storage, "index") == 1  # NORMAL (Dagster's own: FULL, 2)


def test_events_written_through_kept_connections_are_read_by_another_process(home):
    with instance_at(home) as instance:
        for day in ("2024-07-01", "2024-07-02"):
            assert dg.materialize([rows], partition_key=day, instance=instance).success
        run_ids = [r.run_id for r in instance.get_runs()]
        assert len(instance.event_log_storage._engines) <= KEPT_DATABASES
        # the writer's connections are still open while another process reads the same databases
        reader = subprocess.run([sys.executable, "-c", f"""
import dagster as dg
from p114_assets.app.event_log import instance_at
with instance_at({str(home)!r}) as instance:
    for run_id in {run_ids!r}:
        logs = [e.user_message for e in instance.all_logs(run_id) if e.user_message.startswith("loading")]
        print(run_id, logs)
    records = instance.fetch_materializations(dg.AssetKey("rows"), limit=10).records
    print(sorted(r.partition_key for r in records))
    check = instance.event_log_storage.get_asset_check_execution_history(dg.AssetCheckKey(dg.AssetKey("rows"), "non_empty"), limit=10)
    print(sorted(c.status.value for c in check))
"""], capture_output=True, text=True, timeout=120, cwd=REPO)  # fmt: skip
        assert reader.returncode == 0, reader.stderr
        lines = reader.stdout.splitlines()
        assert sorted(line.split(" ", 1)[1] for line in lines[:2]) == ["['loading 2024-07-01']", "['loading 2024-07-02']"]
        assert lines[2] == "['2024-07-01', '2024-07-02']"
        assert lines[3] == "['PLANNED', 'PLANNED', 'SUCCEEDED', 'SUCCEEDED']"  # as Dagster's own storage records them


def test_at_most_a_few_databases_stay_open(home):
    with instance_at(home) as instance:
        storage = instance.event_log_storage
        for shard in ["index", *(f"run{i}" for i in range(KEPT_DATABASES + 3))]:
            assert _synchronous(storage, shard) == 1
        assert list(storage._engines) == [f"run{i}" for i in range(3, KEPT_DATABASES + 3)]
        storage.wipe()  # deletes the run databases (none may stay open) and starts a new index
        assert list(storage._engines) == ["index"] and not list((home / "history" / "runs").glob("run*.db"))


def test_without_a_home_the_storage_says_what_it_needs(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(dg.DagsterInvalidConfigError, match="set DAGSTER_HOME"):
        P114SqliteEventLogStorage()


def test_a_watcher_gets_each_event_while_the_run_is_still_writing(home):
    """The UI's run page follows a run's log through the storage's `watch`. Dagster's SQLite storage
    is told of new events by the run database's file changing, which a kept connection's commits
    (to the WAL) no longer do until a checkpoint: the page would stand still for minutes."""
    import threading
    import time

    from dagster._core.events.log import EventLogEntry

    with instance_at(home) as writer, instance_at(home) as reader:
        seen: list[str] = []
        arrived = threading.Event()

        def follow(entry, _cursor):
            seen.append(entry.user_message)
            arrived.set()

        def log(message: str) -> None:
            entry = EventLogEntry(error_info=None, level=20, user_message=message, run_id="run-a", timestamp=time.time(),
                                  step_key=None, job_name="job", dagster_event=None)  # fmt: skip
            writer.event_log_storage.store_event(entry)

        log("first")
        reader.event_log_storage.watch("run-a", None, follow)
        try:
            for message in ("second", "third"):
                arrived.clear()
                log(message)
                assert arrived.wait(10), f"{message!r} did not reach the watcher: {seen}"
            assert seen[-2:] == ["second", "third"] and "first" in seen
        finally:
            reader.event_log_storage.end_watch("run-a", follow)
