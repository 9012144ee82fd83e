import datetime as dt

import polars as pl
import pytest

from p114_assets.core.settlement import (
    RUN_TYPES,
    UnitKind,
    is_supplier_unit,
    is_vlp_unit,
    more_mature,
    parse_run_types,
    period_bounds_exprs,
    period_end_utc,
    period_start_utc,
    periods_in_day,
    settlement_period_at,
    settlement_period_exprs,
    settlement_periods,
    unit_kind,
)


@pytest.mark.parametrize(
    "day, periods",
    [
        (dt.date(2024, 3, 31), 46),  # spring clock change
        (dt.date(2024, 10, 27), 50),  # autumn clock change
        (dt.date(2025, 3, 30), 46),
        (dt.date(2025, 10, 26), 50),
        (dt.date(2024, 6, 1), 48),
        (dt.date(2024, 3, 30), 48),  # the day before a change is ordinary
        (dt.date(2024, 10, 28), 48),
    ],
)
def test_periods_follow_europe_london(day, periods):
    assert periods_in_day(day) == periods


def test_period_one_starts_at_local_midnight():
    assert period_start_utc(dt.date(2024, 7, 1), 1) == dt.datetime(2024, 6, 30, 23, 0, tzinfo=dt.timezone.utc)
    assert period_start_utc(dt.date(2024, 1, 15), 3) == dt.datetime(2024, 1, 15, 1, 0, tzinfo=dt.timezone.utc)
    # on the autumn change, period 5 is the second 01:00 local (00:00 UTC -> 01:00 UTC)
    assert period_start_utc(dt.date(2024, 10, 27), 5) == dt.datetime(2024, 10, 27, 1, 0, tzinfo=dt.timezone.utc)
    with pytest.raises(ValueError, match="periods 1..46"):
        period_start_utc(dt.date(2024, 3, 31), 47)


UTC = dt.timezone.utc


@pytest.mark.parametrize(
    "day, periods, first_start, last_end",
    [
        # spring: local midnight is 00:00 GMT; 23 hours later it is midnight BST (23:00 UTC)
        (dt.date(2024, 3, 31), 46, dt.datetime(2024, 3, 31, 0, 0, tzinfo=UTC), dt.datetime(2024, 3, 31, 23, 0, tzinfo=UTC)),
        # autumn: local midnight is 00:00 BST (23:00 UTC the day before); 25 hours later midnight GMT
        (dt.date(2024, 10, 27), 50, dt.datetime(2024, 10, 26, 23, 0, tzinfo=UTC), dt.datetime(2024, 10, 28, 0, 0, tzinfo=UTC)),
        (dt.date(2024, 7, 1), 48, dt.datetime(2024, 6, 30, 23, 0, tzinfo=UTC), dt.datetime(2024, 7, 1, 23, 0, tzinfo=UTC)),
    ],
)
def test_period_bounds_for_whole_columns_on_clock_change_days(day, periods, first_start, last_end):
    frame = pl.DataFrame({"settlement_date": [day] * periods, "settlement_period": list(range(1, periods + 1))})
    bounds = frame.with_columns(period_bounds_exprs())
    starts, ends = bounds["period_start_utc"].to_list(), bounds["period_end_utc"].to_list()
    assert (starts[0], ends[-1]) == (first_start, last_end)
    assert starts[1:] == ends[:-1] and all(e - s == dt.timedelta(minutes=30) for s, e in zip(starts, ends))
    if periods == 50:  # the repeated local hour: periods 3-4 and 5-6 both read 01:00-02:00 on a clock
        assert starts[4] == dt.datetime(2024, 10, 27, 1, 0, tzinfo=UTC)


def test_run_precedence_and_stamps():
    assert RUN_TYPES == ("II", "SF", "R1", "R2", "R3", "RF", "DF")
    assert more_mature(("II", "20240110000000"), ("SF", "20240101000000")) == ("SF", "20240101000000")
    assert more_mature(("DF", "20200101000000"), ("RF", "20990101000000")) == ("DF", "20200101000000")
    # same run type: the later publication stamp wins
    assert more_mature(("R1", "20240301120000"), ("R1", "20240302090000")) == ("R1", "20240302090000")


def test_parse_run_types():
    assert parse_run_types("ii, SF,RF") == ["II", "SF", "RF"]
    with pytest.raises(ValueError, match="unknown run type 'DR'"):
        parse_run_types("II,DR")


