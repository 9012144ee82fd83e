"""Settlement rules every layer shares: run types and their precedence, settlement periods of a
day in Europe/London (and the period an instant falls in), and what kind of BM unit an id or an
Elexon BM unit type names.

Each rule is defined here once; the parser, generator, assets, checks and CLI all call these.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from zoneinfo import ZoneInfo

import polars as pl

LONDON = ZoneInfo("Europe/London")

# Least to most mature. DF (dispute final) beats RF; an ad hoc DR run exists but is not loaded.
RUN_TYPES: tuple[str, ...] = ("II", "SF", "R1", "R2", "R3", "RF", "DF")
FIRST_SETTLEMENT_DATE = dt.date(2001, 3, 27)  # NETA go-live: no settlement date, so no S0142 file, is older
RUN_PRECEDENCE: dict[str, int] = {run: rank for rank, run in enumerate(RUN_TYPES)}


def validate_run_type(run_type: str) -> str:
    """Return `run_type` upper-cased, or raise ValueError naming the seven valid codes."""
    code = run_type.strip().upper()
    if code not in RUN_PRECEDENCE:
        raise ValueError(f"unknown run type {run_type!r}; expected one of {', '.join(RUN_TYPES)}")
    return code


def parse_run_types(text: str) -> list[str]:
    """Parse a comma-separated list such as ``"II,SF"`` into validated codes, in the given order."""
    codes = [validate_run_type(part) for part in text.split(",") if part.strip()]
    if not codes:
        raise ValueError("no run type given")
    return codes


def more_mature(a: tuple[str, str], b: tuple[str, str]) -> tuple[str, str]:
    """Of two (run_type, publication stamp) pairs, the one canonical settlement should use.

    A later run type wins; for the same run type the later publication stamp wins. Stamps are
    compared as printed (``YYYYMMDDHHMMSS`` sorts as text).
    """
    key_a = (RUN_PRECEDENCE[a[0]], a[1])
    key_b = (RUN_PRECEDENCE[b[0]], b[1])
    return a if key_a >= key_b else b


def periods_in_day(settlement_date: dt.date) -> int:
    """Number of half-hour settlement periods in a settlement date (UK local time).

    48 on an ordinary day, 46 on the spring clock change, 50 on the autumn one. Computed from the
    length of the local day in Europe/London, so no clock-change date is written down anywhere.
    """
    start = dt.datetime.combine(settlement_date, dt.time(), tzinfo=LONDON)
    end = dt.datetime.combine(settlement_date + dt.timedelta(days=1), dt.time(), tzinfo=LONDON)
    seconds = end.timestamp() - start.timestamp()
    return int(seconds // 1800)


def period_start_utc(settlement_date: dt.date, settlement_period: int) -> dt.datetime:
    """UTC start of a settlement period: period 1 starts at 00:00 local time."""
    n = periods_in_day(settlement_date)
    if not 1 <= settlement_period <= n:
        raise ValueError(f"{settlement_date} has periods 1..{n}, not {settlement_period}")
    midnight = dt.datetime.combine(settlement_date, dt.time(), tzinfo=LONDON)
    return midnight.astimezone(dt.timezone.utc) + dt.timedelta(minutes=30 * (settlement_period - 1))


PERIOD = dt.timedelta(minutes=30)


def period_end_utc(settlement_date: dt.date, settlement_period: int) -> dt.datetime:
    """UTC end of a settlement period (exclusive): its start plus 30 minutes."""
    return period_start_utc(settlement_date, settlement_period) + PERIOD


def settlement_period_at(instant: dt.datetime) -> tuple[dt.date, int]:
    """(settlement date, settlement period) of the period holding an instant (time-zone aware).

    The settlement date is the local (Europe/London) date of the instant, and the period counts
    half hours from local midnight in real (UTC) time, so on the spring clock change 01:00 UTC is
    period 3 and on the autumn change the second 01:00 local (01:00 UTC) is period 5."""
    if instant.tzinfo is None:
        raise ValueError(f"{instant} has no time zone: settlement periods need an instant (UTC)")
    day = instant.astimezone(LONDON).date()
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=LONDON).astimezone(dt.timezone.utc)
    return day, int((instant - midnight) // PERIOD) + 1


def _local_midnight_utc(settlement_date: pl.Expr) -> pl.Expr:
    # UK clocks change at 01:00 / 02:00, never at midnight: local midnight is never ambiguous.
    return settlement_date.cast(pl.Datetime("us")).dt.replace_time_zone(LONDON.key).dt.convert_time_zone("UTC")


def settlement_period_exprs(instant: str) -> list[pl.Expr]:
    """`settlement_date` and `settlement_period` of a UTC timestamp column, as polars expressions:
    settlement_period_at, column-wise."""
    day = pl.col(instant).dt.convert_time_zone(LONDON.key).dt.date()
    since_midnight = pl.col(instant).dt.convert_time_zone("UTC") - _local_midnight_utc(day)
    return [day.alias("settlement_date"),
            (since_midnight.dt.total_minutes() // 30 + 1).cast(pl.Int64).alias("settlement_period")]  # fmt: skip


def period_bounds_exprs(settlement_date: str = "settlement_date", settlement_period: str = "settlement_period") -> list[pl.Expr]:
    """`period_start_utc` and `period_end_utc` of (settlement date, period) columns, as polars
    expressions: period_start_utc / period_end_utc, column-wise."""
    start = _local_midnight_utc(pl.col(settlement_date)) + pl.duration(minutes=30 * (pl.col(settlement_period) - 1))
    return [start.alias("period_start_utc"), (start + pl.duration(minutes=30)).alias("period_end_utc")]


def settlement_periods(start: dt.date, end: dt.date) -> pl.DataFrame:
    """Every settlement period of the dates [start, end] with its UTC bounds (46 / 48 / 50 a day)."""
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    pairs = [(day, p) for day in days for p in range(1, periods_in_day(day) + 1)]
    frame = pl.DataFrame({"settlement_date": [d for d, _ in pairs], "settlement_period": [p for _, p in pairs]},
                         schema={"settlement_date": pl.Date, "settlement_period": pl.Int64})  # fmt: skip
    return frame.with_columns(period_bounds_exprs())


class UnitKind(str, Enum):
    """What a BM unit id names, by its prefix (S0142_FORMAT.md, "BM unit ids")."""

    TRANSMISSION = "transmission"  # T_, T__
    EMBEDDED = "embedded"  # E_, E__
    INTERCONNECTOR = "interconnector"  # I_
    SUPPLIER = "supplier"  # 2__ base units and C__ CfD supplier units
    SECONDARY = "secondary"  # V__ secondary units of Virtual Lead Parties
    MISCELLANEOUS = "miscellaneous"  # M_
    OTHER = "other"


# Longest prefixes first: "2__" and "C__" must not be read as anything shorter. `T__` and `E__` are
# real prefixes (3 and 2 units in the 2026 files profiled in S0142_FORMAT.md), classed with T_ / E_.
UNIT_PREFIXES: tuple[tuple[str, UnitKind], ...] = (
    ("2__", UnitKind.SUPPLIER),
    ("C__", UnitKind.SUPPLIER),
    ("V__", UnitKind.SECONDARY),
    ("T__", UnitKind.TRANSMISSION),
    ("E__", UnitKind.EMBEDDED),
    ("T_", UnitKind.TRANSMISSION),
    ("E_", UnitKind.EMBEDDED),
    ("I_", UnitKind.INTERCONNECTOR),
    ("M_", UnitKind.MISCELLANEOUS),
)

# The kind of party that leads a unit of each kind (suppliers lead 2__ and C__, Virtual Lead Parties
# V__; T_, E_ and M_ units are generation or storage; interconnector users lead I_).
LEAD_PARTY_ROLE: dict[UnitKind, str] = {
    UnitKind.SUPPLIER: "supplier",
    UnitKind.SECONDARY: "vlp",
    UnitKind.TRANSMISSION: "generator",
    UnitKind.EMBEDDED: "generator",
    UnitKind.MISCELLANEOUS: "generator",
    UnitKind.INTERCONNECTOR: "interconnector",
}

VLP_UNIT_PREFIX = "V__"
SUPPLIER_UNIT_PREFIXES = ("2__", "C__")


# Elexon's BM unit types (`bmUnitType` in the reference list /reference/bmunits/all). The BSC
# names them: T directly connected, E embedded, I interconnector, G base and S additional supplier
# units (2__A..., 2__B...; the API's own example types 2__AFLEX003 "S"), V secondary units of
# Virtual Lead Parties, M miscellaneous. Where the list knows a unit's type it wins over the prefix.
UNIT_TYPE_KINDS: dict[str, UnitKind] = {
    "T": UnitKind.TRANSMISSION,
    "E": UnitKind.EMBEDDED,
    "I": UnitKind.INTERCONNECTOR,
    "G": UnitKind.SUPPLIER,
    "S": UnitKind.SUPPLIER,
    "V": UnitKind.SECONDARY,
    "M": UnitKind.MISCELLANEOUS,
}

# Fuel types of the reference list that name battery storage, first in the revenue leaderboard.
# The pinned API spec does not enumerate fuel types; these are the spellings seen in the list.
BATTERY_FUEL_TYPES: tuple[str, ...] = ("BATTERY", "BESS", "STORAGE")


def unit_kind(bm_unit_id: str, bm_unit_type: str | None = None) -> UnitKind:
    """What a unit is: by its Elexon BM unit type where that is known, else by its id's prefix."""
    if bm_unit_type and bm_unit_type.strip().upper() in UNIT_TYPE_KINDS:
        return UNIT_TYPE_KINDS[bm_unit_type.strip().upper()]
    for prefix, kind in UNIT_PREFIXES:
        if bm_unit_id.startswith(prefix):
            return kind
    return UnitKind.OTHER


def is_vlp_unit(bm_unit_id: str, bm_unit_type: str | None = None) -> bool:
    """A Virtual Lead Party secondary BM unit: bmUnitType V in the reference list, or the V__
    prefix where the list does not know the unit. Supplier units (2__, C__) never are."""
    return unit_kind(bm_unit_id, bm_unit_type) is UnitKind.SECONDARY


def is_supplier_unit(bm_unit_id: str) -> bool:
    return bm_unit_id.startswith(SUPPLIER_UNIT_PREFIXES)


def unit_kind_labels() -> dict[UnitKind, str]:
    """Each kind with the prefixes that name it, as people read it: "supplier (2__, C__)",
    "transmission (T_, T__)": kinds in the order of UNIT_PREFIXES, the shorter prefix first."""
    prefixes: dict[UnitKind, list[str]] = {}
    for prefix, kind in UNIT_PREFIXES:
        prefixes.setdefault(kind, []).append(prefix)
    return {kind: f"{kind.value} ({', '.join(sorted(names, key=len))})" for kind, names in prefixes.items()}  # T_, T__
