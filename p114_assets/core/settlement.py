"""Settlement rules every layer shares: run types and their precedence, settlement periods of a
day in Europe/London, and what kind of BM unit an id names.

Each rule is defined here once; the parser, generator, assets, checks and CLI all call these.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

# Least to most mature. DF (dispute final) beats RF; an ad hoc DR run exists but is not loaded.
RUN_TYPES: tuple[str, ...] = ("II", "SF", "R1", "R2", "R3", "RF", "DF")
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


class UnitKind(str, Enum):
    """What a BM unit id names, by its prefix (S0142_FORMAT.md, "BM unit ids")."""

    TRANSMISSION = "transmission"  # T_
    EMBEDDED = "embedded"  # E_
    INTERCONNECTOR = "interconnector"  # I_
    SUPPLIER = "supplier"  # 2__ base units and C__ CfD supplier units
    SECONDARY = "secondary"  # V__ secondary units of Virtual Lead Parties
    MISCELLANEOUS = "miscellaneous"  # M_
    OTHER = "other"


# Longest prefixes first: "2__" and "C__" must not be read as anything shorter.
UNIT_PREFIXES: tuple[tuple[str, UnitKind], ...] = (
    ("2__", UnitKind.SUPPLIER),
    ("C__", UnitKind.SUPPLIER),
    ("V__", UnitKind.SECONDARY),
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


def unit_kind(bm_unit_id: str) -> UnitKind:
    for prefix, kind in UNIT_PREFIXES:
        if bm_unit_id.startswith(prefix):
            return kind
    return UnitKind.OTHER


def is_vlp_unit(bm_unit_id: str) -> bool:
    """A Virtual Lead Party secondary BM unit. Supplier units (2__, C__) never are."""
    return bm_unit_id.startswith(VLP_UNIT_PREFIX)


def is_supplier_unit(bm_unit_id: str) -> bool:
    return bm_unit_id.startswith(SUPPLIER_UNIT_PREFIXES)


def unit_kind_labels() -> dict[UnitKind, str]:
    """Each kind with the prefixes that name it, as people read it: "supplier (2__, C__)", in the
    order of UNIT_PREFIXES."""
    prefixes: dict[UnitKind, list[str]] = {}
    for prefix, kind in UNIT_PREFIXES:
        prefixes.setdefault(kind, []).append(prefix)
    return {kind: f"{kind.value} ({', '.join(names)})" for kind, names in prefixes.items()}
