"""Issue 14's 1 GB a run: memory a step has freed goes back to the system before the next peak.

Each case runs in a fresh Python process (the allocators' settings are read when they load) and
reads its resident set from /proc: the figures are MiB, the margins several times the noise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")

RSS = """
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
"""


def _run(code: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}  # the project's setting, not the caller's
    done = subprocess.run([sys.executable, "-c", RSS + textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_closed_connection_gives_back_what_arrows_allocator_freed(tmp_path):
    """The raw write's one-chunk copy and sorted batches come from Arrow's allocator (mimalloc),
    which kept them after they were freed (~250 MB): resident while the next file parsed."""
    found = _run(f"""
        import json
        import numpy as np, pyarrow as pa, pyarrow.compute as pc
        from p114_assets.warehouse.duckdb import DuckDBWarehouse
        warehouse = DuckDBWarehouse(path={str(tmp_path / "p114.duckdb")!r})
        with warehouse.connect():
            pass
        before = rss()
        ones = pa.array(np.ones(250_000))
        arrays = [pc.add(ones, i) for i in range(100)]  # 100 x 2 MB from Arrow's pool
        held = rss()
        del arrays
        with warehouse.connect():
            pass
        print(json.dumps({{"before": before, "held": held, "after": rss()}}))
    """)
    assert found["held"] - found["before"] > 150, found  # the arrays were resident
    assert found["after"] - found["before"] < 50, found  # kept by the allocator: ~200 MB


def test_polars_gives_back_freed_frames_at_once():
    """The checks' polars frames (polars' own jemalloc) stayed resident for seconds after they
    were dropped, through the write's peak, unless p114 sets polars' allocator to return them."""
    found = _run("""
        import json
        import p114_assets.core.partition_checks  # the package, then polars, as a run imports them
        import polars as pl
        before = rss()
        frames = [pl.DataFrame({"a": pl.int_range(0, 125_000, eager=True),
                                "b": pl.int_range(0, 125_000, eager=True).cast(pl.Utf8)}) for _ in range(100)]
        held = rss()
        del frames
        print(json.dumps({"before": before, "held": held, "after": rss()}))
    """)
    assert found["held"] - found["before"] > 200, found
    assert found["after"] - found["before"] < 60, found  # kept by jemalloc: ~300 MB


def test_a_users_polars_allocator_setting_wins():
    found = _run("""
        import json, os
        os.environ["_RJEM_MALLOC_CONF"] = "dirty_decay_ms:5000"
        import p114_assets
        print(json.dumps({"conf": os.environ["_RJEM_MALLOC_CONF"]}))
    """)
    assert found["conf"] == "dirty_decay_ms:5000"
