"""Two rules of real files the parser applies: the trading-unit twin rule (BPI 2 / BP7 13) and the
NETA IDD file checksum (ZZZ 2), each on small files written by hand."""

from __future__ import annotations

import gzip

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from p114_assets.core.s0142.lines import Lines, checksum_of_records
from p114_assets.core.s0142.parser import parse_bytes

NAME = "S0142_20240101_II_20240115103000.gz"


def bpi(unit: str, trading_unit: str) -> str:
    return f"BPI|{unit}|{trading_unit}|10|9.5|1.0012|0|"


def bp7(unit: str, trading_unit: str) -> str:
    fields = [unit, "0", "0", "10", "0", "0.5", "10", "9.5", "0", "0", "0.001", "1.0012", trading_unit, "9.5", "0", "0",
              "0"] + [""] * 8  # fmt: skip
    return "BP7|" + "|".join(fields) + "|"


def file_text(units: list[tuple[str, str, str]], zzz_checksum: str = "0") -> str:
    """A file of one period: (unit, BPI 2, BP7 13) per unit, all under one party."""
    lines = ["AAA|S0142013|D|20240115103000|SA|UKDC|PB|PORTAL|1|OPER|", "SRH|20240101|II|1|1|20240101|1|1|NGC|",
             "SPI|1|" + "|" * 53]  # fmt: skip
    lines += [bpi(unit, blank_or_name) for unit, blank_or_name, _ in units]
    lines += ["BPH|20240101|II|1|1|20240101|1|1|PARTY|", "SP7|1|"]
    lines += [bp7(unit, name) for unit, _, name in units]
    lines.append(f"ZZZ|{len(lines) + 1}|{zzz_checksum}|")
    return "\n".join(lines) + "\n"


def test_trading_unit_rule():
    """Real files: BPI 2 is blank for a unit that is its own trading unit, and BP7 13 then holds the
    unit's own id; otherwise BPI 2 = BP7 13. trading_unit_name keeps BP7 13."""
    units = [
        ("T_SELF-1", "", "T_SELF-1"),  # its own trading unit: no mismatch
        ("2__ABASE000", "DEFAULT__A", "DEFAULT__A"),  # a named trading unit on both: no mismatch
        ("E_SHARE-1", "CONNAH'S QUAY PS TRADING  UNIT", "CONNAH'S QUAY PS TRADING  UNIT"),
        ("T_WRONG-1", "", "SOMEONE ELSE"),  # blank BPI 2 but BP7 13 is not the unit's own id
        ("E_NAMED-1", "BIG TU", "E_NAMED-1"),  # a named BPI 2 that BP7 13 does not repeat
        ("M_BLANK-1", "", ""),  # BP7 13 is never blank in real files
    ]
    bm = pl.from_arrow(parse_bytes(gzip.compress(file_text(units).encode()), NAME).tables["bm_unit_period"])
    got = dict(zip(bm["bm_unit_id"], zip(bm["trading_unit_name"], bm["bpi_bp7_mismatch"])))
    assert got == {
        "T_SELF-1": ("T_SELF-1", None),
        "2__ABASE000": ("DEFAULT__A", None),
        "E_SHARE-1": ("CONNAH'S QUAY PS TRADING  UNIT", None),
        "T_WRONG-1": ("SOMEONE ELSE", "trading_unit_name: BPI blank (so T_WRONG-1), BP7 SOMEONE ELSE"),
        "E_NAMED-1": ("E_NAMED-1", "trading_unit_name: BPI BIG TU, BP7 E_NAMED-1"),
        "M_BLANK-1": (None, "trading_unit_name: BPI blank (so M_BLANK-1), BP7 blank"),
    }


def test_checksum_by_hand():
    # "AB|" -> 41 42 7C 00; "CDEFG|" -> 43 44 45 46, 47 7C 00 00 (the last word padded with NULs)
    # 0x41427C00 ^ 0x43444546 = 0x02063946; ^ 0x477C0000 = 0x457A3946
    assert checksum_of_records([b"AB|", b"CDEFG|"]) == 0x457A3946
    for text, skip in ((b"AB|\nCDEFG|\n", 0), (b"\xef\xbb\xbfAB|\r\nCDEFG|\r\n", 3), (b"AB|\n\nCDEFG|", 0)):
        assert Lines.index(text, 1, skip).checksum() == 0x457A3946, text


def test_checksum_on_a_file_runs_from_aaa_up_to_zzz():
    text = file_text([("T_SELF-1", "", "T_SELF-1")])
    records = [line.encode() for line in text.splitlines()[:-1]]  # AAA .. the line before ZZZ
    expected = checksum_of_records(records)
    header = parse_bytes(gzip.compress(text.encode()), NAME).header
    assert (header.checksum_computed, header.checksum_matches) == (expected, "differs")
    matching = file_text([("T_SELF-1", "", "T_SELF-1")], zzz_checksum=str(expected))
    assert parse_bytes(gzip.compress(matching.encode()), NAME).header.checksum_matches == "matches"
    signed = file_text([("T_SELF-1", "", "T_SELF-1")], zzz_checksum=str(expected - (1 << 32)))
    assert parse_bytes(gzip.compress(signed.encode()), NAME).header.checksum_matches == "matches"
    absent = file_text([("T_SELF-1", "", "T_SELF-1")], zzz_checksum="")
    assert parse_bytes(gzip.compress(absent.encode()), NAME).header.checksum_matches == "absent"
    with_bom = parse_bytes(gzip.compress(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()), NAME).header
    assert with_bom.checksum_computed == expected


records = st.lists(st.binary(max_size=23).filter(lambda b: b"\n" not in b and not b.endswith(b"\r")), max_size=12)


@settings(max_examples=300, deadline=None)
@given(records=records, crlf=st.booleans(), bom=st.booleans(), final_newline=st.booleans(), cut=st.integers(0, 12))
def test_vectorised_checksum_equals_the_reference(records, crlf, bom, final_newline, cut):
    """Round trip: any records, any line ends, split into two pieces anywhere between lines: the
    vectorised checksum (XORed over pieces) is the plain word-by-word one."""
    end = b"\r\n" if crlf else b"\n"
    lines = [r + end for r in records]
    if lines and not final_newline and records[-1]:
        lines[-1] = records[-1]
    cut = min(cut, len(lines))
    first, second = (b"\xef\xbb\xbf" if bom else b"") + b"".join(lines[:cut]), b"".join(lines[cut:])
    total = Lines.index(first, 1, 3 if bom else 0).checksum() ^ Lines.index(second, cut + 1).checksum()
    assert total == checksum_of_records([r for r in records])
