"""The BigQuery warehouse against a local BigQuery emulator, with the real google-cloud-bigquery client."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa
import pytest
from google.api_core.exceptions import BadRequest

from p114_assets.core.synthetic import generate_file
from p114_assets.core.s0142.parser import parse_bytes
from p114_assets.core.s0142.tables import add_period_times
from p114_assets.warehouse.bigquery import BigQueryWarehouse
from p114_assets.warehouse.tables import BIGQUERY_TYPES, TABLES

DAY = dt.date(2024, 5, 1)


@pytest.fixture(scope="module")
def tables(small_market):
    generated = generate_file(small_market, DAY, "SF")
    return parse_bytes(generated.text, generated.file_name.name).tables


def counts(warehouse, table="bm_unit_period") -> dict:
    rows = warehouse.query(f"SELECT settlement_date, run_type, COUNT(*) AS n FROM p114.{table} GROUP BY settlement_date, run_type").to_pylist()
    return {(r["settlement_date"], r["run_type"]): r["n"] for r in rows}


def as_ii(tables):
    return {n: t.set_column(t.schema.get_field_index("run_type"), t.schema.field("run_type"), pa.array(["II"] * t.num_rows))
            for n, t in tables.items()}  # fmt: skip


def test_tables_are_created_partitioned_and_clustered_from_the_shared_definitions(bq_warehouse, tables):
    bq_warehouse.replace_partition(tables, DAY, "SF")
    with bq_warehouse.bigquery.get_client() as client:
        bm = client.get_table(f"{bq_warehouse.bigquery.project}.{bq_warehouse.dataset}.bm_unit_period")
        party = client.get_table(f"{bq_warehouse.bigquery.project}.{bq_warehouse.dataset}.party_period")
    assert bm.time_partitioning.field == "settlement_date" and bm.clustering_fields == ["run_type", "bm_unit_id"]
    assert party.clustering_fields == ["run_type"]
    with bq_warehouse.bigquery.get_client() as client:
        created = {name: client.get_table(f"{bq_warehouse.bigquery.project}.{bq_warehouse.dataset}.{name}") for name in tables}
    assert {name: t.clustering_fields for name, t in created.items()} == {name: list(TABLES[name].cluster_by) for name in tables}
    spec = TABLES["bm_unit_period"]
    assert [f.name for f in bm.schema] == spec.column_names
    assert [f.field_type for f in bm.schema] == [BIGQUERY_TYPES[c.type] for c in spec.columns]
    assert {f.name for f in bm.schema if f.mode == "REQUIRED"} == {c.name for c in spec.columns if not c.nullable}
    assert bq_warehouse.table_exists("bm_unit_period") and not bq_warehouse.table_exists("vlp_party_daily")
    assert bq_warehouse.location().startswith("bigquery:p114-test.p114_")


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_clusters_by_run_type_and_bm_unit_where_it_has_them(name):
    spec = TABLES[name]
    assert list(spec.cluster_by) == [c for c in ("run_type", "bm_unit_id") if c in spec.column_names]


def test_replace_partition_is_idempotent_and_round_trips_values(bq_warehouse, tables):
    bq_warehouse.replace_partition(tables, DAY, "SF")
    bq_warehouse.replace_partition(as_ii(tables), DAY, "II")
    bq_warehouse.replace_partition(tables, DAY, "SF")  # again: the same rows, not twice as many
    n = tables["bm_unit_period"].num_rows
    assert counts(bq_warehouse) == {(DAY, "II"): n, (DAY, "SF"): n}
    back = pl.from_arrow(bq_warehouse.read_partition("bid_offer_pair", DAY, "SF")).sort("settlement_period", "bm_unit_id", "pair_number")
    sent = pl.from_arrow(add_period_times(tables["bid_offer_pair"])).sort("settlement_period", "bm_unit_id", "pair_number")
    assert back.drop("publication_ts").to_dicts() == sent.drop("publication_ts").to_dicts()
    assert back["publication_ts"].cast(pl.Datetime("us")).equals(sent["publication_ts"].cast(pl.Datetime("us")))


def _leftover_staging(warehouse) -> list[str]:
    with warehouse.bigquery.get_client() as client:
        return [t.table_id for t in client.list_tables(f"{warehouse.bigquery.project}.{warehouse.dataset}") if t.table_id.startswith("_staging")]


def test_a_failure_between_the_load_and_the_swap_keeps_the_old_rows(bq_warehouse, tables, monkeypatch):
    bq_warehouse.replace_partition(tables, DAY, "SF")
    before = {name: counts(bq_warehouse, name) for name in tables}

    def broken_swap(self, client, statements):
        raise RuntimeError("injected: the process died after loading the staging tables")

    monkeypatch.setattr(BigQueryWarehouse, "_swap", broken_swap)
    smaller = {name: t.slice(0, 1) for name, t in tables.items()}
    with pytest.raises(RuntimeError, match="injected"):
        bq_warehouse.replace_partition(smaller, DAY, "SF")
    monkeypatch.undo()
    assert {name: counts(bq_warehouse, name) for name in tables} == before
    assert _leftover_staging(bq_warehouse) == []


def test_a_failure_inside_the_swap_rolls_every_table_back(bq_warehouse, tables, monkeypatch):
    bq_warehouse.replace_partition(tables, DAY, "SF")
    before = {name: counts(bq_warehouse, name) for name in tables}
    swap = BigQueryWarehouse._swap

    def failing_last(self, client, statements):  # every table deleted and reinserted, then an error
        return swap(self, client, [*statements, "SELECT ERROR('injected after the last insert')"])

    monkeypatch.setattr(BigQueryWarehouse, "_swap", failing_last)
    with pytest.raises(Exception, match="injected after the last insert"):
        bq_warehouse.replace_partition({name: t.slice(0, 1) for name, t in tables.items()}, DAY, "SF")
    monkeypatch.undo()
    assert {name: counts(bq_warehouse, name) for name in tables} == before
    assert _leftover_staging(bq_warehouse) == []


def test_a_transaction_aborted_by_a_concurrent_update_is_run_again(bq_warehouse, tables, monkeypatch):
    run_script, attempts = BigQueryWarehouse._run_script, []

    def conflicting_once(self, client, script):  # what BigQuery answers when another run swapped first
        attempts.append(script)
        if len(attempts) == 1:
            raise BadRequest("Transaction is aborted due to concurrent update against table p114.bm_unit_period.")
        return run_script(self, client, script)

    monkeypatch.setattr(BigQueryWarehouse, "_run_script", conflicting_once)
    bq_warehouse.replace_partition(tables, DAY, "SF")
    assert len(attempts) == 2 and counts(bq_warehouse) == {(DAY, "SF"): tables["bm_unit_period"].num_rows}


def test_other_bad_requests_are_not_retried(bq_warehouse, tables, monkeypatch):
    attempts = []

    def bad_sql(self, client, script):
        attempts.append(script)
        raise BadRequest("Syntax error: Unexpected keyword")

    monkeypatch.setattr(BigQueryWarehouse, "_run_script", bad_sql)
    with pytest.raises(BadRequest, match="Syntax error"):
        bq_warehouse.replace_partition(tables, DAY, "SF")
    assert len(attempts) == 1 and _leftover_staging(bq_warehouse) == []


def test_new_columns_are_added_to_an_existing_table(bq_warehouse):
    """The schema update BigQuery records. (The emulator updates only its catalog on a table PATCH,
    not its storage, so rows are not written into the widened table here; DuckDB's test does that.)"""
    from google.cloud import bigquery

    table_id = f"{bq_warehouse.bigquery.project}.{bq_warehouse.dataset}.system_period"
    with bq_warehouse.bigquery.get_client() as client:  # a table created by an older release
        client.create_dataset(f"{bq_warehouse.bigquery.project}.{bq_warehouse.dataset}", exists_ok=True)
        client.create_table(bigquery.Table(table_id, schema=[bigquery.SchemaField("settlement_date", "DATE", mode="REQUIRED"),
                                                             bigquery.SchemaField("run_type", "STRING", mode="REQUIRED")]))  # fmt: skip
        bq_warehouse.ensure_tables(client, ["system_period"])
        schema = client.get_table(table_id).schema
    assert [f.name for f in schema] == ["settlement_date", "run_type"] + [
        c for c in TABLES["system_period"].column_names if c not in ("settlement_date", "run_type")]
    assert {f.mode for f in schema[2:]} == {"NULLABLE"}


def test_the_portable_sql_is_transpiled_for_the_configured_dataset(bq_warehouse):
    sql = bq_warehouse.to_bigquery("SELECT COUNT(*) FROM p114.bm_unit_period WHERE settlement_date = DATE '2024-05-01'")
    assert f"`p114-test`.{bq_warehouse.dataset}.bm_unit_period" in sql and "p114.bm_unit_period" not in sql
