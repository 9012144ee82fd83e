"""Table definitions shared by every engine: the raw tables come from the S0142 layouts (one
definition, core/s0142/tables.py); this module turns a definition into each engine's DDL so the
engines cannot drift apart."""

from __future__ import annotations

import dataclasses

from p114_assets.core.s0142.tables import ARROW_TYPES, BM_UNIT_PERIOD, PRINTED_DECIMALS, RAW_TABLES, Column, TableSpec, with_period_times
from p114_assets.warehouse.market_tables import COMPARISON_TABLES, MARKET_TABLES

DUCKDB_TYPES = {"text": "VARCHAR", "float": "DOUBLE", "int": "BIGINT", "date": "DATE", "timestamp": "TIMESTAMP",
                "timestamp_utc": "TIMESTAMPTZ", "bool": "BOOLEAN",
                **{name: f"DECIMAL({ARROW_TYPES[name].precision},{ARROW_TYPES[name].scale})" for name in PRINTED_DECIMALS.values()}}  # fmt: skip
# NUMERIC is BigQuery's exact decimal (38 digits, 9 after the point): it holds each of ours exactly.
BIGQUERY_TYPES = {"text": "STRING", "float": "FLOAT64", "int": "INT64", "date": "DATE", "timestamp": "DATETIME",
                  "timestamp_utc": "TIMESTAMP", "bool": "BOOL", **{name: "NUMERIC" for name in PRINTED_DECIMALS.values()}}  # fmt: skip

# The raw tables as stored: the parser's columns plus each period's UTC start and end, which the
# warehouse adds when it writes a partition (core.s0142.tables.add_period_times).
STORED_RAW_TABLES: dict[str, TableSpec] = {name: with_period_times(spec) for name, spec in RAW_TABLES.items()}

