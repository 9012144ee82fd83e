"""A parser that fails closed (issue 15, points 3-5): every malformed file is an S0142Error naming the
file, the line and the reason; nothing is dropped or shifted silently. Each test here failed on main
7f61519 (a wrong value loaded, rows dropped, or another exception type)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap

import polars as pl
import pytest

from p114_assets.core.s0142.layout import KNOWN_RECORD_IDS, LAYOUTS, MAX_LINE_BYTES
from p114_assets.core.s0142.parser import S0142Error, parse_bytes
from p114_assets_tests.conftest import fixture_text

NAME = "S0142_20240101_II_20240115103000.gz"
LINES = fixture_text("hand_written_ii.s0142").splitlines()


def text_with(number: int, new: str) -> str:
    lines = list(LINES)
    lines[number - 1] = new
    return "\n".join(lines) + "\n"


def parse(text: str | bytes):
    data = text.encode() if isinstance(text, str) else text
    return parse_bytes(gzip.compress(data, mtime=0), NAME)


def error(text: str | bytes) -> S0142Error:
    with pytest.raises(S0142Error) as caught:
        parse(text)
    assert caught.value.file == NAME and str(caught.value).startswith(NAME)
    return caught.value


def first_line_of(record_id: str) -> int:
    return next(i for i, line in enumerate(LINES, 1) if line.startswith(record_id + "|"))


# --- 3. Newer flow versions: fields appended to any record, the first of its type or not, are kept


@pytest.mark.parametrize("record_id", ["SPI", "MD1", "BPI", "BO4", "PPC", "APD", "BP7", "SP7", "BPH"])
@pytest.mark.parametrize("n_extra", [1, 3, 8])
def test_fields_appended_to_the_first_record_of_a_type_are_kept(record_id, n_extra):
    number = first_line_of(record_id)
    appended = "|".join(f"x{i}" for i in range(n_extra)) + "|"
    parsed = parse(text_with(number, LINES[number - 1] + appended))
    original = parse("\n".join(LINES) + "\n")
    table = {"SPI": "system_period", "MD1": "market_index", "BPI": "bm_unit_period", "BO4": "bid_offer_pair",
             "PPC": "party_period", "APD": "account_period", "BP7": "bm_unit_period"}.get(record_id)  # fmt: skip
    if table is None:  # SP7 and BPH are markers: their extra fields change nothing in the tables
        assert all(parsed.tables[t].equals(original.tables[t]) for t in original.tables)
        return
    got = pl.from_arrow(parsed.tables[table])
    line_column = "bpi_line_number" if record_id == "BPI" else "bp7_line_number" if record_id == "BP7" else "line_number"
    row = got.filter(pl.col(line_column) == number)
    expected = appended.rstrip("|") if record_id != "BPI" else "BPI: " + appended.rstrip("|")
    assert row["extra_fields"].to_list() == [expected]
    untouched = got.drop("extra_fields")
    assert untouched.equals(pl.from_arrow(original.tables[table]).drop("extra_fields"))  # no value moved


def test_mixed_record_lengths_in_one_type_keep_every_value():
    lines = list(LINES)
    lines[35 - 1] += "a|b|c|"
    lines[38 - 1] += "d|"
    bm = pl.from_arrow(parse("\n".join(lines) + "\n").tables["bm_unit_period"])
    assert dict(zip(bm["bp7_line_number"], bm["extra_fields"])) == {25: None, 29: None, 35: "a|b|c", 38: "d", 43: None, 46: None}
    assert bm.filter(pl.col("bp7_line_number") == 38)["metered_volume_mwh"].to_list() == [100.0]


# --- 4. A long line is rejected at once, with bounded memory


_LONG_LINE = textwrap.dedent("""
    import gzip, json, resource, sys, time
    from p114_assets.core.s0142.parser import S0142Error, parse_bytes
    raw = gzip.compress(sys.stdin.buffer.read(), mtime=0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        parse_bytes(raw, "S0142_20240101_II_20240115103000.gz")
        outcome = "accepted"
    except S0142Error as exc:
        outcome = str(exc)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - started, "grown_mb": grown}))
