"""Resources, chosen in one place by one environment switch: P114_WAREHOUSE (duckdb by default).

Paths default under P114_DATA_DIR (./data). Where files come from is chosen by P114_SOURCE:
`portal` (the Elexon Portal; the default with BigQuery, i.e. in production), `folder` (S0142 files
already in P114_INCOMING_DIR; the default locally) or `generator` (synthetic files, for demos).
Settings are read through config.py; the Portal key and the BigQuery project are resolved by
Dagster at run time (dg.EnvVar), never stored.
"""

from __future__ import annotations

import dagster as dg

from p114_assets import config
from p114_assets.defs.market.resources import InsightsResource
from p114_assets.defs.marts.resources import ReportStore
from p114_assets.defs.settlement.resources import FolderSource, GeneratorSource, LandingZone, PortalSource, S0142Source
from p114_assets.warehouse.base import Warehouse
from p114_assets.warehouse.duckdb import DuckDBWarehouse


def warehouse_from_env(outside_dagster: bool = False) -> Warehouse:
    """The warehouse P114_WAREHOUSE picks. `outside_dagster`: for the CLI and the Python API, which
    use the resource directly, so the project is read now rather than left to Dagster (dg.EnvVar)."""
    if config.warehouse_kind() == "bigquery":
        # imported here: the Google client libraries cost about a second and 65 MB a process,
        # which every run of a DuckDB deployment would pay for nothing
        from dagster_gcp import BigQueryResource

        from p114_assets.warehouse.bigquery import BigQueryWarehouse

        # credentials: Google application-default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, workload identity)
        project = config.bigquery_project() if outside_dagster else dg.EnvVar("P114_BQ_PROJECT")
        return BigQueryWarehouse(
            bigquery=BigQueryResource(project=project, location=config.bigquery_location()),
            dataset=config.bigquery_dataset(),
            use_storage_api=config.bigquery_storage_api(),
        )
    return DuckDBWarehouse(path=config.duckdb_path())


def source_from_env() -> S0142Source:
    kind = config.source_kind()
    if kind == "portal":
        return PortalSource(key=dg.EnvVar("ELEXON_PORTAL_KEY"), base_url=config.portal_url())
    if kind == "generator":
        return GeneratorSource(units=config.generator_units(), seed=config.generator_seed())
    return FolderSource(path=config.incoming_dir())


def resources_from_env() -> dict:
    return {
        "warehouse": warehouse_from_env(),
        "source": source_from_env(),
        "landing": LandingZone(path=config.landing_dir()),
        "reports": ReportStore(path=config.reports_dir()),
        "insights": insights_from_env(),
    }


def insights_from_env() -> InsightsResource:
    """The Elexon Insights API (market data), or a stand-in at P114_INSIGHTS_URL."""
    return InsightsResource(base_url=config.insights_url())
