"""A run waiting for a pool slot sleeps between claim checks (defs/executor.py), instead of
spinning on a core as Dagster 1.13's in-process executor does."""

import threading
import time

import dagster as dg

from p114_assets.defs import executor


@dg.asset(pool="warehouse")
def pooled() -> None:
    """Stands for raw_tables: a step that needs the one slot of the warehouse pool."""


def test_a_run_waiting_for_the_pool_polls_a_few_times_a_second_not_continuously(tmp_path, monkeypatch):
    polls = []
    original = executor.NappingConcurrencyContext.interval_to_next_pending_claim_check

    def counted(self):
        polls.append(time.monotonic())
        return original(self)

    monkeypatch.setattr(executor.NappingConcurrencyContext, "interval_to_next_pending_claim_check", counted)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.event_log_storage.set_concurrency_slots("warehouse", 1)
        assert instance.event_log_storage.claim_concurrency_slot("warehouse", "another-run", "raw_tables").is_claimed
        result = {}

        def materialize() -> None:
            try:
                result["done"] = dg.materialize([pooled], instance=instance)
            except BaseException as error:  # shown by the assert below, not lost in the thread
                result["error"] = error

        run = threading.Thread(target=materialize, daemon=True)
        run.start()
        deadline = time.monotonic() + 60
        while not polls and time.monotonic() < deadline:  # the run is waiting for the slot
            time.sleep(0.05)
        time.sleep(3)
        waited = list(polls)
        instance.event_log_storage.free_concurrency_slots_for_run("another-run")
        run.join(timeout=180)  # generous: a loaded CI machine starts a run slowly
    assert "done" in result, result.get("error", "the run did not end within 180 s of the slot's release")
    assert result["done"].success  # it got the slot once freed
    span = waited[-1] - waited[0]
    assert span > 2, waited
    # Dagster's own loop polled without sleeping: tens of thousands of polls in 3 s
    assert len(waited) <= 4 * (span + 1), f"{len(waited)} polls in {span:.1f} s"


def holders(instance: dg.DagsterInstance) -> tuple[set[str], set[str]]:
    """(runs holding a warehouse slot, runs with a claim pending)."""
    info = instance.event_log_storage.get_concurrency_info("warehouse")
    return {s.run_id for s in info.claimed_slots}, {s.run_id for s in info.pending_steps}


SEEN: dict[str, object] = {}


@dg.asset(pool="warehouse")
def claims_its_own_slot(context: dg.AssetExecutionContext) -> None:
    """Stands for raw_tables: works before it needs the slot, waits for it, frees it when written."""
    SEEN["started"] = time.monotonic()
    with executor.StepSlot(context, "warehouse") as slot:
        slot.wait()
        SEEN["held"] = time.monotonic()
        SEEN["holders while held"] = holders(context.instance)
    SEEN["holders after"] = holders(context.instance)


executor.claims_its_slot_in_step("claims_its_own_slot")


def materialize_in_thread(instance: dg.DagsterInstance, asset, **kwargs) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def materialize() -> None:
        try:
            result["done"] = dg.materialize([asset], instance=instance, **kwargs)
        except BaseException as error:  # shown by the test's assert, not lost in the thread
            result["error"] = error

    run = threading.Thread(target=materialize, daemon=True)
    run.start()
    return run, result


def wait_until(what, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not (found := what()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def test_a_step_that_claims_its_own_slot_starts_while_another_run_holds_it_and_frees_it_when_done(tmp_path):
    """The step starts at once (the raw run parses its first file while the run before it writes),
    shows as a pending claim of its run while it waits, gets the slot within a fraction of a
    second of its release (Dagster's back-off would ask every ~2 s by then), and frees it when its
    block ends, before the step does."""
    SEEN.clear()
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.event_log_storage.set_concurrency_slots("warehouse", 1)
        assert instance.event_log_storage.claim_concurrency_slot("warehouse", "another-run", "raw_tables").is_claimed
        run, result = materialize_in_thread(instance, claims_its_own_slot)
        assert wait_until(lambda: "started" in SEEN), "the step did not start while the slot was held"
        ours = wait_until(lambda: holders(instance)[1] - {"another-run"})
        assert ours, "the waiting step's claim is not shown as pending"
        time.sleep(12)  # long enough for Dagster's back-off to ask only every ~2 s
        assert "held" not in SEEN
        freed = time.monotonic()
        instance.event_log_storage.free_concurrency_slots_for_run("another-run")
        run.join(timeout=180)
    assert "done" in result, result.get("error", "the run did not end within 180 s of the slot's release")
    assert result["done"].success
    assert SEEN["held"] - freed < 0.75, f"the slot was taken {SEEN['held'] - freed:.2f} s after its release"
    assert SEEN["holders while held"][0] == ours
    assert SEEN["holders after"] == (set(), set())


@dg.asset(pool="warehouse")
def gives_up_waiting(context: dg.AssetExecutionContext) -> None:
    """A step whose wait for the slot ends in an error (an interrupt, PoolGate giving up)."""
    with executor.StepSlot(context, "warehouse") as slot:
        SEEN["claims"] = slot
        real_sleep, calls = time.sleep, []

        def sleep_then_fail(seconds: float) -> None:
            calls.append(seconds)
            if len(calls) > 3:
                raise TimeoutError("gave up")
            real_sleep(seconds)

        executor.time.sleep = sleep_then_fail
        try:
            slot.wait()
        finally:
            executor.time.sleep = real_sleep


executor.claims_its_slot_in_step("gives_up_waiting")


def test_a_step_that_stops_waiting_for_its_slot_withdraws_its_claim(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.event_log_storage.set_concurrency_slots("warehouse", 1)
        assert instance.event_log_storage.claim_concurrency_slot("warehouse", "another-run", "raw_tables").is_claimed
        result = dg.materialize([gives_up_waiting], instance=instance, raise_on_error=False)
        assert not result.success
        assert "gave up" in str(result.get_step_failure_events()[0].step_failure_data.error.cause.message)
        claimed, pending = holders(instance)
        assert claimed == {"another-run"} and pending == {"another-run"}  # its claim withdrawn (the holder's stays listed)


def test_a_step_that_claims_its_own_slot_gets_it_at_once_when_it_is_free(tmp_path):
    SEEN.clear()
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.event_log_storage.set_concurrency_slots("warehouse", 1)
        assert dg.materialize([claims_its_own_slot], instance=instance).success
        assert SEEN["held"] - SEEN["started"] < 0.5
        assert len(SEEN["holders while held"][0]) == 1 and SEEN["holders after"] == (set(), set())