""")


@pytest.mark.parametrize("where", ["a BP7 field", "an unloaded record", "no newline at all"])
def test_a_5_mb_line_is_rejected_quickly_with_bounded_memory(where):
    """Issue 15: a single 5 MB line took 148 s and 15.3 GB, and was accepted."""
    big = "7" * 5_000_000
    text = {"a BP7 field": text_with(35, LINES[35 - 1].replace("|98.5|", f"|{big}|")),
            "an unloaded record": text_with(9, "BO3|" + big + "|"),
            "no newline at all": "\n".join(LINES[:5]) + "\n" + "MEL|" + big}[where]  # fmt: skip
    run = subprocess.run([sys.executable, "-c", _LONG_LINE], input=text.encode(), capture_output=True, timeout=120)
    result = json.loads(run.stdout.decode().strip().splitlines()[-1])
    assert f"line is longer than {MAX_LINE_BYTES:,} bytes" in result["outcome"]
    assert result["seconds"] < 5 and result["grown_mb"] < 200, result  # main: 148 s and 15.3 GB


def test_a_long_text_field_is_rejected():
    name = "N" * 150
    err = error(text_with(35, LINES[35 - 1].replace("|0.9912345|T_DRAX-1|98.5|", f"|0.9912345|{name}|98.5|")))
    assert err.line == 35 and "BP7 field 13 (trading_unit_name) is longer than 100 bytes" in err.reason


# --- 5. Silently wrong data


@pytest.mark.parametrize("record_id", ["SPI", "MD1", "BPI", "BO4", "PPC", "APD", "BP7", "SP7", "BPH"])
def test_a_missing_field_is_an_error_not_a_shift(record_id):
    """Issue 15: 51 of 64 missing-field mutants loaded shifted (trading_unit_name = '218.274')."""
    number = first_line_of(record_id)
    fields = LINES[number - 1].split("|")
    short = "|".join(fields[:1] + fields[2:])  # the first field dropped: every later value would move left
    err = error(text_with(number, short))
    width = LAYOUTS[record_id].width
    assert err.line == number and f"{record_id} has {width - 1} fields but its layout has {width}" in err.reason


def test_a_record_without_its_trailing_bar_is_an_error():
    err = error(text_with(35, LINES[35 - 1].rstrip("|")))
    assert err.line == 35 and "does not end with '|'" in err.reason


@pytest.mark.parametrize("damaged", ["AP\u00e5|0|", "APX|0|", "\ufeffBPI|T_DRAX-1||100|98.5|0.9912345|5|", "BP|x|", "B", "bp7|x|"])
def test_unknown_record_ids_are_counted_and_fail(damaged):
    """Issue 15: a damaged record id (AP\\xe5) or a BOM at the start of a mid-file line dropped rows."""
    lines = list(LINES)
    lines[24 - 1] = damaged  # was an APD
    lines[7 - 1] = damaged if damaged.startswith("\ufeff") else lines[7 - 1]
    err = error("\n".join(lines) + "\n")
    count = 2 if damaged.startswith("\ufeff") else 1
    assert err.line == (7 if count == 2 else 24)
    assert f"{count:,} line(s) with a record id that S0142 does not have" in err.reason


def test_every_catalogued_record_id_is_known():
    assert {"BO3", "BO6", "BO7", "MEL", "MIL", "RDE", "RDI", "RUE", "RUI", "APC", "SSD", "MD2", "DB1", "DB2", "TRA",
            "APB", "MVR"} | set(LAYOUTS) == KNOWN_RECORD_IDS  # fmt: skip
    parse(text_with(10, "RUI|202401010000|1|2|3|4|"))  # known but not loaded: fine


@pytest.mark.parametrize("bad", [b"\xe5", b"\xff\xfe", b"\xc3"])
def test_bytes_that_are_not_utf8_are_an_error(bad):
    """Issue 15: non-UTF-8 bytes became U+FFFD."""
    raw = text_with(35, LINES[35 - 1].replace("T_DRAX-1|0|12.3", "T_DRAX-1|0|12.3", 1)).encode()
    raw = raw.replace(b"|98.5|0|0|-0.0087655", b"|98.5|0|0|-0.0087655" + bad, 1)
    err = error(raw)
    assert err.line == 35 and "not UTF-8" in err.reason


def test_real_utf8_text_is_kept():
    bm = pl.from_arrow(parse(text_with(35, LINES[35 - 1].replace("|0.9912345|T_DRAX-1|98.5|", "|0.9912345|CONNAH'S QUAY  Ünit|98.5|")))
                       .tables["bm_unit_period"])  # fmt: skip
    assert "CONNAH'S QUAY  Ünit" in bm["trading_unit_name"].to_list()


@pytest.mark.parametrize("value", ["NaN", "nan", "inf", "-inf", "Infinity", "1e400", "-1e999"])
def test_non_finite_numbers_name_line_and_field(value):
    """Issue 15: NaN, inf and 1e400 loaded as numbers. A float column (the loss factor) refuses them as
    not finite; an exact one (a volume, DECIMAL(18,3)) as not a decimal of its scale."""
    err = error(text_with(35, LINES[35 - 1].replace("|0|0|-0.0087655|", f"|0|0|{value}|")))
    assert err.line == 35 and "(transmission_loss_factor)" in err.reason and "not a finite number" in err.reason
    err = error(text_with(35, LINES[35 - 1].replace("|98.5|0|0|", f"|{value}|0|0|")))
    assert err.line == 35 and "BP7 field 8 (metered_volume_mwh)" in err.reason
    assert "not a decimal number of at most 3 decimals" in err.reason


@pytest.mark.parametrize(("line", "new", "fragment"), [
    (1, "AAA|S0142013|D|2024011510300|SA|UKDC|PB|PORTAL|1|OPER|", "AAA creation time '2024011510300' is not YYYYMMDDHHMMSS"),
    (1, "AAA|S0142013|D|202401151030000|SA|UKDC|PB|PORTAL|1|OPER|", "is not YYYYMMDDHHMMSS"),
    (1, "AAA|S0142013|D|20240115103000|", "AAA has 3 fields but its layout has 9"),
    (1, "AAA|S014201|D|20240115103000|SA|UKDC|PB|PORTAL|1|OPER|", "not an S0142 flow"),
    (2, "SRH|2024011|II|1|1|20240101|1|1|NGC|", "SRH settlement date '2024011' is not YYYYMMDD"),
    (2, "SRH|20240101|II|", "SRH has 2 fields but its layout has 8"),
    (47, "ZZZ| 47|4021|", "ZZZ line count ' 47' is not a number"),
    (47, "ZZZ|+47|4021|", "ZZZ line count '+47' is not a number"),
])  # fmt: skip
def test_header_and_trailer_fields_are_checked_for_format(line, new, fragment):
    """Issue 15: a 13-digit stamp and a 7-digit SRH date were accepted."""
    err = error(text_with(line, new))
    assert err.line == line and fragment in err.reason


@pytest.mark.parametrize(("line", "new", "fragment"), [
    (22, "SP7||", "SP7 field 1 (settlement_period) is blank"),
    (7, "BPI|||100|98.5|0.9912345|5|", "BPI field 1 (bm_unit_id) is blank"),
    (35, LINES[35 - 1].replace("BP7|T_DRAX-1|", "BP7||"), "BP7 field 1 (bm_unit_id) is blank"),
    (3, LINES[3 - 1].replace("SPI|1|", "SPI||"), "SPI field 1 (settlement_period) is blank"),
    (20, "BPH|20240101|II|1|1|20240101|1|1||", "BPH field 8 (party_id) is blank"),
    (9, LINES[9 - 1].replace("BO4|1|", "BO4||"), "BO4 field 1 (pair_number) is blank"),
    (4, "MD1||1000|65.2|2500.5|", "MD1 field 1 (market_index_provider) is blank"),
    (24, LINES[24 - 1].replace("APD|C|", "APD||"), "APD field 1 (production_consumption_flag) is blank"),
    (22, "SP7|x|", "SP7 field 1 (settlement_period) is 'x', not an int number"),
])  # fmt: skip
def test_a_blank_or_bad_key_field_is_an_s0142_error_with_its_line(line, new, fragment):
    """Issue 15: a blank SP7 period raised a bare ValueError with a traceback."""
    err = error(text_with(line, new))
    assert err.line == line and fragment in err.reason, str(err)


def test_a_carriage_return_inside_a_record_is_an_error():
    err = error(text_with(35, LINES[35 - 1].replace("|98.5|", "|98\r.5|")))
    assert err.line == 35 and "carriage return" in err.reason


def test_the_error_type_pickles_across_processes():
    import pickle

    err = error(text_with(22, "SP7||"))
    again = pickle.loads(pickle.dumps(err))
    assert (again.file, again.reason, again.line, again.check) == (err.file, err.reason, err.line, err.check)
