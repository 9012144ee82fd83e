"""Every check of one raw partition at once, on the rows about to be written (check before swap).

The load step parses a file, judges its rows here, and only then writes them: into the raw tables
when every blocking check passes, into quarantine otherwise (warehouse/checked_load.py). The rules
are those of core/quality.py (shared with `p114 validate`), evaluated on the parsed frames in
memory, plus one rule that needs the warehouse's memory of the partition: a structurally valid
file with far fewer rows than the partition's previous version is refused.

Speed (issue 14.2): no rule reads the warehouse. The structural rules of bm_unit_period share one
group-by on (unit, period), and pandera runs only where a cheap one-pass scan of a table (nulls,
domains, ranges and types in one `select`) finds something to explain.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

import polars as pl

from p114_assets.core import quality
from p114_assets.core.quality import Outcome, Rule
from p114_assets.core.s0142.tables import RAW_TABLES, TableSpec
from p114_assets.core.settlement import periods_in_day

if TYPE_CHECKING:  # quality.py imports pandera when it builds a schema
    import pandera.api.checks as pandera_checks

DEFAULT_MIN_ROW_RATIO = 0.5

ROWS_VS_PREVIOUS = Rule(
    "rows_vs_previous_version", "ERROR",
    "no raw table of the partition has far fewer rows than the partition's previous version (fewer than "
    "P114_MIN_ROW_RATIO times, default 0.5): a file cut short yet well formed never replaces a whole one")  # fmt: skip
# The asset the cross-table rule reports on.
ROWS_VS_PREVIOUS_ASSET = "bm_unit_period"


def rows_vs_previous(counts: Mapping[str, int], previous: Mapping[str, int] | None, min_ratio: float) -> Outcome:
    """Each table's new rows against the previous version's (None: nothing loaded before)."""
    if not previous:
        return ROWS_VS_PREVIOUS.outcome(True, "no previous version of the partition to compare with",
                                        metadata={"rows": sum(counts.values())})  # fmt: skip
    short = {t: (counts.get(t, 0), n) for t, n in previous.items() if n > 0 and counts.get(t, 0) < min_ratio * n}
    if not short:
        return ROWS_VS_PREVIOUS.outcome(True, f"every table has at least {min_ratio:g} x the previous version's rows",
                                        metadata={"rows": sum(counts.values()), "previous_rows": sum(previous.values())})  # fmt: skip
    described = ", ".join(f"{t} {new:,} against {old:,}" for t, (new, old) in sorted(short.items()))
    failing = pl.DataFrame({"table": sorted(short), "rows": [short[t][0] for t in sorted(short)],
                            "previous_rows": [short[t][1] for t in sorted(short)]})  # fmt: skip
    return ROWS_VS_PREVIOUS.outcome(False, f"far fewer rows than the previous version (ratio {min_ratio:g}): {described}", failing,
                                    {"rows": sum(counts.values()), "previous_rows": sum(previous.values())})  # fmt: skip


# ---------------------------------------------------------------------------------------------
# One pass per table


def _expression(column: str, check: pandera_checks.Check) -> pl.Expr:
    """The rows a pandera built-in check (in_range, ge, le, isin: what quality.py uses) would fail,
    as a polars count, from the statistics pandera keeps: the same bounds, written once."""
    stats, value = check.statistics or {}, pl.col(column)
    if "allowed_values" in stats:
        bad = ~value.is_in(list(stats["allowed_values"]))
    else:
        low, high = stats.get("min_value"), stats.get("max_value")
        bad = pl.lit(False)
        if low is not None:
            bad = bad | ((value < low) if stats.get("include_min", True) else (value <= low))
        if high is not None:
            bad = bad | ((value > high) if stats.get("include_max", True) else (value >= high))
    return (bad & value.is_not_null()).sum()


def _schema_is_clean(table: TableSpec, df: pl.DataFrame, kind: str) -> bool:
    """True when one select over the table finds no failure of the schema: then pandera (which
    checks column by column) need not run, and the outcome is the one it would give."""
    schema = quality.structure_schema(table) if kind == "structure" else quality.value_range_schema(table)
    if kind == "structure":
        normalised = quality._normalise(df.head(0), table)
        if any(normalised.schema.get(name) != column.dtype.type for name, column in schema.columns.items()):
            return False
    counts: list[pl.Expr] = []
    for name, column in schema.columns.items():
        if name not in df.columns:
            return False
        if not column.nullable:
            counts.append(pl.col(name).null_count())
        counts += [_expression(name, check) for check in column.checks]
    if not counts:
        return True
    found = df.select(pl.sum_horizontal([c.cast(pl.Int64) for c in counts]).alias("failures"))
    return found.item() == 0


def _schema_outcome(table: TableSpec, df: pl.DataFrame, kind: str) -> Outcome:
    if _schema_is_clean(table, df, kind):
        rule = quality.SCHEMA if kind == "structure" else quality.VALUE_RANGES_RULE
        schema = quality.structure_schema(table) if kind == "structure" else quality.value_range_schema(table)
        return rule.outcome(True, f"{schema.name}: {df.height:,} rows pass", None, {"rows": df.height})
    return quality.schema_outcome(table, df, kind)  # pandera explains what failed


def _unit_period_outcomes(df: pl.DataFrame, settlement_date: dt.date) -> dict[str, Outcome]:
    """periods_per_day, every_unit_every_period and no_duplicate_unit_periods from one group-by on
    (unit, period); a failing rule is explained by its own function in quality.py."""
    # the two key columns first: a group-by of the whole frame takes ~250 MB and 4x the time
    pairs = df.select("bm_unit_id", "settlement_period").group_by("bm_unit_id", "settlement_period").len()
    per_unit = pairs.group_by("bm_unit_id").agg(pl.len().alias("periods"), (pl.col("len") > 1).sum().alias("dupes"))
    expected = periods_in_day(settlement_date)
    periods = set(pairs["settlement_period"].unique().drop_nulls().to_list())
    outcomes = {}
    if periods == set(range(1, expected + 1)):
        outcomes["periods_per_day"] = quality.PERIODS_PER_DAY.outcome(
            True, f"{len(periods)} periods; {settlement_date} has {expected} (Europe/London)", None,
            {"periods_expected": expected, "periods_present": len(periods)})  # fmt: skip
    else:
        outcomes["periods_per_day"] = quality.periods_per_day(df, settlement_date)
    if per_unit.height and per_unit["periods"].min() == expected == per_unit["periods"].max():
        outcomes["every_unit_every_period"] = quality.EVERY_UNIT_EVERY_PERIOD.outcome(
            True, f"all {per_unit.height:,} BM units have all {expected} periods", None,
            {"bm_units": per_unit.height, "bm_units_incomplete": 0})  # fmt: skip
    else:
        outcomes["every_unit_every_period"] = quality.every_unit_every_period(df, settlement_date)
    if not per_unit.height or per_unit["dupes"].sum() == 0:
        outcomes["no_duplicate_unit_periods"] = quality.NO_DUPLICATE_UNIT_PERIODS.outcome(
            True, "no duplicate (unit, period) rows", None, {"duplicated_pairs": 0})
    else:
        outcomes["no_duplicate_unit_periods"] = quality.no_duplicate_unit_periods(df)
    return outcomes


def table_outcomes(table: TableSpec, df: pl.DataFrame, settlement_date: dt.date) -> list[Outcome]:
    """The rules of quality.rules_for(table) on one table's partition, in their order; the same
    outcomes as quality.partition_outcomes, computed with fewer passes over the rows."""
    shared = _unit_period_outcomes(df, settlement_date) if table.name == "bm_unit_period" else {}
    found = []
    for rule in quality.rules_for(table):
        if rule.name in shared:
            found.append(shared[rule.name])
        elif rule.name in (quality.SCHEMA.name, quality.VALUE_RANGES_RULE.name):
            found.append(_schema_outcome(table, df, "structure" if rule.name == quality.SCHEMA.name else "value_ranges"))
        else:
            found.append(rule.evaluate(table, df, settlement_date))
    return found


def partition_outcomes(frames: Mapping[str, pl.DataFrame], settlement_date: dt.date, previous: Mapping[str, int] | None,
                       min_ratio: float = DEFAULT_MIN_ROW_RATIO) -> dict[str, list[Outcome]]:  # fmt: skip
    """Every check of a raw partition, per asset: each table's rules, the settlement identities (on
    party_period) and rows_vs_previous_version (on bm_unit_period). `frames`: the partition's rows
    of every raw table; `previous`: rows per table of its loaded version (None: none)."""
    outcomes = {name: table_outcomes(spec, frames[name], settlement_date) for name, spec in RAW_TABLES.items()}
    for identity, outcome in zip(quality.IDENTITIES, quality.identity_outcomes(dict(frames))):
        outcomes[identity.asset].append(outcome)
    counts = {name: frames[name].height for name in RAW_TABLES}
    outcomes[ROWS_VS_PREVIOUS_ASSET].append(rows_vs_previous(counts, previous, min_ratio))
    return outcomes


def blocking_failures(outcomes: Mapping[str, list[Outcome]]) -> list[str]:
    """`asset.check` of every failed blocking (ERROR) check, sorted."""
    return sorted(f"{asset}.{o.check}" for asset, found in outcomes.items() for o in found if not o.passed and o.severity == "ERROR")


def warnings(outcomes: Mapping[str, list[Outcome]]) -> list[str]:
    return sorted(f"{asset}.{o.check}" for asset, found in outcomes.items() for o in found if not o.passed and o.severity == "WARN")


def checks_json(outcomes: Mapping[str, list[Outcome]]) -> str:
    """Every check's result, as partition_status keeps it."""
    return json.dumps([{"asset": asset, "check": o.check, "severity": o.severity, "passed": o.passed, "description": o.description}
                       for asset, found in outcomes.items() for o in found])  # fmt: skip
