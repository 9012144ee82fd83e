"""The native BPI/BP7 join (_fields.join through nesting.native_join) against the numpy/pyarrow join it
replaces (nesting._match, _match_by_sort and _differs): the same BPI row for each BP7 row, the same
twins found to differ, and the same bm_unit_period table, over odd orderings, units repeated in a
period, blank values, chunked and sliced columns; and a refusal (None, so the general join runs)
wherever the native join is unsure."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p114_assets.core.s0142 import _fields, nesting
from p114_assets.core.s0142.layout import BPI_BP7_TWINS

TWIN_TYPES = {"trading_unit_name": pa.string(), "period_fpn_mwh": pa.decimal128(18, 3),
              "metered_volume_mwh": pa.decimal128(18, 3), "transmission_loss_multiplier": pa.float64(),
              "applicable_balancing_services_volume_mwh": pa.decimal128(18, 3)}  # fmt: skip


def test_the_twins_are_the_types_the_native_join_compares():
    """The bench file's types (raw table schema): a change there would quietly send every parse to
    the general join."""
    from p114_assets.core.s0142.tables import RAW_TABLES

    schema = RAW_TABLES["bm_unit_period"].arrow_schema()
    assert {c: schema.field(c).type for c in BPI_BP7_TWINS} == TWIN_TYPES
    assert all(nesting._twin_kind(t) for t in TWIN_TYPES.values())


def _value(column: str, raw):
    if raw is None:
        return None
    if column == "trading_unit_name":
        return ["T_A", "T_B", "U1", "U2"][raw % 4]
    if column == "transmission_loss_multiplier":
        return [1.0, 0.98, -0.0, 0.0][raw % 4]
    from decimal import Decimal

    return Decimal(raw % 7 - 3) / 1000


def _chunked(values: list, arrow_type: pa.DataType, cuts: list[int]) -> pa.ChunkedArray:
    """The values in chunks cut at `cuts`, each chunk a slice of a longer array (a non-zero offset)."""
    edges = sorted({0, len(values), *(c % (len(values) + 1) for c in cuts)})
    chunks = []
    for lo, hi in zip(edges, edges[1:]):
        padded = pa.array([values[lo]] * 2 + values[lo:hi] + [None], arrow_type) if hi > lo else pa.array([], arrow_type)
        chunks.append(padded.slice(2, hi - lo) if hi > lo else padded)
    return pa.chunked_array(chunks or [pa.array([], arrow_type)], arrow_type)


def _table(rows: list[tuple], cuts: list[int], first_line: int) -> tuple[pa.Table, np.ndarray]:
    """A BPI- or BP7-shaped table: (period, unit, *twin raws) rows."""
    columns = {"bm_unit_id": _chunked([f"U{unit}" for _, unit, *_ in rows], pa.string(), cuts)}
    for i, column in enumerate(BPI_BP7_TWINS):
        columns[column] = _chunked([_value(column, r[2 + i]) for r in rows], TWIN_TYPES[column], cuts)
    columns["line_number"] = pa.chunked_array([pa.array(np.arange(len(rows), dtype=np.int64) * 3 + first_line)])
    columns["extra_fields"] = pa.chunked_array([pa.nulls(len(rows), pa.string())])
    return pa.table(columns), np.array([p for p, *_ in rows], np.int64)


def _general(bpi, bpi_period, bp7, bp7_period):
    match = nesting._match(bpi, bpi_period, bp7, bp7_period)
    if match is None:
        match = nesting._match_by_sort(bpi, bpi_period, bp7, bp7_period)
    return match, nesting._differs(bp7, bpi, np.maximum(match, 0), match >= 0)


ROW = st.tuples(st.integers(1, 4), st.integers(0, 5),
                *(st.one_of(st.none(), st.integers(0, 9)) for _ in BPI_BP7_TWINS))  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(ROW, max_size=40), st.lists(ROW, max_size=40), st.lists(st.integers(0, 60), max_size=4),
       st.lists(st.integers(0, 60), max_size=4))  # fmt: skip
def test_the_native_join_equals_the_general_join(bpi_rows, bp7_rows, bpi_cuts, bp7_cuts):
    """Units repeated in a period (the first BPI wins), BP7 rows with no BPI and BPI rows with no BP7,
    blank twins on either side (a blank BPI trading unit stands for the BP7 row's own unit id), any
    order, any chunking: the same match, the same differences, the same table."""
    bpi, bpi_period = _table(bpi_rows, bpi_cuts, 10)
    bp7, bp7_period = _table(bp7_rows, bp7_cuts, 11)
    got = nesting.native_join(bpi, bpi_period, bp7, bp7_period)
    assert got is not None
    match, differs = got
    expected_match, expected_differs = _general(bpi, bpi_period, bp7, bp7_period)
    assert np.array_equal(match, expected_match)
    assert differs.keys() == expected_differs.keys()
    for column, mask in differs.items():
        assert np.array_equal(mask, expected_differs[column]), column
    _same_table(bpi, bpi_period, bp7, bp7_period)


def _same_table(bpi, bpi_period, bp7, bp7_period, monkeypatch=None):
    lead = pa.array(["P"] * bp7.num_rows, pa.string())
    native = nesting.bm_unit_period(bpi, bpi_period, bp7, bp7_period, lead)
    keep = nesting.native_join
    nesting.native_join = lambda *args: None
    try:
        general = nesting.bm_unit_period(bpi, bpi_period, bp7, bp7_period, lead)
    finally:
        nesting.native_join = keep
    assert native.equals(general)
    return native


def test_a_difference_is_named_the_same_way_by_both_joins():
    bpi, bpi_period = _table([(1, 0, None, 1, 2, 0, 3), (1, 1, 1, 1, 2, 1, 3)], [], 10)
    bp7, bp7_period = _table([(1, 1, 2, 1, 2, 1, 3), (1, 0, 2, 1, 5, 0, 3)], [1], 11)
    table = _same_table(bpi, bpi_period, bp7, bp7_period)
    assert table.column("bpi_bp7_mismatch").to_pylist() == [
        "trading_unit_name: BPI T_B, BP7 U1",
        "trading_unit_name: BPI blank (so U0), BP7 U1; metered_volume_mwh: BPI -0.001, BP7 0.002",
    ]


def test_periods_too_far_apart_are_left_to_the_general_join():
    """Direct addressing needs periods x units slots; past the cap the native join says None."""
    bpi, bpi_period = _table([(1, 0, 1, 1, 1, 1, 1), (10**9, 1, 1, 1, 1, 1, 1)], [], 10)
    bp7, bp7_period = _table([(10**9, 1, 1, 1, 1, 1, 1)], [], 11)
    assert nesting.native_join(bpi, bpi_period, bp7, bp7_period) is None
    assert _same_table(bpi, bpi_period, bp7, bp7_period).column("bpi_line_number").to_pylist() == [13, 10]


def test_negative_and_missing_periods_join_as_the_general_join_does():
    bpi, bpi_period = _table([(-2, 0, 1, 1, 1, 1, 1), (3, 0, 1, 2, 1, 1, 1)], [], 10)
    bp7, bp7_period = _table([(3, 0, 1, 1, 1, 1, 1), (-2, 0, 1, 1, 1, 1, 1), (7, 0, 1, 1, 1, 1, 1)], [], 11)
    match, differs = nesting.native_join(bpi, bpi_period, bp7, bp7_period)
    assert match.tolist() == [1, 0, -1] and list(differs) == ["period_fpn_mwh"]
    _same_table(bpi, bpi_period, bp7, bp7_period)


def test_empty_sides():
    bpi, bpi_period = _table([], [], 10)
    bp7, bp7_period = _table([(1, 0, 1, 1, 1, 1, 1)], [], 11)
    assert nesting.native_join(bpi, bpi_period, bp7, bp7_period)[0].tolist() == [-1]
    assert nesting.native_join(bp7, bp7_period, bpi, bpi_period)[0].tolist() == []
    _same_table(bpi, bpi_period, bp7, bp7_period)
    _same_table(bp7, bp7_period, bpi, bpi_period)


def test_a_null_unit_or_an_unknown_type_is_left_to_the_general_join():
    bpi, bpi_period = _table([(1, 0, 1, 1, 1, 1, 1)], [], 10)
    bp7, bp7_period = _table([(1, 0, 1, 1, 1, 1, 1)], [], 11)
    nulls = bp7.set_column(0, "bm_unit_id", pa.chunked_array([pa.array([None], pa.string())]))
    assert nesting.native_join(bpi, bpi_period, nulls, bp7_period) is None
    index = bpi.schema.get_field_index("period_fpn_mwh")
    wide = bpi.set_column(index, "period_fpn_mwh", bpi.column(index).cast(pa.decimal128(38, 3)))
    assert nesting.native_join(wide, bpi_period, bp7, bp7_period) is None
    other = bpi.set_column(index, "period_fpn_mwh", bpi.column(index).cast(pa.decimal128(18, 4)))
    assert nesting.native_join(other, bpi_period, bp7, bp7_period) is None  # the twins' types differ


def test_bad_buffers_are_refused_not_read():
    """A chunk that claims more rows than its buffers hold is an error, never a read past them."""
    units = [(None, np.array([0, 2], np.int32).tobytes(), b"U1", 0, 1)]
    with pytest.raises(ValueError):
        _fields.join(np.array([1, 1], np.int64), units, np.array([1], np.int64), units, [], 100)
    short = [(None, np.array([0, 9], np.int32).tobytes(), b"U1", 0, 1)]
    with pytest.raises(ValueError):
        _fields.join(np.array([1], np.int64), short, np.array([1], np.int64), units, [], 100)
    with pytest.raises(ValueError):
        _fields.join(np.array([1], np.int64), units, np.array([1], np.int64), units,
                     [("d", [(None, b"\0" * 8, None, 0, 1)], [(None, b"\0" * 16, None, 0, 1)], None)], 100)  # fmt: skip


def test_a_parse_without_the_native_join_gives_the_same_tables(small_market, monkeypatch):
    import datetime as dt
    import gzip

    from p114_assets.core.s0142 import parser
    from p114_assets.core.synthetic import generate_file

    raw = gzip.compress(generate_file(small_market, dt.date(2024, 10, 2), "SF").text, mtime=0)
    native = parser.parse_bytes(raw, "S0142_20241002_SF_20241024160807.gz")
    monkeypatch.setattr(nesting, "_fields", None)
    general = parser.parse_bytes(raw, "S0142_20241002_SF_20241024160807.gz")
    for name, table in native.tables.items():
        assert table.num_rows and table.equals(general.tables[name]), name


def _attach_both(markers: nesting.Markers, table: pa.Table, section: int):
    """Markers.attach natively and in numpy: each a result or the NestingError's (reason, line)."""
    outcomes = []
    for native in (nesting._fields, None):
        keep = nesting._fields
        nesting._fields = native
        try:
            period, party = markers.attach(table, "XYZ", section)
            outcomes.append((period.tolist(), party.tolist()))
        except nesting.NestingError as exc:
            outcomes.append((exc.reason, exc.line))
        finally:
            nesting._fields = keep
    return outcomes


MARKER = st.tuples(st.sampled_from(["SPI", "SP7", "BPH"]), st.integers(1, 48))


@settings(max_examples=300, deadline=None)
@given(st.lists(MARKER, max_size=12), st.lists(st.integers(1, 40), max_size=25), st.booleans(),
       st.sampled_from([nesting.SPI, nesting.SP7]), st.lists(st.integers(0, 25), max_size=3))  # fmt: skip
def test_records_are_placed_natively_as_numpy_places_them(markers_, record_lines, ordered, section, cuts):
    """The marker in force at each record (its period and party), and the first record outside its
    section named by line, whether the records come in line order or not, in any chunking."""
    lines = {"SPI": [], "SP7": [], "BPH": []}
    for place, (kind, period) in enumerate(markers_):
        lines[kind].append((place * 3 + 2, period))
    tables = {kind: pa.table({"line_number": pa.array([line for line, _ in rows], pa.int64()),
                              "settlement_period": pa.array([p for _, p in rows], pa.int64()),
                              "party_id": pa.array([f"P{line}" for line, _ in rows], pa.string())})
              for kind, rows in lines.items()}  # fmt: skip
    markers = nesting.Markers.build(tables["SPI"], tables["SP7"], tables["BPH"])
    numbers = sorted(set(record_lines)) if ordered else record_lines
    records = pa.table({"line_number": _chunked(numbers, pa.int64(), cuts)})
    native, numpy_ = _attach_both(markers, records, section)
    assert native == numpy_


def test_a_real_sized_join_compares_its_twins_in_two_threads_as_the_general_join_does():
    """Past 4,096 matched rows the twin columns are split between two threads: the same result."""
    rng = np.random.default_rng(5)
    raws = lambda n: rng.integers(-1, 10, (n, len(BPI_BP7_TWINS))).tolist()  # noqa: E731
    bpi_rows = [(p, u, *(None if v < 0 else v for v in vals)) for (p, u), vals in
                zip([(p, u) for p in range(1, 9) for u in range(700)], raws(5600))]  # fmt: skip
    order = rng.permutation(len(bpi_rows))
    bp7_rows = [(bpi_rows[i][0], bpi_rows[i][1], *(None if v < 0 else v for v in vals))
                for i, vals in zip(order[:5000], raws(5000))]  # fmt: skip
    bpi, bpi_period = _table(bpi_rows, [1000, 3333], 10)
    bp7, bp7_period = _table(bp7_rows, [77, 4000], 11)
    match, differs = nesting.native_join(bpi, bpi_period, bp7, bp7_period)
    expected_match, expected_differs = _general(bpi, bpi_period, bp7, bp7_period)
    assert np.array_equal(match, expected_match) and (match >= 0).all()
    assert differs.keys() == expected_differs.keys() == set(BPI_BP7_TWINS)
    for column, mask in differs.items():
        assert np.array_equal(mask, expected_differs[column]), column
    _same_table(bpi, bpi_period, bp7, bp7_period)


@settings(max_examples=200, deadline=None)
@given(st.permutations(list(range(9))), st.integers(2, 5), st.lists(st.tuples(st.integers(0, 60), st.sampled_from(
    ["drop", "swap", "stranger", "repeat"])), max_size=6), st.booleans(), st.lists(st.integers(0, 60), max_size=3))  # fmt: skip
def test_units_in_repeating_runs_join_as_the_general_join_does(units, periods, edits, by_party, cuts):
    """The native join guesses each row's unit from the one that followed the previous row's unit
    last time (every period lists the units in the same order): runs broken by a dropped, swapped,
    repeated or unknown unit (ids sharing a prefix: U1, U10, U100), and BP7 in party blocks, give
    the same match and differences as the general join."""
    ids = [10**k if k < 3 else k for k in units]  # U1, U10, U100 and single digits
    bpi_keys = [(p, u) for p in range(1, periods + 1) for u in ids]
    bp7_keys = ([(p, u) for block in (ids[:4], ids[4:]) for p in range(1, periods + 1) for u in block]
                if by_party else list(bpi_keys))  # fmt: skip
    for at, edit in edits:
        i = at % len(bp7_keys)
        if edit == "drop" and len(bp7_keys) > 1:
            del bp7_keys[i]
        elif edit == "swap" and i + 1 < len(bp7_keys):
            bp7_keys[i], bp7_keys[i + 1] = bp7_keys[i + 1], bp7_keys[i]
        elif edit == "stranger":
            bp7_keys.insert(i, (bp7_keys[i][0], 1000 + at))  # no BPI has it
        elif edit == "repeat":
            bpi_keys.insert(at % len(bpi_keys), bpi_keys[at % len(bpi_keys)])  # a unit twice in a period
    bpi, bpi_period = _table([(p, u, u % 10, 1, 2, 3, 4) for p, u in bpi_keys], cuts, 10)
    bp7, bp7_period = _table([(p, u, u % 10, 1, 2, 3, (u + p) % 3) for p, u in bp7_keys], cuts, 11)
    match, differs = nesting.native_join(bpi, bpi_period, bp7, bp7_period)
    expected_match, expected_differs = _general(bpi, bpi_period, bp7, bp7_period)
    assert np.array_equal(match, expected_match)
    assert differs.keys() == expected_differs.keys()
    for column, mask in differs.items():
        assert np.array_equal(mask, expected_differs[column]), column


def test_a_join_big_enough_for_two_threads_equals_the_general_join():
    """Past 4,096 matched rows the native join compares the twins in two threads, each a half of the
    rows (earlier and later periods): differences in either half, and in the row at the cut, are
    all found, and the BPI rows used (which the native join reports) are the general join's."""
    rng = np.random.default_rng(7)
    keys = [(period, unit) for period in range(1, 11) for unit in range(700)]  # 7,000 BPI rows
    bpi_rows = [(p, u, *(int(v) for v in rng.integers(0, 3, len(BPI_BP7_TWINS)))) for p, u in keys]
    bpi_rows = [tuple(None if (i >= 2 and v == 2) else v for i, v in enumerate(row)) for row in bpi_rows]
    bp7_rows = [row for row in bpi_rows[::-1] if row[1] % 50]  # another order; some BPI rows left alone
    bp7_rows[0] = (bp7_rows[0][0], bp7_rows[0][1], 3, *bp7_rows[0][3:])  # one difference: file order's first row
    middle = len(bp7_rows) // 2
    bp7_rows[middle] = (*bp7_rows[middle][:3], 1, 1, 1, 1)  # and at the cut between the halves (or near it)
    bpi, bpi_period = _table(bpi_rows, [1234, 5000], 10)
    bp7, bp7_period = _table(bp7_rows, [77, 3333, 6000], 11)
    match, differs, used = nesting.native_join(bpi, bpi_period, bp7, bp7_period, True)
    expected_match, expected_differs = _general(bpi, bpi_period, bp7, bp7_period)
    assert np.array_equal(match, expected_match)
    assert differs.keys() == expected_differs.keys() and differs
    for column, mask in differs.items():
        assert np.array_equal(mask, expected_differs[column]), column
    expected_used = np.zeros(bpi.num_rows, bool)
    expected_used[expected_match[expected_match >= 0]] = True
    assert np.array_equal(used, expected_used) and not used.all()
    _same_table(bpi, bpi_period, bp7, bp7_period)
