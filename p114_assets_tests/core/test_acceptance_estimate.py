"""The acceptance-based estimate against hand-computed volumes and cashflows.

Fixture 1, a ramped acceptance crossing a period boundary, two offer pairs (T_RAMP-1, 5 June 2024,
periods 20 and 21, boundary b = 09:00 UTC, 10:00 BST). FPN 0 MW. Pair +1 is 10 MW at GBP 50 (bid 45), pair
+2 is 30 MW at GBP 100 (bid 90). Acceptance 7: 0 MW at b-10 min ramping to 40 MW at b+10, held to
b+20, back to 0 at b+25 (a ramp of 2 MW a minute up, 8 MW a minute down).

  Period 20 (b-10 .. b): the level climbs 0 -> 20 MW.
    pair +1: 0 -> 10 MW over 5 min (a triangle, 10/2 x 5/60 = 0.416667 MWh) then 10 MW for 5 min
             (0.833333 MWh): 1.25 MWh x 50 = GBP 62.50
    pair +2: 0 -> 10 MW over the last 5 min: 10/2 x 5/60 = 0.416667 MWh x 100 = GBP 41.67 (41.6667)
    period 20: 1.666667 MWh, GBP 104.17
  Period 21 (b .. b+25): 20 -> 40 MW in 10 min, 40 MW for 10 min, 40 -> 0 MW in 5 min.
    pair +1: 10 MW for 10 + 10 min (3.333333 MWh), then 10 MW for 3.75 min (0.625) and 10 -> 0 over
             1.25 min (0.104167): 4.0625 MWh x 50 = GBP 203.125
    pair +2: 10 -> 30 MW over 10 min (3.333333), 30 MW for 10 min (5.0), 30 -> 0 over 3.75 min
             (0.9375): 9.270833 MWh x 100 = GBP 927.083333
    period 21: 13.333333 MWh, GBP 1,130.21 (1130.208333)

Fixture 2 (T_DIFF-1, period 30): FPN 100 MW; pairs +1 20 MW at 60 (bid 55), +2 40 MW at 80
(bid 70), -1 -50 MW (bid 30, offer 40). Acceptance 11: 150 MW for the whole period; acceptance 12
(later): 120 MW for its second half. The level in force: 150 then 120 MW, deviation +50 then +20.
  pair +1: 20 MW x 0.5 h = 10 MWh x 60 = 600.00; pair +2: 30 MW x 0.25 h = 7.5 MWh x 80 = 600.00
  estimate: 17.5 MWh, GBP 1,200.00 (what settlement pays differently is in the mart test).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from p114_assets.core.acceptance_estimate import estimate, positive_part_integral, stack
from p114_assets.core.settlement import period_start_utc

DAY = dt.date(2024, 6, 5)
PAIR_COLUMNS = ["bm_unit_id", "pair_number", "time_from_utc", "time_to_utc", "level_from_mw", "level_to_mw",
                "offer_price_gbp_per_mwh", "bid_price_gbp_per_mwh"]  # fmt: skip


def acceptances(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["bm_unit_id", "acceptance_number", "acceptance_time_utc", "time_from_utc", "time_to_utc",
                                      "level_from_mw", "level_to_mw"], orient="row")  # fmt: skip


def fpn(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["bm_unit_id", "time_from_utc", "time_to_utc", "level_from_mw", "level_to_mw"], orient="row")


def pairs(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=PAIR_COLUMNS, orient="row")


def period_pairs(unit, day, periods, spec):
    """BOD rows for whole periods: spec = [(pair, size MW, offer, bid)]."""
    rows = []
    for p in periods:
        start = period_start_utc(day, p)
        rows += [(unit, n, start, start + dt.timedelta(minutes=30), size, size, offer, bid) for n, size, offer, bid in spec]
    return pairs(rows)


def by_key(result) -> dict:
    return {(r["settlement_period"], r["pair_number"]): r for r in result.rows.iter_rows(named=True)}


def test_ramp_across_a_period_boundary_with_two_pairs():
    b = period_start_utc(DAY, 21)
    at = lambda minutes: b + dt.timedelta(minutes=minutes)  # noqa: E731
    boalf = acceptances([("T_RAMP-1", 7, at(-30), at(-10), at(10), 0.0, 40.0), ("T_RAMP-1", 7, at(-30), at(10), at(20), 40.0, 40.0),
                         ("T_RAMP-1", 7, at(-30), at(20), at(25), 40.0, 0.0)])  # fmt: skip
    notified = fpn([("T_RAMP-1", period_start_utc(DAY, 20), b, 0.0, 0.0), ("T_RAMP-1", b, at(30), 0.0, 0.0)])
    result = estimate(DAY, boalf, notified, period_pairs("T_RAMP-1", DAY, (20, 21), [(1, 10.0, 50.0, 45.0), (2, 30.0, 100.0, 90.0)]))
    got = by_key(result)
    assert set(got) == {(20, 1), (20, 2), (21, 1), (21, 2)}
    assert got[(20, 1)]["volume_mwh"] == pytest.approx(1.25) and round(got[(20, 1)]["cashflow_gbp"], 2) == 62.50
    assert got[(20, 2)]["volume_mwh"] == pytest.approx(5 / 12) and round(got[(20, 2)]["cashflow_gbp"], 2) == 41.67
    assert got[(21, 1)]["volume_mwh"] == pytest.approx(4.0625) and round(got[(21, 1)]["cashflow_gbp"], 3) == 203.125
    assert got[(21, 2)]["volume_mwh"] == pytest.approx(9.270833, abs=1e-6) and round(got[(21, 2)]["cashflow_gbp"], 2) == 927.08
    period_20 = got[(20, 1)]["cashflow_gbp"] + got[(20, 2)]["cashflow_gbp"]
    period_21 = got[(21, 1)]["cashflow_gbp"] + got[(21, 2)]["cashflow_gbp"]
    assert (round(period_20, 2), round(period_21, 2)) == (104.17, 1130.21)
    assert got[(21, 2)]["price_gbp_per_mwh"] == pytest.approx(100.0) and got[(21, 1)]["acceptances"] == 1
    assert not result.notes


def test_a_later_acceptance_replaces_an_earlier_one_where_they_overlap():
    t0 = period_start_utc(DAY, 30)
    half, end = t0 + dt.timedelta(minutes=15), t0 + dt.timedelta(minutes=30)
    boalf = acceptances([("T_DIFF-1", 11, t0 - dt.timedelta(minutes=20), t0, end, 150.0, 150.0),
                         ("T_DIFF-1", 12, t0 - dt.timedelta(minutes=5), half, end, 120.0, 120.0)])  # fmt: skip
    result = estimate(DAY, boalf, fpn([("T_DIFF-1", t0, end, 100.0, 100.0)]),
                      period_pairs("T_DIFF-1", DAY, (30,), [(1, 20.0, 60.0, 55.0), (2, 40.0, 80.0, 70.0), (-1, -50.0, 30.0, 40.0)]))
    got = by_key(result)
    assert set(got) == {(30, 1), (30, 2)}  # no bid volume: the level never went below FPN
    assert (got[(30, 1)]["volume_mwh"], got[(30, 1)]["cashflow_gbp"]) == pytest.approx((10.0, 600.0))
    assert (got[(30, 2)]["volume_mwh"], got[(30, 2)]["cashflow_gbp"]) == pytest.approx((7.5, 600.0))
    assert got[(30, 1)]["acceptances"] == 2


def test_bids_are_negative_volume_priced_at_the_bid_price():
    """A battery bid down from 0 to -25 MW for a whole period: pair -1 (-10 MW) at a bid price of
    GBP 20 and pair -2 (-10 MW) at GBP -5 (paid to take power), the last 5 MW beyond the last
    pair stays on it. -5 MWh x 20 = -100; -7.5 MWh x -5 = +37.50."""
    t0 = period_start_utc(DAY, 10)
    end = t0 + dt.timedelta(minutes=30)
    result = estimate(DAY, acceptances([("E_BATT-1", 3, t0, t0, end, -25.0, -25.0)]), fpn([("E_BATT-1", t0, end, 0.0, 0.0)]),
                      period_pairs("E_BATT-1", DAY, (10,), [(-1, -10.0, 30.0, 20.0), (-2, -10.0, 10.0, -5.0), (1, 10.0, 60.0, 50.0)]))
    got = by_key(result)
    assert (got[(10, -1)]["volume_mwh"], got[(10, -1)]["cashflow_gbp"]) == pytest.approx((-5.0, -100.0))
    assert (got[(10, -2)]["volume_mwh"], got[(10, -2)]["cashflow_gbp"]) == pytest.approx((-7.5, 37.5))
    assert got[(10, -2)]["price_gbp_per_mwh"] == pytest.approx(-5.0)


def test_acceptances_of_the_day_before_reach_past_midnight_and_missing_pairs_leave_volume_unpriced():
    midnight = period_start_utc(DAY, 1)
    boalf = acceptances([("V__AFLEX001", 1, midnight - dt.timedelta(hours=1), midnight - dt.timedelta(minutes=30),
                          midnight + dt.timedelta(minutes=15), 4.0, 4.0)])  # fmt: skip
    result = estimate(DAY, boalf, fpn([]), pairs([]))
    got = by_key(result)
    assert set(got) == {(1, None)}  # only today's part: 4 MW x 0.25 h, no BOD to price it
    assert got[(1, None)]["volume_mwh"] == pytest.approx(1.0) and got[(1, None)]["cashflow_gbp"] == 0
    assert got[(1, None)]["price_gbp_per_mwh"] is None
    assert result.notes == {"units_without_fpn": 1}


def test_an_acceptance_holding_the_unit_at_fpn_still_marks_the_period():
    t0 = period_start_utc(DAY, 5)
    end = t0 + dt.timedelta(minutes=30)
    result = estimate(DAY, acceptances([("T_X-1", 2, t0, t0, end, 50.0, 50.0)]), fpn([("T_X-1", t0, end, 50.0, 50.0)]),
                      period_pairs("T_X-1", DAY, (5,), [(1, 10.0, 60.0, 50.0)]))
    assert [(r["settlement_period"], r["pair_number"], r["volume_mwh"]) for r in result.rows.iter_rows(named=True)] == [(5, None, 0.0)]


@pytest.mark.parametrize("day, periods", [(dt.date(2024, 3, 31), 46), (dt.date(2024, 10, 27), 50)])
def test_clock_change_days_have_their_own_periods(day, periods):
    last = period_start_utc(day, periods)
    result = estimate(day, acceptances([("T_X-1", 1, last, last, last + dt.timedelta(minutes=30), 10.0, 10.0)]),
                      fpn([]), period_pairs("T_X-1", day, (periods,), [(1, 20.0, 70.0, 60.0)]))
    row = result.rows.row(0, named=True)
    assert (row["settlement_period"], row["volume_mwh"], row["cashflow_gbp"]) == (periods, pytest.approx(5.0), pytest.approx(350.0))


def test_stacking_and_the_positive_part_integral():
    assert positive_part_integral(10, 10, 0.5) == 5.0
    assert positive_part_integral(-10, 10, 1.0) == pytest.approx(2.5)  # crosses zero half-way
    assert positive_part_integral(-1, -2, 1.0) == 0.0
    volumes, unpriced = stack(25, 25, [(10, 10), (10, 10)], 1.0)
    assert volumes == pytest.approx([10, 15]) and unpriced == 0  # the last pair takes what is beyond it
    assert stack(5, 5, [], 2.0) == ([], 10.0)
    assert stack(-5, -5, [(10, 10)], 1.0) == ([0.0], 0.0)
