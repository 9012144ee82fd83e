"""Synthetic S0142 files at real scale, for demos, tests and benchmarks.

What it reproduces (S0142_FORMAT.md, "What real files show that a synthetic generator must
reproduce"): every record type in its order and nesting; unit ids of every prefix under lead
parties; 46 / 48 / 50 periods from Europe/London; every run type for a date, later runs revising
metered volumes and the cashflows that follow from them; the cross-record identities (BP7 6 =
BP7 7 - BP7 8, BPI = its BP7 twin, PPC 2 = the party's BO4 cashflows, BP7 25 = BP7 22 x SPI 53,
SSD repeated under every party, ZZZ = line count); real file names whose publication stamps
follow the nominal run offsets; an occasional byte-order mark; real-scale size with the
redundancy of real files (mostly 0 or blank, printed at real precision).

How: values are computed with numpy in integer units (milli-MWh, pence, 1e-7 for loss factors),
so every identity holds exactly in the printed text; lines are rendered column-wise by polars
through the same record layouts the parser reads (layout.py), and ordered by sort keys that
encode the nesting. Same seed, same arguments: the same bytes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from p114_assets.core.atomic_write import write_atomically
from p114_assets.core.calendar import assumed_publication_date
from p114_assets.core.s0142.files import FileName
from p114_assets.core.s0142.layout import APD, BO4, BP7, BPI, LAYOUTS, MD1, PPC, SPI, RecordLayout
from p114_assets.core.settlement import LEAD_PARTY_ROLE, RUN_PRECEDENCE, RUN_TYPES, UNIT_PREFIXES, periods_in_day

DEFAULT_UNITS = 8000
FLOW_VERSION = "S0142013"
GSP_GROUPS = "ABCDEFGHJKLMNP"
# Transmission loss factors of the 14 GSP groups, as printed in real 2023 BP7 records
# (../shared/reference/real_bp7, party GOLD).
GSP_TLF = {
    "A": 0.002763, "B": 0.0061409, "C": 0.0145587, "D": 0.0070704, "E": 0.0148608, "F": -0.0037297,
    "G": 0.0008159, "H": 0.0122856, "J": 0.0064211, "K": 0.0073762, "L": 0.0125248, "M": -0.0083696,
    "N": -0.0042622, "P": -0.0261238,
}  # fmt: skip

# Share of BM units by id prefix, roughly as in 2025-26 files (about 8,000 units).
UNIT_MIX = (("2__", 0.42), ("V__", 0.20), ("E_", 0.19), ("T_", 0.10), ("C__", 0.04), ("M_", 0.03), ("I_", 0.02))
PARTY_ROLES = (("supplier", 0.30), ("vlp", 0.20), ("generator", 0.45), ("interconnector", 0.05))
ROLE_OF_PREFIX = {prefix: LEAD_PARTY_ROLE[kind] for prefix, kind in UNIT_PREFIXES}

# Standard deviation of the metered-volume revision of each run, relative to the final value.
RUN_REVISION = {"II": 0.06, "SF": 0.02, "R1": 0.01, "R2": 0.005, "R3": 0.002, "RF": 0.0, "DF": 0.0}
BOM_SHARE = 0.05  # about 5% of real files begin with a UTF-8 byte-order mark

# Keys that order the lines of a file: section, then nesting levels (see _SORT).
_SORT = ["k0", "k1", "k2", "k3", "k4", "k5"]
# Order of the records under a BPI, and inside a party period block.
_UNDER_BPI = {"BPI": 0, "BO3": 1, "BO4": 2, "BO6": 3, "BO7": 4, "MEL": 5, "MIL": 6, "RDE": 7, "RDI": 8,
              "RUE": 9, "RUI": 10}  # fmt: skip
_IN_PARTY_PERIOD = {"SP7": 0, "SSD": 1, "MD2": 2, "DB2": 3, "PPC": 4, "APD": 5, "BP7": 6}


# ---------------------------------------------------------------------------------------------
# The market: parties and units, stable across dates for a seed


@dataclass(frozen=True)
class SyntheticMarket:
    """Parties and BM units of a synthetic market. Depends only on (units, seed)."""

    seed: int
    units: pl.DataFrame  # unit_index, bm_unit_id, prefix, party_index, gsp_group, trading_unit_name, tlf_e7, size
    parties: pl.DataFrame  # party_index, party_id, role

    @classmethod
    def build(cls, n_units: int = DEFAULT_UNITS, seed: int = 0) -> "SyntheticMarket":
        if n_units < len(UNIT_MIX):
            raise ValueError(f"--units must be at least {len(UNIT_MIX)} (one unit of every prefix)")
        rng = np.random.default_rng([seed, 114])
        counts = _allocate(n_units, UNIT_MIX)
        n_parties = max(len(PARTY_ROLES), round(n_units / 17))
        party_counts = _allocate(n_parties, PARTY_ROLES)

        codes = _unique_codes(rng, n_parties, 4)
        party_ids = [
            str(rng.integers(1000, 99999)) if rng.random() < 0.05 else code for code in codes
        ]  # some BSC party ids are numeric strings
        party_ids = _dedupe(party_ids)
        roles = [role for role, n in party_counts.items() for _ in range(n)]
        parties = pl.DataFrame(
            {"party_index": np.arange(n_parties), "party_id": party_ids, "role": roles, "code": codes}
        )
        by_role = {role: [i for i, r in enumerate(roles) if r == role] for role in party_counts}

        rows: list[tuple] = []
        station_names = iter(_unique_codes(rng, n_units, 5))
        for prefix, n in counts.items():
            owners = by_role[ROLE_OF_PREFIX[prefix]]
            for i in range(n):
                if prefix in ("2__", "C__", "V__"):
                    # one unit per party per GSP group, then a second set with the next suffix
                    party = owners[(i // len(GSP_GROUPS)) % len(owners)]
                    gsp = GSP_GROUPS[i % len(GSP_GROUPS)]
                    suffix = i // (len(GSP_GROUPS) * len(owners)) + (0 if prefix == "2__" else 1)
                    unit_id = f"{prefix}{gsp}{codes[party]}{suffix:03d}"
                else:
                    party = owners[int(rng.integers(len(owners)))]
                    gsp = GSP_GROUPS[int(rng.integers(len(GSP_GROUPS)))]
                    unit_id = f"{prefix}{next(station_names)}-{int(rng.integers(1, 5))}"
                rows.append((unit_id, prefix, party, gsp))
        units = pl.DataFrame(rows, schema=["bm_unit_id", "prefix", "party_index", "gsp_group"], orient="row")
        units = units.unique("bm_unit_id", keep="first", maintain_order=True)
        units = units.with_columns(
            tlf_e7=pl.Series(_unit_tlf(rng, units), dtype=pl.Int64),
            size=pl.Series(_unit_size(rng, units), dtype=pl.Float64),
            trading_unit_name=pl.Series(_trading_units(rng, units), dtype=pl.String),
        )
        # BPI order in real files is by unit id; BP7 order is by party, then unit id.
        units = units.sort("bm_unit_id").with_row_index("unit_index").with_columns(pl.col("unit_index").cast(pl.Int64))
        return cls(seed, units, parties.drop("code"))


def _allocate(total: int, shares: tuple[tuple[str, float], ...]) -> dict[str, int]:
    counts = {name: max(1, round(total * share)) for name, share in shares}
    biggest = max(counts, key=counts.get)  # type: ignore[arg-type]
    counts[biggest] += total - sum(counts.values())
    return counts


def _unique_codes(rng: np.random.Generator, n: int, length: int) -> list[str]:
    letters = np.array(list(string.ascii_uppercase))
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        code = "".join(rng.choice(letters, length))
        if code not in seen:
            seen.add(code)
            out.append(code)
    return out


def _dedupe(ids: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for pid in ids:
        while pid in seen:
            pid = pid + "X"
        seen.add(pid)
        out.append(pid)
    return out


def _unit_tlf(rng: np.random.Generator, units: pl.DataFrame) -> np.ndarray:
    gsp_tlf = np.array([round(GSP_TLF[g] * 1e7) for g in units["gsp_group"]], dtype=np.int64)
    own = rng.integers(-300_000, 300_000, units.height)  # directly connected units have their own TLF
    direct = units["prefix"].is_in(["T_", "I_", "M_"]).to_numpy()
    return np.where(direct, own, gsp_tlf)


def _unit_size(rng: np.random.Generator, units: pl.DataFrame) -> np.ndarray:
    """Typical half-hourly magnitude in MWh (capacity / 2 for generators, demand for suppliers)."""
    scale = {"T_": (5.0, 0.8, 10, 900), "E_": (2.0, 1.0, 0.25, 75), "I_": (6.3, 0.3, 250, 1000),
             "V__": (1.5, 1.0, 0.25, 20), "2__": (1.8, 1.8, 0.01, 2000), "C__": (2.0, 1.0, 0.25, 50),
             "M_": (-1.0, 1.0, 0.005, 2.5)}  # fmt: skip
    out = np.empty(units.height)
    for prefix, (mu, sigma, low, high) in scale.items():
        mask = (units["prefix"] == prefix).to_numpy()
        out[mask] = np.clip(rng.lognormal(mu, sigma, mask.sum()), low, high)
    return out


def _trading_units(rng: np.random.Generator, units: pl.DataFrame) -> list[str | None]:
    """DEFAULT__<gsp> for supplier units; shared named trading units for most T_ and E_ units;
    blank for the rest (about a quarter of units in all)."""
    names: list[str | None] = []
    # About 50 trading units in all, as in real files: the 14 DEFAULT__ ones and some shared sites.
    groups = max(1, min(36, round(((units["prefix"] == "T_") | (units["prefix"] == "E_")).sum() * 0.85 / 20)))
    for prefix, gsp in units.select("prefix", "gsp_group").iter_rows():
        if prefix in ("2__", "C__"):
            names.append(f"DEFAULT__{gsp}")
        elif prefix in ("T_", "E_") and rng.random() < 0.85:
            names.append(f"TU_SITE{int(rng.integers(groups)):02d}")
        else:
            names.append(None)
    return names


# ---------------------------------------------------------------------------------------------
# Rendering: integer-scaled values -> minimally printed decimals


def _num(expr: pl.Expr, decimals: int) -> pl.Expr:
    """Print an integer-scaled column (value x 10**decimals) as real files do: 0, -25, 0.5, 1.0183849."""
    if decimals == 0:
        return expr.cast(pl.String).fill_null("")
    scale = 10**decimals
    magnitude = expr.abs()
    whole = (magnitude // scale).cast(pl.String)
    frac = (magnitude % scale).cast(pl.String).str.zfill(decimals).str.strip_chars_end("0")
    sign = pl.when(expr < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    text = pl.concat_str([sign, whole, pl.when(frac == "").then(pl.lit("")).otherwise(pl.lit(".") + frac)])
    return text.fill_null("")


def _render(frame: pl.DataFrame, record_id: str, width: int, values: dict[int, pl.Expr]) -> pl.DataFrame:
    """Lines of one record type: `values` maps position -> a text expression; others are blank."""
    parts = [pl.lit(record_id)] + [values.get(pos, pl.lit("")) for pos in range(1, width + 1)] + [pl.lit("")]
    return frame.select(*_SORT, pl.concat_str(parts, separator="|").alias("line"))


def _layout_values(layout: RecordLayout, scaled: dict[str, pl.Expr | str]) -> dict[int, pl.Expr]:
    """Map layout columns to positions: numbers are integer-scaled by the field's printed decimals."""
    out: dict[int, pl.Expr] = {}
    for f in layout.fields():
        if f.column not in scaled:
            continue
        value = scaled[f.column]
        expr = pl.col(value) if isinstance(value, str) else value
        if f.type == "text":
            out[f.pos] = expr.fill_null("")
        else:
            out[f.pos] = _num(expr, 0 if f.type == "int" else (f.decimals or 7))
    return out


