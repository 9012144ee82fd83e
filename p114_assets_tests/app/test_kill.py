"""Reliability (issue 15.6, and failure 2): `p114 materialize` killed with SIGKILL, as a user's
laptop, an out-of-memory killer or a CI timeout kills it, with DAGSTER_HOME set as `make` sets it
(the project's dagster.yaml: the `warehouse` pool has one slot).

After every kill: the DuckDB file opens, every raw partition is whole (the rows of the previous
file or of the new one, never a mix, never empty), the killed run no longer holds the pool slot,
and the next `p114 materialize` completes. Real processes, a real instance, real DuckDB files.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.test_utils import create_run_for_test

from p114_assets.app.event_log import instance_at
from p114_assets.core.synthetic import SyntheticMarket, generate_file
from p114_assets.core.synthetic.files import publication_stamp
from p114_assets.defs.run_health import HOST_TAG, LAUNCHED_BY_TAG, PID_TAG

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DATES = [dt.date(2024, 6, 3), dt.date(2024, 6, 4)]
UNITS = 300
SEEDS = [1, 2, 3]
RAW_TABLES = ["bm_unit_period", "system_period", "bid_offer_pair", "party_period", "account_period", "market_index"]
RUN_TIMEOUT = 240  # one `p114 materialize` of two small partitions takes ~15 s on a busy machine


@pytest.fixture
def setup(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("P114_", "DAGSTER_HOME"))}
    env |= {"DAGSTER_HOME": str(home), "P114_DATA_DIR": str(tmp_path / "data"), "P114_POOL_WAIT_SECONDS": "120"}
    return {"home": home, "incoming": incoming, "warehouse": tmp_path / "warehouse.duckdb", "env": env, "tmp": tmp_path}


def command(setup) -> list[str]:
    return [sys.executable, "-c", "from p114_assets.app.cli import main; main()", "materialize",
            "--source", str(setup["incoming"]), "--warehouse", str(setup["warehouse"])]  # fmt: skip


def materialize(setup) -> subprocess.CompletedProcess:
    return subprocess.run(command(setup), env=setup["env"], capture_output=True, text=True, timeout=RUN_TIMEOUT)


def write_version(setup, seed: int) -> None:
    """The files of every partition, from a market of this seed (its rows differ), replacing the previous ones."""
    for old in setup["incoming"].glob("S0142_*"):
        old.unlink()
    market = SyntheticMarket.build(UNITS, seed=seed)
    for day in DATES:
        generate_file(market, day, "SF").write(setup["incoming"])


def later_seeds(count: int) -> list[int]:
    """Market seeds whose files are published later and later (each new version replaces the last)."""
    stamps = {seed: max(publication_stamp(day, "SF", seed) for day in DATES) for seed in range(200)}
    ordered = sorted(stamps, key=lambda s: (min(publication_stamp(d, "SF", s) for d in DATES), stamps[s]))
    # strictly later on every date
    chosen = [ordered[0]]
    for seed in ordered[1:]:
        if all(publication_stamp(d, "SF", seed) > publication_stamp(d, "SF", chosen[-1]) for d in DATES):
            chosen.append(seed)
    assert len(chosen) >= count, chosen
    step = len(chosen) // count
    return chosen[::step][:count]


def partitions(warehouse: Path) -> dict[tuple[str, str, str], tuple[int, tuple]]:
    """(table, date, run type) -> (rows, distinct publication stamps) of every raw partition."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        found = {}
        for table in RAW_TABLES:
            for day, run, n, stamps in con.execute(
                f"SELECT settlement_date, run_type, count(*), list(DISTINCT publication_ts ORDER BY publication_ts) "
                f"FROM p114.{table} GROUP BY ALL"
            ).fetchall():
                found[(table, str(day), run)] = (n, tuple(stamps))
        return found


def instance(setup) -> dg.DagsterInstance:
    return instance_at(setup["home"])


def pool_claims(setup) -> list[str]:
    with instance(setup) as inst:
        info = inst.event_log_storage.get_concurrency_info("warehouse")
        return [s.run_id for s in info.claimed_slots] + [s.run_id for s in info.pending_steps if s.assigned_timestamp is None]


def unfinished_runs(setup) -> list[str]:
    with instance(setup) as inst:
        return [r.run_id for r in inst.get_runs() if not r.is_finished]


