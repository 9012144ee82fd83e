"""The synthetic market: BSC parties and BM units, stable across dates for a seed.

Calibrated to the public profile of two real 2026 files (S0142_FORMAT.md, last section): BM units
of nine id prefixes in the real proportions (2__, C__, I_, T_, V__, E_, M_, T__, E__); about one
party per 16 units, a quarter of them Virtual Lead Parties; party ids as printed text, a few of
them numeric-looking (`20222033`); supplier units in their GSP group's `DEFAULT__<group>` trading
unit, about 36 multi-unit trading units of generating units with names as registered (apostrophes,
double spaces), and every other unit its own trading unit (BPI 2 blank, BP7 13 its own id); one
transmission loss factor per GSP group, for every unit.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
import polars as pl

from p114_assets.core.settlement import LEAD_PARTY_ROLE, unit_kind

DEFAULT_UNITS = 8000
GSP_GROUPS = "ABCDEFGHJKLMNP"
# Transmission loss factors of the 14 GSP groups, as printed in real 2023 BP7 records
# (../shared/reference/real_bp7, party GOLD). Every unit takes its zone's: a real file holds
# 14-15 distinct BP7 11 values a day, of both signs.
GSP_TLF = {
    "A": 0.002763, "B": 0.0061409, "C": 0.0145587, "D": 0.0070704, "E": 0.0148608, "F": -0.0037297,
    "G": 0.0008159, "H": 0.0122856, "J": 0.0064211, "K": 0.0073762, "L": 0.0125248, "M": -0.0083696,
    "N": -0.0042622, "P": -0.0261238,
}  # fmt: skip

# BM units by id prefix: the mean of the two profiled files' shares (R3 7,652 units, SF 9,146).
UNIT_MIX = (("C__", 0.3823), ("2__", 0.3490), ("I_", 0.1445), ("T_", 0.0641), ("V__", 0.0352), ("E_", 0.0231),
            ("M_", 0.0013), ("T__", 0.00036), ("E__", 0.00024))  # fmt: skip
MIN_UNITS = len(UNIT_MIX)  # the smallest market: one unit of every prefix
# Party roles. VLPs are the parties whose PPC 9 / APC 11 are filled (114 of 479 in the R3 file);
# traders lead no BM unit and hold only contract positions.
PARTY_ROLES = (("supplier", 0.25), ("vlp", 0.24), ("generator", 0.23), ("interconnector", 0.08), ("trader", 0.20))
# Parties that settle anything on a given date: about 13% of parties have a BM cashflow in a day
# (APC 2), a third an RCRC (APC 6), in real files. A dormant party's units meter nothing; parties
# with many units are always active.
ACTIVE_SHARE = {"supplier": 0.45, "vlp": 0.35, "generator": 0.55, "interconnector": 0.5, "trader": 0.35}
ALWAYS_ACTIVE_UNITS = 20
SMALL_MARKET_PARTIES = 50  # in a demo-sized market every party settles something
UNITS_PER_PARTY = 16  # 7,652 units and 479 parties in the R3 file
NUMERIC_PARTY_SHARE = 2 / 479  # `20222033` and `45274649`
# Interconnector legs (I_<interconnector><D|G>-<party code><n>), as in `I_I2D-EZPD1`.
INTERCONNECTORS = ("I2", "IB", "IF", "IE", "IN", "IV", "IC", "IL", "IM", "IS", "IW", "IA", "IG", "IT", "IX")
NAMED_TRADING_UNITS = 36  # 50-51 distinct BPI 2 names: DEFAULT__A..P and the multi-unit trading units
TRADING_UNIT_SHARE = 0.39  # of T_ / E_ units, in a multi-unit trading unit (the rest are their own)
# Places for the names of multi-unit trading units, printed as registered.
PLACES = ("CONNAH'S QUAY", "Carraig Gheal", "Coryton LG", "WEST BURTON", "Saltend", "Pembroke", "Grain",
          "Staythorpe", "Didcot B", "Peterhead", "Rocksavage", "Spalding", "Sutton Bridge", "Langage",
          "Marchwood", "Seabank", "Keadby", "Severn", "Damhead Creek", "Medway", "Shoreham", "Enfield",
          "Cottam", "Great Yarmouth", "Immingham", "Humber", "South Humber", "Baglan Bay", "Deeside",
          "Barking", "Corby", "King's Lynn", "Rye House", "Brigg", "Fife", "Whitelee", "Clyde", "Beatrice")  # fmt: skip
SUPPLIER_PREFIXES = ("2__", "C__")


def _name_of_trading_unit(place: str, style: int) -> str:
    """Registered names vary in case and spacing: `CONNAH'S QUAY PS TRADING  UNIT` has two spaces."""
    return (f"{place} PS TRADING  UNIT" if style == 0 else
            f"{place} Trading Unit" if style == 1 else
            f"{place.upper()} TRADING UNIT")  # fmt: skip


@dataclass(frozen=True)
class SyntheticMarket:
    """Parties and BM units of a synthetic market. Depends only on (units, seed).

    units: unit_index, bm_unit_id, prefix, kind, party_index, gsp_group, tlf_e7, size (MWh a period),
    trading_unit_name (NULL for a unit that is its own trading unit), and per-unit traits (has_mvr,
    rates, ...). parties: party_index, party_id, role, code (the 4 letters in its units' ids), active
    (whether it settles anything: a dormant party's units meter nothing)."""

    seed: int
    units: pl.DataFrame
    parties: pl.DataFrame

    @classmethod
    def build(cls, n_units: int = DEFAULT_UNITS, seed: int = 0) -> "SyntheticMarket":
        if n_units < MIN_UNITS:
            raise ValueError(f"--units must be at least {MIN_UNITS} (one unit of every prefix)")
        rng = np.random.default_rng([seed, 114])
        counts = _allocate(n_units, UNIT_MIX)
        n_parties = max(len(PARTY_ROLES), round(n_units / UNITS_PER_PARTY))
        parties = _parties(rng, n_parties)
        by_role = {role: parties.filter(pl.col("role") == role)["party_index"].to_list() for role, _ in PARTY_ROLES}
        codes = parties["code"].to_list()
        rows: list[tuple] = []
        for prefix, n in counts.items():
            owners = by_role[LEAD_PARTY_ROLE[unit_kind(prefix)]]
            rows += _unit_ids(rng, prefix, n, owners, codes)
        units = pl.DataFrame(rows, schema=["bm_unit_id", "prefix", "party_index", "gsp_group"], orient="row", infer_schema_length=None)
        held = units.group_by("party_index").len()
        parties = parties.join(held, on="party_index", how="left").with_columns(
            active=(pl.Series(rng.random(n_parties)) < pl.col("role").replace_strict(ACTIVE_SHARE, return_dtype=pl.Float64))
            | (pl.col("len").fill_null(0) >= ALWAYS_ACTIVE_UNITS) | (n_parties < SMALL_MARKET_PARTIES)).drop("len")
        units = units.unique("bm_unit_id", keep="first", maintain_order=True)
        # BPI order in real files is by unit id; BP7 order is by party, then unit id.
        units = units.sort("bm_unit_id").with_row_index("unit_index").with_columns(pl.col("unit_index").cast(pl.Int64))
        units = units.with_columns(
            kind=pl.Series([unit_kind(u).value for u in units["bm_unit_id"]], dtype=pl.String),
            tlf_e7=pl.Series([round(GSP_TLF[g] * 1e7) for g in units["gsp_group"]], dtype=pl.Int64),
            size=pl.Series(_unit_size(rng, units), dtype=pl.Float64),
            trading_unit_name=pl.Series(_trading_units(rng, units), dtype=pl.String),
            **_traits(rng, units),
        )
        return cls(seed, units, parties)


def _allocate(total: int, shares: tuple[tuple[str, float], ...]) -> dict[str, int]:
    """`total` split by `shares`, at least one of each, the rounding taken by the biggest."""
    counts = {name: max(1, round(total * share)) for name, share in shares}
    while sum(counts.values()) > total:  # small totals: the minimum of one each comes out of the biggest
        counts[max(counts, key=counts.get)] -= 1  # type: ignore[arg-type]
    counts[max(counts, key=counts.get)] += total - sum(counts.values())  # type: ignore[arg-type]
    return counts


def _codes(rng: np.random.Generator, n: int, lengths: tuple[int, int]) -> list[str]:
    alphabet = np.array(list(string.ascii_uppercase + string.digits[1:]))
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        code = "".join(rng.choice(alphabet[:26] if len(out) % 5 else alphabet, int(rng.integers(*lengths, endpoint=True))))
        if code not in seen and not code.isdigit():
            seen.add(code)
            out.append(code)
    return out


def _parties(rng: np.random.Generator, n_parties: int) -> pl.DataFrame:
    """Party ids are text of 3-8 characters; a few are numeric-looking (kept as text, never numbers).
    The file orders party blocks by id, so the numeric ones come first, as in real files."""
    ids = _codes(rng, n_parties, (3, 8))
    numeric = max(1, round(n_parties * NUMERIC_PARTY_SHARE))
    for i in rng.choice(n_parties, numeric, replace=False):
        ids[i] = str(int(rng.integers(10_000_000, 99_999_999)))
    codes = _codes(rng, n_parties, (4, 4))
    counts = _allocate(n_parties, PARTY_ROLES)
    roles = [role for role, n in counts.items() for _ in range(n)]
    return pl.DataFrame({"party_index": np.arange(n_parties, dtype=np.int64), "party_id": ids, "role": roles, "code": codes})


def _owner_weights(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """A few big parties and many small ones (Zipf), the big ones anywhere in party order."""
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return rng.permutation(weights / weights.sum())


def _unit_ids(rng: np.random.Generator, prefix: str, n: int, owners: list[int], codes: list[str]) -> list[tuple]:
    """Ids in the real shapes: `2__AALAB000` (supplier base units, one per GSP group), `V__FCNRG001`,
    `I_I2D-EZPD1` (an interconnector leg of a trader), `T_DRAXX-1` (a station's unit). Units are
    owned unevenly, as in real files: a few big parties, many with a unit or two (and the party
    blocks of small parties lie close enough for gzip to find their repeated SSD / MD2 / DB2)."""
    rows: list[tuple] = []
    weights = _owner_weights(rng, len(owners), 0.6 if prefix == "V__" else 1.1)
    held: dict[int, int] = {}

    def next_of(party: int) -> int:
        held[party] = held.get(party, 0) + 1
        return held[party] - 1

    if prefix in ("2__", "C__"):  # one unit per GSP group: a supplier registers whole sets
        for first in range(0, n, len(GSP_GROUPS)):
            party = owners[int(rng.choice(len(owners), p=weights))]
            suffix = next_of(party) + (0 if prefix == "2__" else 1)
            rows += [(f"{prefix}{gsp}{codes[party]}{suffix:03d}", prefix, party, gsp) for gsp in GSP_GROUPS[: n - first]]
        return rows
    if prefix in ("V__", "T__"):  # a few units where the party's sites are
        for _ in range(n):
            party = owners[int(rng.choice(len(owners), p=weights))]
            gsp = GSP_GROUPS[int(rng.integers(len(GSP_GROUPS)))]
            rows.append((f"{prefix}{gsp}{codes[party]}{next_of(party) + 1:03d}", prefix, party, gsp))
        return rows
    if prefix == "I_":  # a trader's legs on the interconnectors
        legs = [f"{ic}{end}" for ic in INTERCONNECTORS for end in "DG"]
        for _ in range(n):
            party = owners[int(rng.choice(len(owners), p=weights))]
            k = next_of(party)
            rows.append((f"I_{legs[k % len(legs)]}-{codes[party]}{1 + k // len(legs)}", prefix, party, GSP_GROUPS[k % len(GSP_GROUPS)]))
        return rows
    stations = _codes(rng, max(1, n // 2 + 1), (4, 5))
    for i in range(n):
        party = owners[int(rng.choice(len(owners), p=weights))]
        station = stations[i // 2 % len(stations)]
        rows.append((f"{prefix}{station}-{1 + i % 2 + 2 * (i // (2 * len(stations)))}", prefix, party,
                     GSP_GROUPS[int(rng.integers(len(GSP_GROUPS)))]))  # fmt: skip
    return rows


def _unit_size(rng: np.random.Generator, units: pl.DataFrame) -> np.ndarray:
    """Typical half-hourly magnitude in MWh (capacity / 2 for generators, demand for suppliers)."""
    scale = {"T_": (4.8, 0.9, 5, 900), "T__": (4.0, 0.5, 5, 300), "E_": (1.6, 1.1, 0.1, 60), "E__": (1.5, 0.5, 0.1, 20),
             "I_": (3.0, 1.2, 1, 1000), "V__": (0.2, 1.0, 0.01, 10), "2__": (1.5, 2.2, 0.001, 1500),
             "C__": (-1.0, 1.5, 0.001, 30), "M_": (-1.5, 1.0, 0.005, 2.5)}  # fmt: skip
    out = np.empty(units.height)
    for prefix, (mu, sigma, low, high) in scale.items():
        mask = (units["prefix"] == prefix).to_numpy()
        out[mask] = np.clip(rng.lognormal(mu, sigma, mask.sum()), low, high)
    return out


def _trading_units(rng: np.random.Generator, units: pl.DataFrame) -> list[str | None]:
    """DEFAULT__<group> for supplier units; about 36 named multi-unit trading units of T_ / E_
    units; NULL (its own trading unit) for every other unit."""
    prefix = units["prefix"].to_list()
    gsp = units["gsp_group"].to_list()
    names: list[str | None] = [f"DEFAULT__{g}" if p in SUPPLIER_PREFIXES else None for p, g in zip(prefix, gsp)]
    candidates = [i for i, p in enumerate(prefix) if p in ("T_", "E_")]
    members = [i for i in candidates if rng.random() < TRADING_UNIT_SHARE]
    if len(members) < 2:
        members = candidates[:2] if len(candidates) >= 2 else []
    if not members:
        return names
    n_named = max(1, min(NAMED_TRADING_UNITS, len(members) // 2))
    named = [_name_of_trading_unit(PLACES[i % len(PLACES)], 0 if i == 0 else int(rng.integers(3))) for i in range(n_named)]
    for j, i in enumerate(members):  # every named trading unit gets at least two units
        names[i] = named[j % n_named] if j < 2 * n_named else named[int(rng.integers(n_named))]
    return names


def _traits(rng: np.random.Generator, units: pl.DataFrame) -> dict[str, pl.Series]:
    """What each unit does all day: which spot records it has, whether it reallocates metered volume."""
    prefix = units["prefix"].to_numpy()
    n = units.height
    physical = ~np.isin(prefix, SUPPLIER_PREFIXES)
    # MEL / MIL: every physical unit; about one in eight with a second spot point in a period.
    # Run-up / run-down rates: about 29% (export) and 14% (import) of physical units (R3 and SF counts).
    rates = {name: physical & (rng.random(n) < share) for name, share in
             (("has_rue", 0.29), ("has_rde", 0.28), ("has_rui", 0.14), ("has_rdi", 0.14))}  # fmt: skip
    # Metered volume reallocation (APB + MVR): about a quarter of supplier units (0.17-0.2 per BP7).
    mvr = np.isin(prefix, SUPPLIER_PREFIXES) & (rng.random(n) < 0.25)
    return {name: pl.Series(values) for name, values in ({"has_mvr": mvr} | rates).items()}


__all__ = ["DEFAULT_UNITS", "GSP_GROUPS", "SyntheticMarket"]