# Canonical settlement is a view: bm_unit_period rows of the run a narrow pointer table names for
# each date, so a date's chosen run is stored once, not copied (issue 14). `loaded_runs`, written in
# the same transaction as a partition's raw rows, says which runs are there, so the view can tell
# cheaply when a more mature run has landed that the pointer has not picked up yet (is_stale).
LOADED_RUNS = TableSpec(
    "loaded_runs",
    (
        Column("settlement_date", "date", nullable=False),
        Column("run_type", "text", nullable=False),
        Column("publication_ts", "timestamp", "publication stamp of the run's rows in bm_unit_period", nullable=False),
        Column("flow_version", "text"),
        Column("loaded_at", "timestamp_utc", "when the partition's rows were written"),
    ),
    key=("settlement_date", "run_type"),
    cluster_by=("run_type",),
    description="One row per (settlement date, run type) loaded into bm_unit_period, written with the rows.",
)
SETTLEMENT_CANONICAL_RUNS = TableSpec(
    "settlement_canonical_runs",
    (
        Column("settlement_date", "date", nullable=False),
        Column("run_type", "text", "the chosen run: most mature loaded (DF > RF > R3 > R2 > R1 > SF > II)", nullable=False),
        Column("publication_ts", "timestamp", "its publication stamp when it was chosen (same run type: the later)",
               nullable=False),
    ),
    key=("settlement_date",),
    cluster_by=("run_type",),
    description="The canonical run of each settlement date: the pointer settlement_canonical reads through.",
)
SETTLEMENT_CANONICAL = dataclasses.replace(
    with_period_times(BM_UNIT_PERIOD),
    name="settlement_canonical",
    columns=with_period_times(BM_UNIT_PERIOD).columns
    + (Column("is_stale", "bool", "a more mature run of the date is loaded that canonical has not picked up yet "
              "(the settlement_canonical asset refreshes when it passes its checks)", nullable=False),),
    key=("settlement_date", "settlement_period", "bm_unit_id"),
    description="The bm_unit_period rows of the most mature run of each date (DF > RF > R3 > R2 > R1 > SF > II; "
    "same run type: the later publication stamp), run_type and publication_ts saying which, is_stale whether a "
    "more mature run has landed since. Exactly one run per date. A view over bm_unit_period and "
    "settlement_canonical_runs: nothing is copied.",
)
# What the report reads of bm_unit_period (coverage, energy by unit kind) without scanning it: a few
# rows per partition, written in the same transaction as the partition's rows (issue 14: a year of
# bm_unit_period is 140 M rows a run; its full scans take seconds).
BM_UNIT_PERIOD_DAILY = TableSpec(
    "bm_unit_period_daily",
    (
        Column("settlement_date", "date", nullable=False),
        Column("run_type", "text", nullable=False),
        Column("unit_kind", "text", "kind of BM unit by its id's prefix (core.settlement), as its label", nullable=False),
        Column("bm_units", "int", "BM units of the kind in the partition", nullable=False),
        Column("periods", "int", "distinct settlement periods of those units' rows", nullable=False),
        Column("row_count", "int", "bm_unit_period rows of the kind", nullable=False),
        Column("metered_volume_mwh", "mwh", "sum of BP7 8 (+ = export)"),
    ),
    key=("settlement_date", "run_type", "unit_kind"),
    cluster_by=("run_type",),
    description="bm_unit_period summed per (settlement date, run type) and BM unit kind, written with the partition's rows.",
)
# Check before swap (issue 15): a partition's rows replace the old ones only when they pass their
# blocking checks. `partition_status` records every load and every rejected version, in the same
# transaction as the rows; a rejected version's rows wait in `<raw table>_quarantine` (one version per
# partition), and `<raw table>_valid` views keep only partitions whose loaded version passed.
PARTITION_STATUS = TableSpec(
    "partition_status",
    (
        Column("settlement_date", "date", nullable=False),
        Column("run_type", "text", nullable=False),
        Column("version", "text", "loaded: the rows in the raw tables; quarantined: a rejected file's rows, in the "
               "<raw table>_quarantine tables (at most one such version per partition)", nullable=False),
        Column("file_name", "text", "the S0142 file the rows came from"),
        Column("publication_ts", "timestamp", "its AAA publication stamp"),
        Column("flow_version", "text"),
        Column("loaded_at", "timestamp_utc", "when this version was written", nullable=False),
        Column("blocking_passed", "bool", "every blocking (ERROR) check passed: only such a version is loaded",
               nullable=False),
        Column("failed_checks", "text", "the blocking checks that failed, `asset.check`, comma-separated; NULL if none"),
        Column("warnings", "text", "the WARN checks that failed, `asset.check`, comma-separated; NULL if none"),
        Column("row_counts", "text", "rows per raw table of this version, JSON: {\"bm_unit_period\": 384000, ...}"),
        Column("checks", "text", "every check's result, JSON: [{\"asset\", \"check\", \"severity\", \"passed\", "
               "\"description\"}, ...]"),
    ),
    key=("settlement_date", "run_type", "version"),
    cluster_by=("run_type",),
    description="One row per (settlement date, run type) loaded, and one per rejected version kept in quarantine: "
    "file, stamp, when, and each check's result and severity. Written in the same transaction as the rows.",
)
QUARANTINE_SUFFIX, VALID_SUFFIX = "_quarantine", "_valid"
QUARANTINE_TABLES: dict[str, TableSpec] = {
    f"{name}{QUARANTINE_SUFFIX}": dataclasses.replace(
        spec, name=f"{name}{QUARANTINE_SUFFIX}",
        description=f"The rows of {name} from the latest file of a partition that failed a blocking check (its "
        "partition_status row, version 'quarantined', says which): kept for inspection, never read by anything "
        "downstream; replaced by the next rejected file of the partition, removed when a good one loads.")
    for name, spec in STORED_RAW_TABLES.items()
}  # fmt: skip
# The valid views: a raw table's rows of the partitions whose loaded version passed every blocking check.
VALID_VIEWS: dict[str, str] = {
    f"{name}{VALID_SUFFIX}": f"{name}'s rows of the partitions whose loaded version passed every blocking check "
    "(partition_status); partitions loaded before partition_status existed are left out until loaded again"
    for name in STORED_RAW_TABLES
}
VIEWS = frozenset({SETTLEMENT_CANONICAL.name})

# Derived tables (one partition = one settlement date), computed by the SQL in warehouse/sql.py.
RUN_RECONCILIATION = with_period_times(TableSpec(
    "run_reconciliation",
    (
        Column("bm_unit_id", "text", nullable=False),
        Column("settlement_date", "date", nullable=False),
        Column("settlement_period", "int", nullable=False),
        Column("from_run_type", "text", "the earlier of two consecutive runs present for the date", nullable=False),
        Column("to_run_type", "text", "the later one", nullable=False),
        Column("from_publication_ts", "timestamp"),
        Column("to_publication_ts", "timestamp"),
        Column("presence", "text", "both | to_only | from_only: a unit-period in one run only is compared with zero"),
        Column("metered_volume_delta_mwh", "mwh", "to - from, BM unit metered volume (BP7 8)"),
        Column("balancing_services_volume_delta_mwh", "mwh", "to - from, BP7 5"),
        Column("non_delivery_charge_delta_gbp", "gbp", "to - from, BP7 3"),
        Column("bm_cashflow_delta_gbp", "gbp", "to - from, sum of the unit's BO4 bid + offer cashflows"),
    ),
    key=("settlement_date", "settlement_period", "bm_unit_id", "from_run_type", "to_run_type"),
    cluster_by=("bm_unit_id",),
    description="How each unit's volumes and cashflows moved between consecutive settlement runs of a date.",
))

