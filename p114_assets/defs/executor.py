"""The executor of every p114 run: Dagster's in-process executor, waiting for a pool slot asleep.

Every run executes its steps one after another in the run's own process (a process per step cost
seconds each, and DuckDB takes one writer at a time anyway). A run that waits for the `warehouse`
pool (the next backfill chunk, started beside the one writing: `op_granularity_run_buffer`) should
cost nothing while it waits. In Dagster 1.13 it spins instead: the in-process executor sleeps
`interval_to_next_pending_claim_check()` between polls, which is `min(0, ...)`, so never positive
(dagster-io/dagster#20367 found it; not merged). Measured on bench_backfill: a waiting raw run
burned 0.2-0.7 of a core for the whole of the other run's write, on a machine of two cores.

This executor's waits sleep until the next claim check is due (Dagster's own back-off: 1 s, then
longer, at most 15 s), waking at least every `MAX_NAP_SECONDS` so that an exception raised into
the thread (app/pool_wait.py gives up that way) lands soon.

A run terminated while it waits (Terminate in the UI, a canceled backfill) ends at its next nap:
Dagster's in-process executor only keeps the interrupt for the step's start, so the run stayed
CANCELING until its slot came or run monitoring gave up on it (60 s), its process still waiting.

A step may claim its slot itself, when it first needs it (`claims_its_slot_in_step`, `StepSlot`):
the executor starts it at once. The raw run does, so that the next backfill chunk parses its first
file while the run before it still writes its last one, instead of after (measured: the drain at
each chunk's end was a parse, 1.1-1.5 s, with one core idle).
"""

from __future__ import annotations

import time
from types import TracebackType

import dagster as dg
from dagster._core.executor import in_process
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.storage.tags import PRIORITY_TAG
from dagster._utils.interrupts import pop_captured_interrupt

from p114_assets.defs.run_health import pool_holders

MAX_NAP_SECONDS = 0.5
# How often a step waiting in its own claim asks again: Dagster's back-off (1 s, x1.1 each time)
# asks every ~2 s after 10 s of waiting, so the slot sat free for ~1 s on average at each handover.
STEP_CLAIM_POLL_SECONDS = 0.25
HOLDERS_LOOK_SECONDS = 5.0  # how often a waiting step looks again at which run holds the slot

# Step keys whose pool slot the step claims itself (StepSlot): the executor does not wait for it.
_CLAIMED_IN_STEP: set[str] = set()


def claims_its_slot_in_step(step_key: str) -> None:
    """The step `step_key` (an asset's op name) declares its pool as usual, but the executor
    starts it without a slot: the step waits for one with a `StepSlot` before it writes."""
    _CLAIMED_IN_STEP.add(step_key)


class NappingConcurrencyContext(InstanceConcurrencyContext):
    """Dagster's pool claims for one run, telling the executor how long it may sleep."""

    def __init__(self, instance: dg.DagsterInstance, dagster_run, in_step: bool = False):
        super().__init__(instance, dagster_run)
        self._in_step = in_step

    def claim(self, concurrency_key: str, step_key: str, step_priority: int = 0) -> bool:
        if step_key in _CLAIMED_IN_STEP and not self._in_step:
            return True  # the step claims it (StepSlot)
        claimed = super().claim(concurrency_key, step_key, step_priority)
        if not claimed and self._in_step and step_key in self._pending_timeouts:
            self._pending_timeouts[step_key] = min(self._pending_timeouts[step_key], time.time() + STEP_CLAIM_POLL_SECONDS)
        return claimed

    def interval_to_next_pending_claim_check(self) -> float:
        if not self.has_pending_claims():
            return 0.0
        if pop_captured_interrupt():  # a termination captured while waiting: end the run now
            raise DagsterExecutionInterruptedError("The run was terminated while it waited for a pool slot.")
        due = min(self._pending_timeouts.values(), default=time.time())
        return min(max(0.0, due - time.time()), MAX_NAP_SECONDS)


# The run's log says when the step held the slot (the UI's step timings span its whole step).
TOOK_SLOT, FREED_SLOT = "took the slot", "freed the slot"


class StepSlot:
    """A pool slot claimed by the step itself (`claims_its_slot_in_step`) through Dagster's claim
    queue and the run's priority, as the executor claims one, shown on the UI's pool page as the
    step's pending claim, but asked for every `STEP_CLAIM_POLL_SECONDS`. `wait()` returns once it
    is held, logging which run holds it meanwhile and when it took it. Leaving the block frees it
    (logged too), or withdraws the claim if it never came. A run killed meanwhile is healed like
    any other (run_health frees a dead run's slots)."""

    def __init__(self, context: dg.AssetExecutionContext, pool: str):
        step = context.get_step_execution_context().step
        self._context, self._pool, self._step_key, self._run_id = context, pool, step.key, context.run.run_id
        try:
            self._priority = int(step.tags.get(PRIORITY_TAG, 0))
        except ValueError:
            self._priority = 0
        self._claims = NappingConcurrencyContext(context.instance, context.run, in_step=True)
        self.held = False

    def __enter__(self) -> StepSlot:
        self._claims.__enter__()
        return self

    def wait(self) -> None:
        """Return once the slot is held (at once if it already is)."""
        said, waited_from, next_look = None, time.monotonic(), 0.0
        while not self.held and not self._claims.claim(self._pool, self._step_key, self._priority):
            if time.monotonic() >= next_look:  # who holds it, asked now and then: a few queries each time
                next_look = time.monotonic() + HOLDERS_LOOK_SECONDS
                holders = pool_holders(self._context.instance, self._pool, exclude=self._run_id) or []
                if holders and (text := ", ".join(h.describe() for h in holders)) != said:
                    self._context.log.info(f"waiting for the {self._pool} pool slot held by {text}")
                    said = text
            time.sleep(max(self._claims.interval_to_next_pending_claim_check(), 0.05))
        if not self.held:
            self.held, self._since = True, time.monotonic()
            self._context.log.info(f"{TOOK_SLOT} of the {self._pool} pool after {self._since - waited_from:.1f} s")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.held:
            self._context.instance.event_log_storage.free_concurrency_slot_for_step(self._run_id, self._step_key)
            self.held = False
            self._context.log.info(f"{FREED_SLOT} of the {self._pool} pool, held {time.monotonic() - self._since:.1f} s")
        self._claims.__exit__(exc_type, exc, tb)  # withdraws a claim still pending


# The in-process executor builds its claims context by this module-level name (dagster 1.13).
in_process.InstanceConcurrencyContext = NappingConcurrencyContext  # type: ignore[misc]

executor = dg.in_process_executor
