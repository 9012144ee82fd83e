"""A warehouse an analyst would open: the hand-written VLP files (fixtures/vlp_ii.s0142 and
vlp_sf.s0142, 2024-06-05, figures worked by hand in p114_assets_tests/defs/test_marts.py) loaded
and every daily asset built from them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from p114_assets.core.s0142.parser import parse_file
from p114_assets.definitions import ASSET_CHECKS, ASSETS
from p114_assets.defs.partitions import settlement_date_partitions
from p114_assets_tests.conftest import FIXTURES, local_resources

DAY = dt.date(2024, 6, 5)


@pytest.fixture(scope="session")
def vlp_warehouse(tmp_path_factory) -> Path:
    """The DuckDB file (absolute path); II and SF loaded, so the marts hold SF's figures."""
    folder = tmp_path_factory.mktemp("vlp")
    resources = local_resources(folder, folder / "p114.duckdb")
    for fixture in ("vlp_ii.s0142", "vlp_sf.s0142"):  # two periods only: loaded straight, as the mart tests do
        parsed = parse_file(FIXTURES / fixture)
        resources["warehouse"].replace_partition(parsed.tables, DAY, parsed.header.run_type)
    daily = [a.key for a in ASSETS if a.partitions_def == settlement_date_partitions]
    with dg.instance_for_test() as instance:
        result = dg.materialize([*ASSETS, *ASSET_CHECKS], selection=daily, partition_key=str(DAY), resources=resources,
                                instance=instance, raise_on_error=False)  # fmt: skip
    assert result.success
    return (folder / "p114.duckdb").absolute()
