"""Reliability of the DuckDB load path (issue 15.6), time-bounded: two processes writing one
warehouse at once lose nothing, and a disk that fills during a partition write leaves the previous
partition whole with a one-line error naming the full disk (a real small tmpfs where this machine
lets the tests mount one; an ENOSPC injected into the transaction everywhere)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import duckdb
import pytest

from p114_assets.app.cli import describe
from p114_assets.core.s0142.parser import parse_bytes
from p114_assets.core.synthetic import generate_file
from p114_assets.warehouse import checked_load
from p114_assets.warehouse.duckdb import DuckDBWarehouse

DAY = dt.date(2024, 5, 1)

WRITER = textwrap.dedent(
    """
    import datetime as dt, sys
    from p114_assets.core.s0142.parser import parse_bytes
    from p114_assets.core.synthetic import SyntheticMarket, generate_file
    from p114_assets.warehouse import checked_load
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    path, first = sys.argv[1], dt.date.fromisoformat(sys.argv[2])
    warehouse = DuckDBWarehouse(path=path, lock_wait_seconds=60)
    market = SyntheticMarket.build(12, seed=1)
    for offset in range(3):
        day = first + dt.timedelta(days=offset)
        generated = generate_file(market, day, "SF")
        parsed = parse_bytes(generated.text, generated.file_name.name)
        assert checked_load.load_partition(warehouse, parsed.tables, parsed.header, day, "SF").loaded
    """
)


def test_two_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "p114.duckdb"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), first], stderr=subprocess.PIPE)
               for first in ("2024-05-01", "2024-05-04")]  # fmt: skip
    for writer in writers:
        _, stderr = writer.communicate(timeout=240)
        assert writer.returncode == 0, stderr.decode()[-2000:]
    warehouse = DuckDBWarehouse(path=str(path))
    rows = warehouse.query("SELECT settlement_date, COUNT(*) AS n FROM p114.bm_unit_period GROUP BY ALL ORDER BY ALL").to_pylist()
    assert rows == [{"settlement_date": DAY + dt.timedelta(days=i), "n": 12 * 48} for i in range(6)]
    status = warehouse.query("SELECT COUNT(*) AS n FROM p114.partition_status WHERE version = 'loaded' AND blocking_passed")
    assert status.to_pylist() == [{"n": 6}]
    assert warehouse.query("SELECT COUNT(*) AS n FROM p114.loaded_runs").to_pylist() == [{"n": 6}]


@pytest.fixture(scope="module")
def versions(small_market):
    """Two versions of one partition: a loaded one, and a later one that will not fit."""
    generated = generate_file(small_market, DAY, "SF")
    return parse_bytes(generated.text, generated.file_name.name)


def _values(warehouse) -> list[tuple]:
    return warehouse.query("SELECT bm_unit_id, settlement_period, metered_volume_mwh FROM p114.bm_unit_period ORDER BY ALL").to_pylist()


def _mount_tmpfs(where: Path, megabytes: int) -> bool:
    where.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", f"p114-{uuid.uuid4().hex[:6]}", str(where)],
                              capture_output=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def test_a_full_tmpfs_during_a_partition_write_keeps_the_previous_partition(tmp_path, versions):
    disk = tmp_path / "small-disk"
    if not _mount_tmpfs(disk, 64):
        pytest.skip("this machine does not let the tests mount a tmpfs (the injected ENOSPC test still runs)")
    try:
        warehouse = DuckDBWarehouse(path=str(disk / "p114.duckdb"), lock_wait_seconds=1)
        assert checked_load.load_partition(warehouse, versions.tables, versions.header, DAY, "SF").loaded
        before = _values(warehouse)
        filler = disk / "filler"
        with filler.open("wb") as handle:  # fill the disk to the last few KiB
            try:
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
            except OSError:
                pass
        with pytest.raises(OSError) as raised:
            for _ in range(5):  # each write needs new blocks; one of them meets the full disk
                checked_load.load_partition(warehouse, versions.tables, versions.header, DAY, "SF")
        line = describe(raised.value)
        assert line == f"No space left on device writing {disk / 'p114.duckdb'}" and "\n" not in line
        filler.unlink()
        assert _values(warehouse) == before  # the previous partition, whole
        assert checked_load.load_partition(warehouse, versions.tables, versions.header, DAY, "SF").loaded  # and it goes on
        assert _values(warehouse) == before
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=30)


def test_an_injected_enospc_inside_the_swap_keeps_the_previous_partition(tmp_path, versions, monkeypatch):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "p114.duckdb"))
    assert checked_load.load_partition(warehouse, versions.tables, versions.header, DAY, "SF").loaded
    before = _values(warehouse)
    put = DuckDBWarehouse._put_rows
    calls = []

    def fills_the_disk(self, con, name, *args, **kwargs):  # the third table's insert meets a full disk
        calls.append(name)
        if len(calls) == 3:
            raise duckdb.IOException('Could not write file "p114.duckdb.wal": No space left on device')
        return put(self, con, name, *args, **kwargs)

    monkeypatch.setattr(DuckDBWarehouse, "_put_rows", fills_the_disk)
    with pytest.raises(OSError) as raised:
        checked_load.load_partition(warehouse, versions.tables, versions.header, DAY, "SF")
    monkeypatch.undo()
    assert describe(raised.value) == f"No space left on device writing {tmp_path / 'p114.duckdb'}"
    assert _values(warehouse) == before
    assert warehouse.query("SELECT version FROM p114.partition_status").to_pylist() == [{"version": "loaded"}]