def first_run_started(setup, process: subprocess.Popen, timeout: float = RUN_TIMEOUT) -> float:
    """Wait until the command's first run has started (it is about to write); returns when."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"p114 materialize ended before its first run started: {process.returncode}")
        if (setup["home"] / "history" / "runs.db").exists():
            with instance(setup) as inst:
                if inst.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]), limit=1):
                    return time.monotonic()
        time.sleep(0.1)
    raise AssertionError("no run started")


def test_a_materialize_killed_at_random_moments_leaves_whole_partitions_a_free_pool_and_a_next_run_that_completes(setup):
    seeds = later_seeds(len(SEEDS) + 1)
    write_version(setup, seeds[0])
    process = subprocess.Popen(command(setup), env=setup["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=RUN_TIMEOUT)
    assert process.returncode == 0, err
    with instance(setup) as inst:  # the raw run: the partitions' writes and their checks
        raw = inst.get_run_records(order_by="create_timestamp", ascending=True, limit=1)[0]
        writing = raw.end_time - raw.start_time
    before = partitions(setup["warehouse"])
    assert len(before) == len(RAW_TABLES) * len(DATES)
    kills = []
    for kill_seed, version in zip(SEEDS, seeds[1:]):
        write_version(setup, version)
        process = subprocess.Popen(command(setup), env=setup["env"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)  # fmt: skip
        delay = random.Random(kill_seed).uniform(0, writing * 1.2)
        first_run_started(setup, process)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        held = pool_claims(setup)
        after_kill = partitions(setup["warehouse"])  # the file opens
        kills.append((kill_seed, round(delay, 2), bool(held)))

        started = time.monotonic()
        done = materialize(setup)  # heals the killed run, then loads the new files
        assert done.returncode == 0, (kill_seed, delay, done.stderr[-2000:])
        assert time.monotonic() - started < RUN_TIMEOUT
        if held:
            assert "died without finishing: marked FAILURE" in done.stderr, done.stderr[-2000:]
        after = partitions(setup["warehouse"])
        assert set(after) == set(before)
        for key, state in after_kill.items():
            assert state in (before[key], after[key]), (kill_seed, delay, key, state, before[key], after[key])
            assert len(state[1]) == 1 and state[0] > 0
        assert set(after_kill) == set(before)  # no partition lost
        assert pool_claims(setup) == [] and unfinished_runs(setup) == []
        before = after
    print("kills (seed, seconds after the first run started, slot held when killed):", kills)


def test_a_killed_run_holding_the_pool_slot_no_longer_blocks_the_next_materialize(setup):
    """Issue 15, failure 2, made deterministic: the slot is held by a run whose process was killed.
    Before the fix the next `p114 materialize` waited for ever, silently ("Step blocked by limit
    for pool warehouse" in the event log only)."""
    write_version(setup, 0)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(30)
    with instance(setup) as inst:
        run = create_run_for_test(inst, job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED,
                                  tags={PID_TAG: str(dead.pid), HOST_TAG: socket.gethostname(), LAUNCHED_BY_TAG: "p114 materialize"})  # fmt: skip
        inst.event_log_storage.set_concurrency_slots("warehouse", 1)
        assert inst.event_log_storage.claim_concurrency_slot("warehouse", run.run_id, "raw_tables").is_claimed
    done = materialize(setup)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"run {run.run_id[:8]} (p114 materialize) died without finishing: marked FAILURE, 1 pool slot(s) freed" in done.stderr
    assert "2 partitions" in done.stdout
    with instance(setup) as inst:
        assert inst.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert pool_claims(setup) == []


def test_a_materialize_waiting_for_a_live_run_says_so_and_gives_up_in_one_line(setup):
    write_version(setup, 0)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with instance(setup) as inst:
            run = create_run_for_test(inst, job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED,
                                      tags={PID_TAG: str(holder.pid), HOST_TAG: socket.gethostname(), LAUNCHED_BY_TAG: "p114 materialize"})  # fmt: skip
            inst.event_log_storage.set_concurrency_slots("warehouse", 1)
            assert inst.event_log_storage.claim_concurrency_slot("warehouse", run.run_id, "raw_tables").is_claimed
        started = time.monotonic()
        done = subprocess.run(command(setup), env=setup["env"] | {"P114_POOL_WAIT_SECONDS": "3"}, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT)  # fmt: skip
        assert time.monotonic() - started < RUN_TIMEOUT
    finally:
        holder.kill()
        holder.wait(10)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert any(f"waiting for the warehouse pool slot held by run {run.run_id[:8]} (p114 materialize, started " in line
               and f"pid {holder.pid}" in line for line in lines), done.stderr  # fmt: skip
    assert lines[-1].startswith(f"p114 materialize: gave up after 3 s waiting for the warehouse pool slot held by run {run.run_id[:8]} (")
    assert "P114_POOL_WAIT_SECONDS" in lines[-1] and "Traceback" not in done.stderr
