"""The parser against a hand-written file whose every value is known, and against broken input."""

from __future__ import annotations

import datetime as dt
import gzip
from decimal import Decimal as D

import polars as pl
import pytest

from p114_assets.core.s0142.files import FileName
from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.core.s0142.parser import S0142Error, check_name_matches_header, inspect_file, parse_bytes, parse_file
from p114_assets_tests.conftest import FIXTURES, fixture_text, write_gz

NAME = "S0142_20240101_II_20240115103000.gz"
TEXT = fixture_text("hand_written_ii.s0142")
LINES = TEXT.splitlines()


def parse_text(text: str, name: str = NAME):
    return parse_bytes(gzip.compress(text.encode(), mtime=0), name)


def frame(parsed, table: str) -> pl.DataFrame:
    return pl.from_arrow(parsed.tables[table])


def row(df: pl.DataFrame, **match) -> dict:
    hits = df.filter(pl.all_horizontal([pl.col(k) == v for k, v in match.items()]))
    assert hits.height == 1, f"{match}: {hits.height} rows"
    return hits.row(0, named=True)


def with_line(number: int, new: str) -> str:
    lines = list(LINES)
    lines[number - 1] = new
    return "\n".join(lines) + "\n"


def renumbered(lines: list[str]) -> str:
    """Lines with the ZZZ trailer corrected to their count."""
    body = [line for line in lines if not line.startswith("ZZZ")]
    return "\n".join(body + [f"ZZZ|{len(body) + 1}|4021|"]) + "\n"


@pytest.fixture(scope="module")
def parsed():
    return parse_file(FIXTURES / "hand_written_ii.s0142")


def test_header(parsed):
    h = parsed.header
    assert (h.settlement_date, h.run_type) == (dt.date(2024, 1, 1), "II")
    assert h.publication_stamp == "20240115103000"
    assert h.publication_ts == dt.datetime(2024, 1, 15, 10, 30)
    assert h.flow_version == "S0142013"
    assert h.line_count == 47 and h.checksum == "4021"
    assert h.record_counts["BPI"] == 6 and h.record_counts["BP7"] == 6 and h.record_counts["BO4"] == 3
    assert h.record_counts["MEL"] == 1 and h.record_counts["BO3"] == 1
    assert parsed.row_counts == {"system_period": 2, "market_index": 4, "bm_unit_period": 6, "bid_offer_pair": 3,
                                 "party_period": 6, "account_period": 3}  # fmt: skip


def test_tables_have_their_declared_schemas(parsed):
    for name, table in parsed.tables.items():
        assert table.schema == RAW_TABLES[name].arrow_schema(), name


def test_system_period_and_market_index(parsed):
    spi = frame(parsed, "system_period")
    p1, p2 = row(spi, settlement_period=1), row(spi, settlement_period=2)
    assert p1["system_buy_price_gbp_per_mwh"] == D("70.5") and p1["system_sell_price_gbp_per_mwh"] == D("70.5")
    assert p2["system_buy_price_gbp_per_mwh"] == D("-12.25")
    assert p1["price_derivation_code"] == "N"
    assert p1["supplier_sourcing_cost_gbp_per_mwh"] == D("85.23")
    assert p1["spi_05"] == "0" and p1["spi_30"] is None  # unknown fields kept as printed text, blank is NULL
    assert p1["replacement_price_gbp_per_mwh"] is None
    assert (p1["settlement_date"], p1["run_type"], p1["line_number"]) == (dt.date(2024, 1, 1), "II", 3)

    mid = frame(parsed, "market_index")
    apx = row(mid, settlement_period=1, market_index_provider="APXMIDP")
    assert (apx["market_index_price_gbp_per_mwh"], apx["market_index_volume_mwh"]) == (D("65.2"), D("2500.5"))
    assert row(mid, settlement_period=2, market_index_provider="APXMIDP")["market_index_price_gbp_per_mwh"] == D("-10.0")