def _keys(k0: int, k1=0, k2=0, k3=0, k4=0, k5=0) -> list[pl.Expr]:
    def as_expr(v):
        return v.cast(pl.Int64) if isinstance(v, pl.Expr) else pl.lit(v, pl.Int64)

    return [as_expr(v).alias(name) for name, v in zip(_SORT, (k0, k1, k2, k3, k4, k5))]


# ---------------------------------------------------------------------------------------------
# One settlement date and run


@dataclass
class GeneratedFile:
    """A rendered file and the values it holds, for tests that check a parser against them."""

    file_name: FileName
    text: bytes  # uncompressed, with a BOM when the file has one
    truth: dict[str, pl.DataFrame]  # record id -> typed values by layout column (SPI, MD1, BPI, BO4, BP7, PPC, APD)
    line_count: int

    def write(self, out_dir: str | Path, compress: bool = True) -> Path:
        """Write the file under its real name; gzip with a zero mtime so bytes are reproducible."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        name = FileName(self.file_name.settlement_date, self.file_name.run_type, self.file_name.stamp, compress)
        path = out_dir / name.name
        body = gzip.compress(self.text, compresslevel=6, mtime=0) if compress else self.text
        return write_atomically(path, body)


def publication_stamp(settlement_date: dt.date, run_type: str, seed: int) -> str:
    """A stamp on the nominal publication date of the run, at a reproducible time of day."""
    day = assumed_publication_date(settlement_date, run_type)  # DF: core.calendar's assumed date after RF
    rng = np.random.default_rng([seed, settlement_date.toordinal(), RUN_PRECEDENCE[run_type], 7])
    seconds = int(rng.integers(6 * 3600, 23 * 3600))
    return f"{day:%Y%m%d}{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"


def generate_file(market: SyntheticMarket, settlement_date: dt.date, run_type: str) -> GeneratedFile:
    """Render the S0142 file of one settlement date and run of `market`."""
    if run_type not in RUN_PRECEDENCE:
        raise ValueError(f"unknown run type {run_type!r}")
    return _Day(market, settlement_date, run_type).build()


class _Day:
    def __init__(self, market: SyntheticMarket, settlement_date: dt.date, run_type: str):
        self.m = market
        self.date = settlement_date
        self.run = run_type
        self.n_periods = periods_in_day(settlement_date)
        self.stamp = publication_stamp(settlement_date, run_type, market.seed)
        # Values fixed for the date (prices, notifications, acceptances) share one seed across runs;
        # metered volumes and what follows from them are revised run by run.
        self.rng_day = np.random.default_rng([market.seed, settlement_date.toordinal(), 1])
        self.rng_run = np.random.default_rng([market.seed, settlement_date.toordinal(), 2, RUN_PRECEDENCE[run_type]])

    # -- values -----------------------------------------------------------------------------

    def _system(self) -> None:
        rng, n = self.rng_day, self.n_periods
        shape = 0.75 + 0.35 * np.sin(np.linspace(-np.pi / 2, 3 * np.pi / 2, n))  # low at night, peak early evening
        base = rng.uniform(45, 95)
        self.sbp = np.round((base * shape + rng.normal(0, 12, n)) * 100).astype(np.int64)  # pence / MWh
        self.sbp[rng.random(n) < 0.03] *= -1  # a few negative-price periods
        self.ssc = int(round(rng.uniform(55, 120) * 100))  # supplier sourcing cost, pence / MWh, all day
        self.adj_deliver = np.round(rng.uniform(-0.0190, -0.0170, n) * 1e7).astype(np.int64)
        self.adj_offtake = np.round(rng.uniform(0.0140, 0.0160, n) * 1e7).astype(np.int64)
        self.demand_shape = 0.8 + 0.3 * np.sin(np.linspace(-np.pi / 2, 3 * np.pi / 2, n))

    def _units(self) -> None:
        u = self.m.units
        rng, n_u, n_p = self.rng_day, u.height, self.n_periods
        prefix = u["prefix"].to_numpy()
        size = u["size"].to_numpy()
        self.prefix = prefix
        gen = np.isin(prefix, ["T_", "E_"])
        online = gen & (rng.random(n_u) < 0.6)
        # Physical notifications are flat for hours at a time and printed as round numbers.
        blocks = -(-n_p // 6)
        level = np.clip(rng.uniform(0.3, 1.0, (n_u, 1)) + rng.normal(0, 0.1, (n_u, blocks)), 0, 1)
        load = np.repeat(level, 6, axis=1)[:, :n_p]
        step = np.where(prefix == "T_", 1.0, 0.1)[:, None]
        fpn = np.where(online[:, None], np.round(size[:, None] * load / step) * step, 0.0)
        ic = prefix == "I_"
        fpn[ic] = np.round(size[ic, None] * rng.uniform(-1, 1, (ic.sum(), 1))) * np.ones((1, n_p))
        self.fpn = np.round(fpn * 1000).astype(np.int64)  # milli-MWh

        # Acceptances: which unit-periods, how many pairs, and their prices and volumes.
        p_acc = np.select([prefix == "T_", prefix == "E_", prefix == "V__", prefix == "I_"], [0.08, 0.02, 0.05, 0.05], 0.0)
        # Some plant is flexible and moved by the system operator in most periods.
        flexible = (prefix == "T_") & (self.m.units["unit_index"].to_numpy() % 7 == 3)
        p_acc = np.where(flexible, 0.6, p_acc)
        eligible = online | np.isin(prefix, ["V__", "I_"])
        accepted = eligible[:, None] & (rng.random((n_u, n_p)) < p_acc[:, None])
        acc_u, acc_p = np.nonzero(accepted)
        n_pairs = rng.integers(1, 4, acc_u.size)
        row_u = np.repeat(acc_u, n_pairs)
        row_p = np.repeat(acc_p, n_pairs)
        ordinal = np.arange(row_u.size) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)
        offer = rng.random(row_u.size) < 0.55
        pair_number = np.where(offer, ordinal + 1, -(ordinal + 1))
        sbp = self.sbp[row_p]
        offer_price = sbp + rng.integers(500, 6000, row_u.size)
        bid_price = sbp - rng.integers(500, 6000, row_u.size)
        negative_bids = (rng.random(n_u) < 0.2)[row_u]  # subsidised plant pays to be turned down
        bid_price = np.where(negative_bids, -rng.integers(1000, 8000, row_u.size), bid_price)
        offer_price = np.where(offer, offer_price, np.maximum(offer_price, bid_price + 100))
        bid_price = np.where(offer, np.minimum(bid_price, offer_price - 100), bid_price)
        volume = np.maximum(1, np.round(size[row_u] * rng.uniform(0.05, 0.3, row_u.size) * 1000)).astype(np.int64)
        offer_vol = np.where(offer, volume, 0)
        bid_vol = np.where(offer, 0, -volume)
        self.bo4 = {
            "u": row_u, "p": row_p, "ordinal": ordinal, "pair_number": pair_number,
            "bid_price": bid_price, "offer_price": offer_price, "bid_vol": bid_vol, "offer_vol": offer_vol,
            "bid_cf": _pence(bid_vol, bid_price), "offer_cf": _pence(offer_vol, offer_price),
        }  # fmt: skip
        bsv = np.zeros((n_u, n_p), dtype=np.int64)
        np.add.at(bsv, (row_u, row_p), bid_vol + offer_vol)
        self.bsv = bsv
        offer_sum = np.zeros((n_u, n_p), dtype=np.int64)
        np.add.at(offer_sum, (row_u, row_p), offer_vol)
        offer_value = np.zeros((n_u, n_p), dtype=np.float64)
        np.add.at(offer_value, (row_u, row_p), offer_vol * offer_price.astype(np.float64))
        self.offer_sum = offer_sum
        self.mean_offer_price = np.divide(offer_value, offer_sum, out=np.zeros_like(offer_value), where=offer_sum > 0)
        self.acc_u, self.acc_p = acc_u, acc_p

        # Metered volumes: the final (RF) truth from the date's seed, revised per run.
        # Metered volumes miss notifications by ~1% of size; weather-driven embedded generation by far more.
        weather = (prefix == "E_") & (self.m.units["unit_index"].to_numpy() % 10 < 3)
        noise = rng.normal(0, 1, (n_u, n_p)) * (np.where(weather, 0.25, 0.01) * size)[:, None]
        truth = (self.fpn + self.bsv) / 1000 + noise
        vlp = prefix == "V__"
        truth[vlp] = self.bsv[vlp] / 1000 * rng.uniform(0.6, 1.1, (vlp.sum(), 1))  # idle VLP units meter nothing
        sup = prefix == "2__"
        truth[sup] = -size[sup, None] * self.demand_shape[None, :] * rng.uniform(0.9, 1.1, (sup.sum(), n_p))
        # A supplier registers a base unit in every GSP group, customers there or not.
        truth[sup & (u["unit_index"].to_numpy() % 10 < 3)] = 0.0
        cfd = prefix == "C__"
        truth[cfd] = size[cfd, None] * rng.uniform(0, 1, (cfd.sum(), n_p))
        misc = prefix == "M_"
        truth[misc] = size[misc, None] * rng.uniform(-1, 1, (misc.sum(), n_p))
        truth[gen & ~online] = 0.0
        sigma = RUN_REVISION[self.run] * np.where(np.isin(prefix, ["T_", "I_"]), 0.1, 1.0)
        revised = truth * (1 + self.rng_run.normal(0, 1, (n_u, n_p)) * sigma[:, None])
        self.metered = np.round(revised * 1000).astype(np.int64)

        self.emv = self.fpn + self.bsv
        self.iiv = self.emv - self.metered
        shortfall = np.clip(self.emv - self.metered, 0, self.offer_sum)
        self.nd_offer = np.where(self.offer_sum > 0, shortfall, 0)
        excess = np.clip(self.metered - self.emv, 0, None)
        bid_sum = self.bsv - self.offer_sum
        self.nd_bid = np.where(bid_sum < 0, -np.minimum(excess, -bid_sum), 0)
        spread = np.clip(self.mean_offer_price - self.sbp[None, :], 0, None)
        self.nd_charge = np.round(self.nd_offer * spread / 1000).astype(np.int64)  # pence, >= 0

        tlf = u["tlf_e7"].to_numpy()
        delivering = self.metered > 0
        self.tlm = 10_000_000 + tlf[:, None] + np.where(delivering, self.adj_deliver[None, :], self.adj_offtake[None, :])

        # Supplier and secondary unit extras.
        self.non_bm_absvd = np.where(sup[:, None] & (rng.random((n_u, 1)) < 0.05), rng.integers(-500, 500, (n_u, n_p)), 0)
        self.absv = self.bsv + self.non_bm_absvd
        comp = sup[:, None] & (rng.random((n_u, 1)) < 0.1) & (self.rng_run.random((n_u, n_p)) < 0.3)
        self.supplier_comp_vol = np.where(comp, self.rng_run.integers(1, 500, (n_u, n_p)), 0)
        self.supplier_comp_cf = _pence(self.supplier_comp_vol, np.full_like(self.supplier_comp_vol, self.ssc))
        self.secondary_comp_vol = np.where(vlp[:, None], np.round(self.bsv * 0.8).astype(np.int64), 0)

        tu = u["trading_unit_name"].to_list()
        tu_codes = {name: i for i, name in enumerate(sorted({t for t in tu if t is not None}))}
        tu_index = np.array([tu_codes.get(t, -1) for t in tu])
        totals = np.zeros((max(len(tu_codes), 1), n_p), dtype=np.int64)
        named = tu_index >= 0
        np.add.at(totals, tu_index[named], self.metered[named])
        self.tu_total = np.where(named[:, None], totals[np.maximum(tu_index, 0)], self.metered)
        self.tu_names = list(tu_codes)
        self.tu_period_totals = totals

    def _accounts(self) -> None:
        """Party-level money: PPC from the party's units, APD per production / consumption account."""
        u, parties = self.m.units, self.m.parties
        party_of_unit = u["party_index"].to_numpy()
        n_party, n_p = parties.height, self.n_periods
        tlm = self.tlm / 1e7

        def by_party(unit_values: np.ndarray) -> np.ndarray:
            out = np.zeros((n_party, n_p), dtype=np.int64)
            np.add.at(out, party_of_unit, unit_values)
            return out

        bo4 = self.bo4
        cashflow = np.zeros((n_party, n_p), dtype=np.int64)
        np.add.at(cashflow, (party_of_unit[bo4["u"]], bo4["p"]), bo4["bid_cf"] + bo4["offer_cf"])
        self.party_bm_cashflow = cashflow
        self.party_nd = by_party(self.nd_charge)
        self.party_supplier_comp = by_party(self.supplier_comp_cf)

        credited = np.round(self.metered * tlm).astype(np.int64)
        bsv_tlm = np.round(self.bsv * tlm).astype(np.int64)
        accounts = {}
        for flag, sign in (("P", 1), ("C", -1)):
            mask = (credited * sign) > 0
            cev = by_party(np.where(mask, credited, 0))
            absv = by_party(np.where(mask, bsv_tlm, 0))
            contract = np.round(cev * self.rng_run.uniform(0.9, 1.1, cev.shape)).astype(np.int64)
            eiv = cev - contract - absv
            accounts[flag] = {"cev": cev, "absv": absv, "contract": contract, "eiv": eiv,
                              "ei_charge": _pence(-eiv, np.broadcast_to(self.sbp, eiv.shape))}  # fmt: skip
        total_cev = sum(np.abs(a["cev"]).sum(axis=0) for a in accounts.values())
        total_cev = np.where(total_cev == 0, 1, total_cev)
        residual = sum(a["ei_charge"].sum(axis=0) for a in accounts.values()) - cashflow.sum(axis=0)
        for a in accounts.values():
            a["rcrp_e7"] = np.round(np.abs(a["cev"]) / total_cev * 1e7).astype(np.int64)
            a["rcrc"] = np.round(residual[None, :] * a["rcrp_e7"] / 1e7).astype(np.int64)
        self.accounts = accounts
        self.party_ei = accounts["P"]["ei_charge"] + accounts["C"]["ei_charge"]
        self.party_rcrc = accounts["P"]["rcrc"] + accounts["C"]["rcrc"]

    # -- records ----------------------------------------------------------------------------

    def _unit_period_frame(self) -> pl.DataFrame:
        u = self.m.units
        n_u, n_p = u.height, self.n_periods
        flat = lambda a: np.asarray(a).reshape(-1)  # noqa: E731  (unit-major, period-minor)
        period = np.tile(np.arange(1, n_p + 1), n_u)
        prefix = np.repeat(u["prefix"].to_numpy(), n_p)
        frame = pl.DataFrame({
            "unit_index": np.repeat(u["unit_index"].to_numpy(), n_p),
            "party_index": np.repeat(u["party_index"].to_numpy(), n_p),
            "bm_unit_id": np.repeat(u["bm_unit_id"].to_numpy(), n_p),
            "trading_unit_name": np.repeat(np.array(u["trading_unit_name"].to_list(), dtype=object), n_p),
            "settlement_period": period,
            "period_fpn_mwh": flat(self.fpn), "metered_volume_mwh": flat(self.metered),
            "balancing_services_volume_mwh": flat(self.bsv), "expected_metered_volume_mwh": flat(self.emv),
            "information_imbalance_volume_mwh": flat(self.iiv),
            "applicable_balancing_services_volume_mwh": flat(self.absv),
            "non_delivered_bid_volume_mwh": flat(self.nd_bid), "non_delivered_offer_volume_mwh": flat(self.nd_offer),
            "non_delivery_charge_gbp": flat(self.nd_charge), "information_imbalance_cashflow_gbp": np.zeros(n_u * n_p, np.int64),
            "transmission_loss_factor": np.repeat(u["tlf_e7"].to_numpy(), n_p), "transmission_loss_multiplier": flat(self.tlm),
            "total_trading_unit_metered_volume_mwh": flat(self.tu_total),
            "supplier_delivered_volume_mwh": np.zeros(n_u * n_p, np.int64),
            "supplier_non_bm_absvd_volume_mwh": flat(self.non_bm_absvd),
            "supplier_compensation_volume_mwh": flat(self.supplier_comp_vol),
            "secondary_compensation_volume_mwh": flat(self.secondary_comp_vol),
            "supplier_compensation_cashflow_gbp": flat(self.supplier_comp_cf),
            "prefix": prefix,
        })  # fmt: skip
        # Compensation fields exist only on their unit kinds; elsewhere they are blank (NULL).
        supplier, secondary = pl.col("prefix") == "2__", pl.col("prefix") == "V__"
        frame = frame.with_columns(
            supplier_compensation_volume_mwh=pl.when(supplier).then(pl.col("supplier_compensation_volume_mwh")),
            supplier_compensation_cashflow_gbp=pl.when(supplier).then(pl.col("supplier_compensation_cashflow_gbp")),
            secondary_compensation_volume_mwh=pl.when(secondary).then(pl.col("secondary_compensation_volume_mwh")),
            vlp=secondary,
        )
        return frame

    def build(self) -> GeneratedFile:
        self._system()
        self._units()
        self._accounts()
        m, n_p = self.m, self.n_periods
        date_text = f"{self.date:%Y%m%d}"
        run_no = str(RUN_PRECEDENCE[self.run] + 1)
        srh = [date_text, self.run, run_no, run_no, date_text, run_no, run_no]
        up = self._unit_period_frame()
        parties = m.parties
        party_ids = parties["party_id"].to_list()
        frames: list[pl.DataFrame] = []
        truth: dict[str, pl.DataFrame] = {}
        periods = pl.DataFrame({"settlement_period": np.arange(1, n_p + 1), "sbp": self.sbp})

        # Header.
        frames.append(pl.DataFrame({"line": [
            f"AAA|{FLOW_VERSION}|D|{self.stamp}|SA|UKDC|PB|PORTAL|{int(self.stamp[-6:]) % 9973}|OPER|",
            "SRH|" + "|".join(srh) + "|NGC|",
        ]}).with_columns(*_keys(0, pl.int_range(2))).select(*_SORT, "line"))

        # System section: SPI, MD1, DB1, TRA, then BPI and what sits under it.
        spi = periods.with_columns(
            system_buy_price_gbp_per_mwh=pl.col("sbp") * 1000, system_sell_price_gbp_per_mwh=pl.col("sbp") * 1000,
            price_derivation_code=pl.when(pl.col("sbp") > 6000).then(pl.lit("P")).otherwise(pl.lit("N")),
            total_period_applicable_balancing_services_volume_mwh=pl.Series(self.absv.sum(axis=0)),
            system_total_accepted_bid_volume_mwh=pl.Series((self.bsv - self.offer_sum).sum(axis=0)),
            system_total_accepted_offer_volume_mwh=pl.Series(self.offer_sum.sum(axis=0)),
            replacement_price_gbp_per_mwh=(pl.col("sbp") - 150) * 1000,
            loss_of_load_probability=pl.lit(0, pl.Int64), de_rated_margin=pl.lit(0, pl.Int64),
            value_of_lost_load_gbp_per_mwh=pl.lit(600_000_000, pl.Int64),
            reserve_scarcity_price_gbp_per_mwh=pl.lit(0, pl.Int64),
            supplier_sourcing_cost_gbp_per_mwh=pl.lit(self.ssc * 1000, pl.Int64),
        )
        spi_values = _layout_values(SPI, {c: c for c in spi.columns if c in SPI_COLUMNS})
        spi_values[1] = pl.col("settlement_period").cast(pl.String)
        spi_values[43] = pl.lit("0")
        for pos in range(5, 23):
            spi_values.setdefault(pos, pl.lit("0"))
        frames.append(_render(spi.with_columns(*_keys(1, pl.col("settlement_period"))), "SPI", SPI.width, spi_values))
        truth["SPI"] = _truth(spi, SPI)

        rng = self.rng_day
        md1 = pl.DataFrame({
            "settlement_period": np.repeat(np.arange(1, n_p + 1), 2),
            "market_index_provider": ["APXMIDP", "N2EXMIDP"] * n_p,
            "ordinal": [0, 1] * n_p,
            "individual_liquidity_threshold_mwh": np.tile([1_000_000, 0], n_p),
            "market_index_price_gbp_per_mwh": np.column_stack([(self.sbp + rng.integers(-800, 800, n_p)) * 1000, np.zeros(n_p, np.int64)]).reshape(-1),
            "market_index_volume_mwh": np.column_stack([rng.integers(500_000, 4_000_000, n_p), np.zeros(n_p, np.int64)]).reshape(-1),
        })  # fmt: skip
        md1_values = _layout_values(MD1, {c: c for c in md1.columns})
        md1_lines = _render(md1.with_columns(*_keys(1, pl.col("settlement_period"), 1, 0, 0, pl.col("ordinal"))), "MD1", MD1.width, md1_values)
        frames.append(md1_lines)
        truth["MD1"] = _truth(md1, MD1)

        n_db = rng.integers(3, 14, n_p)
        n_actions = int(n_db.sum())
        db1 = pl.DataFrame({
            "settlement_period": np.repeat(np.arange(1, n_p + 1), n_db),
            "cost": rng.integers(-5_000_000, 20_000_000, n_actions),  # pence
            "volume": rng.integers(-200_000, 200_000, n_actions),  # milli-MWh
        }).with_columns(ordinal=pl.int_range(pl.len()).over("settlement_period"))  # fmt: skip
        db1_lines = db1.select(
            *_keys(1, pl.col("settlement_period"), 2, 0, 0, pl.col("ordinal")),
            pl.format("DB1|BSAD{}-{}|{}|{}|0|0|0|{}|F|F|{}|ASSET{}|T|STOR|", pl.col("settlement_period"), pl.col("ordinal"),
                      _num(pl.col("cost"), 2), _num(pl.col("volume"), 3),
                      pl.when(pl.col("ordinal") % 2 == 0).then(pl.lit("T")).otherwise(pl.lit("F")),
                      pl.lit("O'Neill Flex Services Ltd / Site 2"), pl.col("ordinal")).alias("line"),
        )
        frames.append(db1_lines)

        tra = pl.DataFrame({
            "settlement_period": np.repeat(np.arange(1, n_p + 1), len(self.tu_names)),
            "name": self.tu_names * n_p,
            "total": self.tu_period_totals.T.reshape(-1)[: n_p * len(self.tu_names)],
        }).with_columns(ordinal=pl.int_range(pl.len()).over("settlement_period"))  # fmt: skip
        frames.append(tra.select(*_keys(1, pl.col("settlement_period"), 3, 0, 0, pl.col("ordinal")),
                                 pl.format("TRA|{}|{}|", pl.col("name"), _num(pl.col("total"), 3)).alias("line")))

        bpi_cols = {f.column: f.column for f in BPI.named}
        up_sys = up.with_columns(*_keys(1, pl.col("settlement_period"), 4, pl.col("unit_index"), _UNDER_BPI["BPI"]))
        frames.append(_render(up_sys, "BPI", BPI.width, _layout_values(BPI, bpi_cols)))
        truth["BPI"] = _truth(up, BPI)

        bo = self.bo4
        units = m.units
        bo4 = pl.DataFrame({
            "unit_index": bo["u"].astype(np.int64), "settlement_period": bo["p"] + 1, "ordinal": bo["ordinal"],
            "pair_number": bo["pair_number"], "bid_price_gbp_per_mwh": bo["bid_price"] * 1000,
            "offer_price_gbp_per_mwh": bo["offer_price"] * 1000, "accepted_bid_volume_mwh": bo["bid_vol"],
            "accepted_offer_volume_mwh": bo["offer_vol"], "bid_cashflow_gbp": bo["bid_cf"], "offer_cashflow_gbp": bo["offer_cf"],
        }).with_columns(
            tagged_bid_volume_mwh=pl.lit(0, pl.Int64), tagged_offer_volume_mwh=pl.lit(0, pl.Int64),
            repriced_bid_volume_mwh=pl.lit(0, pl.Int64), repriced_offer_volume_mwh=pl.lit(0, pl.Int64),
            originally_priced_bid_volume_mwh=pl.col("accepted_bid_volume_mwh"),
            originally_priced_offer_volume_mwh=pl.col("accepted_offer_volume_mwh"),
        ).join(units.select("unit_index", "bm_unit_id"), on="unit_index", how="left")  # fmt: skip
        bo4_values = _layout_values(BO4, {c: c for c in bo4.columns})
        frames.append(_render(bo4.with_columns(*_keys(1, pl.col("settlement_period"), 4, pl.col("unit_index"), _UNDER_BPI["BO4"], pl.col("ordinal"))),
                              "BO4", BO4.width, bo4_values))
        truth["BO4"] = _truth(bo4, BO4)
        bo3 = pl.DataFrame({"unit_index": self.acc_u.astype(np.int64), "settlement_period": self.acc_p + 1}).with_row_index("n")
        frames.append(bo3.select(*_keys(1, pl.col("settlement_period"), 4, pl.col("unit_index"), _UNDER_BPI["BO3"]),
                                 pl.format("BO3|{}|{}{}|F|T|F|F|||", pl.col("n") + 1, pl.lit(date_text),
                                           ((pl.col("settlement_period") - 1) * 3000).cast(pl.String).str.zfill(6)).alias("line")))
        frames.append(self._spot_records(up))
        rare = bo3.head(2)  # BO6 / BO7 are rare and their fields unknown: a couple per file
        frames.append(rare.select(*_keys(1, pl.col("settlement_period"), 4, pl.col("unit_index"), _UNDER_BPI["BO6"]), pl.lit("BO6|1|0|0|0|").alias("line")))
        frames.append(rare.select(*_keys(1, pl.col("settlement_period"), 4, pl.col("unit_index"), _UNDER_BPI["BO7"]), pl.lit("BO7|1|0|0|").alias("line")))

        # Party section: BPH, APC, then per period SP7, SSD, MD2, DB2, PPC, APD (+APB), BP7 (+MVR).
        pidx = pl.col("party_index")
        bph = parties.with_columns(line=pl.format("BPH|{}|{}|", pl.lit("|".join(srh)), pl.col("party_id")))
        frames.append(bph.select(*_keys(2, pidx, 0), "line"))
        apc = parties.with_columns(
            **{f"a{i}": pl.Series(v.sum(axis=1)) for i, v in ((2, self.party_bm_cashflow), (3, self.party_ei), (5, self.party_nd),
                                                             (6, self.party_rcrc), (12, self.party_supplier_comp))})
        frames.append(apc.select(*_keys(2, pidx, 1), pl.format("APC|0|{}|{}|0|{}|{}|0|0|0|0|0|{}|", *[_num(pl.col(f"a{i}"), 2) for i in (2, 3, 5, 6, 12)]).alias("line")))

        pp = pl.DataFrame({
            "party_index": np.repeat(parties["party_index"].to_numpy(), n_p),
            "party_id": np.repeat(np.array(party_ids, dtype=object), n_p),
            "settlement_period": np.tile(np.arange(1, n_p + 1), parties.height),
            "bm_unit_cashflow_gbp": self.party_bm_cashflow.reshape(-1), "energy_imbalance_cashflow_gbp": self.party_ei.reshape(-1),
            "non_delivery_charge_gbp": self.party_nd.reshape(-1), "residual_cashflow_reallocation_gbp": self.party_rcrc.reshape(-1),
        }).with_columns(bssc_cost_allocation_gbp=pl.lit(0, pl.Int64), information_imbalance_cashflow_gbp=pl.lit(0, pl.Int64),
                        compensation_cashflow_9_gbp=pl.lit(0, pl.Int64), compensation_cashflow_10_gbp=pl.lit(0, pl.Int64))  # fmt: skip
        in_block = lambda k4, k5=0: _keys(2, pidx, 2, pl.col("settlement_period"), k4, k5)  # noqa: E731
        frames.append(pp.select(*in_block(_IN_PARTY_PERIOD["SP7"]), pl.format("SP7|{}|", pl.col("settlement_period")).alias("line")))
        ssd_line = self._ssd_lines()
        frames.append(pp.join(ssd_line, on="settlement_period").select(*in_block(_IN_PARTY_PERIOD["SSD"]), "line"))
        # MD2 and DB2 repeat the period's MD1 and DB1 records under every party.
        for system_lines, rid in ((md1_lines, "MD2"), (db1_lines, "DB2")):
            copies = pp.select("party_index", "settlement_period").join(
                system_lines.select(pl.col("k1").alias("settlement_period"), pl.col("k5").alias("ordinal"), "line"),
                on="settlement_period")
            frames.append(copies.select(*in_block(_IN_PARTY_PERIOD[rid], pl.col("ordinal")),
                                        pl.concat_str([pl.lit(rid), pl.col("line").str.slice(3)]).alias("line")))
        ppc_values = _layout_values(PPC, {c: c for c in pp.columns})
        ppc_values.update({7: pl.lit(""), 8: pl.lit("")})
        frames.append(_render(pp.with_columns(*in_block(_IN_PARTY_PERIOD["PPC"])), "PPC", PPC.width, ppc_values))
        truth["PPC"] = _truth(pp, PPC)

        apd, apb = self._account_frames(pp)
        frames.append(_render(apd.with_columns(*in_block(_IN_PARTY_PERIOD["APD"], pl.col("account") * 10_000)), "APD", APD.width,
                              _layout_values(APD, {c: c for c in apd.columns})))
        truth["APD"] = _truth(apd, APD)
        frames.append(apb)

        bp7 = up.join(parties.select("party_index", "party_id"), on="party_index")
        bp7_values = _layout_values(BP7, {c: c for c in bp7.columns})
        vlp = pl.col("vlp")
        for pos, expr in ((18, _num(pl.col("metered_volume_mwh"), 3)), (19, pl.lit("0")), (20, pl.lit("0")), (21, pl.lit("0"))):
            bp7_values[pos] = pl.when(vlp).then(expr).otherwise(pl.lit(""))  # [?] fields, mostly filled on V__ units
        frames.append(_render(bp7.with_columns(*in_block(_IN_PARTY_PERIOD["BP7"], pl.col("unit_index") * 10)), "BP7", BP7.width, bp7_values))
        truth["BP7"] = _truth(bp7, BP7)
        mvr = bp7.filter(pl.col("unit_index") % 50 == 7)  # metered volume reallocation on a few units
        frames.append(mvr.select(*in_block(_IN_PARTY_PERIOD["BP7"], pl.col("unit_index") * 10 + 1),
                                 pl.format("MVR|{}|P|{}|0|100|", pl.col("party_id"), _num(pl.col("metered_volume_mwh"), 3)).alias("line")))

        body = pl.concat(frames, how="vertical_relaxed").sort(_SORT)
        n_lines = body.height + 1
        digest = hashlib.sha1(self.stamp.encode()).hexdigest()[:8]
        lines = body["line"].to_list()
        lines.append(f"ZZZ|{n_lines}|{int(digest, 16)}|")
        text = ("\n".join(lines) + "\n").encode()
        if _has_bom(self.m.seed, self.date, self.run):
            text = b"\xef\xbb\xbf" + text
        return GeneratedFile(FileName(self.date, self.run, self.stamp), text, truth, n_lines)

    def _spot_records(self, up: pl.DataFrame) -> pl.DataFrame:
        """MEL and MIL for every T_, E_ and I_ unit, run-up / run-down rates for some."""
        rng = self.rng_day
        spot = up.filter(pl.col("prefix").is_in(["T_", "E_", "I_"])).join(
            self.m.units.select("unit_index", "size"), on="unit_index")
        minutes = (pl.col("settlement_period") - 1) * 30  # spot time: the period's start, local HHMM
        time = pl.concat_str([pl.lit(f"{self.date:%Y%m%d}"), (minutes // 60 * 100 + minutes % 60).cast(pl.String).str.zfill(4)])
        level = (pl.col("size") * 2).round(0).cast(pl.Int64).cast(pl.String)  # MEL: the unit's capacity, all day
        out = [
            spot.select(*_keys(1, pl.col("settlement_period"), 4, pl.col("unit_index"), _UNDER_BPI["MEL"]),
                        pl.format("MEL|{}|{}|{}|{}|", time, level, time, level).alias("line")),
            spot.select(*_keys(1, pl.col("settlement_period"), 4, pl.col("unit_index"), _UNDER_BPI["MIL"]),
                        pl.format("MIL|{}|0|{}|0|", time, time).alias("line")),
        ]
        for rid in ("RDE", "RDI", "RUE", "RUI"):
            some = spot.filter(pl.Series(rng.random(spot.height) < 0.2))
            out.append(some.select(*_keys(1, pl.col("settlement_period"), 4, pl.col("unit_index"), _UNDER_BPI[rid]),
                                   pl.format("{}|{}|10|0|0|0|", pl.lit(rid), time).alias("line")))
        return pl.concat(out)

    def _ssd_lines(self) -> pl.DataFrame:
        """SSD: system data repeated identically under every party (79 fields; named ones per S0141)."""
        n_p = self.n_periods
        bid = (self.bsv - self.offer_sum).sum(axis=0)
        values = {
            5: _fmt_array(self.sbp, 2), 6: _fmt_array(self.sbp, 2),
            7: ["P" if p > 6000 else "N" for p in self.sbp],
            8: _fmt_array(self.party_bm_cashflow.sum(axis=0), 2), 9: _fmt_array(self.party_ei.sum(axis=0), 2),
            10: _fmt_array(self.party_nd.sum(axis=0), 2), 11: _fmt_array(bid, 3),
            16: _fmt_array(self.offer_sum.sum(axis=0), 3), 18: _fmt_array(self.absv.sum(axis=0), 3),
            36: _fmt_array(self.absv.sum(axis=0), 3), 77: _fmt_array(np.full(n_p, self.ssc), 2),
        }  # fmt: skip
        lines = []
        for j in range(n_p):
            fields = [values[pos][j] if pos in values else ("0" if pos < 60 else "") for pos in range(1, 80)]
            lines.append("SSD|" + "|".join(fields) + "|")
        return pl.DataFrame({"settlement_period": np.arange(1, n_p + 1), "line": lines})

    def _account_frames(self, pp: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        frames = []
        for account, flag in enumerate(("P", "C")):
            a = self.accounts[flag]
            frames.append(pp.select("party_index", "party_id", "settlement_period").with_columns(
                account=pl.lit(account, pl.Int64), production_consumption_flag=pl.lit(flag),
                bssc_cost_allocation_gbp=pl.lit(0, pl.Int64), information_imbalance_charge_gbp=pl.lit(0, pl.Int64),
                energy_imbalance_charge_gbp=pl.Series(a["ei_charge"].reshape(-1)),
                residual_cashflow_reallocation_charge_gbp=pl.Series(a["rcrc"].reshape(-1)),
                account_bilateral_contract_volume_mwh=pl.Series(a["contract"].reshape(-1)),
                account_balancing_services_volume_mwh=pl.Series(a["absv"].reshape(-1)),
                account_energy_imbalance_volume_mwh=pl.Series(a["eiv"].reshape(-1)),
                account_credited_energy_volume_mwh=pl.Series(a["cev"].reshape(-1)),
                residual_cashflow_reallocation_proportion=pl.Series(a["rcrp_e7"].reshape(-1)),
            ))  # fmt: skip
        apd = pl.concat(frames)
        # APB: account period BM unit data, for the few units with metered volume reallocation.
        units = self.m.units.filter(pl.col("unit_index") % 50 == 7)
        apb = units.join(apd.filter(pl.col("account") == 0), on="party_index").with_columns(
            *_keys(2, pl.col("party_index"), 2, pl.col("settlement_period"), _IN_PARTY_PERIOD["APD"], pl.col("unit_index") + 1),
            line=pl.format("APB|{}|0|0|100|", pl.col("bm_unit_id")))
        return apd, apb.select(*_SORT, "line")


SPI_COLUMNS = {f.column for f in SPI.named}


def _pence(volume_milli: np.ndarray, price_pence: np.ndarray) -> np.ndarray:
    """Cashflow in pence of a volume (milli-MWh) at a price (pence/MWh), rounded half away from zero."""
    exact = volume_milli.astype(np.float64) * price_pence.astype(np.float64) / 1000
    return (np.sign(exact) * np.floor(np.abs(exact) + 0.5)).astype(np.int64)


def _fmt_array(values: np.ndarray, decimals: int) -> list[str]:
    return pl.select(_num(pl.lit(pl.Series(np.asarray(values, dtype=np.int64))), decimals)).to_series().to_list()


def _truth(frame: pl.DataFrame, layout: RecordLayout) -> pl.DataFrame:
    """Typed values (floats in real units) of the layout columns a frame holds, as the parser should
    read them, with the record's context (period, BM unit, party) where the frame has it."""
    cols = []
    names = {f.column for f in layout.fields()}
    for f in layout.fields():
        if f.column not in frame.columns:
            continue
        if f.type == "float":
            cols.append((pl.col(f.column) / 10 ** (f.decimals or 7)).alias(f.column))
        elif f.type == "int":
            cols.append(pl.col(f.column).cast(pl.Int64))
        else:
            cols.append(pl.col(f.column))
    cols += [pl.col(c) for c in ("settlement_period", "bm_unit_id", "party_id") if c in frame.columns and c not in names]
    return frame.select(cols)


def _has_bom(seed: int, settlement_date: dt.date, run_type: str) -> bool:
    digest = hashlib.sha256(f"{seed}|{settlement_date}|{run_type}".encode()).digest()
    return digest[0] < 256 * BOM_SHARE


def generate_files(
    start: dt.date,
    end: dt.date,
    run_types: list[str],
    out_dir: str | Path,
    units: int = DEFAULT_UNITS,
    seed: int = 0,
    market: SyntheticMarket | None = None,
    on_file=None,
) -> list[Path]:
    """Write one file per date in [start, end] and run type. `on_file(path)` is called after each."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    market = market or SyntheticMarket.build(units, seed)
    paths = []
    day = start
    while day <= end:
        for run in run_types:
            path = generate_file(market, day, run).write(out_dir)
            paths.append(path)
            if on_file:
                on_file(path)
        day += dt.timedelta(days=1)
    return paths


__all__ = ["DEFAULT_UNITS", "GeneratedFile", "SyntheticMarket", "generate_file", "generate_files", "publication_stamp",
           "RUN_TYPES", "LAYOUTS"]
