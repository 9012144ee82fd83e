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