def test_bm_unit_period_joins_bpi_and_bp7(parsed):
    bm = frame(parsed, "bm_unit_period")
    drax = row(bm, bm_unit_id="T_DRAX-1", settlement_period=1)
    assert drax["lead_party_id"] == "DRAXP"
    assert drax["period_fpn_mwh"] == D("100.0")
    assert drax["balancing_services_volume_mwh"] == D("3.0")
    assert drax["expected_metered_volume_mwh"] == D("103.0")
    assert drax["metered_volume_mwh"] == D("98.5")
    assert drax["information_imbalance_volume_mwh"] == D("4.5")
    assert drax["non_delivery_charge_gbp"] == D("12.3")
    assert drax["transmission_loss_factor"] == -0.0087655
    assert drax["transmission_loss_multiplier"] == 0.9912345
    assert drax["applicable_balancing_services_volume_mwh"] == D("5.0")
    assert drax["trading_unit_name"] == "T_DRAX-1"  # its own trading unit: BPI 2 blank, BP7 13 its own id
    assert drax["secondary_compensation_volume_mwh"] is None  # blank on a T_ unit
    assert (drax["bpi_line_number"], drax["bp7_line_number"]) == (7, 35)
    assert drax["bpi_bp7_mismatch"] is None and drax["extra_fields"] is None

    supplier = row(bm, bm_unit_id="2__AGOLD000", settlement_period=2)
    assert supplier["lead_party_id"] == "GOLD"
    assert supplier["trading_unit_name"] == "DEFAULT__A"
    assert supplier["total_trading_unit_metered_volume_mwh"] == D("-1100.0")
    assert supplier["supplier_compensation_volume_mwh"] == D("0.25")
    assert supplier["supplier_compensation_cashflow_gbp"] == D("21.31")
    assert row(bm, bm_unit_id="2__AGOLD000", settlement_period=1)["supplier_compensation_volume_mwh"] == D("0.0")  # 0 is 0

    vlp = row(bm, bm_unit_id="V__AFLEX001", settlement_period=2)
    assert vlp["lead_party_id"] == "FLEX"
    assert vlp["metered_volume_mwh"] == D("1.2") and vlp["transmission_loss_multiplier"] == 0.9873
    assert vlp["secondary_compensation_volume_mwh"] == D("1.2")
    assert vlp["bp7_18"] == "1.2" and vlp["bp7_19"] is None  # [?] fields: text as printed
    assert vlp["supplier_compensation_volume_mwh"] is None


def test_bid_offer_pairs_sit_under_their_bpi(parsed):
    bo = frame(parsed, "bid_offer_pair")
    offer = row(bo, bm_unit_id="T_DRAX-1", settlement_period=1, pair_number=1)
    assert (offer["offer_price_gbp_per_mwh"], offer["accepted_offer_volume_mwh"], offer["offer_cashflow_gbp"]) == (80.0, 5.0, 400.0)
    bid = row(bo, bm_unit_id="T_DRAX-1", settlement_period=1, pair_number=-1)
    assert (bid["bid_price_gbp_per_mwh"], bid["accepted_bid_volume_mwh"], bid["bid_cashflow_gbp"]) == (-20.5, -2.0, 41.0)
    assert bid["priced_accepted_bid_volume_mwh"] is None and bid["tagged_bid_volume_mwh"] == D("0.0")
    vlp = row(bo, bm_unit_id="V__AFLEX001", settlement_period=2, pair_number=1)
    assert vlp["offer_cashflow_gbp"] == D("143.25") and vlp["line_number"] == 19


def test_party_and_account_period(parsed):
    ppc = frame(parsed, "party_period")
    drax = row(ppc, party_id="DRAXP", settlement_period=1)
    assert drax["bm_unit_cashflow_gbp"] == D("441.0")  # = 400 + 41 from its BO4 pairs
    assert drax["energy_imbalance_cashflow_gbp"] == D("-20.0") and drax["non_delivery_charge_gbp"] == D("12.3")
    assert row(ppc, party_id="GOLD", settlement_period=1)["residual_cashflow_reallocation_gbp"] == D("-1.2")
    assert row(ppc, party_id="FLEX", settlement_period=2)["bm_unit_cashflow_gbp"] == D("143.25")
    assert drax["ppc_07"] is None and drax["vlp_compensation_cashflow_gbp"] == D("0.0")

    apd = frame(parsed, "account_period")
    gold = row(apd, party_id="GOLD", settlement_period=2)
    assert gold["production_consumption_flag"] == "C"
    assert gold["energy_imbalance_charge_gbp"] == D("9.75") and gold["account_credited_energy_volume_mwh"] == D("-6.5")
    assert row(apd, party_id="DRAXP", settlement_period=1)["residual_cashflow_reallocation_proportion"] == 0.9


def test_gzip_plain_bom_and_crlf_give_identical_tables(parsed, tmp_path):
    variants = {
        "gz": gzip.compress(TEXT.encode(), mtime=0),
        "bom+crlf gz": gzip.compress(b"\xef\xbb\xbf" + TEXT.replace("\n", "\r\n").encode(), mtime=0),
        "bom plain": b"\xef\xbb\xbf" + TEXT.encode(),
        "two gzip members": gzip.compress("\n".join(LINES[:20]).encode() + b"\n", mtime=0)
        + gzip.compress(("\n".join(LINES[20:]) + "\n").encode(), mtime=0),
    }
    for label, raw in variants.items():
        other = parse_bytes(raw, NAME)
        assert other.header.line_count == 47, label
        for name, table in parsed.tables.items():
            assert other.tables[name].equals(table), f"{label}: {name} differs"
    assert parse_bytes(variants["bom+crlf gz"], NAME).header.has_bom


