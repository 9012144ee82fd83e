"""The acceptance-based estimate of a BM unit's balancing volumes and cashflows, as the public tools
(Modo, LCP Enact) make it from BOALF, PN and BOD. One place, hand-tested
(p114_assets_tests/core/test_acceptance_estimate.py); docs/marts.md states it as formulas.

For each unit and each instant t of the settlement date:

- the Bid-Offer Acceptance Level BOAL(t) is the MW level of the acceptance in force: of the
  acceptances whose profile covers t, the latest (acceptance time, then acceptance number). A later
  acceptance thus replaces an earlier one where their profiles overlap, as in settlement, and no
  MWh is counted twice;
- FPN(t) is the final physical notification (PN), linear between its points (0 where the unit
  has none; counted);
- the deviation D(t) = BOAL(t) - FPN(t) is allocated to the unit's BOD pairs in pair order,
  stacked out from FPN: offer pairs +1, +2, ... take D > 0, each up to its own size (its
  levelFrom/levelTo in MW, linear over its time span), bid pairs -1, -2, ... take D < 0 the same
  way. Volume beyond the last pair's size stays on the last pair; volume with no pair on its side
  is kept as unpriced;
- each pair's share is integrated over time (MW x hours = MWh), exactly: every input is linear
  between breakpoints, and the clipping at pair bounds is integrated in closed form. Breakpoints
  include every period boundary, so volumes are split at period boundaries;
- offer volume (+) is priced at the pair's offer price, bid volume (-) at its bid price:
  cashflow = volume x price, + = paid to the party (the sign of S0142 BO4).

Only the time covered by an acceptance counts; everything is UTC, so clock-change days need no
special case beyond their 46 or 50 periods.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import polars as pl

from p114_assets.core.settlement import period_start_utc, periods_in_day

HOUR = 3600.0
OUTPUT_SCHEMA = {
    "settlement_date": pl.Date,
    "settlement_period": pl.Int64,
    "bm_unit_id": pl.String,
    "pair_number": pl.Int64,
    "volume_mwh": pl.Float64,
    "price_gbp_per_mwh": pl.Float64,
    "cashflow_gbp": pl.Float64,
    "acceptances": pl.Int64,
}


@dataclass
class Estimate:
    rows: pl.DataFrame  # OUTPUT_SCHEMA
    notes: dict[str, int] = field(default_factory=dict)


def positive_part_integral(fa: float, fb: float, hours: float) -> float:
    """The integral of max(f, 0) over an interval of `hours` where f runs linearly from fa to fb."""
    if fa >= 0 and fb >= 0:
        return (fa + fb) / 2 * hours
    if fa <= 0 and fb <= 0:
        return 0.0
    if fa > 0:  # crosses zero going down
        return hours * fa * fa / (2 * (fa - fb))
    return hours * fb * fb / (2 * (fb - fa))


def stack(da: float, db: float, sizes: list[tuple[float, float]], hours: float) -> tuple[list[float], float]:
    """Allocate a deviation running linearly from da to db (MW, >= 0 counts) to pairs of the given
    sizes (MW at the interval's two ends, >= 0), innermost first. Returns each pair's MWh and the
    MWh no pair could take (only when there are no pairs: beyond the last pair, the last takes it)."""
    if not sizes:
        return [], positive_part_integral(da, db, hours)
    volumes = []
    below_a = below_b = 0.0
    for index, (size_a, size_b) in enumerate(sizes):
        above_lower = positive_part_integral(da - below_a, db - below_b, hours)
        below_a, below_b = below_a + max(size_a, 0.0), below_b + max(size_b, 0.0)
        if index == len(sizes) - 1:
            volumes.append(above_lower)
        else:
            volumes.append(above_lower - positive_part_integral(da - below_a, db - below_b, hours))
    return volumes, 0.0


def _value(row: tuple, t: float) -> float:
    """Level of a segment (t0, t1, v0, v1, ...) at time t, linear between its ends."""
    t0, t1, v0, v1 = row[0], row[1], row[2], row[3]
    return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)


class _Sweep:
    """Rows (start, end, ...) sorted by start; `at(a, b)` gives those covering [a, b], for a
    sequence of non-decreasing intervals whose every row end is a breakpoint."""

    def __init__(self, rows: list[tuple]):
        self.rows = sorted(rows, key=lambda r: (r[0], r[1]))
        self.next = 0
        self.active: list[tuple] = []

    def at(self, a: float, b: float) -> list[tuple]:
        while self.next < len(self.rows) and self.rows[self.next][0] <= a:
            self.active.append(self.rows[self.next])
            self.next += 1
        self.active = [r for r in self.active if r[1] > a]
        return [r for r in self.active if r[1] >= b]


_NUMBERS = ("level_from_mw", "level_to_mw", "offer_price_gbp_per_mwh", "bid_price_gbp_per_mwh")


def _seconds(df: pl.DataFrame, columns: list[str], origin: dt.datetime) -> pl.DataFrame:
    """Times as seconds from the day's start, and levels and prices as floats: the warehouse's prices
    are exact decimals; the estimate integrates in floats and its output is rounded to the table's
    decimals when written (TableSpec.exact_decimals)."""
    base = int(origin.timestamp() * 1_000_000)
    return df.with_columns([((pl.col(c).dt.epoch("us") - base) / 1_000_000).alias(c) for c in columns]
                           + [pl.col(c).cast(pl.Float64) for c in _NUMBERS if c in df.columns])  # fmt: skip


def estimate(settlement_date: dt.date, acceptances: pl.DataFrame, fpn: pl.DataFrame, pairs: pl.DataFrame) -> Estimate:
    """Estimated volumes and cashflows per unit, settlement period of `settlement_date` and pair.

    acceptances: bm_unit_id, acceptance_number, acceptance_time_utc, time_from_utc, time_to_utc,
    level_from_mw, level_to_mw (BOALF rows; those of the day before reach into this one);
    fpn: bm_unit_id, time_from_utc, time_to_utc, level_from_mw, level_to_mw (PN);
    pairs: bm_unit_id, pair_number, time_from_utc, time_to_utc, level_from_mw, level_to_mw,
    offer_price_gbp_per_mwh, bid_price_gbp_per_mwh (BOD). Times are UTC instants."""
    n_periods = periods_in_day(settlement_date)
    origin = period_start_utc(settlement_date, 1)
    day_end = n_periods * 1800.0
    notes: dict[str, int] = defaultdict(int)
    times = ["time_from_utc", "time_to_utc"]

    acc = _seconds(acceptances, times, origin)
    backwards = acc.filter(pl.col("time_to_utc") < pl.col("time_from_utc")).height
    if backwards:
        notes["acceptance_segments_ending_before_they_start"] = backwards
    acc = acc.filter((pl.col("time_to_utc") > pl.col("time_from_utc")) & (pl.col("time_to_utc") > 0)
                     & (pl.col("time_from_utc") < day_end) & pl.col("bm_unit_id").is_not_null())  # fmt: skip
    # later acceptance (time, then number) wins where profiles overlap
    acc = acc.with_columns(pl.struct(pl.col("acceptance_time_utc").dt.epoch("us").fill_null(0), "acceptance_number")
                           .rank("dense").alias("rank"))  # fmt: skip
    fpn_s = _seconds(fpn.filter(pl.col("bm_unit_id").is_in(acc["bm_unit_id"].unique().implode())), times, origin)
    pair_s = _seconds(pairs.filter(pl.col("bm_unit_id").is_in(acc["bm_unit_id"].unique().implode())), times, origin)

    fpn_by_unit = _by_unit(fpn_s, ["time_from_utc", "time_to_utc", "level_from_mw", "level_to_mw"])
    pairs_by_unit = _by_unit(pair_s, ["time_from_utc", "time_to_utc", "level_from_mw", "level_to_mw", "pair_number",
                                      "offer_price_gbp_per_mwh", "bid_price_gbp_per_mwh"])  # fmt: skip
    out: dict[str, list] = {k: [] for k in OUTPUT_SCHEMA}
    for unit, segments in _by_unit(acc, ["time_from_utc", "time_to_utc", "level_from_mw", "level_to_mw", "rank",
                                         "acceptance_number"]).items():  # fmt: skip
        unit_fpn = fpn_by_unit.get(unit, [])
        if not unit_fpn:
            notes["units_without_fpn"] += 1
        _estimate_unit(settlement_date, unit, segments, unit_fpn, pairs_by_unit.get(unit, []), day_end, out)
    rows = pl.DataFrame(out, schema=OUTPUT_SCHEMA).sort("bm_unit_id", "settlement_period", "pair_number", nulls_last=True)
    return Estimate(rows, dict(notes))


def _by_unit(df: pl.DataFrame, columns: list[str]) -> dict[str, list[tuple]]:
    grouped: dict[str, list[tuple]] = defaultdict(list)
    for unit, *values in df.select("bm_unit_id", *columns).iter_rows():
        grouped[unit].append(tuple(values))
    return grouped


def _estimate_unit(settlement_date: dt.date, unit: str, segments: list[tuple], fpn: list[tuple], pairs: list[tuple],
                   day_end: float, out: dict[str, list]) -> None:  # fmt: skip
    covered = [(max(s[0], 0.0), min(s[1], day_end)) for s in segments]
    points = {t for a, b in covered for t in (a, b)}
    points |= {t for r in fpn + pairs for t in (r[0], r[1]) if 0 < t < day_end}
    points |= {p * 1800.0 for p in range(1, int(day_end // 1800))}
    start, end = min(a for a, _ in covered), max(b for _, b in covered)
    bounds = sorted(t for t in points if start <= t <= end)

    acceptance_sweep, fpn_sweep, pair_sweep = _Sweep(segments), _Sweep(fpn), _Sweep(pairs)
    volume: dict[tuple[int, int | None], float] = defaultdict(float)
    cash: dict[tuple[int, int | None], float] = defaultdict(float)
    in_force: dict[int, set[int]] = defaultdict(set)
    for a, b in zip(bounds, bounds[1:]):
        if b <= a:
            continue
        active = acceptance_sweep.at(a, b)
        notified = fpn_sweep.at(a, b)
        offered = pair_sweep.at(a, b)
        if not active:
            continue
        level = max(active, key=lambda s: s[4])
        period = int(a // 1800) + 1
        in_force[period].add(level[5])
        fpn_row = notified[-1] if notified else None  # the latest-starting PN segment over [a, b]
        da = _value(level, a) - (_value(fpn_row, a) if fpn_row else 0.0)
        db = _value(level, b) - (_value(fpn_row, b) if fpn_row else 0.0)
        hours = (b - a) / HOUR
        by_pair = {r[4]: r for r in offered}  # one row per pair over [a, b]
        for sign in (1, -1):
            side = sorted((n for n in by_pair if n * sign > 0), key=abs)
            sizes = [(sign * _value(by_pair[n], a), sign * _value(by_pair[n], b)) for n in side]
            volumes, unpriced = stack(sign * da, sign * db, sizes, hours)
            for n, mwh in zip(side, volumes):
                if mwh:
                    price = by_pair[n][5] if sign > 0 else by_pair[n][6]
                    volume[(period, n)] += sign * mwh
                    cash[(period, n)] += sign * mwh * price
            if unpriced:
                volume[(period, None)] += sign * unpriced
    for period in sorted(in_force):
        keys = [k for k in volume if k[0] == period]
        if not any(k[1] is not None for k in keys) and (period, None) not in volume:
            keys.append((period, None))  # held at FPN: covered by an acceptance, nothing to allocate
        for key in keys:
            mwh, gbp = volume.get(key, 0.0), cash.get(key, 0.0)
            out["settlement_date"].append(settlement_date)
            out["settlement_period"].append(period)
            out["bm_unit_id"].append(unit)
            out["pair_number"].append(key[1])
            out["volume_mwh"].append(mwh)
            out["price_gbp_per_mwh"].append(gbp / mwh if key[1] is not None and mwh else None)
            out["cashflow_gbp"].append(gbp)
            out["acceptances"].append(len(in_force[period]))
