"""Resources, chosen in one place by one environment switch: P114_WAREHOUSE (duckdb by default).

Paths default under P114_DATA_DIR (./data). Which files are loaded is chosen by P114_SOURCE:
`folder` (default: S0142 files already in P114_INCOMING_DIR) or `generator` (synthetic files).
"""

from __future__ import annotations

import os
from pathlib import Path

from p114_assets.defs.marts.resources import ReportStore
from p114_assets.defs.settlement.resources import FolderSource, GeneratorSource, LandingZone, S0142Source
from p114_assets.warehouse.base import Warehouse
from p114_assets.warehouse.duckdb import DuckDBWarehouse

WAREHOUSES = ("duckdb",)
SOURCES = ("folder", "generator")


def data_dir() -> Path:
    return Path(os.getenv("P114_DATA_DIR", "data"))


def warehouse_from_env() -> Warehouse:
    kind = os.getenv("P114_WAREHOUSE", "duckdb").lower()
    builders = {
        "duckdb": lambda: DuckDBWarehouse(path=os.getenv("P114_DUCKDB_PATH", str(data_dir() / "p114.duckdb"))),
    }
    if kind not in builders:
        raise ValueError(f"P114_WAREHOUSE={kind!r}: expected one of {', '.join(builders)}")
    return builders[kind]()


def source_from_env() -> S0142Source:
    kind = os.getenv("P114_SOURCE", "folder").lower()
    builders = {
        "folder": lambda: FolderSource(path=os.getenv("P114_INCOMING_DIR", str(data_dir() / "incoming"))),
        "generator": lambda: GeneratorSource(
            units=int(os.getenv("P114_GENERATOR_UNITS", "400")), seed=int(os.getenv("P114_GENERATOR_SEED", "0"))
        ),
    }
    if kind not in builders:
        raise ValueError(f"P114_SOURCE={kind!r}: expected one of {', '.join(builders)}")
    return builders[kind]()


def resources_from_env() -> dict:
    return {
        "warehouse": warehouse_from_env(),
        "source": source_from_env(),
        "landing": LandingZone(path=os.getenv("P114_LANDING_DIR", str(data_dir() / "landing"))),
        "reports": ReportStore(path=os.getenv("P114_REPORTS_DIR", str(data_dir() / "reports"))),
    }
