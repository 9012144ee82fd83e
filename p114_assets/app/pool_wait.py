"""Never waiting silently for the `warehouse` pool: before each in-process run, and while it runs.

Before a run: runs whose process died are healed (marked failed, their slots freed), and while
every slot is held by a live run, the command says which run holds it and waits, giving up after
P114_POOL_WAIT_SECONDS with one line. During a run: another process (the daemon's automation, a
second CLI) may take the slot between that check and the run's own claim, and Dagster's executor
would then wait in silence; a watcher thread says so, heals a holder that dies meanwhile, and
stops the run when the wait runs out (Dagster then withdraws the run's pending claim).
"""

from __future__ import annotations

import ctypes
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg

from p114_assets.defs.run_health import Holder, heal_dead_runs, pool_holders

Say = Callable[[str], None]
INVOCATION_TAG = "p114/invocation"


class PoolWaitTimeout(RuntimeError):
    """Every slot of the pool stayed held by live runs for longer than the wait allowed."""


def _raise_in(thread_id: int, error: type[BaseException]) -> None:
    """Raise `error` in another thread at its next Python instruction. Dagster's in-process executor
    waits for a slot in a loop that neither SIGINT nor SIGTERM interrupts (it captures them), so
    this is the one way to stop it from the outside; it unwinds through Dagster's own handlers,
    which withdraw the run's pending claim and mark the run failed."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(error))


class PoolGate:
    """Waits for a free slot of `pool` (at most `timeout` seconds per run), saying what it waits for."""

    def __init__(self, instance: dg.DagsterInstance, pool: str, timeout: float, say: Say | None = None, poll: float = 1.0):
        self.instance, self.pool, self.timeout, self.poll = instance, pool, timeout, poll
        self.say = say or (lambda _message: None)
        self.gave_up: str | None = None

    def heal(self) -> int:
        """Heal dead runs, saying which; how many were healed."""
        healed = heal_dead_runs(self.instance)
        for h in healed:
            self.say(f"run {h.run_id[:8]} ({h.launched_by}) died without finishing: marked {h.status}, "
                     f"{h.slots} pool slot(s) freed")  # fmt: skip
        return len(healed)

    def _waiting(self, holders: list[Holder]) -> str:
        held = ", ".join(h.describe() for h in holders)
        return f"the {self.pool} pool slot held by {held}"

    def _give_up_message(self, holders: list[Holder]) -> str:
        # The wait the user set, not the clock: the last poll may end a moment after it.
        return (f"gave up after {self.timeout:g} s waiting for {self._waiting(holders)}; P114_POOL_WAIT_SECONDS sets how long "
                f"to wait (the run holding it can be watched or canceled in the Dagster UI)")  # fmt: skip

    def wait_free(self) -> None:
        """Return once a slot is free; PoolWaitTimeout after `timeout` seconds of waiting."""
        started, last = time.monotonic(), None
        while (holders := pool_holders(self.instance, self.pool)) is not None:
            if self.heal():
                continue
            waited = time.monotonic() - started
            if waited >= self.timeout:
                raise PoolWaitTimeout(self._give_up_message(holders))
            if (text := self._waiting(holders)) != last:
                self.say(f"waiting for {text}; giving up after {self.timeout:g} s (P114_POOL_WAIT_SECONDS)")
                last = text
            time.sleep(self.poll)

    @contextmanager
    def watching(self) -> Iterator[dict[str, str]]:
        """Watch the run started inside the block (give it the tags yielded): say when it waits
        for the pool, and interrupt it when the wait runs out (PoolWaitTimeout at the end)."""
        tag = str(uuid.uuid4())
        if self.instance.is_ephemeral:
            # An in-memory instance is this command's own: no other run can hold its pool, and a
            # second thread reading its shared-cache SQLite can make the run's own status write
            # fail with "database table is locked" (seen once in a test run). Nothing to watch.
            yield {INVOCATION_TAG: tag}
            return
        self._main = threading.get_ident()
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(tag, stop), daemon=True, name="p114-pool-watch")
        watcher.start()
        try:
            yield {INVOCATION_TAG: tag}
        except PoolWaitTimeout:
            raise PoolWaitTimeout(self.gave_up) from None
        finally:
            stop.set()
            watcher.join(10)
        if self.gave_up:
            raise PoolWaitTimeout(self.gave_up)

    def _our_run_waits(self, run_id: str) -> bool:
        info = self.instance.event_log_storage.get_concurrency_info(self.pool)
        return any(s.run_id == run_id for s in info.pending_steps) and not any(s.run_id == run_id for s in info.claimed_slots)

    def _watch(self, tag: str, stop: threading.Event) -> None:
        run_id, since, last = None, None, None
        while not stop.wait(self.poll):
            try:
                if run_id is None:
                    found = self.instance.get_run_records(dg.RunsFilter(tags={INVOCATION_TAG: tag}), limit=1)
                    run_id = found[0].dagster_run.run_id if found else None
                    continue
                if not self._our_run_waits(run_id):
                    since = last = None
                    continue
                holders = pool_holders(self.instance, self.pool, exclude=run_id) or []
                if holders and self.heal():
                    continue
                since = since or time.monotonic()
                waited = time.monotonic() - since
                if waited >= self.timeout:
                    self.gave_up = self._give_up_message(holders)
                    _raise_in(self._main, PoolWaitTimeout)
                    return
                if (text := self._waiting(holders)) != last and holders:
                    self.say(f"waiting for {text}; giving up after {self.timeout:g} s (P114_POOL_WAIT_SECONDS)")
                    last = text
            except Exception:  # a busy SQLite storage: try again at the next poll
                continue
