"""The example deployment files in deploy/: Dagster's own validation, each configured class's schema,
and a real run on the single-machine instance file against a throwaway Postgres (pgserver)."""

from __future__ import annotations

import datetime as dt
import importlib
import re
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._config import validate_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes import class_from_code_pointer

from p114_assets.core.synthetic import generate_files
from p114_assets.definitions import ASSET_CHECKS, ASSETS
from p114_assets.defs.partitions import partition_key
from p114_assets.defs.settlement.assets import RAW_KEYS
from p114_assets_tests.conftest import local_resources

DEPLOY = Path(__file__).parents[1] / "deploy"
INSTANCE_FILES = sorted(DEPLOY.glob("*/dagster.yaml"))
CLASS_ENTRIES = ("run_launcher", "run_coordinator", "compute_logs", "scheduler", "run_storage", "event_log_storage", "schedule_storage")
PACKAGE_SOURCE = "\n".join(p.read_text() for p in (Path(__file__).parents[1] / "p114_assets").rglob("*.py"))


def env_names(text: str) -> set[str]:
    return set(re.findall(r"\b(P114_[A-Z0-9_]+|ELEXON_[A-Z_]+)\b", text))


def test_there_are_instance_files_for_one_machine_and_for_kubernetes():
    assert [p.parent.name for p in INSTANCE_FILES] == ["kubernetes", "single-machine"]


@pytest.mark.parametrize("path", INSTANCE_FILES, ids=lambda p: p.parent.name)
def test_instance_file_passes_dagsters_validation_and_each_class_schema(path):
    config, custom_instance_class = dagster_instance_config(str(path.parent), path.name)
    assert custom_instance_class is None
    # Dagster's storage is Postgres, reached through a secret in the environment, never a literal
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    classes = 0
    for entry in (config[key] for key in CLASS_ENTRIES if key in config):
        cls = class_from_code_pointer(entry["module"], entry["class"])
        result = validate_config(cls.config_type(), entry.get("config") or {})
        assert result.success, f"{path}: {entry['class']}: {[e.message for e in result.errors]}"
        classes += 1
    assert classes == (2 if path.parent.name == "kubernetes" else 0)  # K8sRunLauncher, GCSComputeLogManager
    assert config["concurrency"]["pools"]["default_limit"] > 1  # BigQuery takes several writers (DuckDB: 1)
    assert config["run_retries"]["retry_on_asset_or_op_failure"] is False


def test_the_validation_catches_a_misspelt_setting(tmp_path):
    broken = (DEPLOY / "single-machine" / "dagster.yaml").read_text().replace("max_concurrent_runs:", "max_concurent_runs:")
    (tmp_path / "dagster.yaml").write_text(broken)
    with pytest.raises(DagsterInvalidConfigError, match="max_concurent_runs"):
        dagster_instance_config(str(tmp_path), "dagster.yaml")


def test_the_kubernetes_runs_get_bigquery_a_shared_landing_zone_and_secrets_from_a_secret():
    config, _ = dagster_instance_config(str(DEPLOY / "kubernetes"), "dagster.yaml")
    launcher = config["run_launcher"]["config"]
    env = dict(v.split("=", 1) for v in launcher["env_vars"])
    assert env["P114_WAREHOUSE"] == "bigquery" and "ELEXON_PORTAL_KEY" not in env and launcher["env_secrets"] == ["p114-secrets"]
    mounts = {m["name"]: m["mountPath"] for m in launcher["volume_mounts"]}
    assert {v["name"] for v in launcher["volumes"]} == set(mounts)
    assert env["P114_LANDING_DIR"].startswith(mounts["landing"] + "/")


@pytest.mark.parametrize("path", [*INSTANCE_FILES, DEPLOY / "kubernetes" / "values.yaml", DEPLOY / "README.md"], ids=str)
def test_every_environment_variable_named_is_one_p114_reads(path):
    named = env_names(path.read_text())
    assert named, path
    assert {name for name in named if name not in PACKAGE_SOURCE} == set()


def test_the_helm_values_point_the_code_server_at_p114s_definitions_and_keep_the_key_out():
    values = yaml.safe_load((DEPLOY / "kubernetes" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    args = deployment["dagsterApiGrpcArgs"]
    module = args[args.index("--module-name") + 1]
    assert isinstance(importlib.import_module(module).defs, dg.Definitions)
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["P114_WAREHOUSE"] == "bigquery" and "ELEXON_PORTAL_KEY" not in env
    assert deployment["envSecrets"] == [{"name": "p114-secrets"}]
    assert {v["name"] for v in deployment["volumes"]} == {m["name"] for m in deployment["volumeMounts"]}
    assert values["runLauncher"]["type"] == "K8sRunLauncher" and values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A real, throwaway Postgres (the pgserver wheel's binaries), on a unix socket: no TCP port."""
    pgserver = pytest.importorskip("pgserver")
    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    # the driver named, as deploy/ advises: SQLAlchemy 2.1 maps postgresql:// to psycopg 3
    yield server.get_uri().replace("postgresql://", "postgresql+psycopg2://", 1)
    server.cleanup()


def test_a_partition_runs_on_the_single_machine_instance_with_postgres_storage(tmp_path, monkeypatch, postgres, small_market):
    monkeypatch.setenv("DAGSTER_PG_URL", postgres)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "single-machine" / "dagster.yaml", home / "dagster.yaml")
    incoming = tmp_path / "incoming"
    generate_files(dt.date(2024, 3, 31), dt.date(2024, 3, 31), ["II"], incoming, market=small_market)
    key = partition_key(dt.date(2024, 3, 31), "II")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 4
        result = dg.materialize([*ASSETS, *ASSET_CHECKS], selection=RAW_KEYS, partition_key=key,
                                resources=local_resources(incoming, tmp_path / "p114.duckdb", tmp_path / "landing"), instance=instance)  # fmt: skip
        assert result.success
        stored = instance.get_latest_materialization_event(dg.AssetKey("bm_unit_period"))
        assert stored.run_id == result.run_id and stored.asset_materialization.partition == key
        assert instance.get_run_record_by_id(result.run_id).dagster_run.is_success
