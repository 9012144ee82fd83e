"""The raw tables: what the parser returns and the warehouse stores, built from the record layouts
(layout.py). Derived tables are declared beside their SQL (warehouse/tables.py) with the same
Column and TableSpec."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from p114_assets.core.s0142.layout import APD, BO4, BP7, MD1, PPC, SPI, Field, RecordLayout
from p114_assets.core.settlement import period_bounds_exprs

ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("s"),  # as printed in the file, no time zone (publication_ts)
    "timestamp_utc": pa.timestamp("us", tz="UTC"),  # an instant
    "bool": pa.bool_(),
    # Exact decimals (issue 13): what S0142 prints with 2, 3 and 5 decimals is money, a volume and
    # a price. 18 digits hold any GB settlement amount (10^16 GBP) with room for sums over years.
    "gbp": pa.decimal128(18, 2),
    "mwh": pa.decimal128(18, 3),
    "price": pa.decimal128(18, 5),
}
# The exact type of a layout number printed with this many decimals; other numbers (loss factors
# and proportions to 7 decimals, unmarked floats) stay binary floats.
PRINTED_DECIMALS: dict[int, str] = {2: "gbp", 3: "mwh", 5: "price"}



@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a key of ARROW_TYPES
    description: str = ""
    confidence: str = ""
    nullable: bool = True


@dataclass(frozen=True)
class TableSpec:
    """A warehouse table: columns (with types, descriptions, confidence), key and clustering.
    Raw tables are built from record layouts below; derived tables are declared beside their SQL."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    cluster_by: tuple[str, ...] = ()  # BigQuery clustering, after the settlement_date partitioning
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, ARROW_TYPES[c.type], nullable=c.nullable) for c in self.columns])

    def exact_decimals(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Float columns the table declares exact ("gbp", "mwh", "price") as decimals of the column's
        scale, each value rounded to it half away from zero (as ROUND does on DuckDB and BigQuery, so
        Python and SQL round alike). A value published as JSON with at most that many decimals (Insights) is
        stored exactly as published; a computed one (the acceptance estimate's volume x price) to
        the penny, the kWh or 1e-5 GBP/MWh. It is rounded to 6 more decimals first, so a product that
        float arithmetic lands a hair below a tie (4.0625 MWh x 50 GBP/MWh = 203.12499999999997)
        rounds as the exact product does (203.13)."""
        exact = {c.name: ARROW_TYPES[c.type] for c in self.columns if c.type in PRINTED_DECIMALS.values()}
        return frame.with_columns([pl.col(name).round(t.scale + 6, mode="half_away_from_zero").round(t.scale, mode="half_away_from_zero")
                                   .cast(pl.Decimal(t.precision, t.scale)) for name, t in exact.items()
                                   if name in frame.columns and frame.schema[name].is_float()])  # fmt: skip


PARTITION_COLUMNS = (
    Column("settlement_date", "date", "settlement date, from SRH", "V", nullable=False),
    Column("settlement_period", "int", "1..50, local time periods", "V", nullable=False),
    Column("run_type", "text", "II SF R1 R2 R3 RF DF, from SRH", "V", nullable=False),
)
FILE_COLUMNS = (
    Column("publication_ts", "timestamp", "AAA creation stamp as printed (no time zone)", "V", nullable=False),
    Column("flow_version", "text", "AAA flow version, e.g. S0142013", "V", nullable=False),
)
EXTRA = Column("extra_fields", "text", "fields past the known layout (newer flow versions), '|'-joined")


def column_type(f: Field) -> str:
    """The table type of a layout field: a number printed with 2, 3 or 5 decimals is stored exactly."""
    return PRINTED_DECIMALS.get(f.decimals or 0, f.type) if f.type == "float" else f.type


def _record_columns(layout: RecordLayout, skip: tuple[str, ...] = ()) -> tuple[Column, ...]:
    return tuple(
        Column(f.column, column_type(f), f.description, f.confidence) for f in layout.fields() if f.column not in skip
    )


def _line(name: str = "line_number") -> Column:
    return Column(name, "int", "line of the record in the file (1 = AAA), for tracing a value to its source")


def _record_table(name: str, layout: RecordLayout, key: tuple[str, ...], description: str,
                  context: tuple[Column, ...] = (), trailing: tuple[Column, ...] = (EXTRA, _line()),
                  cluster_by: tuple[str, ...] = ()) -> TableSpec:  # fmt: skip
    """A raw table: partition columns, the record's context (its BM unit or party), the record's
    fields in position order, then extra fields, line numbers and the file's columns."""
    named = {c.name for c in PARTITION_COLUMNS + context}
    columns = PARTITION_COLUMNS + context + _record_columns(layout, skip=tuple(named)) + trailing + FILE_COLUMNS
    return TableSpec(name, columns, key=key, cluster_by=cluster_by, description=description)


_UNIT = Column("bm_unit_id", "text", "BM unit id", "V", nullable=False)
_PARTY = Column("party_id", "text", "BSC party of the enclosing BPH", "V", nullable=False)

SYSTEM_PERIOD = _record_table(
    "system_period", SPI, ("settlement_date", "run_type", "settlement_period"),
    "SPI: one row per settlement period with system prices and volumes.", cluster_by=("run_type",),
)  # fmt: skip
MARKET_INDEX = _record_table(
    "market_index", MD1, ("settlement_date", "run_type", "settlement_period", "market_index_provider"),
    "MD1: market index price and volume per provider per period.", cluster_by=("run_type",),
)  # fmt: skip
BM_UNIT_PERIOD = _record_table(
    "bm_unit_period", BP7, ("settlement_date", "run_type", "settlement_period", "bm_unit_id"),
    "BPI joined with BP7: one row per BM unit per period; values are BP7's.",
    context=(_UNIT, Column("lead_party_id", "text", "party whose BPH block holds the BP7 record", "V")),
    trailing=(EXTRA, Column("bpi_bp7_mismatch", "text", "where BPI disagrees with its BP7 twin: 'column: BPI x, BP7 y; ...'"),
              _line("bpi_line_number"), _line("bp7_line_number")),
    cluster_by=("run_type", "bm_unit_id"),
)  # fmt: skip
BID_OFFER_PAIR = _record_table(
    "bid_offer_pair", BO4, ("settlement_date", "run_type", "settlement_period", "bm_unit_id", "pair_number"),
    "BO4: accepted volumes and cashflows per bid-offer pair per BM unit per period.",
    context=(Column("bm_unit_id", "text", "the BPI the BO4 sits under", "V", nullable=False),),
    cluster_by=("run_type", "bm_unit_id"),
)  # fmt: skip
PARTY_PERIOD = _record_table(
    "party_period", PPC, ("settlement_date", "run_type", "settlement_period", "party_id"),
    "PPC: party charges per period.", context=(_PARTY,), cluster_by=("run_type",),
)  # fmt: skip
ACCOUNT_PERIOD = _record_table(
    "account_period", APD, ("settlement_date", "run_type", "settlement_period", "party_id", "production_consumption_flag"),
    "APD: energy account (production / consumption) data per party per period.",
    context=(_PARTY,), cluster_by=("run_type",),
)  # fmt: skip

RAW_TABLES: dict[str, TableSpec] = {
    t.name: t for t in (SYSTEM_PERIOD, MARKET_INDEX, BM_UNIT_PERIOD, BID_OFFER_PAIR, PARTY_PERIOD, ACCOUNT_PERIOD)
}


# ---------------------------------------------------------------------------------------------
# UTC time of each settlement period: every table with settlement_period carries both columns,
# right after it. Raw tables get them when their parsed rows are written (add_period_times); derived
# tables carry them through their SQL.

PERIOD_TIMES = (
    Column("period_start_utc", "timestamp_utc", "UTC start of the settlement period (period 1 starts at 00:00 "
           "Europe/London; 46 periods on the spring clock change, 50 on the autumn one)", nullable=False),
    Column("period_end_utc", "timestamp_utc", "UTC end of the settlement period (start + 30 minutes)", nullable=False),
)  # fmt: skip


def with_period_times(spec: TableSpec) -> TableSpec:
    """The table with period_start_utc and period_end_utc after settlement_period (unchanged if it
    has no settlement_period, or has them already)."""
    names = spec.column_names
    if "settlement_period" not in names or PERIOD_TIMES[0].name in names:
        return spec
    at = names.index("settlement_period") + 1
    return dataclasses.replace(spec, columns=spec.columns[:at] + PERIOD_TIMES + spec.columns[at:])


def add_period_times(rows: pa.Table) -> pa.Table:
    """Parsed rows with period_start_utc and period_end_utc computed from settlement_date and
    settlement_period (core.settlement's clock-change rule), placed after settlement_period."""
    if "settlement_period" not in rows.column_names or PERIOD_TIMES[0].name in rows.column_names:
        return rows
    times = period_times(rows.select(["settlement_date", "settlement_period"]))
    at = rows.column_names.index("settlement_period") + 1
    for offset, column in enumerate(PERIOD_TIMES):
        rows = rows.add_column(at + offset, pa.field(column.name, ARROW_TYPES[column.type], nullable=False), times.column(column.name))
    return rows


def period_times(periods: pa.Table) -> pa.Table:
    """(settlement_date, settlement_period) rows with their UTC start and end (core.settlement's
    column-wise rule), as Arrow in the warehouse's type."""
    table = pl.from_arrow(periods).with_columns(period_bounds_exprs()).to_arrow()
    types = {c.name: ARROW_TYPES[c.type] for c in PERIOD_TIMES}
    return table.cast(pa.schema([pa.field(f.name, types[f.name]) if f.name in types else f for f in table.schema]))
