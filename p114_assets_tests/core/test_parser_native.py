"""The native pass (_fields.c) against its references: the fields of a record type split and
converted as pyarrow's CSV reader converts them (and refused, by returning to that reader, wherever
the native form is unsure), and the line index, IDD checksum and line checks (tally) as the numpy
forms compute them."""

from __future__ import annotations

import gzip
import random
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p114_assets.core.s0142 import _fields, records
from p114_assets.core.s0142.layout import Field, RecordLayout
from p114_assets.core.s0142.lines import Lines, checksum_of_records
from p114_assets.core.s0142.scan import tally, tally_numpy

LAYOUT = RecordLayout("XYZ", 5, (Field(1, "name", "text", "V"), Field(2, "n", "int", "V"), Field(3, "gbp", "float", "V"),
                                 Field(4, "mwh", "float", "V"), Field(5, "x", "float", "V")))  # fmt: skip
TYPES = {"name": pa.string(), "n": pa.int64(), "gbp": pa.decimal128(18, 2), "mwh": pa.decimal128(18, 3), "x": pa.float64()}
NUMBERS = ["0", "-0", "7", "007", "-12", "1.5", "-1.50", "0.001", "1.2345", "1.2340", "1.23400000000000000000",
           "123456789012345", "1234567890123456", "12345678901234567", "999999999999999.99", "9999999999999999.9",
           "0.0000001", "-0.0087655", "0.1234567890123456", "1e3", "1E-2", ".5", "5.", "+5", " 5", "5 ", "-", "",
           "1.2.3", "0x10", "NaN", "inf", "-inf", "99999999999999999999", "1" * 19, "0" * 40 + "1", "1." + "0" * 40,
           "٣", "1\r2"]  # fmt: skip


def native(text: bytes) -> pa.Table | None:
    lines = Lines.index(text, 1)
    rows = np.flatnonzero(lines.codes == int.from_bytes(b"XYZ|", "big"))
    return records._native(lines, rows, LAYOUT.fields(), TYPES)


def reference(text: bytes) -> pa.Table | None:
    lines = Lines.index(text, 1)
    rows = np.flatnonzero(lines.codes == int.from_bytes(b"XYZ|", "big"))
    try:
        table = records.read_records(lines.as_arrow().take(pa.array(rows)), rows + 1, LAYOUT, TYPES, ())
    except records.RecordError:
        return None
    return table.drop_columns(["line_number"])


def test_the_native_module_is_built():
    """make install builds it; without it every parse takes pyarrow's (slower) path."""
    assert records._fields is _fields


@pytest.mark.parametrize("value", NUMBERS)
@pytest.mark.parametrize("column", [1, 2, 3, 4])
def test_a_number_is_read_as_pyarrow_reads_it_or_left_to_pyarrow(value, column):
    """Whatever the native pass accepts, pyarrow accepts too, with the same value and type; what
    it does not accept goes to pyarrow, which reads it or names the line (never a new refusal)."""
    fields = ["Ann", "5", "1.25", "2.5", "0.5"]
    fields[column] = value
    text = ("XYZ|A|1|2|3|4|\n" + "XYZ|" + "|".join(fields) + "|\n").encode()
    got, expected = native(text), reference(text)
    if got is not None:
        assert expected is not None and got.schema == expected.schema and got.equals(expected), value


def test_plain_lines_are_read_natively_with_blanks_as_null():
    text = b"XYZ|Ann|1|2|3|0.5|\nXYZ||||||\nXYZ|B\xc3\xa9|-2|-0.07|-0.007|-0.0087655|\r\n"
    got = native(text)
    assert got is not None and got.equals(reference(text))
    assert got.column("gbp").to_pylist()[2] == Decimal("-0.07") and got.column("name").null_count == 1


@pytest.mark.parametrize("line", [b"XYZ|A|1|2|3|", b"XYZ|A|1|2|3|4|5|", b"XYZ|A|1|2|3|4", b"XYZ|A\rB|1|2|3|4|",
                                  b"XYZ|A|1|2|3|4|\r\r"])  # fmt: skip
def test_a_line_outside_the_plain_form_goes_to_pyarrow(line):
    """A missing or appended field, no trailing '|', a carriage return: pyarrow's reader decides."""
    assert native(b"XYZ|A|1|2|3|4|\n" + line + b"\n") is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text("AB é|", max_size=5), st.integers(-10**15, 10**15), st.integers(-10**12, 10**12),
                          st.integers(-10**12, 10**12), st.floats(-1e6, 1e6, allow_nan=False)), min_size=1, max_size=30))
def test_random_rows_read_natively_equal_pyarrow(rows):  # fmt: skip
    lines = []
    for name, n, cents, units, x in rows:
        name = name.replace("|", "")
        lines.append(f"XYZ|{name}|{n}|{cents / 100:.2f}|{units / 1000:.3f}|{x!r}|")
    text = ("\n".join(lines) + "\n").encode()
    got, expected = native(text), reference(text)
    assert expected is not None
    if got is not None:
        assert got.equals(expected)
    assert all(value is not None for value in (got.column("n").to_pylist() if got is not None else []))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=12),
       st.sampled_from([b"\n", b"\r\n"]), st.booleans(), st.integers(0, 3))  # fmt: skip