_VLP_UNIT = (
    Column("bm_unit_id", "text", "a VLP secondary BM unit (V__)", nullable=False),
    Column("lead_party_id", "text", "the party whose BPH block holds the unit's BP7"),
    Column("settlement_date", "date", nullable=False),
)
_VLP_MONEY = (
    Column("accepted_offer_volume_mwh", "mwh", "sum of BO4 5 over the unit's pairs (>= 0)"),
    Column("accepted_bid_volume_mwh", "mwh", "sum of BO4 4 over the unit's pairs (<= 0)"),
    Column("bm_cashflow_gbp", "gbp", "CB = sum of BO4 14 + 15 over the unit's pairs; + = paid to the party"),
    Column("non_delivery_charge_gbp", "gbp", "CND = BP7 3; + = paid by the party"),
    Column("net_balancing_revenue_gbp", "gbp", "CB - CND"),
    Column("metered_volume_mwh", "mwh", "BP7 8, the delivered volume"),
    Column("balancing_services_volume_mwh", "mwh", "BP7 5, the net accepted volume"),
    Column("delivery_ratio", "float", "metered / balancing services volume; NULL where nothing was accepted"),
)

VLP_REVENUE_PERIOD = with_period_times(TableSpec(
    "vlp_revenue_period",
    _VLP_UNIT[:3] + (Column("settlement_period", "int", nullable=False),
                     Column("run_type", "text", "the canonical run of the date", nullable=False)) + _VLP_MONEY,  # fmt: skip
    key=("settlement_date", "settlement_period", "bm_unit_id"),
    cluster_by=("run_type", "bm_unit_id"),
    description="Balancing revenue of each Virtual Lead Party secondary BM unit (V__) per settlement period, "
    "from the canonical run: BM cashflow from its BO4 pairs, non-delivery charge, net revenue, delivery.",
))
VLP_REVENUE_DAILY = TableSpec(
    "vlp_revenue_daily",
    _VLP_UNIT + (Column("run_type", "text", "the canonical run of the date", nullable=False),) + _VLP_MONEY
    + (Column("periods_with_acceptances", "int", "periods with an accepted bid or offer"),),
    key=("settlement_date", "bm_unit_id"),
    cluster_by=("run_type", "bm_unit_id"),
    description="vlp_revenue_period summed per unit and settlement date; delivery ratio of the day's sums.",
)
VLP_PARTY_DAILY = TableSpec(
    "vlp_party_daily",
    (
        Column("party_id", "text", "a party that leads at least one V__ unit on the date", nullable=False),
        Column("settlement_date", "date", nullable=False),
        Column("run_type", "text", "the canonical run of the date", nullable=False),
        Column("vlp_units", "int", "V__ units the party leads on the date"),
        Column("bm_cashflow_gbp", "gbp", "sum of PPC 2 over the day; + = credit to the party"),
        Column("non_delivery_charge_gbp", "gbp", "sum of PPC 5; + = debit"),
        Column("energy_imbalance_cashflow_gbp", "gbp", "sum of PPC 3; + = debit"),
        Column("residual_cashflow_reallocation_gbp", "gbp", "sum of PPC 6; + = credit"),
        Column("net_settlement_position_gbp", "gbp", "BM cashflow - non-delivery - energy imbalance + RCRC; + = paid to the party"),
        Column("vlp_compensation_cashflow_gbp", "gbp",
               "sum of PPC 9 [I], the Virtual Lead Party compensation cashflow; + = debit (paid by the party, as APC 11 "
               "[V]); NULL where the file leaves PPC 9 blank", "I"),
        Column("supplier_compensation_cashflow_gbp", "gbp",
               "sum of PPC 10 [I], the supplier compensation cashflow; + = credit (as APC 12 [V]); NULL where blank", "I"),
        Column("net_position_after_compensation_gbp", "gbp",
               "net settlement position - VLP compensation + supplier compensation (blank counts 0); + = paid to the "
               "party; rests on PPC 9 and 10, both [I]", "I"),
    ),
    key=("settlement_date", "party_id"),
    cluster_by=("run_type",),
    description="Each Virtual Lead Party's settlement position for a day, from its PPC records in the canonical run.",
)
UNIT_CLASSIFICATION = TableSpec(
    "unit_classification",
    (
        Column("bm_unit_id", "text", nullable=False),
        Column("settlement_date", "date", "the partition: the window's last date", nullable=False),
        Column("window_start", "date", nullable=False),
        Column("window_end", "date", "= settlement_date (inclusive)", nullable=False),
        Column("window_days", "int", nullable=False),
        Column("days_with_data", "int", "dates of the window with a canonical run"),
        Column("run_types_used", "text", "canonical run types of those dates, comma-separated"),
        Column("a_self_mwh", "mwh", "sum |FPN| (BP7 4)"),
        Column("a_so_mwh", "mwh", "sum |QBS| (BP7 5)"),
        Column("a_dev_mwh", "mwh", "sum |QM - FPN - QBS| (BP7 8 - 4 - 5)"),
        Column("a_tot_mwh", "mwh", "a_self + a_so + a_dev"),
        Column("so_share", "float", "a_so / a_tot"),
        Column("dev_share", "float", "a_dev / a_tot"),
        Column("class", "text", "so_directed | self_dispatched | imbalance_exposed | mixed | inactive", nullable=False),
        Column("min_activity_mwh", "float", "threshold used"),
        Column("so_directed_min_share", "float", "threshold used"),
        Column("self_dispatched_max_so_share", "float", "threshold used"),
        Column("self_dispatched_max_dev_share", "float", "threshold used"),
        Column("imbalance_exposed_min_dev_share", "float", "threshold used"),
    ),
    key=("settlement_date", "bm_unit_id"),
    cluster_by=("bm_unit_id",),
    description="How each non-supplier BM unit balanced over a rolling window ending on the date: by itself, "
    "directed by the system operator, or exposed to imbalance.",
)

