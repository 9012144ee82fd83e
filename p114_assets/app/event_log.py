"""The event log storage p114's instance settings name (dagster_home/dagster.yaml): Dagster's SQLite
event log (one database per run, plus the cross-run index), without two costs per event.

Dagster's SqliteEventLogStorage opens a new engine and connection for every event and closes it
after one transaction. Each commit syncs the WAL to disk, and closing the last connection to a
database in WAL mode checkpoints the WAL into it (more syncs) and deletes the WAL file. A raw
partition writes ~35 events (a materialization per table, ~23 check evaluations, logs), each
stored in its run's database and mirrored in the index, so a run of 7 partitions spent ~6 s of
wall time in those syncs and checkpoints (py-spy on `p114 materialize` with a DAGSTER_HOME),
which the in-process path with its in-memory instance does not pay.

Here each database keeps one open connection (for the index and the few runs used most recently),
so closing a transaction no longer checkpoints, and its commits use `synchronous=NORMAL`, SQLite's
recommended setting for WAL: a commit is atomic and survives the process crashing; only a power
loss can lose the last commits before the next checkpoint (the run's status then says it did
not finish, and the run monitor marks it failed). Reads and writes, other processes' included,
work as before (WAL lets readers run beside the one writer).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg
import sqlalchemy as db
from dagster._core.storage.event_log.polling_event_watcher import SqlPollingEventWatcher
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS, create_db_conn_string
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

from p114_assets import config

# Open databases kept per process: the index and the run(s) a process is writing or reading.
KEPT_DATABASES = 4


def _normal_sync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_home_being_opened: str | None = None  # set by instance_at while it builds an instance
_opening = threading.Lock()


def instance_at(home: str | os.PathLike) -> dg.DagsterInstance:
    """The instance of a DAGSTER_HOME folder other than this process's (`from_config` alone would
    not tell this storage where the folder is: its settings cannot name it)."""
    global _home_being_opened
    with _opening:
        _home_being_opened = str(home)
        try:
            return dg.DagsterInstance.from_config(str(home))
        finally:
            _home_being_opened = None


class P114SqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with one kept connection per database (the few used last) and
    `synchronous=NORMAL` commits."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # before Dagster's __init__ connects
        self._poller: SqlPollingEventWatcher | None = None
        home = _home_being_opened or config.dagster_home()
        if not base_dir and not home:
            message = "P114SqliteEventLogStorage: set DAGSTER_HOME to the folder of dagster.yaml (or use instance_at)"
            raise dg.DagsterInvalidConfigError(message, [], None)
        super().__init__(base_dir or os.path.join(str(home), "history", "runs", ""), inst_data)

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> P114SqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """The shard's kept engine (one pooled connection), the least recently used one closed."""
        engine = self._engines.pop(shard, None)
        if engine is None:
            url = create_db_conn_string(self._base_dir, shard)
            connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False}
            engine = db.create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=4, connect_args=connect_args)
            db.event.listen(engine, "connect", _normal_sync)
        self._engines[shard] = engine
        while len(self._engines) > KEPT_DATABASES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def _dispose_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    # The UI's run page follows a run's log through watch(). Dagster's SQLite storage hears of new
    # events when the run's database file changes, which commits through a kept connection (to its
    # WAL) do not do until a checkpoint, so the page stood still: poll, as Dagster's Postgres storage does.
    def watch(self, run_id: str, cursor: str | None, callback: Any) -> None:
        if self._poller is None:
            self._poller = SqlPollingEventWatcher(self)
        self._poller.watch_run(run_id, cursor, callback)

    def end_watch(self, run_id: str, handler: Any) -> None:
        if self._poller is not None:
            self._poller.unwatch_run(run_id, handler)

    def wipe(self) -> None:
        self._dispose_engines()  # its databases are deleted: no connection may keep them open
        super().wipe()

    def dispose(self) -> None:
        if self._poller is not None:
            self._poller.close()
            self._poller = None
        self._dispose_engines()
        super().dispose()