def test_index_and_checksum_equal_the_numpy_forms(records_, end, last_newline, skip):
    text = b"\xef\xbb\xbf"[:skip] + end.join(records_) + (end if last_newline and records_ else b"")
    skip = min(skip, len(text))
    fast, slow = Lines.index(text, 1, skip), Lines.index_numpy(text, 1, skip)
    for name in ("starts", "ends", "nexts", "codes"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    for stop in range(fast.count + 1):
        assert fast.checksum(stop) == (slow.checksum_numpy(stop) if stop else 0)


def test_checksum_of_a_real_sized_piece_equals_the_reference():
    rng = random.Random(3)
    rows = [bytes(rng.randrange(32, 127) for _ in range(rng.randrange(0, 90))) for _ in range(5000)]
    text = b"\n".join(rows) + b"\n"
    assert Lines.index(text, 1).checksum() == checksum_of_records(rows)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"", b"AAA|1|", b"BP7|x|", b"ZZZ|3|", b"QQQ|1|", b"BP", b"BP7|", b"x" * 9000,
                                 b"SPI|1|2|", b"\xc3\xa9\xc3|"]), max_size=30))  # fmt: skip
def test_tally_equals_the_numpy_form(rows):
    lines = Lines.index(b"\n".join(rows) + b"\n", 1)
    assert _same(tally(lines), tally_numpy(lines))


def _same(a, b) -> bool:
    return np.array_equal(a.counts, b.counts) and (a.first_over, a.first_non_blank, a.last_non_blank, a.zzz, a.after_zzz,
                                                   a.strange, a.strange_total) == (b.first_over, b.first_non_blank,
                                                   b.last_non_blank, b.zzz, b.after_zzz, b.strange, b.strange_total)  # fmt: skip


def test_without_the_native_module_a_parse_gives_the_same_tables(small_market, monkeypatch):
    """A machine that cannot build _fields.c parses with the numpy and pyarrow forms: same header, same
    tables (money to the penny, line numbers, twins)."""
    import datetime as dt

    from p114_assets.core.s0142 import lines as lines_module
    from p114_assets.core.s0142 import parser, scan
    from p114_assets.core.synthetic import generate_file

    raw = gzip.compress(generate_file(small_market, dt.date(2024, 10, 2), "SF").text, mtime=0)
    native_parse = parser.parse_bytes(raw, "S0142_20241002_SF_20241024160807.gz")
    for module in (records, lines_module, scan):
        monkeypatch.setattr(module, "_fields", None)
    plain = parser.parse_bytes(raw, "S0142_20241002_SF_20241024160807.gz")
    assert plain.header == native_parse.header and plain.header.checksum_computed == native_parse.header.checksum_computed
    assert plain.header.record_counts == native_parse.header.record_counts
    for name, table in native_parse.tables.items():
        assert table.num_rows and table.equals(plain.tables[name]), name


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text("Aé|", max_size=120), min_size=1, max_size=20))
def test_the_native_pass_finds_each_text_columns_longest_value(names):
    """The value checks take a natively read text column's longest value from the split itself
    (instead of a pass over its offsets): the same number the offsets give."""
    text = "".join(f"XYZ|{name.replace('|', '')}|1|2|3|4|\n" for name in names).encode()
    lines = Lines.index(text, 1)
    rows = np.flatnonzero(lines.codes == int.from_bytes(b"XYZ|", "big"))
    table, longest = records._split_natively(lines, rows, LAYOUT.fields(), TYPES)
    assert longest == {"name": records._longest(table.column("name"))}


def test_an_over_long_text_is_refused_natively_as_pyarrows_read_refuses_it():
    """The same line and reason whether the lines were split natively or read by pyarrow."""
    long_name = "N" * (records.MAX_FIELD_CHARS + 1)
    text = f"XYZ|Ann|1|2|3|4|\nXYZ|{long_name}|1|2|3|4|\n".encode()
    lines = Lines.index(text, 7)
    rows = np.arange(lines.count)
    with pytest.raises(records.RecordError) as natively:
        records.read_lines(lines, rows, LAYOUT, TYPES, ())
    with pytest.raises(records.RecordError) as by_pyarrow:
        records.read_records(lines.as_arrow().take(pa.array(rows)), rows + 7, LAYOUT, TYPES, ())
    assert records._native(lines, rows, LAYOUT.fields(), TYPES) is not None  # the line is of the plain form
    assert (natively.value.line, natively.value.reason) == (by_pyarrow.value.line, by_pyarrow.value.reason)
    assert natively.value.line == 8 and "field 1 (name) is longer than 100 bytes" in natively.value.reason
