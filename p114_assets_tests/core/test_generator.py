"""The synthetic generator: what it writes is what the parser reads back, and it reproduces the
structure, identities and profile of real files (S0142_FORMAT.md, the last two sections)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from p114_assets.core import quality
from p114_assets.core.calendar import nominal_publication_date
from p114_assets.core.s0142.facts import idd_checksum
from p114_assets.core.s0142.files import FileName
from p114_assets.core.s0142.parser import parse_bytes, parse_file
from p114_assets.core.s0142.profile import compare, profile_file
from p114_assets.core.settlement import RUN_TYPES, periods_in_day
from p114_assets.core.synthetic import DEFAULT_UNITS, SyntheticMarket, generate_file, generate_files, has_bom
from p114_assets_tests.conftest import FIXTURES

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
        truth = truth.with_columns(pl.col(c).cast(t) for c, t in got.schema.items() if t.is_decimal())  # printed decimals, exact
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
    units=st.integers(min_value=9, max_value=45),
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
    assert records[0][1:4] == ["S0142013", "D", generated.file_name.stamp]  # AAA creation time = file name stamp
    assert records[0][9] == "OPER"
    for rid in ("SPI", "MD1", "DB1", "TRA", "BPI", "BO3", "BO4", "BO6", "BO7", "MEL", "MIL", "RDE", "RDI", "RUE", "RUI",
                "BPH", "APC", "SP7", "SSD", "MD2", "DB2", "PPC", "APD", "APB", "BP7", "MVR"):  # fmt: skip
        assert rid in ids, rid
    first_bph = ids.index("BPH")
    assert set(ids[2:first_bph]) <= {"SPI", "MD1", "DB1", "TRA", "BPI", "BO3", "BO4", "BO6", "BO7", "MEL", "MIL",
                                     "RDE", "RDI", "RUE", "RUI"}  # fmt: skip
    srh = records[1][1:8]
    spi = {int(r[1]): r for r in records if r[0] == "SPI"}
    ssd_by_period: dict[int, set[str]] = defaultdict(set)
    bpi_tu = {r[1]: r[2] for r in records if r[0] == "BPI"}
    period = None
    for r in records[first_bph:-1]:
        if r[0] == "BPH":
            assert r[1:8] == srh  # BPH 1-7 repeat SRH 1-7
        elif r[0] == "SP7":
            period = int(r[1])
        elif r[0] == "SSD":
            ssd_by_period[period].add("|".join(r))
            assert r[5:7] == spi[period][2:4] and r[77] == spi[period][53]  # SSD 5-6 = SPI 2-3, SSD 77 = SPI 53
        elif r[0] == "BP7":
            # BP7 6 = |BP7 7 - BP7 8| exactly, never negative (the real profile: not the signed difference)
            assert Decimal(r[6]) == abs(Decimal(r[7]) - Decimal(r[8]))
            assert Decimal(r[7]) == Decimal(r[4]) + Decimal(r[5])  # expected = FPN + balancing services volume
            # the trading-unit rule: BPI 2 blank -> BP7 13 is the unit's own id; else BPI 2 = BP7 13
            assert r[13] == (bpi_tu[r[1]] or r[1])
            if r[22]:
                expected = (Decimal(r[22]) * Decimal(spi[period][53])).quantize(Decimal("0.01"), ROUND_HALF_UP)
                assert expected == Decimal(r[25])  # BP7 25 = BP7 22 x SPI 53, to the penny
    assert all(len(v) == 1 for v in ssd_by_period.values())  # SSD identical under every party
    assert any(not tu for tu in bpi_tu.values()) and any(tu for tu in bpi_tu.values())
    body = generated.text.decode("utf-8-sig")
    assert records[-1][2] == str(idd_checksum(body.encode()))  # ZZZ 2: the NETA IDD checksum


def test_settlement_identities_hold(sf_file):
    """Per period the parties' RCRC (PPC 6) sums to their energy imbalance cashflows (PPC 3); a
    party's PPC 6 is the sum of its APD 5; PPC 2 the BO4 cashflows of its units; PPC 10 its BP7 25."""
    _, generated = sf_file
    tables = {n: pl.from_arrow(t) for n, t in parse_bytes(generated.text, "x.gz").tables.items()}
    outcomes = {o.check: o for o in quality.identity_outcomes(tables)}
    assert set(outcomes) == {"rcrc_balances_energy_imbalance", "rcrc_matches_accounts", "bm_cashflow_matches_bo4"}
    assert all(o.passed for o in outcomes.values()), [o.description for o in outcomes.values()]
    ppc = tables["party_period"]
    per_period = ppc.group_by("settlement_period").agg(pl.col("residual_cashflow_reallocation_gbp").sum().round(2),
                                                       pl.col("energy_imbalance_cashflow_gbp").sum().round(2))  # fmt: skip
    assert (per_period["residual_cashflow_reallocation_gbp"] == per_period["energy_imbalance_cashflow_gbp"]).all()  # to the penny
    assert (ppc["residual_cashflow_reallocation_gbp"] != 0).sum() > 50  # not vacuous
    units = tables["bm_unit_period"]
    bp7_25 = units.group_by("lead_party_id", "settlement_period").agg(pl.col("supplier_compensation_cashflow_gbp").sum().round(2),
                                                                     filled=pl.col("supplier_compensation_cashflow_gbp").is_not_null().any())  # fmt: skip
    paid = ppc.join(bp7_25, left_on=["party_id", "settlement_period"], right_on=["lead_party_id", "settlement_period"])
    assert paid["supplier_compensation_cashflow_gbp"].is_not_null().sum() == paid["filled"].sum() > 0
    filled = paid.filter(pl.col("filled"))
    assert (filled["supplier_compensation_cashflow_gbp"] == filled["supplier_compensation_cashflow_gbp_right"]).all()
    assert (units["information_imbalance_volume_mwh"] >= 0).all()
    assert (tables["account_period"]["residual_cashflow_reallocation_proportion"] < 0).any()  # RCRP can be negative


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
    assert set(prefixes) == {"T_", "E_", "I_", "2__", "C__", "V__", "M_", "T__", "E__"}
    roles = {p: set(units.filter(pl.col("prefix") == p)["role"]) for p in prefixes}
    assert roles["V__"] == {"vlp"} and roles["2__"] == {"supplier"} and roles["C__"] == {"supplier"}
    assert roles["T_"] | roles["T__"] | roles["E__"] <= {"generator"} and roles["I_"] == {"interconnector"}
    assert units["bm_unit_id"].n_unique() == units.height
    tiny = SyntheticMarket.build(9, seed=1)
    assert set(tiny.units["prefix"]) == set(prefixes)  # one of each, even at the minimum
    with pytest.raises(ValueError, match="at least 9"):
        SyntheticMarket.build(8)


