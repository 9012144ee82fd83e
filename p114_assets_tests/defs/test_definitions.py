"""The code location: each domain's definitions merged once, with one automation sensor and the
resources defined once, at the top."""

from __future__ import annotations

import dagster as dg

import p114_assets.definitions as code_location
from p114_assets.defs.alerts import definitions as alerts
from p114_assets.defs.market import definitions as market
from p114_assets.defs.marts import definitions as marts
from p114_assets.defs.settlement import definitions as settlement


def test_dagster_finds_exactly_one_definitions_object_in_the_code_location_module():
    found = [name for name, value in vars(code_location).items() if isinstance(value, dg.Definitions)]
    assert found == ["defs"]


def test_the_domains_merge_into_the_code_location_with_sensors_and_resources_defined_once():
    defs = code_location.defs
    assert [s.name for s in defs.sensors] == ["p114_portal", "cluster_loaded_months", "p114_market", "p114_alerts", "p114_automation"]
    assert sorted(defs.resources) == ["insights", "landing", "reports", "source", "warehouse"]
    domains = (settlement, marts, market, alerts)
    for domain in domains:
        assert not domain.defs.resources  # resources are chosen in one place, at the top
    keys = lambda assets: sorted(k for a in assets for k in a.keys)  # noqa: E731
    assert keys(a for d in domains for a in d.defs.assets or []) == keys(code_location.ASSETS)
    assert len(code_location.ASSET_CHECKS) == sum(len(d.defs.asset_checks or []) for d in domains)
    groups = {k.to_user_string(): g for a in market.defs.assets for k, g in a.group_names_by_key.items()}
    assert set(groups.values()) == {"market"} and len(groups) == 8
    dg.Definitions.validate_loadable(defs)
