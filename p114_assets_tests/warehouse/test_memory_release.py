"""Issue 14's 1 GB a run: memory a step has freed goes back to the system before the next peak.

Each case runs in a fresh Python process (the allocators' settings are read when they load) and
reads its resident set from /proc: the figures are MiB, the margins several times the noise.
"""

from __future__ import annotations

import json
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
    done = subprocess.run([sys.executable, "-c", RSS + textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
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
