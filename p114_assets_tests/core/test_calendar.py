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


def test_nominal_publication_dates():
    day = dt.date(2024, 6, 3)  # a Monday with no nearby holidays
    assert nominal_publication_date(day, "II") == dt.date(2024, 6, 10)
    assert nominal_publication_date(day, "SF") == dt.date(2024, 6, 25)
    assert nominal_publication_date(day, "DF") is None
    assert nominal_publication_date(day, "RF") > dt.date(2025, 7, 1)  # about 14 months later
