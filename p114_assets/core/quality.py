"""Data-quality rules for S0142 files and partitions, as pure functions, each written once.

Every rule is a `Rule`: its name (the Dagster check's name), severity and description (what the
Dagster check shows) live here, beside the function that evaluates it. The Dagster asset checks run
them on rows read back from the warehouse and on landed files, and `p114 validate` runs them on a
file, so a file and its loaded partition are judged by the same rules.

Severity: structural failures (periods of the day, a unit missing periods, duplicate rows, BPI
disagreeing with BP7, column types and nullability, periods and run types out of their domain) are
ERROR; value ranges (loss multipliers near 1, prices within sane bounds, non-delivery >= 0, ...)
are WARN, because a real file can legitimately hold an outlier.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import polars as pl

from p114_assets.core.s0142.parser import FILE_CHECKS, S0142Error, S0142Header, check_header_matches, parse_file
from p114_assets.core.s0142.parser import check_name_matches_header, inspect_file
from p114_assets.core.s0142.tables import ARROW_TYPES, PRINTED_DECIMALS, RAW_TABLES, TableSpec
from p114_assets.core.settlement import RUN_TYPES, VLP_UNIT_PREFIX, periods_in_day

if TYPE_CHECKING:  # pandera (and the pandas it imports: ~0.6-1.4 s, ~40-50 MB) is imported where a schema is built
    import pandera.polars as pa

Severity = Literal["ERROR", "WARN", "INFO"]  # INFO: shown, never failed on (the trailer checksum)
SAMPLE_ROWS = 10  # failing rows shown with an outcome

_DTYPES = {"text": pl.String, "float": pl.Float64, "int": pl.Int64, "date": pl.Date, "timestamp": pl.Datetime("us"),
           "timestamp_utc": pl.Datetime("us", "UTC"), "bool": pl.Boolean,
           **{name: pl.Decimal(ARROW_TYPES[name].precision, ARROW_TYPES[name].scale) for name in PRINTED_DECIMALS.values()}}  # fmt: skip

# Sane bounds (WARN when broken). Prices in GBP/MWh: the Value of Lost Load is 6,000 and BOD prices
# default to +-99,999.
VALUE_RANGES: dict[str, tuple[float | None, float | None]] = {
    "transmission_loss_multiplier": (0.9, 1.1), "transmission_loss_factor": (-0.1, 0.1),
    "system_buy_price_gbp_per_mwh": (-1000, 10000), "system_sell_price_gbp_per_mwh": (-1000, 10000),
    "replacement_price_gbp_per_mwh": (-1000, 10000), "market_index_price_gbp_per_mwh": (-1000, 10000),
    "bid_price_gbp_per_mwh": (-99999, 99999), "offer_price_gbp_per_mwh": (-99999, 99999),
    "non_delivery_charge_gbp": (0, None),
    "accepted_bid_volume_mwh": (None, 0), "accepted_offer_volume_mwh": (0, None),
    "non_delivered_bid_volume_mwh": (None, 0), "non_delivered_offer_volume_mwh": (0, None),
    # Shares of the period's residual cashflow: real files hold slightly negative ones (-0.000006).
    "residual_cashflow_reallocation_proportion": (-1, 1),
    # |BP7 7 - BP7 8| [I]: never negative in real files.
    "information_imbalance_volume_mwh": (0, None),
}  # fmt: skip
# Domains whose violation is structural (ERROR).
DOMAINS: dict[str, Callable[[type[pa.Check]], pa.Check]] = {
    "settlement_period": lambda check: check.in_range(1, 50, name="settlement period in 1..50"),
    "run_type": lambda check: check.isin(list(RUN_TYPES), name=f"run type in {' '.join(RUN_TYPES)}"),
    "production_consumption_flag": lambda check: check.isin(["P", "C"], name="flag P or C"),
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


@dataclass(frozen=True)
class Rule:
    """One data-quality rule: its check name, severity and what it demands (the description the
    Dagster check shows). Rules on raw tables also say which tables and how to evaluate a partition."""

    name: str
    severity: Severity
    description: str
    tables: frozenset[str] | None = None  # raw-table rules: None = every raw table
    evaluate: Callable[[TableSpec, pl.DataFrame, dt.date], Outcome] | None = None

    def outcome(self, passed: bool, description: str, failing_rows: pl.DataFrame | None = None,
                metadata: dict | None = None) -> Outcome:  # fmt: skip
        return Outcome(self.name, passed, self.severity, description, failing_rows, metadata or {})


PERIODS_PER_DAY = Rule("periods_per_day", "ERROR", "periods 1..N present, N = 46 / 48 / 50 from the length of the day in Europe/London")
EVERY_UNIT_EVERY_PERIOD = Rule("every_unit_every_period", "ERROR", "every BM unit has every period of the day")
NO_DUPLICATE_UNIT_PERIODS = Rule("no_duplicate_unit_periods", "ERROR", "no (BM unit, period) appears twice")
BPI_MATCHES_BP7 = Rule("bpi_matches_bp7", "ERROR",
                       "every BPI has its BP7 twin and agrees with it; BPI 2 blank means BP7 13 is the unit's own id, "
                       "otherwise BPI 2 = BP7 13 (the trading-unit rule of real files)")  # fmt: skip
SCHEMA = Rule("schema", "ERROR", "pandera: column types, nullability, periods in 1..50, run type in the seven codes")
VALUE_RANGES_RULE = Rule("value_ranges", "WARN",
                         "pandera: TLM near 1, prices within sane bounds, non-delivery >= 0, volumes of the right sign, "
                         "information imbalance volume >= 0, reallocation proportions in [-1, 1]")
HEADER_MATCHES_PARTITION = Rule("header_matches_partition", "ERROR", "AAA/SRH date and run type equal the partition and the file name")
TRAILER_LINE_COUNT = Rule("trailer_line_count", "ERROR", "the ZZZ trailer counts the lines of the file")
TRAILER_CHECKSUM = Rule("trailer_checksum", "INFO",
                        "ZZZ 2 against the NETA IDD Part 1 checksum: matches / differs / absent, shown and never failed on "
                        "until a real file confirms the algorithm [I]")  # fmt: skip
ONE_RUN_PER_DATE = Rule("one_run_per_date", "ERROR", "exactly one run type per settlement date")
VLP_UNITS_STILL_PRESENT = Rule("vlp_units_still_present", "WARN",
                               "VLP (V__) units seen on the previous canonical date are still present")
VLP_CASHFLOW_RECONCILES = Rule("vlp_cashflow_reconciles", "WARN",
                               "for a VLP party leading only V__ units, its units' BO4 cashflows equal its PPC BM unit "
                               "cashflow: two independent paths through the file agree")  # fmt: skip


def _sample(df: pl.DataFrame) -> pl.DataFrame:
    return df.head(SAMPLE_ROWS)


# ---------------------------------------------------------------------------------------------
# Structural rules on bm_unit_period (and system_period for the periods of the day)


def periods_per_day(df: pl.DataFrame, settlement_date: dt.date) -> Outcome:
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
    return PERIODS_PER_DAY.outcome(passed, description, failing,
                   {"periods_expected": expected, "periods_present": len(present)})  # fmt: skip


def every_unit_every_period(df: pl.DataFrame, settlement_date: dt.date) -> Outcome:
    expected = periods_in_day(settlement_date)
    per_unit = df.group_by("bm_unit_id").agg(pl.col("settlement_period").n_unique().alias("periods")).sort("bm_unit_id")
    short = per_unit.filter(pl.col("periods") != expected)
    units = per_unit.height
    description = (f"all {units:,} BM units have all {expected} periods" if short.is_empty()
                   else f"{short.height:,} of {units:,} BM units do not have all {expected} periods")  # fmt: skip
    return EVERY_UNIT_EVERY_PERIOD.outcome(short.is_empty(), description,
                   None if short.is_empty() else _sample(short.with_columns(expected=pl.lit(expected))),
                   {"bm_units": units, "bm_units_incomplete": short.height})  # fmt: skip


def no_duplicate_unit_periods(df: pl.DataFrame) -> Outcome:
    dupes = (df.group_by("bm_unit_id", "settlement_period").len().filter(pl.col("len") > 1)
             .sort("bm_unit_id", "settlement_period").rename({"len": "rows"}))  # fmt: skip
    description = "no duplicate (unit, period) rows" if dupes.is_empty() else f"{dupes.height:,} (unit, period) pairs appear more than once"
    return NO_DUPLICATE_UNIT_PERIODS.outcome(dupes.is_empty(), description,
                   None if dupes.is_empty() else _sample(dupes), {"duplicated_pairs": dupes.height})  # fmt: skip


def bpi_matches_bp7(df: pl.DataFrame) -> Outcome:
    """A twin is the BP7 of the same unit and period; they must agree field by field, the trading unit
    by the rule of real files (the parser applies it and writes what disagrees to `bpi_bp7_mismatch`)."""
    bad = df.filter(
        pl.col("bpi_bp7_mismatch").is_not_null() | pl.col("bpi_line_number").is_null() | pl.col("bp7_line_number").is_null()
    ).select(
        "bm_unit_id", "settlement_period", "bpi_line_number", "bp7_line_number",
        pl.when(pl.col("bp7_line_number").is_null()).then(pl.lit("BPI without BP7"))
        .when(pl.col("bpi_line_number").is_null()).then(pl.lit("BP7 without BPI"))
        .otherwise(pl.col("bpi_bp7_mismatch")).alias("problem"),
    ).sort("settlement_period", "bm_unit_id")  # fmt: skip
    description = f"all {df.height:,} BPI records agree with their BP7 twins" if bad.is_empty() else f"{bad.height:,} BPI/BP7 pairs disagree or lack a twin"
    return BPI_MATCHES_BP7.outcome(bad.is_empty(), description, None if bad.is_empty() else _sample(bad),
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
    import pandera.polars as pa  # here, not at import: a run that builds no schema starts without pandera and pandas

    columns = {
        c.name: pa.Column(_DTYPES[c.type], nullable=c.nullable, checks=[DOMAINS[c.name](pa.Check)] if c.name in DOMAINS else None)
        for c in table.columns
    }
    return pa.DataFrameSchema(columns, name=f"{table.name} structure", strict=False)


@lru_cache(maxsize=32)
def value_range_schema(table: TableSpec) -> pa.DataFrameSchema:
    """Sane bounds on values (WARN)."""
    import pandera.polars as pa
    columns = {}
    for c in table.columns:
        if c.name in VALUE_RANGES:
            low, high = VALUE_RANGES[c.name]
            check = (pa.Check.in_range(low, high) if low is not None and high is not None
                     else pa.Check.ge(low) if low is not None else pa.Check.le(high))  # fmt: skip
            columns[c.name] = pa.Column(checks=[check], nullable=True)
    return pa.DataFrameSchema(columns, name=f"{table.name} value ranges", strict=False)


def _normalise(df: pl.DataFrame, table: TableSpec) -> pl.DataFrame:
    """Engines differ in timestamp units (DuckDB microseconds, Arrow from the parser seconds) and in
    decimal widths (BigQuery's NUMERIC comes back as Decimal(38, 9)): compare in the table's own. An
    instant (a time zone) stays one, in UTC."""
    declared = {c.name: _DTYPES[c.type] for c in table.columns}
    return df.with_columns([
        pl.col(c).dt.convert_time_zone("UTC").cast(pl.Datetime("us", "UTC")) if t.time_zone else pl.col(c).cast(pl.Datetime("us"))
        for c, t in df.schema.items() if isinstance(t, pl.Datetime)
    ] + [pl.col(c).cast(declared[c]) for c, t in df.schema.items() if t.is_decimal() and c in declared and t != declared[c]])  # fmt: skip


def schema_outcome(table: TableSpec, df: pl.DataFrame, kind: Literal["structure", "value_ranges"]) -> Outcome:
    schema = structure_schema(table) if kind == "structure" else value_range_schema(table)
    rule = SCHEMA if kind == "structure" else VALUE_RANGES_RULE
    from pandera.errors import SchemaErrors  # loaded with the schema, above
    try:
        schema.validate(_normalise(df, table), lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        summary = cases.group_by("column", "check").len().sort("len", descending=True)
        described = "; ".join(f"{r['column'] or 'table'}: {r['check']} ({r['len']:,} rows)" for r in summary.head(5).iter_rows(named=True))
        sample = _sample(cases.select("column", "check", pl.col("failure_case").cast(pl.String), "index"))
        lines = [c for c in df.columns if c.endswith("line_number")]  # trace each failure to its file line
        if lines:
            sample = sample.join(df.with_row_index("index").select(pl.col("index").cast(pl.Int32), *lines),
                                 on="index", how="left")  # fmt: skip
        return rule.outcome(False, f"{schema.name}: {described}", sample.drop("index"), {"failures": cases.height, "rows": df.height})
    return rule.outcome(True, f"{schema.name}: {df.height:,} rows pass", None, {"rows": df.height})


# ---------------------------------------------------------------------------------------------
# Canonical settlement


def one_run_per_date(df: pl.DataFrame, dates: list[dt.date]) -> Outcome:
    runs = df.group_by("settlement_date").agg(pl.col("run_type").unique().sort().alias("run_types"))
    found = {r["settlement_date"]: r["run_types"] for r in runs.iter_rows(named=True)}
    bad = [(d, ", ".join(found.get(d, [])) or "none") for d in dates if len(found.get(d, [])) != 1]
    description = (f"one run for each of {len(dates)} dates" if not bad
                   else f"{len(bad)} date(s) without exactly one run: " + "; ".join(f"{d}: {r}" for d, r in bad[:5]))  # fmt: skip
    failing = None if not bad else pl.DataFrame({"settlement_date": [d for d, _ in bad], "run_types": [r for _, r in bad]})
    return ONE_RUN_PER_DATE.outcome(not bad, description, failing,
                   {"dates": len(dates), "run_types": ", ".join(sorted({r for v in found.values() for r in v}))})  # fmt: skip


def vlp_units_still_present(today: set[str], previous: set[str] | None, settlement_date: dt.date) -> Outcome:
    if previous is None:
        return VLP_UNITS_STILL_PRESENT.outcome(True, f"no canonical date before {settlement_date} to compare with")
    gone = sorted(u for u in previous - today if u.startswith(VLP_UNIT_PREFIX))
    vlp_today = sum(u.startswith(VLP_UNIT_PREFIX) for u in today)
    description = (f"all {vlp_today:,} VLP units of the previous date are present" if not gone
                   else f"{len(gone)} VLP unit(s) of the previous date are missing: {', '.join(gone[:8])}")  # fmt: skip
    return VLP_UNITS_STILL_PRESENT.outcome(not gone, description,
                   None if not gone else _sample(pl.DataFrame({"bm_unit_id": gone})), {"vlp_units": vlp_today, "missing": len(gone)})  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Which rules apply to which raw table: one registry, read by the Dagster checks and `p114 validate`


RULES: tuple[Rule, ...] = tuple(
    dataclasses.replace(rule, tables=tables, evaluate=evaluate)
    for rule, tables, evaluate in (
        (PERIODS_PER_DAY, frozenset({"bm_unit_period", "system_period"}), lambda t, df, d: periods_per_day(df, d)),
        (EVERY_UNIT_EVERY_PERIOD, frozenset({"bm_unit_period"}), lambda t, df, d: every_unit_every_period(df, d)),
        (NO_DUPLICATE_UNIT_PERIODS, frozenset({"bm_unit_period"}), lambda t, df, d: no_duplicate_unit_periods(df)),
        (BPI_MATCHES_BP7, frozenset({"bm_unit_period"}), lambda t, df, d: bpi_matches_bp7(df)),
        (SCHEMA, None, lambda t, df, d: schema_outcome(t, df, "structure")),
        (VALUE_RANGES_RULE, None, lambda t, df, d: schema_outcome(t, df, "value_ranges")),
    )
)


def rules_for(table: TableSpec) -> list[Rule]:
    return [r for r in RULES if r.tables is None or table.name in r.tables]


def partition_outcomes(table: TableSpec, df: pl.DataFrame, settlement_date: dt.date) -> list[Outcome]:
    """Every rule for one (settlement date, run type) partition of a raw table."""
    return [rule.evaluate(table, df, settlement_date) for rule in rules_for(table)]


# ---------------------------------------------------------------------------------------------
# Files: the landed file of a partition (Dagster checks) and any file (`p114 validate`)


def trailer_line_count(header: S0142Header) -> Outcome:
    """Passed: the header was read, so the ZZZ count was checked against the file's lines."""
    return TRAILER_LINE_COUNT.outcome(True, f"ZZZ counts {header.line_count:,} lines, as the file has",
                                      metadata={"line_count": header.line_count})  # fmt: skip


def header_matches_partition(header: S0142Header, partition: tuple[dt.date, str] | None = None) -> Outcome:
    """The header against the file name, and against `partition` when given (a file on its own is
    judged against the partition its name says)."""
    try:
        if partition is None:
            check_name_matches_header(header)
        else:
            check_header_matches(header, *partition)
    except S0142Error as exc:
        return HEADER_MATCHES_PARTITION.outcome(False, exc.reason)
    return HEADER_MATCHES_PARTITION.outcome(True, f"{header.file_name}: header {header.settlement_date} {header.run_type}",
                                            metadata={"file_name": header.file_name,
                                                      "publication_stamp": header.publication_stamp})  # fmt: skip


def file_outcomes(path: str | Path | None,
                  partition: tuple[dt.date, str] | None = None) -> tuple[list[Outcome], S0142Header | None]:  # fmt: skip
    """The file rules (header_matches_partition, trailer_line_count) on the header and trailer alone, and the
    header they read, None if unreadable: who keeps the file needs not scan it again. `path` None: no file."""
    if path is None:
        missing = "no landed file" + (f" for {partition[0]} {partition[1]}" if partition else "")
        return [HEADER_MATCHES_PARTITION.outcome(False, missing), TRAILER_LINE_COUNT.outcome(False, missing)], None
    try:
        header = inspect_file(path)
    except S0142Error as exc:
        failed = TRAILER_LINE_COUNT if exc.check == TRAILER_LINE_COUNT.name else HEADER_MATCHES_PARTITION
        other = HEADER_MATCHES_PARTITION if failed is TRAILER_LINE_COUNT else TRAILER_LINE_COUNT
        return [failed.outcome(False, str(exc)), other.outcome(False, f"not checked: {exc.reason}")], None
    return [header_matches_partition(header, partition), trailer_line_count(header)], header


def validate_file(path: str | Path) -> list[tuple[str, Outcome | None]]:
    """Every check on one file, without a warehouse: the parse's file-level checks (a parse failure
    is the check it belongs to, and the checks after it are not run: None), header_matches_partition
    (against the partition its name says), then every rule of every raw table. Returns (name,
    outcome or None) in order."""
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
    checked = [
        Outcome("gzip_body", True, "ERROR", f"{h.compressed_bytes:,} bytes -> {h.uncompressed_bytes:,} bytes"),
        Outcome("header", True, "ERROR", f"{h.flow_version}, {h.settlement_date} {h.run_type}, stamp {h.publication_stamp}"),
        trailer_line_count(h),
        checksum_outcome(h),
        Outcome("records", True, "ERROR", ", ".join(f"{n} {c:,}" for n, c in parsed.row_counts.items())),
        header_matches_partition(h),
    ]
    results += [(o.check, o) for o in checked]
    frames = {name: pl.from_arrow(table) for name, table in parsed.tables.items()}
    for name, frame in frames.items():
        for outcome in partition_outcomes(RAW_TABLES[name], frame, h.settlement_date):
            results.append((f"{name}.{outcome.check}", outcome))
    for identity, outcome in zip(IDENTITIES, identity_outcomes(frames)):
        results.append((f"{identity.asset}.{outcome.check}", outcome))
    return results


def checksum_outcome(header) -> Outcome:
    """ZZZ 2 against the NETA IDD Part 1 checksum the parser computed: "matches", "differs" or
    "absent". Shown, never failed on, until a real file confirms that ZZZ 2 is that checksum [I]."""
    verdict = header.checksum_matches
    printed = header.checksum or "blank"
    return TRAILER_CHECKSUM.outcome(True, f"{verdict}: ZZZ 2 is {printed}, the IDD checksum of the records is "
                                          f"{header.checksum_computed} (unconfirmed for Portal copies, so it fails nothing)",
                                    metadata={"checksum": verdict})  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Settlement identities across tables (WARN, never blocking): how a real file settles money. Each
# printed amount is rounded to the penny, so two sums of n terms may differ by n half-pennies.


def _penny_rounding(terms: pl.Expr) -> pl.Expr:
    return terms * 0.005 + 1e-6


RCRC_BALANCES_ENERGY_IMBALANCE = Rule(
    "rcrc_balances_energy_imbalance", "WARN",
    "per period, the parties' RCRC (PPC 6, + = credit) sums to their energy imbalance cashflows (PPC 3, + = debit): the "
    "residual cashflow is the energy imbalance pot shared out by the reallocation proportions [I]")  # fmt: skip
RCRC_MATCHES_ACCOUNTS = Rule("rcrc_matches_accounts", "WARN",
                             "a party's RCRC (PPC 6) equals the sum of its accounts' RCRC charges (APD 5) [I]")
BM_CASHFLOW_MATCHES_BO4 = Rule("bm_cashflow_matches_bo4", "WARN",
                               "a party's BM unit cashflow (PPC 2) equals the BO4 14 + 15 cashflows of the units it leads [I]")


def rcrc_balances_energy_imbalance(party_period: pl.DataFrame) -> Outcome:
    """Per period (BSC Section T), allowing for each party's amounts being printed to the penny."""
    per = (party_period.group_by("settlement_period")
           .agg(rcrc_total_gbp=pl.col("residual_cashflow_reallocation_gbp").sum(),
                energy_imbalance_total_gbp=pl.col("energy_imbalance_cashflow_gbp").sum(), parties=pl.len())
           .with_columns(difference_gbp=(pl.col("rcrc_total_gbp") - pl.col("energy_imbalance_total_gbp")).round(2))
           .sort("settlement_period"))  # fmt: skip
    off = per.filter(pl.col("difference_gbp").abs() > _penny_rounding(pl.col("parties") * 2))
    description = (f"{per.height} periods: the parties' RCRC (PPC 6) sums to their energy imbalance cashflows (PPC 3)"
                   if off.is_empty() else
                   f"{off.height} of {per.height} periods: the parties' RCRC (PPC 6) does not sum to their energy "
                   f"imbalance cashflows (PPC 3)")  # fmt: skip
    return RCRC_BALANCES_ENERGY_IMBALANCE.outcome(off.is_empty(), description, None if off.is_empty() else _sample(off),
                   {"periods": per.height, "periods_differing": off.height,
                    "largest_difference_gbp": float(per["difference_gbp"].abs().max() or 0.0)})  # fmt: skip


def rcrc_matches_accounts(party_period: pl.DataFrame, account_period: pl.DataFrame) -> Outcome:
    key = ["party_id", "settlement_period"]
    accounts = account_period.group_by(key).agg(
        accounts_rcrc_gbp=pl.col("residual_cashflow_reallocation_charge_gbp").sum(), accounts=pl.len())
    joined = (party_period.select(*key, pl.col("residual_cashflow_reallocation_gbp").alias("ppc_rcrc_gbp"))
              .join(accounts, on=key, how="full", coalesce=True)
              .with_columns(difference_gbp=(pl.col("ppc_rcrc_gbp").fill_null(0) - pl.col("accounts_rcrc_gbp").fill_null(0)).round(2)))  # fmt: skip
    off = joined.filter(pl.col("difference_gbp").abs() > _penny_rounding(pl.col("accounts").fill_null(0) + 1)).sort(key)
    description = (f"{joined.height:,} party periods: PPC 6 equals the sum of the party's APD 5" if off.is_empty()
                   else f"{off.height:,} of {joined.height:,} party periods: PPC 6 differs from the sum of the party's APD 5")  # fmt: skip
    return RCRC_MATCHES_ACCOUNTS.outcome(off.is_empty(), description, None if off.is_empty() else _sample(off),
                   {"party_periods": joined.height, "party_periods_differing": off.height})  # fmt: skip


def bm_cashflow_matches_bo4(party_period: pl.DataFrame, bid_offer_pair: pl.DataFrame, bm_unit_period: pl.DataFrame) -> Outcome:
    """A unit's lead party is the one whose BPH block holds its BP7."""
    key = ["party_id", "settlement_period"]
    lead = bm_unit_period.select("bm_unit_id", pl.col("lead_party_id").alias("party_id")).unique("bm_unit_id")
    pairs = (bid_offer_pair.select("bm_unit_id", "settlement_period", "bid_cashflow_gbp", "offer_cashflow_gbp")
             .join(lead, on="bm_unit_id", how="left")
             .group_by(key).agg(bo4_cashflow_gbp=(pl.col("bid_cashflow_gbp").fill_null(0) + pl.col("offer_cashflow_gbp").fill_null(0)).sum(),
                                pairs=pl.len()))  # fmt: skip
    joined = (party_period.select(*key, pl.col("bm_unit_cashflow_gbp").alias("ppc_cashflow_gbp"))
              .join(pairs, on=key, how="full", coalesce=True)
              .with_columns(difference_gbp=(pl.col("ppc_cashflow_gbp").fill_null(0) - pl.col("bo4_cashflow_gbp").fill_null(0)).round(2)))  # fmt: skip
    off = joined.filter(pl.col("difference_gbp").abs() > _penny_rounding(pl.col("pairs").fill_null(0) * 2 + 1)).sort(key, nulls_last=True)
    description = (f"{joined.height:,} party periods: PPC 2 equals the BO4 cashflows of the party's units" if off.is_empty()
                   else f"{off.height:,} of {joined.height:,} party periods: PPC 2 differs from the BO4 cashflows of the party's units")  # fmt: skip
    return BM_CASHFLOW_MATCHES_BO4.outcome(off.is_empty(), description, None if off.is_empty() else _sample(off),
                   {"party_periods": joined.height, "party_periods_differing": off.height})  # fmt: skip


@dataclass(frozen=True)
class Identity:
    """A settlement identity across the raw tables of one partition: its rule, the asset its check
    sits on, and the tables it reads (in the order its function takes them)."""

    rule: Rule
    asset: str
    tables: tuple[str, ...]
    evaluate: Callable[..., Outcome]

    def outcome(self, tables: dict[str, pl.DataFrame]) -> Outcome:
        return self.evaluate(*(tables[t] for t in self.tables))


IDENTITIES: tuple[Identity, ...] = (
    Identity(RCRC_BALANCES_ENERGY_IMBALANCE, "party_period", ("party_period",), rcrc_balances_energy_imbalance),
    Identity(RCRC_MATCHES_ACCOUNTS, "party_period", ("party_period", "account_period"), rcrc_matches_accounts),
    Identity(BM_CASHFLOW_MATCHES_BO4, "party_period", ("party_period", "bid_offer_pair", "bm_unit_period"), bm_cashflow_matches_bo4),
)  # fmt: skip


# The columns the identities read, per table (a check reads only these from the warehouse).
IDENTITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "party_period": ("party_id", "settlement_period", "bm_unit_cashflow_gbp", "energy_imbalance_cashflow_gbp",
                     "residual_cashflow_reallocation_gbp"),
    "account_period": ("party_id", "settlement_period", "residual_cashflow_reallocation_charge_gbp"),
    "bid_offer_pair": ("bm_unit_id", "settlement_period", "bid_cashflow_gbp", "offer_cashflow_gbp"),
    "bm_unit_period": ("bm_unit_id", "lead_party_id"),
}  # fmt: skip


def identity_outcomes(tables: dict[str, pl.DataFrame]) -> list[Outcome]:
    """Every settlement identity on the raw tables of one partition."""
    return [identity.outcome(tables) for identity in IDENTITIES]


def vlp_cashflow_reconciles(rows: pl.DataFrame) -> Outcome:
    """Compared to the penny, for parties leading no other units. `rows`: party_id, ppc_gbp,
    units_gbp, other_units."""
    comparable = rows.filter(pl.col("other_units").fill_null(0) == 0)
    off = comparable.filter((pl.col("ppc_gbp").fill_null(0) - pl.col("units_gbp").fill_null(0)).abs() > 0.005).sort("party_id")
    description = (f"{comparable.height} VLP part(y/ies) leading only V__ units: BO4 cashflows equal PPC" if off.is_empty()
                   else f"{off.height} VLP part(y/ies) whose units' BO4 cashflows differ from their PPC BM unit cashflow")  # fmt: skip
    return VLP_CASHFLOW_RECONCILES.outcome(off.is_empty(), description, None if off.is_empty() else _sample(off),
                   {"parties_compared": comparable.height, "parties_differing": off.height})  # fmt: skip
