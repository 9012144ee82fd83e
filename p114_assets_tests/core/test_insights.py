"""The Insights client against a real HTTP server on 127.0.0.1 serving recorded-shape JSON (built
from the pinned OpenAPI schemas and examples, with our own values), and against the spec itself."""

from __future__ import annotations

import datetime as dt
import json
import re
import typing

import polars as pl
import pytest
from typing_extensions import NotRequired
from werkzeug import Response

from p114_assets.core.insights import ENDPOINTS, WHOLE_DAY, InsightsClient, InsightsError, period_windows
from p114_assets.core.market_data import bm_unit_snapshot, fetch_day
from p114_assets.core.settlement import period_start_utc, periods_in_day
from p114_assets_tests.fake_insights import SCHEMAS, SPEC, FakeInsights, bm_unit, bod, boalf, ebocf, mid, period_times

DAY = dt.date(2024, 6, 5)
SPRING, AUTUMN = dt.date(2024, 3, 31), dt.date(2024, 10, 27)


@pytest.fixture
def fake(httpserver):
    return FakeInsights(httpserver)


@pytest.fixture
def client(fake):
    slept: list[float] = []
    with InsightsClient(fake.url, timeout=5, max_tries=4, sleep=slept.append) as c:
        c.slept = slept
        yield c


# -- the client against the pinned spec ---------------------------------------------------------


def test_every_endpoint_and_parameter_is_in_the_pinned_spec():
    for endpoint in ENDPOINTS.values():
        operation = SPEC["paths"][endpoint.path]["get"]
        names = {p["name"] for p in operation.get("parameters", [])}
        assert set(re.findall(r"{(\w+)}", endpoint.path)) <= names
        if endpoint.window_periods:
            assert {"from", "to", "settlementPeriodFrom", "settlementPeriodTo"} <= names, endpoint.path
        # the spec defines no paging: no page, cursor or offset parameter on any endpoint used
        assert not names & {"page", "pageSize", "cursor", "offset", "skip", "top"}


def test_row_shapes_name_only_fields_of_the_spec():
    from p114_assets_tests.fake_insights import ROW_SCHEMAS

    for dataset, endpoint in ENDPOINTS.items():
        properties = SCHEMAS[ROW_SCHEMAS[dataset]]["properties"]
        hints = typing.get_type_hints(endpoint.rows, include_extras=True)
        assert set(hints) <= set(properties), dataset
        required = [n for n, h in hints.items() if endpoint.rows.__total__ and typing.get_origin(h) is not NotRequired]
        for name in required:  # a field p114 requires must allow null where the spec says it may be null
            if properties[name].get("nullable", False):
                assert type(None) in typing.get_args(hints[name]), (dataset, name)


def test_request_windows_keep_within_the_spec():
    """Windows are within any maximum the spec states, and BOD's within its own example (one hour)."""
    for endpoint in ENDPOINTS.values():
        if not endpoint.window_periods:
            continue
        text = SPEC["paths"][endpoint.path]["get"]["description"]
        stated = re.search(r"maximum (?:data output )?range of (\d+) (day|hour)", text)
        if stated:
            limit_periods = int(stated.group(1)) * (48 if stated.group(2) == "day" else 2)
            assert endpoint.window_periods <= limit_periods
    example = {p["name"]: p["schema"]["example"] for p in SPEC["paths"]["/datasets/BOD/stream"]["get"]["parameters"] if "example" in p.get("schema", {})}
    span = dt.datetime.fromisoformat(example["to"].replace("Z", "+00:00")) - dt.datetime.fromisoformat(example["from"].replace("Z", "+00:00"))
    assert ENDPOINTS["BOD"].window_periods * dt.timedelta(minutes=30) == span == dt.timedelta(hours=1)


@pytest.mark.parametrize("day, windows, last", [(DAY, 24, (47, 48)), (SPRING, 23, (45, 46)), (AUTUMN, 25, (49, 50))])
def test_period_windows_cover_the_day(day, windows, last):
    got = period_windows(day, 2)
    assert len(got) == windows and got[0] == (1, 2) and got[-1] == last
    assert period_windows(day, WHOLE_DAY) == [(1, periods_in_day(day))]


# -- chunking, and every row of every window -----------------------------------------------------


