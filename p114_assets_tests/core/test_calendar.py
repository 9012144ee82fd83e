import datetime as dt

from p114_assets.core.calendar import add_working_days, is_working_day, nominal_publication_date


def test_weekends_and_bank_holidays_are_not_working_days():
    assert not is_working_day(dt.date(2024, 12, 25))  # Christmas
    assert not is_working_day(dt.date(2024, 12, 26))  # Boxing Day
    assert not is_working_day(dt.date(2024, 8, 26))  # late summer bank holiday (England)
    assert not is_working_day(dt.date(2024, 12, 28))  # Saturday
    assert is_working_day(dt.date(2024, 12, 27))


def test_add_working_days_across_christmas():
    # Mon 23 Dec 2024 + 5 working days: 24, 27, 30, 31 Dec, 2 Jan (25, 26 Dec and 1 Jan are holidays)
    assert add_working_days(dt.date(2024, 12, 23), 5) == dt.date(2025, 1, 2)
    assert add_working_days(dt.date(2025, 1, 2), -5) == dt.date(2024, 12, 23)  # and back
    assert add_working_days(dt.date(2024, 12, 23), 0) == dt.date(2024, 12, 23)


def test_nominal_publication_dates():
    day = dt.date(2024, 6, 3)  # a Monday with no nearby holidays
    assert nominal_publication_date(day, "II") == dt.date(2024, 6, 10)
    assert nominal_publication_date(day, "SF") == dt.date(2024, 6, 25)
    assert nominal_publication_date(day, "DF") is None
    assert nominal_publication_date(day, "RF") > dt.date(2025, 7, 1)  # about 14 months later


import pytest  # noqa: E402

from p114_assets.core.backfill import best_available_plan, chunk_partitions, summary  # noqa: E402
from p114_assets.config import calendar as calendar_from_env  # noqa: E402
from p114_assets.core.calendar import CalendarError, SettlementCalendar  # noqa: E402


def test_expected_runs_and_best_available_run_from_nominal_offsets():
    cal = SettlementCalendar()
    day = dt.date(2024, 6, 3)
    assert cal.expected_runs(day, dt.date(2024, 6, 9)) == []
    assert cal.expected_runs(day, dt.date(2024, 6, 10)) == ["II"]
    assert cal.expected_runs(day, dt.date(2024, 6, 25)) == ["II", "SF"]
    assert cal.best_available_run(day, dt.date(2026, 1, 1)) == "RF"  # DF is never expected without a dispute
    assert cal.expected_runs(day, dt.date(2024, 6, 11), grace_working_days=2) == []


def test_a_calendar_file_overrides_the_nominal_dates(tmp_path):
    path = tmp_path / "calendar.csv"
    path.write_text("settlement_date,run_type,publication_date\n2024-06-03,SF,2024-06-20\n2024-06-03,DF,2025-12-01\n")
    cal = SettlementCalendar.from_csv(path)
    assert cal.expected_publication(dt.date(2024, 6, 3), "SF") == dt.date(2024, 6, 20)  # actual, not 25 June
    assert cal.expected_publication(dt.date(2024, 6, 3), "II") == dt.date(2024, 6, 10)  # nominal where not given
    assert cal.best_available_run(dt.date(2024, 6, 3), dt.date(2024, 6, 21)) == "SF"
    assert cal.best_available_run(dt.date(2024, 6, 3), dt.date(2025, 12, 2)) == "DF"
    assert calendar_from_env({"P114_CALENDAR_CSV": str(path)}).actual == cal.actual
    assert calendar_from_env({}).actual == {}


