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
"""

from __future__ import annotations

import time

import dagster as dg
from dagster._core.executor import in_process
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._utils.interrupts import pop_captured_interrupt

MAX_NAP_SECONDS = 0.5


class NappingConcurrencyContext(InstanceConcurrencyContext):
    """Dagster's pool claims for one run, telling the executor how long it may sleep."""

    def interval_to_next_pending_claim_check(self) -> float:
        if not self.has_pending_claims():
            return 0.0
        if pop_captured_interrupt():  # a termination captured while waiting: end the run now
            raise DagsterExecutionInterruptedError("The run was terminated while it waited for a pool slot.")
        due = min(self._pending_timeouts.values(), default=time.time())
        return min(max(0.0, due - time.time()), MAX_NAP_SECONDS)


# The in-process executor builds its claims context by this module-level name (dagster 1.13).
in_process.InstanceConcurrencyContext = NappingConcurrencyContext  # type: ignore[misc]

executor = dg.in_process_executor
