"""Runs that heal themselves: a run whose process died (kill -9, out of memory, a closed laptop) is
marked failed and its pool slots are freed, so the `warehouse` pool never stays held by a run that
will never finish.

Dagster records the process of every run: a run launched by the daemon writes "Started process for
run (pid: N)" before it starts, and p114's in-process runs carry their pid and host as tags (the
CLI's process is the run's worker). A run is dead when that process is gone, is a zombie, or is a
newer process that reused the pid. Where this cannot be told (another host, no pid recorded yet),
the run is taken as alive: healing never fails a run that may still be running.

Two callers: the run launcher of the local instance (defs/run_launcher.py), through which Dagster's
run monitoring daemon checks every in-progress run; and the CLI, which heals before it claims a
slot (no daemon needs to be running) and says which run holds the slot while it waits.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import socket
from dataclasses import dataclass

import dagster as dg
import psutil
from dagster._core.events import DagsterEventType
from dagster._core.storage.dagster_run import FINISHED_STATUSES

PID_TAG = "p114/pid"
HOST_TAG = "p114/host"
LAUNCHED_BY_TAG = "p114/launched_by"
# A process created this long after the moment its run recorded it is another one reusing the pid
# (psutil's create time is computed from boot time and clock ticks: allow for rounding).
PID_REUSE_SLACK_SECONDS = 2.0
UNFINISHED = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
              dg.DagsterRunStatus.CANCELING]  # fmt: skip


class Worker(enum.Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"


def this_process_tags() -> dict[str, str]:
    """Tags of an in-process run: the process running it, so a later command can tell it died."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def process_alive(pid: int, existed_by: float) -> bool:
    """Whether process `pid` runs and is the one that existed at `existed_by` (a timestamp)."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= existed_by + PID_REUSE_SLACK_SECONDS
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # it exists, owned by someone else
        return True


def launched_worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, when recorded) of a launched run's worker: the first engine event naming a pid."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=20).records
    for record in records:
        event = record.event_log_entry.dagster_event
        data = event.event_specific_data if event else None
        pid = getattr(data, "metadata", {}).get("pid") if data is not None else None
        if pid is not None:
            return int(pid.value), record.event_log_entry.timestamp
    return None


def worker_status(instance: dg.DagsterInstance, record: dg.RunRecord, local_launcher: bool) -> Worker:
    """Whether the process of a run is alive. In-process runs of p114 (tagged with their pid and
    host) are judged on their host; runs launched by the daemon only when `local_launcher` says
    their workers are processes of this machine."""
    run = record.dagster_run
    if PID_TAG in run.tags:
        if run.tags.get(HOST_TAG) != socket.gethostname():
            return Worker.UNKNOWN
        created = record.create_timestamp
        created = created if created.tzinfo else created.replace(tzinfo=dt.timezone.utc)  # SQLite stores UTC, naive
        alive = process_alive(int(run.tags[PID_TAG]), created.timestamp())
        return Worker.ALIVE if alive else Worker.DEAD
    if not local_launcher:
        return Worker.UNKNOWN
    found = launched_worker_pid(instance, run.run_id)
    if found is None:
        return Worker.UNKNOWN
    return Worker.ALIVE if process_alive(*found) else Worker.DEAD


@dataclass(frozen=True)
class Healed:
    run_id: str
    launched_by: str
    status: str  # the status it was given: FAILURE or CANCELED
    slots: int  # pool slots and pending claims freed


def free_slots(instance: dg.DagsterInstance, run_id: str) -> int:
    """Free every pool slot a run holds or waits for; how many there were."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return 0
    infos = [storage.get_concurrency_info(key) for key in storage.get_concurrency_keys()]
    held = sum(1 for info in infos for item in info.claimed_slots if item.run_id == run_id)
    held += sum(1 for info in infos for item in info.pending_steps if item.run_id == run_id and item.assigned_timestamp is None)
    storage.free_concurrency_slots_for_run(run_id)
    return held


def heal_dead_runs(instance: dg.DagsterInstance, local_launcher: bool | None = None) -> list[Healed]:
    """Mark every unfinished run whose process is gone as failed (canceled, if it was being
    canceled), and free the pool slots of those runs and of any finished run still holding some."""
    if local_launcher is None:
        from p114_assets.defs.run_launcher import LocalRunLauncher

        local_launcher = isinstance(instance.run_launcher, LocalRunLauncher)
    healed = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        if worker_status(instance, record, local_launcher) is not Worker.DEAD:
            continue
        message = "The run's process is gone (killed, or out of memory): marked by p114 and its pool slots freed."
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status not in UNFINISHED:  # it finished meanwhile
            continue
        if current.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(current, message)
            status = "CANCELED"
        else:
            instance.report_run_failed(current, message)
            status = "FAILURE"
        healed.append(Healed(run.run_id, run.tags.get(LAUNCHED_BY_TAG, "the Dagster daemon"), status, free_slots(instance, run.run_id)))
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holding = storage.get_concurrency_run_ids()
        for record in instance.get_run_records(dg.RunsFilter(run_ids=list(holding), statuses=list(FINISHED_STATUSES))) if holding else []:
            slots = free_slots(instance, record.dagster_run.run_id)
            if slots:
                run = record.dagster_run
                healed.append(Healed(run.run_id, run.tags.get(LAUNCHED_BY_TAG, "the Dagster daemon"), run.status.value, slots))
    return healed


@dataclass(frozen=True)
class Holder:
    """A run holding a slot of a pool."""

    run_id: str
    launched_by: str
    started: dt.datetime | None
    pid: str | None

    def describe(self) -> str:
        started = f", started {self.started:%Y-%m-%d %H:%M:%S} UTC" if self.started else ""
        pid = f", pid {self.pid}" if self.pid else ""
        return f"run {self.run_id[:8]} ({self.launched_by}{started}{pid})"


def pool_holders(instance: dg.DagsterInstance, pool: str, exclude: str | None = None) -> list[Holder] | None:
    """The runs holding the slots of `pool` when every slot is taken (None when one is free or the
    pool has no limit)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return None
    info = storage.get_concurrency_info(pool)
    limit = info.limit if info.limit is not None else (info.slot_count or None)
    claimed = [s for s in info.claimed_slots if s.run_id != exclude]
    if limit is None or len(claimed) < limit:
        return None
    holders = []
    for run_id in dict.fromkeys(s.run_id for s in claimed):
        record = next(iter(instance.get_run_records(dg.RunsFilter(run_ids=[run_id]), limit=1)), None)
        tags = record.dagster_run.tags if record else {}
        started = None
        if record:  # a run marked started by hand has no start time: its creation then
            created = record.create_timestamp if record.create_timestamp.tzinfo else record.create_timestamp.replace(tzinfo=dt.timezone.utc)
            started = dt.datetime.fromtimestamp(record.start_time, dt.timezone.utc) if record.start_time else created
        holders.append(Holder(run_id, tags.get(LAUNCHED_BY_TAG, "the Dagster daemon"), started, tags.get(PID_TAG)))
    return holders
