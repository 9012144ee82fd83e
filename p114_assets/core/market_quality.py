"""Data-quality rules for the market tables and the comparison marts, as pure functions over polars
frames (the settlement rules are in core/quality.py; the Outcome and the pandera schemas are
shared). The Dagster checks in defs/market and defs/marts run them on rows read back from the
warehouse."""

from __future__ import annotations

import polars as pl

from p114_assets.core.quality import Outcome, Severity, schema_outcome
from p114_assets.core.s0142.tables import TableSpec

DEFAULT_WARN_SHARE = 0.05  # settled vs indicative: WARN beyond 5% of the larger figure ...
DEFAULT_WARN_FLOOR_GBP = 10.0  # ... and more than GBP 10 apart (pennies are not news)
SAMPLE_ROWS = 10


def segments_run_forward(df: pl.DataFrame) -> Outcome:
    """Every MW segment (BOD, BOALF, PN) ends at or after it starts (ERROR: the estimate
    integrates over them)."""
    if not {"time_from_utc", "time_to_utc"} <= set(df.columns):
        return Outcome("segments_run_forward", True, "ERROR", "no segments in this table")
    bad = df.filter(pl.col("time_to_utc") < pl.col("time_from_utc"))
    description = (f"all {df.height:,} segments end at or after they start" if bad.is_empty()
                   else f"{bad.height:,} segments end before they start")  # fmt: skip
    return Outcome("segments_run_forward", bad.is_empty(), "ERROR", description,
                   None if bad.is_empty() else bad.head(SAMPLE_ROWS), {"segments": df.height, "backwards": bad.height})  # fmt: skip


def market_partition_outcomes(table: TableSpec, df: pl.DataFrame) -> list[Outcome]:
    """The rules of one date of a market table: pandera structure (ERROR), value ranges (WARN),
    segments running forward (ERROR)."""
    return [schema_outcome(table, df, "structure"), schema_outcome(table, df, "value_ranges"), segments_run_forward(df)]


def intervals_do_not_overlap(df: pl.DataFrame) -> Outcome:
    """bm_units: each unit's intervals are ordered, non-empty and do not overlap, and at most one
    is open (valid_to NULL), so 'as of a date' has one answer (ERROR)."""
    if not df.height:
        return Outcome("intervals_do_not_overlap", True, "ERROR", "no intervals yet", metadata={"intervals": 0})
    ordered = df.sort("bm_unit_id", "valid_from").with_columns(
        pl.col("valid_from").shift(-1).over("bm_unit_id").alias("next_from"))
    bad = ordered.filter(
        (pl.col("valid_to").is_not_null() & (pl.col("valid_to") <= pl.col("valid_from")))
        | (pl.col("next_from").is_not_null() & (pl.col("valid_to").is_null() | (pl.col("valid_to") > pl.col("next_from"))))
    ).select("bm_unit_id", "valid_from", "valid_to", "next_from")  # fmt: skip
    description = (f"{df['bm_unit_id'].n_unique():,} units, {df.height:,} intervals, none overlapping"
                   if bad.is_empty() else f"{bad.height:,} intervals overlap the next or are empty")  # fmt: skip
    return Outcome("intervals_do_not_overlap", bad.is_empty(), "ERROR", description,
                   None if bad.is_empty() else bad.head(SAMPLE_ROWS), {"intervals": df.height, "bad": bad.height})  # fmt: skip


def settled_vs_indicative(rows: pl.DataFrame, share: float = DEFAULT_WARN_SHARE, floor_gbp: float = DEFAULT_WARN_FLOOR_GBP,
                          severity: Severity = "WARN") -> Outcome:  # fmt: skip
    """Units whose settled BM cashflow of a day (S0142 BO4) and Elexon's indicative one (EBOCF)
    differ by more than `share` of the larger and by more than `floor_gbp`. `rows`: bm_unit_id,
    lead_party_id, run_type, settled_bm_cashflow_gbp, indicative_bm_cashflow_gbp."""
    if not rows.height:
        return Outcome("settled_vs_indicative", True, severity, "no unit with both settled and indicative figures",
                       metadata={"units_compared": 0})  # fmt: skip
    compared = rows.with_columns(
        (pl.col("indicative_bm_cashflow_gbp") - pl.col("settled_bm_cashflow_gbp")).alias("difference_gbp"),
        pl.max_horizontal(pl.col("settled_bm_cashflow_gbp").abs(), pl.col("indicative_bm_cashflow_gbp").abs()).alias("larger"),
    )  # fmt: skip
    off = (compared.filter((pl.col("difference_gbp").abs() > floor_gbp) & (pl.col("difference_gbp").abs() > share * pl.col("larger")))
           .sort(pl.col("difference_gbp").abs(), descending=True).drop("larger"))  # fmt: skip
    description = (f"{rows.height:,} units: settled and indicative agree within {share:.0%} (or GBP {floor_gbp:,.0f})"
                   if off.is_empty() else
                   f"{off.height:,} of {rows.height:,} units differ by more than {share:.0%} and GBP {floor_gbp:,.0f} "
                   f"between settled ({off['run_type'][0]}) and indicative")  # fmt: skip
    return Outcome("settled_vs_indicative", off.is_empty(), severity, description, None if off.is_empty() else off.head(SAMPLE_ROWS),
                   {"units_compared": rows.height, "units_differing": off.height, "warn_share": share, "warn_floor_gbp": floor_gbp})  # fmt: skip