@pytest.mark.parametrize("day", [DAY, AUTUMN])
def test_bod_is_fetched_window_by_window(fake, client, day):
    n = periods_in_day(day)
    fake.rows["BOD"] = [bod("T_A-1", day, p, pair, 10.0 * pair, 50.0 + p, 40.0) for p in range(1, n + 1) for pair in (-1, 1)]
    fake.rows["BOD"].append(bod("T_A-1", day + dt.timedelta(days=1), 1, 1, 5.0, 1.0, 1.0))  # the next day: never asked for
    got = fetch_day(client, "bid_offer", day)
    asked = fake.requests_to("/datasets/BOD/stream")
    assert [(int(a["settlementPeriodFrom"]), int(a["settlementPeriodTo"])) for a in asked] == period_windows(day, 2)
    assert all(a["from"] == a["to"] == day.isoformat() for a in asked)
    assert got.requests == len(asked) == n // 2
    frame = got.frame
    assert frame.height == 2 * n and sorted(set(frame["settlement_period"])) == list(range(1, n + 1))
    first = frame.filter((pl.col("settlement_period") == 1) & (pl.col("pair_number") == 1)).row(0, named=True)
    assert first["time_from_utc"] == first["period_start_utc"] == period_start_utc(day, 1)
    assert (first["level_from_mw"], first["offer_price_gbp_per_mwh"], first["bm_unit_id"]) == (10.0, 51.0, "T_A-1")


def test_an_empty_day_is_an_empty_table_with_every_column(fake, client):
    for table in ("bid_offer", "acceptance", "physical_notification", "market_index_price", "balancing_adjustment",
                  "indicative_cashflow", "indicative_system_price"):  # fmt: skip
        got = fetch_day(client, table, DAY)
        assert got.frame.height == 0 and "period_start_utc" in got.frame.columns, table


def test_acceptance_periods_come_from_utc_time_on_a_clock_change_day(fake, client):
    # 01:10 UTC on 27 October 2024 is the second 01:10 local: period 5 of a 50-period day
    start = dt.datetime(2024, 10, 27, 1, 10, tzinfo=dt.timezone.utc)
    fake.rows["BOALF"] = [boalf("E_B-1", 9, start - dt.timedelta(minutes=5), start, start + dt.timedelta(minutes=30), 0, 20)]
    frame = fetch_day(client, "acceptance", AUTUMN).frame
    row = frame.row(0, named=True)
    assert (row["settlement_date"], row["settlement_period"], row["acceptance_number"]) == (AUTUMN, 5, 9)
    assert row["period_start_utc"] == dt.datetime(2024, 10, 27, 1, 0, tzinfo=dt.timezone.utc)


# -- retries and failures -------------------------------------------------------------------


def test_429_then_success_honours_retry_after(fake, client):
    fake.rows["MID"] = [mid(DAY, 1, "APXMIDP", 71.2, 400.0)]
    fake.fail_next("MID", Response("slow down", status=429, headers={"Retry-After": "3"}))
    frame = fetch_day(client, "market_index_price", DAY).frame
    assert frame["market_index_price_gbp_per_mwh"].to_list() == [71.2]
    assert client.slept == [3.0] and len(fake.requests_to("MID")) == 2


def test_500_twice_then_success(fake, client):
    fake.rows["MID"] = [mid(DAY, 2, "N2EXMIDP", 65.0, 10.0)]
    for _ in range(2):
        fake.fail_next("MID", Response("oops", status=500))
    assert fetch_day(client, "market_index_price", DAY).frame.height == 1
    assert len(fake.requests_to("MID")) == 3 and len(client.slept) == 2