def test_newer_flow_versions_keep_extra_trailing_fields():
    line = LINES[35 - 1]  # BP7 of T_DRAX-1, period 1
    assert line.startswith("BP7|T_DRAX-1|0|12.3")
    parsed = parse_text(with_line(35, line + "7.5||x y|"))
    bm = frame(parsed, "bm_unit_period")
    assert row(bm, bm_unit_id="T_DRAX-1", settlement_period=1)["extra_fields"] == "7.5||x y"
    assert bm["extra_fields"].null_count() == 5
    assert row(bm, bm_unit_id="T_DRAX-1", settlement_period=1)["metered_volume_mwh"] == D("98.5")


def test_many_extra_fields_are_all_kept():
    line = LINES[35 - 1] + "|".join(str(i) for i in range(1, 9)) + "|"
    bm = frame(parse_text(with_line(35, line)), "bm_unit_period")
    assert row(bm, bm_unit_id="T_DRAX-1", settlement_period=1)["extra_fields"] == "1|2|3|4|5|6|7|8"


def test_a_record_with_fewer_fields_than_its_layout_is_an_error():
    """Issue 15: 51 of 64 missing-field mutants loaded with values shifted into the wrong columns."""
    short = "|".join(LINES[35 - 1].split("|")[:18]) + "|"  # BP7 fields 1-17 only
    expect_error(gzip.compress(with_line(35, short).encode()), "BP7 has 17 fields but its layout has 25", line=35)
    dropped = LINES[35 - 1].replace("|12.3|", "|", 1)  # one field missing mid-record: later values would shift
    expect_error(gzip.compress(with_line(35, dropped).encode()), "BP7 has 24 fields but its layout has 25", line=35)


def test_bpi_disagreeing_with_its_bp7_twin_is_recorded_not_overwritten():
    bpi = LINES[7 - 1]
    assert bpi.startswith("BPI|T_DRAX-1|")
    bm = frame(parse_text(with_line(7, bpi.replace("|98.5|", "|99|"))), "bm_unit_period")
    drax = row(bm, bm_unit_id="T_DRAX-1", settlement_period=1)
    assert drax["metered_volume_mwh"] == D("98.5")  # BP7's value
    assert drax["bpi_bp7_mismatch"] == "metered_volume_mwh: BPI 99.000, BP7 98.500"  # each at its column's printed scale
    assert bm["bpi_bp7_mismatch"].null_count() == 5


def test_bpi_without_bp7_keeps_the_bpi_values():
    lines = [line for i, line in enumerate(LINES, 1) if i not in (44, 45, 46)]  # drop FLEX period 2 (SP7, PPC, BP7)
    bm = frame(parse_text(renumbered(lines)), "bm_unit_period")
    vlp = row(bm, bm_unit_id="V__AFLEX001", settlement_period=2)
    assert vlp["lead_party_id"] is None and vlp["bp7_line_number"] is None
    assert vlp["metered_volume_mwh"] == D("1.2") and vlp["applicable_balancing_services_volume_mwh"] == D("1.5")
    assert vlp["non_delivery_charge_gbp"] is None


# ---------------------------------------------------------------------------------------------
# Broken input: one error type, naming the file, the line where there is one, and the reason


def expect_error(raw: bytes, *fragments: str, line: int | None = None, name: str = NAME) -> S0142Error:
    with pytest.raises(S0142Error) as caught:
        parse_bytes(raw, name)
    error = caught.value
    assert error.file == name
    assert error.line == line
    for fragment in fragments:
        assert fragment in str(error), str(error)
    assert str(error).startswith(name)
    return error


def test_portal_error_body_is_shown():
    expect_error(b"Scripting Error 001\n", "not a gzip file", "Scripting Error 001")
    expect_error(b"<html><body>Service unavailable</body></html>", "<html><body>Service unavailable")


