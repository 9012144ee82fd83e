"""Data-quality rules for S0142 partitions, as pure functions over polars frames.

The Dagster asset checks run them on rows read back from the warehouse, and `p114 validate` runs
them on a parsed file, so a file and its loaded partition are judged by the same rules.

Severity: structural failures (periods of the day, a unit missing periods, duplicate rows, BPI
disagreeing with BP7, column types and nullability, periods and run types out of their domain) are
ERROR; value ranges (loss multipliers near 1, prices within sane bounds, non-delivery >= 0, ...)
are WARN, because a real file can legitimately hold an outlier.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import pandera.errors as pandera_errors
import pandera.polars as pa
import polars as pl

from p114_assets.core.s0142.layout import TableSpec
from p114_assets.core.settlement import RUN_TYPES, VLP_UNIT_PREFIX, periods_in_day

Severity = Literal["ERROR", "WARN"]
SAMPLE_ROWS = 10  # failing rows shown with an outcome

_DTYPES = {"text": pl.String, "float": pl.Float64, "int": pl.Int64, "date": pl.Date, "timestamp": pl.Datetime("us")}

# Sane bounds (WARN when broken). Prices in GBP/MWh: the Value of Lost Load is 6,000 and BOD prices
# default to +-99,999.
VALUE_RANGES: dict[str, tuple[float | None, float | None]] = {
    "transmission_loss_multiplier": (0.9, 1.1),
    "transmission_loss_factor": (-0.1, 0.1),
    "system_buy_price_gbp_per_mwh": (-1000, 10000),
    "system_sell_price_gbp_per_mwh": (-1000, 10000),
    "replacement_price_gbp_per_mwh": (-1000, 10000),
    "market_index_price_gbp_per_mwh": (-1000, 10000),
    "bid_price_gbp_per_mwh": (-99999, 99999),
    "offer_price_gbp_per_mwh": (-99999, 99999),
    "non_delivery_charge_gbp": (0, None),
    "accepted_bid_volume_mwh": (None, 0),
    "accepted_offer_volume_mwh": (0, None),
    "non_delivered_bid_volume_mwh": (None, 0),
    "non_delivered_offer_volume_mwh": (0, None),
    "residual_cashflow_reallocation_proportion": (0, 1),
}
# Domains whose violation is structural (ERROR).
DOMAINS: dict[str, Callable[[], pa.Check]] = {
    "settlement_period": lambda: pa.Check.in_range(1, 50, name="settlement period in 1..50"),
    "run_type": lambda: pa.Check.isin(list(RUN_TYPES), name=f"run type in {' '.join(RUN_TYPES)}"),
    "production_consumption_flag": lambda: pa.Check.isin(["P", "C"], name="flag P or C"),
}


@dataclass
class Outcome:
    """The result of one rule on one partition."""

    check: str
    passed: bool
    severity: Severity
    description: str
    failing_rows: pl.DataFrame | None = None  # the first failing rows, for people to look at
    metadata: dict[str, int | float | str] = field(default_factory=dict)


def _sample(df: pl.DataFrame) -> pl.DataFrame:
    return df.head(SAMPLE_ROWS)


# ---------------------------------------------------------------------------------------------
# Structural rules on bm_unit_period (and system_period for the periods of the day)


def periods_per_day(df: pl.DataFrame, settlement_date: dt.date) -> Outcome:
    """Periods 1..N present, N = 46 / 48 / 50 from the length of the day in Europe/London."""
    expected = periods_in_day(settlement_date)
    present = set(df["settlement_period"].unique().drop_nulls().to_list()) if df.height else set()
    missing = sorted(set(range(1, expected + 1)) - present)
    extra = sorted(present - set(range(1, expected + 1)))
    passed = not missing and not extra
    description = f"{len(present)} periods; {settlement_date} has {expected} (Europe/London)"
    if missing:
        description += f"; missing {_span(missing)}"
    if extra:
        description += f"; unexpected {_span(extra)}"
    failing = None if passed else pl.DataFrame({"expected_periods": [expected], "periods_present": [len(present)],
                                                "missing": [_span(missing)], "unexpected": [_span(extra)]})  # fmt: skip
    return Outcome("periods_per_day", passed, "ERROR", description, failing,
                   {"periods_expected": expected, "periods_present": len(present)})  # fmt: skip


def every_unit_every_period(df: pl.DataFrame, settlement_date: dt.date) -> Outcome:
    expected = periods_in_day(settlement_date)
    per_unit = df.group_by("bm_unit_id").agg(pl.col("settlement_period").n_unique().alias("periods")).sort("bm_unit_id")
    short = per_unit.filter(pl.col("periods") != expected)
    units = per_unit.height
    description = (f"all {units:,} BM units have all {expected} periods" if short.is_empty()
                   else f"{short.height:,} of {units:,} BM units do not have all {expected} periods")  # fmt: skip
    return Outcome("every_unit_every_period", short.is_empty(), "ERROR", description,
                   None if short.is_empty() else _sample(short.with_columns(expected=pl.lit(expected))),
                   {"bm_units": units, "bm_units_incomplete": short.height})  # fmt: skip


def no_duplicate_unit_periods(df: pl.DataFrame) -> Outcome:
    dupes = (df.group_by("bm_unit_id", "settlement_period").len().filter(pl.col("len") > 1)
             .sort("bm_unit_id", "settlement_period").rename({"len": "rows"}))  # fmt: skip
    description = "no duplicate (unit, period) rows" if dupes.is_empty() else f"{dupes.height:,} (unit, period) pairs appear more than once"
    return Outcome("no_duplicate_unit_periods", dupes.is_empty(), "ERROR", description,
                   None if dupes.is_empty() else _sample(dupes), {"duplicated_pairs": dupes.height})  # fmt: skip


def bpi_matches_bp7(df: pl.DataFrame) -> Outcome:
    """Every BPI has its BP7 twin (same unit and period) and they agree field by field."""
    bad = df.filter(
        pl.col("bpi_bp7_mismatch").is_not_null() | pl.col("bpi_line_number").is_null() | pl.col("bp7_line_number").is_null()
    ).select(
        "bm_unit_id", "settlement_period", "bpi_line_number", "bp7_line_number",
        pl.when(pl.col("bp7_line_number").is_null()).then(pl.lit("BPI without BP7"))
        .when(pl.col("bpi_line_number").is_null()).then(pl.lit("BP7 without BPI"))
        .otherwise(pl.col("bpi_bp7_mismatch")).alias("problem"),
    ).sort("settlement_period", "bm_unit_id")  # fmt: skip
    description = f"all {df.height:,} BPI records agree with their BP7 twins" if bad.is_empty() else f"{bad.height:,} BPI/BP7 pairs disagree or lack a twin"
    return Outcome("bpi_matches_bp7", bad.is_empty(), "ERROR", description, None if bad.is_empty() else _sample(bad),
                   {"pairs_disagreeing": bad.height})  # fmt: skip


def _span(values: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    if not values:
        return ""
    parts, start, prev = [], values[0], values[0]
    for v in values[1:] + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(f"{start}-{prev}" if prev != start else f"{start}")
        if v is not None:
            start = prev = v
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# Pandera schemas, one per table, built from the table definitions


@lru_cache(maxsize=32)
def structure_schema(table: TableSpec) -> pa.DataFrameSchema:
    """Types, nullability, and the domains of periods, run types and flags (ERROR)."""
    columns = {
        c.name: pa.Column(_DTYPES[c.type], nullable=c.nullable, checks=[DOMAINS[c.name]()] if c.name in DOMAINS else None)
        for c in table.columns
    }
    return pa.DataFrameSchema(columns, name=f"{table.name} structure", strict=False)


@lru_cache(maxsize=32)
def value_range_schema(table: TableSpec) -> pa.DataFrameSchema:
    """Sane bounds on values (WARN)."""
    columns = {}
    for c in table.columns:
        if c.name in VALUE_RANGES:
            low, high = VALUE_RANGES[c.name]
            check = (pa.Check.in_range(low, high) if low is not None and high is not None
                     else pa.Check.ge(low) if low is not None else pa.Check.le(high))  # fmt: skip
            columns[c.name] = pa.Column(checks=[check], nullable=True)
    return pa.DataFrameSchema(columns, name=f"{table.name} value ranges", strict=False)


def _normalise(df: pl.DataFrame) -> pl.DataFrame:
    """Engines differ in timestamp units (DuckDB microseconds, Arrow from the parser seconds)."""
    return df.with_columns([pl.col(c).cast(pl.Datetime("us")) for c, t in df.schema.items() if isinstance(t, pl.Datetime)])


def schema_outcome(table: TableSpec, df: pl.DataFrame, kind: Literal["structure", "value_ranges"]) -> Outcome:
    schema = structure_schema(table) if kind == "structure" else value_range_schema(table)
    severity: Severity = "ERROR" if kind == "structure" else "WARN"
    name = "schema" if kind == "structure" else "value_ranges"
    try:
        schema.validate(_normalise(df), lazy=True)
    except pandera_errors.SchemaErrors as errors:
        cases = errors.failure_cases
        summary = cases.group_by("column", "check").len().sort("len", descending=True)
        described = "; ".join(f"{r['column'] or 'table'}: {r['check']} ({r['len']:,} rows)" for r in summary.head(5).iter_rows(named=True))
        sample = _sample(cases.select("column", "check", pl.col("failure_case").cast(pl.String), "index"))
        lines = [c for c in df.columns if c.endswith("line_number")]  # trace each failure to its file line
        if lines:
            sample = sample.join(df.with_row_index("index").select(pl.col("index").cast(pl.Int32), *lines),
                                 on="index", how="left")  # fmt: skip
        return Outcome(name, False, severity, f"{schema.name}: {described}", sample.drop("index"),
                       {"failures": cases.height, "rows": df.height})  # fmt: skip
    return Outcome(name, True, severity, f"{schema.name}: {df.height:,} rows pass", None, {"rows": df.height})


# ---------------------------------------------------------------------------------------------
# Canonical settlement


def one_run_per_date(df: pl.DataFrame, dates: list[dt.date]) -> Outcome:
    runs = df.group_by("settlement_date").agg(pl.col("run_type").unique().sort().alias("run_types"))
    found = {r["settlement_date"]: r["run_types"] for r in runs.iter_rows(named=True)}
    bad = [(d, ", ".join(found.get(d, [])) or "none") for d in dates if len(found.get(d, [])) != 1]
    description = (f"one run for each of {len(dates)} dates" if not bad
                   else f"{len(bad)} date(s) without exactly one run: " + "; ".join(f"{d}: {r}" for d, r in bad[:5]))  # fmt: skip
    failing = None if not bad else pl.DataFrame({"settlement_date": [d for d, _ in bad], "run_types": [r for _, r in bad]})
    return Outcome("one_run_per_date", not bad, "ERROR", description, failing,
                   {"dates": len(dates), "run_types": ", ".join(sorted({r for v in found.values() for r in v}))})  # fmt: skip


def vlp_units_still_present(today: set[str], previous: set[str] | None, settlement_date: dt.date) -> Outcome:
    """VLP (V__) units seen on the previous canonical date should still be there (WARN if not)."""
    if previous is None:
        return Outcome("vlp_units_still_present", True, "WARN", f"no canonical date before {settlement_date} to compare with")
    gone = sorted(u for u in previous - today if u.startswith(VLP_UNIT_PREFIX))
    vlp_today = sum(u.startswith(VLP_UNIT_PREFIX) for u in today)
    description = (f"all {vlp_today:,} VLP units of the previous date are present" if not gone
                   else f"{len(gone)} VLP unit(s) of the previous date are missing: {', '.join(gone[:8])}")  # fmt: skip
    return Outcome("vlp_units_still_present", not gone, "WARN", description,
                   None if not gone else _sample(pl.DataFrame({"bm_unit_id": gone})), {"vlp_units": vlp_today, "missing": len(gone)})  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Which rules apply to which raw table: one registry, read by the Dagster checks and `p114 validate`


@dataclass(frozen=True)
class Rule:
    name: str
    severity: Severity
    tables: frozenset[str] | None  # None: every raw table
    evaluate: Callable[[TableSpec, pl.DataFrame, dt.date], Outcome]


RULES: tuple[Rule, ...] = (
    Rule("periods_per_day", "ERROR", frozenset({"bm_unit_period", "system_period"}), lambda t, df, d: periods_per_day(df, d)),
    Rule("every_unit_every_period", "ERROR", frozenset({"bm_unit_period"}), lambda t, df, d: every_unit_every_period(df, d)),
    Rule("no_duplicate_unit_periods", "ERROR", frozenset({"bm_unit_period"}), lambda t, df, d: no_duplicate_unit_periods(df)),
    Rule("bpi_matches_bp7", "ERROR", frozenset({"bm_unit_period"}), lambda t, df, d: bpi_matches_bp7(df)),
    Rule("schema", "ERROR", None, lambda t, df, d: schema_outcome(t, df, "structure")),
    Rule("value_ranges", "WARN", None, lambda t, df, d: schema_outcome(t, df, "value_ranges")),
)


def rules_for(table: TableSpec) -> list[Rule]:
    return [r for r in RULES if r.tables is None or table.name in r.tables]


def partition_outcomes(table: TableSpec, df: pl.DataFrame, settlement_date: dt.date) -> list[Outcome]:
    """Every rule for one (settlement date, run type) partition of a raw table."""
    return [rule.evaluate(table, df, settlement_date) for rule in rules_for(table)]


# ---------------------------------------------------------------------------------------------
# One file, no warehouse: what `p114 validate` runs


def validate_file(path) -> list[tuple[str, Outcome | None]]:
    """Every check on one file: the file-level checks (a parse failure is the check it belongs to,
    and the checks after it are not run: None), the file name against the header, then every rule
    of every raw table. Returns (name, outcome or None) in order."""
    from p114_assets.core.s0142.layout import RAW_TABLES
    from p114_assets.core.s0142.parser import FILE_CHECKS, S0142Error, check_name_matches_header, parse_file

    results: list[tuple[str, Outcome | None]] = []
    try:
        parsed = parse_file(path)
    except S0142Error as exc:
        failed_at = FILE_CHECKS.index(exc.check) if exc.check in FILE_CHECKS else len(FILE_CHECKS) - 1
        for name in FILE_CHECKS[:failed_at]:
            results.append((name, Outcome(name, True, "ERROR", "passed")))
        results.append((FILE_CHECKS[failed_at], Outcome(FILE_CHECKS[failed_at], False, "ERROR", str(exc))))
        results += [(name, None) for name in FILE_CHECKS[failed_at + 1 :]]
        return results
    h = parsed.header
    results += [
        ("gzip_body", Outcome("gzip_body", True, "ERROR", f"{h.compressed_bytes:,} bytes -> {h.uncompressed_bytes:,} bytes")),
        ("header", Outcome("header", True, "ERROR", f"{h.flow_version}, {h.settlement_date} {h.run_type}, stamp {h.publication_stamp}")),
        ("trailer_line_count", Outcome("trailer_line_count", True, "ERROR", f"ZZZ counts {h.line_count:,} lines")),
        ("records", Outcome("records", True, "ERROR", ", ".join(f"{n} {c:,}" for n, c in parsed.row_counts.items()))),
    ]  # fmt: skip
    try:
        check_name_matches_header(h)
        results.append(("header_matches_file_name", Outcome("header_matches_file_name", True, "ERROR", "file name agrees with the header")))
    except S0142Error as exc:
        results.append(("header_matches_file_name", Outcome("header_matches_file_name", False, "ERROR", exc.reason)))
    for name, table in parsed.tables.items():
        for outcome in partition_outcomes(RAW_TABLES[name], pl.from_arrow(table), h.settlement_date):
            results.append((f"{name}.{outcome.check}", outcome))
    return results


def vlp_cashflow_reconciles(rows: pl.DataFrame) -> Outcome:
    """A VLP party that leads only V__ units: the BM cashflow of its units (from their BO4 pairs)
    equals its PPC BM unit cashflow, to the penny. `rows`: party_id, ppc_gbp, units_gbp, other_units."""
    comparable = rows.filter(pl.col("other_units").fill_null(0) == 0)
    off = comparable.filter((pl.col("ppc_gbp").fill_null(0) - pl.col("units_gbp").fill_null(0)).abs() > 0.005).sort("party_id")
    description = (f"{comparable.height} VLP part(y/ies) leading only V__ units: BO4 cashflows equal PPC" if off.is_empty()
                   else f"{off.height} VLP part(y/ies) whose units' BO4 cashflows differ from their PPC BM unit cashflow")  # fmt: skip
    return Outcome("vlp_cashflow_reconciles", off.is_empty(), "WARN", description, None if off.is_empty() else _sample(off),
                   {"parties_compared": comparable.height, "parties_differing": off.height})  # fmt: skip