@pytest.mark.parametrize("text, message", [
    ("settlement_date,run\n", "missing column(s) publication_date, run_type"),
    ("settlement_date,run_type,publication_date\n2024-06-03,SF,20/06/2024\n", "calendar.csv, line 2: dates must be YYYY-MM-DD"),
    ("settlement_date,run_type,publication_date\n2024-06-03,SF,2024-06-20\n2024-06-03,XX,2024-06-20\n", "line 3: unknown run type 'XX'"),
    ("settlement_date,run_type,publication_date\n2024-06-03,SF,2024-06-01\n", "line 2: SF of 2024-06-03 published before it"),
])  # fmt: skip
def test_a_bad_calendar_file_says_where(tmp_path, text, message):
    path = tmp_path / "calendar.csv"
    path.write_text(text)
    with pytest.raises(CalendarError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SettlementCalendar.from_csv(path)


def test_best_available_plan_on_a_fixed_date():
    plan = best_available_plan(dt.date(2024, 1, 1), dt.date(2025, 12, 31), dt.date(2025, 12, 31), SettlementCalendar())
    assert plan[dt.date(2024, 1, 1)] == "RF" and plan[dt.date(2024, 10, 1)] == "RF"
    assert plan[dt.date(2025, 3, 3)] == "R3"  # 154 working days before the end of 2025, not yet 282
    assert plan[dt.date(2025, 12, 1)] == "SF" and plan[dt.date(2025, 12, 19)] == "II" and plan[dt.date(2025, 12, 30)] is None
    rows = {run: (count, first, last) for run, count, first, last in summary(plan)}
    assert list(rows) == ["II", "SF", "R1", "R2", "R3", "RF", "none yet"]
    assert sum(count for count, _, _ in rows.values()) == 731
    # each run type covers one stretch of dates, more mature for older dates
    assert rows["RF"][2] < rows["R3"][1] and rows["SF"][2] < rows["II"][1]


def test_chunks_are_ranges_of_one_run_type():
    d = dt.date(2024, 1, 1)
    parts = [(d, "RF"), (d + dt.timedelta(1), "RF"), (d + dt.timedelta(2), "RF"), (d + dt.timedelta(4), "RF"),
             (d + dt.timedelta(3), "R3")]  # fmt: skip
    assert chunk_partitions(parts, 2) == [[(d + dt.timedelta(3), "R3")], [(d, "RF"), (d + dt.timedelta(1), "RF")],
                                          [(d + dt.timedelta(2), "RF")], [(d + dt.timedelta(4), "RF")]]  # fmt: skip
    with pytest.raises(ValueError):
        chunk_partitions(parts, 0)


def test_df_has_one_assumed_date_after_rf_and_a_search_looks_around_it():
    from p114_assets.core.calendar import DF_AFTER_RF_WORKING_DAYS, assumed_publication_date

    day = dt.date(2023, 6, 5)
    rf = nominal_publication_date(day, "RF")
    assert assumed_publication_date(day, "RF") == rf
    assert assumed_publication_date(day, "DF") == add_working_days(rf, DF_AFTER_RF_WORKING_DAYS) == add_working_days(rf, 120)
    searched = SettlementCalendar().search_dates(day, "DF", before=2, after=3)
    df = assumed_publication_date(day, "DF")
    assert searched == [df, *(add_working_days(df, n) for n in (1, 2, 3, -1, -2))]
    actual = SettlementCalendar({(day, "DF"): dt.date(2025, 3, 3)})  # a calendar file's date wins
    assert actual.search_dates(day, "DF", before=0, after=0) == [dt.date(2025, 3, 3)]


def test_the_coverage_grid_walks_the_calendar_once_per_date_and_run(monkeypatch):
    """The alerts sensor builds the coverage grid every tick: a second grid over the same dates
    walks no working days (without the cache, RF alone walks ~400 days per date, every tick)."""
    from p114_assets.core import calendar as calendar_module
    from p114_assets.core.coverage import coverage_grid, dates_between

    walked = []
    real = calendar_module.is_working_day
    monkeypatch.setattr(calendar_module, "is_working_day", lambda day: walked.append(day) or real(day))
    calendar_module.add_working_days.cache_clear()
    dates = dates_between(dt.date(2023, 1, 1), dt.date(2023, 3, 31))
    first = coverage_grid(dates, set(), set(), today=dt.date(2024, 4, 1), grace_working_days=2)
    assert len(walked) > 90 * 282  # RF's offset alone, every date
    walked.clear()
    assert coverage_grid(dates, set(), set(), today=dt.date(2024, 4, 1), grace_working_days=2) == first
    assert walked == []
    assert first[(dt.date(2023, 1, 3), "RF")] == "missing" and first[(dt.date(2023, 3, 31), "RF")] == "not_due"