def test_truncated_and_corrupt_gzip():
    raw = gzip.compress(TEXT.encode(), mtime=0)
    expect_error(raw[: len(raw) // 2], "truncated")
    corrupt = bytearray(raw)
    corrupt[len(raw) // 2 : len(raw) // 2 + 8] = b"\xff" * 8
    expect_error(bytes(corrupt), "gzip body is truncated or corrupt")


def test_file_must_start_with_aaa():
    expect_error(gzip.compress(renumbered(LINES[1:]).encode()), "does not start with an AAA header", line=1)
    expect_error(gzip.compress(b""), "the body is empty")


def test_file_must_have_srh():
    expect_error(gzip.compress(renumbered([LINES[0], *LINES[2:]]).encode()), "no SRH", line=2)


def test_trailer_count_must_match():
    error = expect_error(gzip.compress(with_line(47, "ZZZ|48|4021|").encode()), "ZZZ says the file has 48 lines but it has 47", line=47)
    assert str(error) == f"{NAME}, line 47: ZZZ says the file has 48 lines but it has 47"
    expect_error(gzip.compress(("\n".join(LINES[:-1]) + "\n").encode()), "no ZZZ trailer", "cut off", line=46)
    expect_error(gzip.compress((TEXT + "BP7|late|\n").encode()), "content after the ZZZ trailer", line=48)


def test_bad_values_name_line_and_field():
    bad = LINES[35 - 1].replace("|98.5|0|0|", "|9x8.5|0|0|")
    expect_error(gzip.compress(with_line(35, bad).encode()), "BP7 field 8 (metered_volume_mwh) is '9x8.5'", line=35)
    expect_error(gzip.compress(with_line(2, "SRH|20240101|XX|1|1|20240101|1|1|NGC|").encode()), "run type 'XX'", line=2)
    expect_error(gzip.compress(with_line(2, "SRH|2024-01-01|II|1|1|20240101|1|1|NGC|").encode()), "not YYYYMMDD", line=2)


def test_records_outside_their_section():
    moved = [LINES[0], LINES[1], LINES[35 - 1], *LINES[2:34], *LINES[35:]]  # a BP7 before any party block
    expect_error(gzip.compress(renumbered(moved).encode()), "BP7 record is not inside a party period block", line=3)
    orphan = [LINES[0], LINES[1], LINES[2], LINES[8], *LINES[3:8], *LINES[9:]]  # a BO4 before any BPI
    expect_error(gzip.compress(renumbered(orphan).encode()), "BO4 record is not under a BPI", line=4)


def test_inspect_file_checks_header_and_trailer_only(tmp_path):
    path = write_gz(tmp_path, NAME, TEXT)
    header = inspect_file(path)
    assert (header.settlement_date, header.run_type, header.line_count) == (dt.date(2024, 1, 1), "II", 47)
    check_name_matches_header(header)
    broken = write_gz(tmp_path, "S0142_20240101_II_20240115103001.gz", with_line(47, "ZZZ|9|0|"))
    with pytest.raises(S0142Error, match="ZZZ says the file has 9 lines"):
        inspect_file(broken)


def test_a_mislabelled_file_is_caught(tmp_path):
    path = write_gz(tmp_path, "S0142_20240102_II_20240115103000.gz", TEXT)
    with pytest.raises(S0142Error, match="file name says 2024-01-02 II 20240115103000 but the header says 2024-01-01 II"):
        check_name_matches_header(inspect_file(path))


def test_unreadable_file_is_an_s0142_error(tmp_path):
    with pytest.raises(S0142Error, match="cannot read file"):
        parse_file(tmp_path / "S0142_20240101_II_20240115103000.gz")


def test_file_names():
    parts = FileName.parse("S0142_20260217_R3_20260922224432.gz")
    assert (parts.settlement_date, parts.run_type, parts.stamp, parts.compressed) == (dt.date(2026, 2, 17), "R3", "20260922224432", True)
    assert parts.name == "S0142_20260217_R3_20260922224432.gz"
    for bad in ("../S0142_20260217_R3_20260922224432.gz", "S0142_20260217_R3_20260922224432.gz/x",
                "S0142_20260230_R3_20260922224432.gz", "S0142_20260217_DR_20260922224432.gz", "s0142_x.gz"):  # fmt: skip
        assert FileName.parse(bad) is None, bad


def test_bp7_without_bpi_keeps_the_bp7_values():
    lines = [line for i, line in enumerate(LINES, 1) if i != 18]  # drop the BPI of V__AFLEX001, period 2
    bm = frame(parse_text(renumbered(lines)), "bm_unit_period")
    vlp = row(bm, bm_unit_id="V__AFLEX001", settlement_period=2)
    assert vlp["bpi_line_number"] is None and vlp["bpi_bp7_mismatch"] is None
    assert vlp["lead_party_id"] == "FLEX" and vlp["metered_volume_mwh"] == D("1.2")
    assert bm.height == 6