@pytest.mark.parametrize(
    "unit, kind",
    [
        ("2__AGESL000", UnitKind.SUPPLIER),
        ("C__AEDFC001", UnitKind.SUPPLIER),
        ("V__FCNRG001", UnitKind.SECONDARY),
        ("T_DRAXX-1", UnitKind.TRANSMISSION),
        ("T__JKENT001", UnitKind.TRANSMISSION),  # T__ and E__ are real prefixes too (S0142_FORMAT.md, real profile)
        ("E__BLSBY-1", UnitKind.EMBEDDED),
        ("E_BROCK-1", UnitKind.EMBEDDED),
        ("I_IED-FRA1", UnitKind.INTERCONNECTOR),
        ("M_NOMX-1", UnitKind.MISCELLANEOUS),
        ("XYZ", UnitKind.OTHER),
    ],
)
def test_unit_kinds(unit, kind):
    assert unit_kind(unit) == kind


def test_vlp_units_are_only_v_prefixed():
    assert is_vlp_unit("V__FCNRG001")
    assert not is_vlp_unit("2__AGESL000")  # supplier units are never VLP units
    assert not is_vlp_unit("VX_ABC")  # "V__" is a literal prefix, not a pattern
    assert is_supplier_unit("2__AGESL000") and is_supplier_unit("C__AEDFC001")
    assert not is_supplier_unit("V__FCNRG001")


@pytest.mark.parametrize(
    "instant, expected",
    [
        # spring: local 00:00 is 00:00 UTC; 01:00 local does not exist, so 01:00 UTC (02:00 BST) is period 3
        (dt.datetime(2024, 3, 31, 0, 0, tzinfo=UTC), (dt.date(2024, 3, 31), 1)),
        (dt.datetime(2024, 3, 31, 1, 0, tzinfo=UTC), (dt.date(2024, 3, 31), 3)),
        (dt.datetime(2024, 3, 31, 22, 59, tzinfo=UTC), (dt.date(2024, 3, 31), 46)),
        (dt.datetime(2024, 3, 31, 23, 0, tzinfo=UTC), (dt.date(2024, 4, 1), 1)),
        # autumn: local midnight is 23:00 UTC the day before; the second 01:00 local is 01:00 UTC, period 5
        (dt.datetime(2024, 10, 26, 23, 0, tzinfo=UTC), (dt.date(2024, 10, 27), 1)),
        (dt.datetime(2024, 10, 27, 0, 59, tzinfo=UTC), (dt.date(2024, 10, 27), 4)),
        (dt.datetime(2024, 10, 27, 1, 0, tzinfo=UTC), (dt.date(2024, 10, 27), 5)),
        (dt.datetime(2024, 10, 27, 23, 59, tzinfo=UTC), (dt.date(2024, 10, 27), 50)),
        (dt.datetime(2024, 6, 5, 10, 15, tzinfo=UTC), (dt.date(2024, 6, 5), 23)),  # 11:15 BST
    ],
)
def test_the_period_an_instant_falls_in(instant, expected):
    assert settlement_period_at(instant) == expected


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        settlement_period_at(dt.datetime(2024, 6, 5, 10, 0))


@pytest.mark.parametrize("day", [dt.date(2024, 3, 31), dt.date(2024, 10, 27), dt.date(2024, 6, 5)])
def test_column_wise_periods_agree_with_the_scalar_rules(day):
    n = periods_in_day(day)
    instants = [period_start_utc(day, p) + dt.timedelta(minutes=m) for p in range(1, n + 1) for m in (0, 29)]
    derived = pl.DataFrame({"t": instants}).with_columns(settlement_period_exprs("t"))
    assert list(zip(derived["settlement_date"], derived["settlement_period"])) == [settlement_period_at(t) for t in instants]
    bounds = settlement_periods(day, day)
    assert bounds.height == n
    assert bounds["period_start_utc"].to_list() == [period_start_utc(day, p) for p in range(1, n + 1)]
    assert bounds["period_end_utc"].to_list() == [period_end_utc(day, p) for p in range(1, n + 1)]


@pytest.mark.parametrize(
    "unit, unit_type, kind",
    [
        ("V__AFLEX001", None, UnitKind.SECONDARY),  # the list lacks it: the prefix decides
        ("V__AFLEX001", "V", UnitKind.SECONDARY),
        ("2__AFLEX003", "S", UnitKind.SUPPLIER),  # the API's own example: an additional supplier unit
        ("E_NEWVLP-1", "V", UnitKind.SECONDARY),  # the list's type wins over the prefix
        ("T_DRAXX-1", " t ", UnitKind.TRANSMISSION),
        ("T_DRAXX-1", "?", UnitKind.TRANSMISSION),  # an unknown type: back to the prefix
    ],
)
def test_unit_kind_prefers_the_reference_type(unit, unit_type, kind):
    assert unit_kind(unit, unit_type) == kind
    assert is_vlp_unit(unit, unit_type) == (kind is UnitKind.SECONDARY)
