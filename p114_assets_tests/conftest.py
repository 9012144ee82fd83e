"""Shared fixtures: hand-written S0142 files, small synthetic markets, gzip helpers."""

from __future__ import annotations

import gzip
import socket
from pathlib import Path

import pytest

from p114_assets.core.s0142.generator import SyntheticMarket

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def write_gz(folder: Path, name: str, text: str | bytes) -> Path:
    data = text.encode() if isinstance(text, str) else text
    path = folder / name
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


@pytest.fixture(scope="session")
def small_market() -> SyntheticMarket:
    return SyntheticMarket.build(60, seed=7)


@pytest.fixture(autouse=True)
def _no_dagster_home(monkeypatch):
    """Tests never touch the developer's Dagster instance."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for servers that cannot be started on port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def local_resources(folder: Path, warehouse_path: Path, landing: Path | None = None) -> dict:
    """Every resource the code location needs, on local folders: files from `folder`, landed in
    `landing` (default: the folder itself), a DuckDB warehouse, reports beside it."""
    from p114_assets.defs.marts.resources import ReportStore
    from p114_assets.defs.settlement.resources import FolderSource, LandingZone
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    return {
        "source": FolderSource(path=str(folder)),
        "landing": LandingZone(path=str(landing or folder)),
        "warehouse": DuckDBWarehouse(path=str(warehouse_path)),
        "reports": ReportStore(path=str(Path(warehouse_path).parent / "reports")),
    }
