"""Resources, chosen in one place by one environment switch: P114_WAREHOUSE (duckdb by default).

Paths default under P114_DATA_DIR (./data). Where files come from is chosen by P114_SOURCE:
`portal` (the Elexon Portal; the default with BigQuery, i.e. in production), `folder` (S0142 files
already in P114_INCOMING_DIR; the default locally) or `generator` (synthetic files, for demos).
The Portal scripting key is read from ELEXON_PORTAL_KEY through dg.EnvVar, never stored.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster_gcp import BigQueryResource

from p114_assets.core.portal import DEFAULT_URL
from p114_assets.defs.marts.resources import ReportStore
from p114_assets.defs.settlement.resources import FolderSource, GeneratorSource, LandingZone, PortalSource, S0142Source
from p114_assets.warehouse.base import Warehouse
from p114_assets.warehouse.bigquery import BigQueryWarehouse
from p114_assets.warehouse.duckdb import DuckDBWarehouse

WAREHOUSES = ("duckdb", "bigquery")
SOURCES = ("portal", "folder", "generator")


def data_dir() -> Path:
    return Path(os.getenv("P114_DATA_DIR", "data"))


def warehouse_from_env() -> Warehouse:
    kind = os.getenv("P114_WAREHOUSE", "duckdb").lower()
    builders = {
        "duckdb": lambda: DuckDBWarehouse(path=os.getenv("P114_DUCKDB_PATH", str(data_dir() / "p114.duckdb"))),
        # credentials: Google application-default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, workload identity)
        "bigquery": lambda: BigQueryWarehouse(
            bigquery=BigQueryResource(project=dg.EnvVar("P114_BQ_PROJECT"), location=os.getenv("P114_BQ_LOCATION") or None),
            dataset=os.getenv("P114_BQ_DATASET", "p114"),
            use_storage_api=os.getenv("P114_BQ_STORAGE_API", "1") == "1",
        ),
    }
    if kind not in builders:
        raise ValueError(f"P114_WAREHOUSE={kind!r}: expected one of {', '.join(builders)}")
    return builders[kind]()


def source_from_env() -> S0142Source:
    production = os.getenv("P114_WAREHOUSE", "duckdb").lower() == "bigquery"
    kind = os.getenv("P114_SOURCE", "portal" if production else "folder").lower()
    builders = {
        "portal": lambda: PortalSource(key=dg.EnvVar("ELEXON_PORTAL_KEY"), base_url=os.getenv("P114_PORTAL_URL", DEFAULT_URL)),
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