DERIVED_TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (SETTLEMENT_CANONICAL, RUN_RECONCILIATION, VLP_REVENUE_PERIOD, VLP_REVENUE_DAILY, VLP_PARTY_DAILY,
              UNIT_CLASSIFICATION)  # fmt: skip
}
# Bookkeeping: what is loaded and what canonical points at.
RUN_TABLES: dict[str, TableSpec] = {t.name: t for t in (LOADED_RUNS, BM_UNIT_PERIOD_DAILY, SETTLEMENT_CANONICAL_RUNS, PARTITION_STATUS)}
# Settlement tables (raw as stored, and derived), then the market tables and the marts beside them.
SETTLEMENT_TABLES: dict[str, TableSpec] = {**STORED_RAW_TABLES, **DERIVED_TABLES}
TABLES: dict[str, TableSpec] = {**SETTLEMENT_TABLES, **RUN_TABLES, **QUARANTINE_TABLES, **MARKET_TABLES, **COMPARISON_TABLES}
# Tables the derived SQL reads whether or not anything was ever written to them (unit kinds read
# bm_units where it knows a unit): engines create them, empty, before running derived SQL.
REFERENCE_TABLES = ("bm_units",)


def duckdb_columns(table: TableSpec) -> list[tuple[str, str]]:
    return [(c.name, DUCKDB_TYPES[c.type]) for c in table.columns]


def duckdb_create(table: TableSpec, schema: str) -> str:
    """CREATE TABLE for a table (views are created from their SQL: sql.canonical_view)."""
    cols = ",\n  ".join(
        f'"{name}" {sql_type}{"" if col.nullable else " NOT NULL"}'
        for (name, sql_type), col in zip(duckdb_columns(table), table.columns)
    )
    return f'CREATE TABLE IF NOT EXISTS {schema}."{table.name}" (\n  {cols}\n)'


def write_columns(table: TableSpec) -> list[str]:
    """The order DuckDB writes a table's rows in: its clustering columns, then its key, so each row
    group holds a narrow range of BM units and DuckDB's min/max zone maps skip the rest when a
    query asks for a few units (BigQuery clusters by the same columns)."""
    return [c for c in table.cluster_by if c != "run_type"] + [k for k in table.key if k not in table.cluster_by]


def write_order(table: TableSpec) -> str:
    """write_columns as an ORDER BY list."""
    return ", ".join(f'"{c}"' for c in write_columns(table))


def cluster_order(table: TableSpec) -> str:
    """The ORDER BY that stores a range of dates clustered as BigQuery clusters the table: its
    clustering columns (run type first), then its key, so one BM unit's rows of a month of one
    run sit together (DuckDB: a few blocks a column for the month, not one a date)."""
    columns = [*table.cluster_by, *(k for k in table.key if k not in table.cluster_by)]
    return ", ".join(f'"{c}"' for c in columns)