def test_a_cut_off_body_is_retried(fake, client):
    fake.rows["MID"] = [mid(DAY, 3, "APXMIDP", 50.0, 1.0)]
    whole = json.dumps(fake.rows["MID"]).encode()
    fake.fail_next("MID", whole[: len(whole) // 2])  # complete HTTP, incomplete JSON
    assert fetch_day(client, "market_index_price", DAY).frame.height == 1
    assert len(fake.requests_to("MID")) == 2


def test_a_body_cut_off_every_time_gives_up_with_one_line(fake, client):
    whole = json.dumps([mid(DAY, 3, "APXMIDP", 50.0, 1.0)]).encode()
    for _ in range(4):
        fake.fail_next("MID", whole[:-5])
    with pytest.raises(InsightsError) as raised:
        fetch_day(client, "market_index_price", DAY)
    assert "gave up after 4 tries" in str(raised.value) and "cut off" in str(raised.value) and "\n" not in str(raised.value)


def test_an_html_error_page_fails_at_once_naming_it(fake, client):
    page = b"<!DOCTYPE html><html><head><title>Service Unavailable - Maintenance</title></head><body>...</body></html>"
    fake.fail_next("MID", Response(page, status=200, content_type="text/html"))
    with pytest.raises(InsightsError, match=r"MID .*an HTML page \(Service Unavailable - Maintenance\), not JSON"):
        fetch_day(client, "market_index_price", DAY)
    assert len(fake.requests_to("MID")) == 1  # not retried


def test_a_client_error_fails_at_once_with_the_api_message(fake, client):
    problem = {"title": "One or more validation errors occurred.", "status": 400, "errors": {"from": ["The from field is required."]}}
    fake.fail_next("BOALF", Response(json.dumps(problem), status=400, content_type="application/json"))
    with pytest.raises(InsightsError) as raised:
        fetch_day(client, "acceptance", DAY)
    message = str(raised.value)
    assert message.startswith("BOALF ") and "HTTP 400" in message and "from: The from field is required." in message
    assert len(fake.requests_to("BOALF")) == 1


def test_a_body_of_the_wrong_shape_names_the_field(fake, client):
    row = bod("T_A-1", DAY, 1, 1, 5.0, 60.0, 50.0)
    del row["levelFrom"]
    fake.rows["BOD"] = [row, {**bod("T_A-1", DAY, 2, 1, 5.0, 60.0, 50.0), "offer": "sixty"}]
    with pytest.raises(InsightsError, match=r"BOD .* unexpected JSON shape at 0\.levelFrom: Field required \(and 1 more\)"):
        fetch_day(client, "bid_offer", DAY)


def test_an_unreachable_api_is_reported_quickly():
    started = dt.datetime.now()
    problem = InsightsClient("http://127.0.0.1:9/bmrs/api/v1").reachable(timeout=2)
    assert problem and "ConnectError" in problem
    assert (dt.datetime.now() - started).total_seconds() < 5


# -- EBOCF and the reference list ----------------------------------------------------------------


def test_ebocf_becomes_one_row_per_side_and_pair(fake, client):
    fake.rows["EBOCF_offer"] = [ebocf("T_A-1", DAY, 7, {"positive1": 600.0, "positive2": 1200.0})]
    fake.rows["EBOCF_bid"] = [ebocf("T_A-1", DAY, 7, {"positive2": -525.0, "negative1": -30.5})]
    got = fetch_day(client, "indicative_cashflow", DAY)
    rows = sorted((r["bid_offer"], r["pair_number"], r["cashflow_gbp"]) for r in got.frame.iter_rows(named=True))
    assert rows == [("bid", -1, -30.5), ("bid", 2, -525.0), ("offer", 1, 600.0), ("offer", 2, 1200.0)]
    assert set(got.frame["settlement_period"]) == {7} and not got.notes


def test_reference_list_snapshot(fake, client):
    rows = [bm_unit("T_A-1", "PTYA", "Party A", generation="250.500"), bm_unit("V__BFLEX01", "FLEX", "Flex", unit_type="V"),
            {**bm_unit("T_A-1", "PTYB", "Party B")}, {**bm_unit("X", "P", "P"), "elexonBmUnit": None},
            {**bm_unit("E_C-1", "PTYC", "C"), "demandCapacity": "n/a"}]  # fmt: skip
    notes: dict[str, int] = {}
    frame = bm_unit_snapshot(rows, DAY, dt.datetime(2024, 6, 5, 7, tzinfo=dt.timezone.utc), notes)
    assert frame["bm_unit_id"].to_list() == ["T_A-1", "V__BFLEX01", "E_C-1"]
    assert frame.row(0, named=True)["generation_capacity_mw"] == 250.5 and frame.row(0, named=True)["lead_party_id"] == "PTYA"
    assert notes == {"units_without_elexon_id": 1, "units_listed_twice": 1, "numbers_not_parsed": 1}


def test_times_keep_their_instant(fake, client):
    start, end = period_times(DAY, 20)
    fake.rows["BOD"] = [bod("T_A-1", DAY, 20, 1, 5.0, 60.0, 50.0)]
    frame = fetch_day(client, "bid_offer", DAY).frame
    assert frame["time_from_utc"].dtype == pl.Datetime("us", "UTC")
    assert frame.row(0, named=True)["time_to_utc"] == end


def test_a_connection_closed_before_content_length_is_retried(fake, client):
    fake.rows["MID"] = [mid(DAY, 4, "APXMIDP", 44.0, 2.0)]
    whole = json.dumps(fake.rows["MID"]).encode()
    short = Response(whole[:20], content_type="application/json")
    short.headers["Content-Length"] = str(len(whole))  # promises more than it sends
    fake.fail_next("MID", short)
    assert fetch_day(client, "market_index_price", DAY).frame.height == 1
    assert len(fake.requests_to("MID")) == 2