def test_real_scale_default_market():
    """The market of the real files: prefix mix, parties, trading units, party ids as text."""
    market = SyntheticMarket.build(DEFAULT_UNITS, seed=0)
    assert DEFAULT_UNITS == 8000 and market.units.height == 8000
    assert 400 <= market.parties.height <= 550  # real files: 478-479 parties
    shares = market.units.group_by("prefix").len().with_columns(share=pl.col("len") / 8000)
    share = dict(zip(shares["prefix"], shares["share"]))
    assert 0.31 < share["2__"] < 0.39 and 0.33 < share["C__"] < 0.44 and 0.13 < share["I_"] < 0.16  # R3 / SF shares
    assert 1 <= share["T__"] * 8000 <= 5 and 1 <= share["E__"] * 8000 <= 4
    own = market.units["trading_unit_name"].null_count() / market.units.height
    assert 0.2 < own < 0.27  # BPI 2 blank on 24.6% / 22.5% of rows of the real files
    names = set(market.units["trading_unit_name"].drop_nulls())
    assert 48 <= len(names) <= 53  # 50-51 distinct BPI 2 values: DEFAULT__A..P and the multi-unit trading units
    assert {f"DEFAULT__{g}" for g in "ABCDEFGHJKLMNP"} <= names and "CONNAH'S QUAY PS TRADING  UNIT" in names
    members = market.units.drop_nulls("trading_unit_name").group_by("trading_unit_name").len()
    assert members["len"].min() >= 2  # a named trading unit has several units
    ids = market.parties["party_id"]
    assert ids.str.contains(r"^\d{8}$").sum() >= 1 and ids.n_unique() == ids.len()  # numeric-looking ids, as text
    assert 0.2 < (market.parties["role"] == "vlp").mean() < 0.3  # PPC 9 is filled for 114 of 479 parties


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
def test_real_scale_file(real_scale_file):
    """About 8,000 units, 1.5 million lines and 11-12 MB compressed, and parsed back in full."""
    assert 1_450_000 <= real_scale_file.line_count <= 1_650_000  # real files: 190 lines a BM unit
    assert 10_800_000 < real_scale_file.path.stat().st_size < 12_500_000  # real files: 10.9 / 12.4 MB
    parsed = parse_file(real_scale_file.path)
    assert parsed.row_counts["bm_unit_period"] == 8000 * 48


# Tolerances of the comparison with the real files: a share (of lines, of records, of BM units)
# may differ by 40% of itself and 0.5 percentage points from the nearer of the two real files.
RELATIVE_TOLERANCE, ABSOLUTE_FLOOR = 0.4, 0.005


@pytest.mark.slow
def test_real_scale_file_matches_the_real_profile(real_scale_file):
    """The profile of a calibrated real-scale file against the facts of the two real 2026 files
    (fixtures/real_profile_facts.json): every record proportion, prefix share, BP7 18-25 fill and
    field shape the facts state is within tolerance of at least one of them, and every fact of the
    layout report holds."""
    facts = json.loads((FIXTURES / "real_profile_facts.json").read_text())
    profile = profile_file(real_scale_file.path)
    beyond = [set(compare(profile, real, RELATIVE_TOLERANCE, ABSOLUTE_FLOOR)) for real in facts["profiles"]]
    topics = [{d.split(":")[0]: d for d in differences} for differences in beyond]
    against_both = sorted(set(topics[0]) & set(topics[1]))
    assert not against_both, "\n".join(topics[0][t] + " | SF: " + topics[1][t].split(":", 1)[1] for t in against_both)
    report = {f["fact"]: f for f in profile["layout_report"]}
    assert all(f["confirmed"] for f in report.values()), [f for f in report.values() if not f["confirmed"]]
    assert report["trading_unit_rule"]["counts"]["blank_and_own_id"] > 0
    assert report["trailer_checksum"]["counts"]["verdict"] == "matches"
    assert 45 <= profile["fields"]["BPI"]["2"]["distinct"] <= 55


def test_df_is_stamped_on_the_calendars_assumed_date():
    from p114_assets.core.calendar import assumed_publication_date
    from p114_assets.core.synthetic import publication_stamp

    day = dt.date(2022, 3, 1)
    assert publication_stamp(day, "DF", seed=0)[:8] == f"{assumed_publication_date(day, 'DF'):%Y%m%d}"
