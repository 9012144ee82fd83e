"""The synthetic generator: what it writes is what the parser reads back, and it reproduces the
structure and identities of real files (S0142_FORMAT.md, last section)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from p114_assets.core.calendar import nominal_publication_date
from p114_assets.core.synthetic import (
    DEFAULT_UNITS,
    SyntheticMarket,
    has_bom,
    generate_file,
    generate_files,
)
from p114_assets.core.s0142.files import FileName
from p114_assets.core.s0142.parser import parse_bytes, parse_file
from p114_assets.core.settlement import RUN_TYPES, periods_in_day

# record id -> (parsed table, keys, rename truth -> table)
ROUND_TRIP = {
    "SPI": ("system_period", ["settlement_period"], {}),
    "MD1": ("market_index", ["settlement_period", "market_index_provider"], {}),
    "BPI": ("bm_unit_period", ["settlement_period", "bm_unit_id"], {}),
    "BP7": ("bm_unit_period", ["settlement_period", "bm_unit_id"], {"party_id": "lead_party_id"}),
    "BO4": ("bid_offer_pair", ["settlement_period", "bm_unit_id", "pair_number"], {}),
    "PPC": ("party_period", ["settlement_period", "party_id"], {}),
    "APD": ("account_period", ["settlement_period", "party_id", "production_consumption_flag"], {}),
}


def assert_round_trip(generated) -> dict[str, pl.DataFrame]:
    parsed = parse_bytes(generated.text, generated.file_name.name)
    assert parsed.header.line_count == generated.line_count
    tables = {name: pl.from_arrow(t) for name, t in parsed.tables.items()}
    for rid, (table, keys, rename) in ROUND_TRIP.items():
        truth = generated.truth[rid].rename(rename)
        got = tables[table].select(truth.columns)
        assert got.height == truth.height if rid != "BPI" else True
        assert_frame_equal(got.sort(keys), truth.sort(keys), check_dtypes=False, abs_tol=1e-9)
    assert tables["bm_unit_period"]["bpi_bp7_mismatch"].null_count() == tables["bm_unit_period"].height
    return tables


@pytest.mark.parametrize("day", [dt.date(2024, 1, 15), dt.date(2024, 3, 31), dt.date(2024, 10, 27)])
def test_round_trip_on_ordinary_and_clock_change_days(small_market, day):
    tables = assert_round_trip(generate_file(small_market, day, "SF"))
    n = periods_in_day(day)
    assert sorted(tables["system_period"]["settlement_period"]) == list(range(1, n + 1))
    per_unit = tables["bm_unit_period"].group_by("bm_unit_id").len()
    assert per_unit["len"].to_list() == [n] * small_market.units.height


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    units=st.integers(min_value=7, max_value=45),
    seed=st.integers(min_value=0, max_value=10_000),
    day=st.dates(min_value=dt.date(2022, 1, 1), max_value=dt.date(2025, 12, 31)),
    run=st.sampled_from(RUN_TYPES),
)
def test_round_trip_property(units, seed, day, run):
    assert_round_trip(generate_file(SyntheticMarket.build(units, seed), day, run))


@pytest.fixture(scope="module")
def sf_file():
    market = SyntheticMarket.build(150, seed=11)
    return market, generate_file(market, dt.date(2024, 6, 12), "SF")


def _records(text: bytes) -> list[list[str]]:
    return [line.split("|") for line in text.decode("utf-8-sig").splitlines()]


def test_structure_and_identities_of_the_text(sf_file):
    market, generated = sf_file
    records = _records(generated.text)
    ids = [r[0] for r in records]
    assert ids[0] == "AAA" and ids[1] == "SRH" and ids[-1] == "ZZZ"
    assert int(records[-1][1]) == len(records)
    assert records[0][3] == generated.file_name.stamp  # AAA creation time = file name stamp
    for rid in ("SPI", "MD1", "DB1", "TRA", "BPI", "BO3", "BO4", "BO6", "BO7", "MEL", "MIL", "RDE", "RDI", "RUE", "RUI",
                "BPH", "APC", "SP7", "SSD", "MD2", "DB2", "PPC", "APD", "APB", "BP7", "MVR"):  # fmt: skip
        assert rid in ids, rid
    first_bph = ids.index("BPH")
    assert set(ids[2:first_bph]) <= {"SPI", "MD1", "DB1", "TRA", "BPI", "BO3", "BO4", "BO6", "BO7", "MEL", "MIL",
                                     "RDE", "RDI", "RUE", "RUI"}  # fmt: skip
    srh = records[1][1:8]
    spi = {int(r[1]): r for r in records if r[0] == "SPI"}
    ssd_by_period: dict[int, set[str]] = defaultdict(set)
    period = None
    for r in records[first_bph:-1]:
        if r[0] == "BPH":
            assert r[1:8] == srh  # BPH 1-7 repeat SRH 1-7
        elif r[0] == "SP7":
            period = int(r[1])
        elif r[0] == "SSD":
            ssd_by_period[period].add("|".join(r))
            assert r[5:7] == spi[period][2:4]  # SSD 5-6 = SPI 2-3
        elif r[0] == "BP7":
            assert Decimal(r[7]) - Decimal(r[8]) == Decimal(r[6])  # BP7 6 = BP7 7 - BP7 8, exactly
            if r[22]:
                expected = (Decimal(r[22]) * Decimal(spi[period][53])).quantize(Decimal("0.01"), ROUND_HALF_UP)
                assert expected == Decimal(r[25])  # BP7 25 = BP7 22 x SPI 53, to the penny
    assert all(len(v) == 1 for v in ssd_by_period.values())  # SSD identical under every party


def test_party_cashflow_is_the_sum_of_its_bo4_cashflows(sf_file):
    _, generated = sf_file
    tables = {n: pl.from_arrow(t) for n, t in parse_bytes(generated.text, "x.gz").tables.items()}
    lead = tables["bm_unit_period"].select("bm_unit_id", "lead_party_id").unique()
    bo4 = (tables["bid_offer_pair"].join(lead, on="bm_unit_id")
           .group_by("lead_party_id", "settlement_period")
           .agg((pl.col("bid_cashflow_gbp") + pl.col("offer_cashflow_gbp")).sum().round(2).alias("bo4")))  # fmt: skip
    ppc = tables["party_period"].join(bo4, left_on=["party_id", "settlement_period"],
                                      right_on=["lead_party_id", "settlement_period"], how="left")  # fmt: skip
    assert bo4.height > 10  # the check is not vacuous
    assert (ppc["bm_unit_cashflow_gbp"] == ppc["bo4"].fill_null(0.0)).all()
    # and the non-delivery charges add up the same way
    nd = tables["bm_unit_period"].group_by("lead_party_id", "settlement_period").agg(pl.col("non_delivery_charge_gbp").sum().round(2))
    check = tables["party_period"].join(nd, left_on=["party_id", "settlement_period"], right_on=["lead_party_id", "settlement_period"])
    assert (check["non_delivery_charge_gbp"] == check["non_delivery_charge_gbp_right"]).all()


def test_every_unit_prefix_has_a_lead_party_of_the_right_kind():
    market = SyntheticMarket.build(200, seed=5)
    units = market.units.join(market.parties, on="party_index")
    prefixes = Counter(units["prefix"])
    assert set(prefixes) == {"T_", "E_", "I_", "2__", "C__", "V__", "M_"}
    roles = {p: set(units.filter(pl.col("prefix") == p)["role"]) for p in prefixes}
    assert roles["V__"] == {"vlp"} and roles["2__"] == {"supplier"} and roles["C__"] == {"supplier"}
    assert roles["T_"] <= {"generator"} and roles["I_"] == {"interconnector"}
    assert units["bm_unit_id"].n_unique() == units.height
    tiny = SyntheticMarket.build(7, seed=1)
    assert set(tiny.units["prefix"]) == set(prefixes)  # one of each, even at the minimum
    with pytest.raises(ValueError, match="at least 7"):
        SyntheticMarket.build(6)


def test_real_scale_default_market():
    market = SyntheticMarket.build(DEFAULT_UNITS, seed=0)
    assert DEFAULT_UNITS == 8000 and market.units.height == 8000
    assert 400 <= market.parties.height <= 550  # real files: about 479 parties
    blank = market.units["trading_unit_name"].null_count() / market.units.height
    assert 0.15 < blank < 0.4  # "blank for about a quarter of units"


def test_same_seed_same_bytes_and_other_seed_other_bytes(tmp_path):
    day = dt.date(2023, 5, 2)
    a = generate_files(day, day, ["II"], tmp_path / "a", units=30, seed=4)
    b = generate_files(day, day, ["II"], tmp_path / "b", units=30, seed=4)
    c = generate_files(day, day, ["II"], tmp_path / "c", units=30, seed=5)
    assert a[0].name == b[0].name and a[0].read_bytes() == b[0].read_bytes()
    assert a[0].read_bytes() != c[0].read_bytes()


def test_later_runs_revise_metered_volumes_and_cashflows_but_not_acceptances(small_market):
    day = dt.date(2024, 2, 7)
    runs = {run: {n: pl.from_arrow(t) for n, t in parse_bytes(generate_file(small_market, day, run).text, "x.gz").tables.items()}
            for run in ("II", "SF", "RF", "DF")}  # fmt: skip
    key = ["settlement_period", "bm_unit_id"]

    def metered(run):
        return runs[run]["bm_unit_period"].select(*key, "metered_volume_mwh").sort(key)

    assert not metered("II").equals(metered("SF"))
    changed = (metered("II")["metered_volume_mwh"] != metered("SF")["metered_volume_mwh"]).sum()
    assert changed > 100
    assert metered("RF").equals(metered("DF"))  # final runs agree
    assert runs["II"]["bid_offer_pair"].drop("run_type", "publication_ts").equals(
        runs["SF"]["bid_offer_pair"].drop("run_type", "publication_ts"))  # fmt: skip
    ei = {run: runs[run]["party_period"]["energy_imbalance_cashflow_gbp"].sum() for run in runs}
    assert ei["II"] != ei["SF"]  # cashflows that follow from metered volumes move too


def test_publication_stamps_follow_the_nominal_offsets(small_market):
    day = dt.date(2024, 6, 3)
    stamps = {}
    for run in RUN_TYPES:
        name = generate_file(small_market, day, run).file_name
        assert FileName.parse(name.name) == name
        stamps[run] = name.stamp
        expected = nominal_publication_date(day, run)
        if expected is not None:
            assert name.stamp[:8] == f"{expected:%Y%m%d}", run
    assert list(stamps.values()) == sorted(stamps.values())  # more mature runs are published later


def test_an_occasional_byte_order_mark(tmp_path):
    combos = [(dt.date(2023, 1, 1) + dt.timedelta(days=d), run) for d in range(100) for run in ("II", "SF", "R1", "R2")]
    share = sum(has_bom(0, day, run) for day, run in combos) / len(combos)
    assert 0.02 < share < 0.09
    day, run = next((d, r) for d, r in combos if has_bom(0, d, r))
    path = generate_file(SyntheticMarket.build(10, 0), day, run).write(tmp_path)
    assert parse_file(path).header.has_bom


@pytest.mark.slow
def test_real_scale_file(tmp_path):
    """About 8,000 units and 1.5 million lines, and parsed back in full."""
    generated = generate_file(SyntheticMarket.build(DEFAULT_UNITS, seed=0), dt.date(2024, 10, 2), "SF")
    assert 1_400_000 <= generated.line_count <= 1_700_000
    path = generated.write(tmp_path)
    assert 10_000_000 < path.stat().st_size < 20_000_000
    parsed = parse_file(path)
    assert parsed.row_counts["bm_unit_period"] == 8000 * 48



def test_df_is_stamped_on_the_calendars_assumed_date():
    from p114_assets.core.calendar import assumed_publication_date
    from p114_assets.core.synthetic import publication_stamp

    day = dt.date(2022, 3, 1)
    assert publication_stamp(day, "DF", seed=0)[:8] == f"{assumed_publication_date(day, 'DF'):%Y%m%d}"
