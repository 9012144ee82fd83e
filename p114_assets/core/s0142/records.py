"""The records of one type, typed as their table declares them, and held to their layout.

The fast path (`read_lines`) splits each piece's lines of a type in place, in one native pass
(_fields.c): exactly the layout's fields, numbers as -?digits[.digits] converted straight to int64,
float64 or decimal128 (a decimal column's scaled integer, with no generic decimal parser). Any line
outside that plain form sends the piece's lines of that type to pyarrow's CSV reader
(`read_records`), which reads fields appended by a newer flow version into `extra_fields` and
otherwise finds the line and field to blame. The native pass accepts only what that reader accepts
and converts it to the same values (a test holds them to it), so every refusal is that reader's.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from p114_assets.core.s0142.layout import MAX_EXTRA_FIELDS, MAX_FIELD_CHARS, RecordLayout
from p114_assets.core.s0142.lines import Lines, _fields  # None where not built: every read takes pyarrow's path

PIPE, CR = 124, 13
_PARSE = pacsv.ParseOptions(delimiter="|", quote_char=False, double_quote=False, newlines_in_values=False,
                            ignore_empty_lines=False)  # fmt: skip


class RecordError(ValueError):
    """A record that breaks its layout: the parser turns it into an S0142Error with the file name."""

    def __init__(self, reason: str, line: int):
        super().__init__(reason)
        self.reason, self.line = reason, line


def text_of_lines(lines: pa.LargeStringArray) -> tuple[pa.Buffer, np.ndarray]:
    """The text of `lines` back-to-back, and each line's offset in it (one more than lines)."""
    offsets = np.frombuffer(lines.buffers()[1], np.int64)[lines.offset : lines.offset + len(lines) + 1]
    base = int(offsets[0])
    return lines.buffers()[2].slice(base, int(offsets[-1]) - base), offsets - base


def read_records(lines: pa.LargeStringArray, line_numbers: np.ndarray, layout: RecordLayout,
                 types: dict[str, pa.DataType], required: tuple[str, ...]) -> pa.Table:  # fmt: skip
    """Every line of one record type (each holding its line end) as typed columns named by the layout,
    plus line_number and extra_fields. `required` columns may not be blank."""
    fields = layout.fields()
    if len(lines) == 0:
        return _empty(fields, types)
    data, offsets = text_of_lines(lines)
    first = bytes(data[: offsets[1]]).rstrip(b"\r\n")
    n_fields = first.count(b"|") - 1  # the id is followed by '|', and so is every field
    table = None
    if first.endswith(b"|") and layout.width <= n_fields <= layout.width + MAX_EXTRA_FIELDS:
        table = _fast(data, len(lines), fields, n_fields, types)
    if table is None:
        table = _slow(data, offsets, line_numbers, layout, types)
    table = table.append_column("line_number", pa.array(line_numbers, pa.int64()))
    _check_values(table, fields, types, required, layout)
    return table


def read_lines(lines: Lines, rows: np.ndarray, layout: RecordLayout, types: dict[str, pa.DataType],
               required: tuple[str, ...]) -> pa.Table:  # fmt: skip
    """Lines `rows` of a piece, all of one record type, as read_records reads them: natively when
    every line is of the plain form, else by read_records."""
    numbers = rows + lines.first_line
    fields, kinds = _plan(layout, types)
    native = _split_natively(lines, rows, fields, types, kinds)
    if native is None:
        return read_records(lines.as_arrow().take(pa.array(rows)), numbers, layout, types, required)
    table, longest = native
    table = table.append_column("line_number", pa.array(numbers, pa.int64()))
    _check_values(table, fields, types, required, layout, longest)
    return table


_PLANS: dict[tuple[RecordLayout, int], tuple[dict, list, bytes | None]] = {}


def _plan(layout: RecordLayout, types: dict[str, pa.DataType]) -> tuple[list, bytes | None]:
    """A record type's fields and native kinds, worked out once (a parse reads ~120 pieces). Keyed
    by the layout itself (frozen: a variant of another width is another key) and the types object,
    which the entry keeps alive so that its id is not reused."""
    key = (layout, id(types))
    found = _PLANS.get(key)
    if found is None:
        fields = layout.fields()
        found = _PLANS[key] = (types, fields, native_kinds(fields, types))
    return found[1], found[2]


def native_kinds(fields, types: dict[str, pa.DataType]) -> bytes | None:
    """One letter a field for _fields.columns (s string, i int64, f float64, a digit: decimal128(18,
    that scale)); None when a column has a type the native pass does not make."""
    kinds = []
    for f in fields:
        t = types[f.column]
        if t == pa.string():
            kinds.append("s")
        elif t == pa.int64():
            kinds.append("i")
        elif t == pa.float64():
            kinds.append("f")
        elif pa.types.is_decimal128(t) and t.precision == 18 and 0 <= t.scale <= 9:
            kinds.append(str(t.scale))
        else:
            return None
    return "".join(kinds).encode()


def _native(lines: Lines, rows: np.ndarray, fields, types) -> pa.Table | None:
    """The lines split natively; None where a line is not of the plain form."""
    native = _split_natively(lines, rows, fields, types)
    return native[0] if native is not None else None


def _split_natively(lines: Lines, rows: np.ndarray, fields, types, kinds: bytes | None = None) -> tuple[pa.Table, dict[str, int]] | None:  # fmt: skip
    """_native, and each string column's longest value in bytes (for _check_values). `kinds`:
    native_kinds(fields, types), when the caller has it."""
    if _fields is None:
        return None
    if kinds is None:
        kinds = native_kinds(fields, types)
    if kinds is None:
        return None
    split = _fields.columns(lines.text, lines.starts, lines.ends, rows.astype(np.int64, copy=False), kinds)
    if split is None:
        return None
    n, arrays, longest = len(rows), [], {}
    for f, (valid, values, offsets, nulls, most) in zip(fields, split):
        t = types[f.column]
        validity = pa.py_buffer(valid) if nulls else None
        buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(values)] if offsets is not None else [validity, pa.py_buffer(values)]
        arrays.append(pa.Array.from_buffers(t, n, buffers, null_count=nulls))
        if offsets is not None:
            longest[f.column] = most
    arrays.append(pa.nulls(n, pa.string()))
    return pa.Table.from_arrays(arrays, names=[*(f.column for f in fields), "extra_fields"]), longest


def _names(fields, n_fields: int) -> list[str]:
    return ["_id", *(f.column for f in fields), *(f"_extra_{i}" for i in range(n_fields - len(fields))), "_end"]


def _convert(fields, n_fields: int, types: dict[str, pa.DataType]) -> pacsv.ConvertOptions:
    column_types = {name: pa.string() for name in _names(fields, n_fields)}
    column_types.update({f.column: types[f.column] for f in fields})
    return pacsv.ConvertOptions(column_types=column_types, null_values=[""], strings_can_be_null=True,
                                quoted_strings_can_be_null=False, check_utf8=False,  # UTF-8 is checked on the bytes
                                include_columns=_names(fields, n_fields)[1:])  # fmt: skip


def _read(data: pa.Buffer, fields, n_fields: int, types: dict[str, pa.DataType]) -> pa.Table:
    # threads pay off only on big batches; a small one is read faster on this thread
    options = pacsv.ReadOptions(column_names=_names(fields, n_fields), block_size=1 << 20, use_threads=data.size > 1 << 20)
    return pacsv.read_csv(pa.BufferReader(data), options, _PARSE, _convert(fields, n_fields, types))


def _fast(data: pa.Buffer, n_lines: int, fields, n_fields: int, types) -> pa.Table | None:
    """Every line with the first line's field count and every value converting: one typed read."""
    try:
        table = _read(data, fields, n_fields, types)
    except pa.ArrowException:
        return None
    if table.num_rows != n_lines or table.column("_end").null_count != n_lines:
        return None  # a line without its trailing '|', or a stray CR that split a line: find it slowly
    return _with_extra_fields(table.drop_columns(["_end"]), fields)


def _with_extra_fields(table: pa.Table, fields) -> pa.Table:
    """Fields past the layout, '|'-joined without trailing blanks (NULL when there are none)."""
    extras = [name for name in table.column_names if name.startswith("_extra_")]
    if not extras:
        return table.append_column("extra_fields", pa.nulls(table.num_rows, pa.string()))
    parts = [pc.fill_null(table.column(name), "") for name in extras]
    joined = pc.utf8_rtrim(pc.binary_join_element_wise(*parts, "|"), characters="|")
    joined = pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)
    return table.drop_columns(extras).append_column("extra_fields", joined)


def _slow(data: pa.Buffer, offsets: np.ndarray, line_numbers: np.ndarray, layout: RecordLayout, types) -> pa.Table:
    """Per-line checks on the bytes, then one read per field count (newer flow versions append
    fields, and a file may mix record lengths); the first bad line in file order is blamed."""
    arr = np.frombuffer(data, np.uint8)
    starts, nexts = offsets[:-1], offsets[1:]
    ends = nexts - (arr[nexts - 1] == 10)
    ends = ends - ((ends > starts) & (arr[np.maximum(ends - 1, 0)] == CR))
    pipes = np.add.reduceat((arr == PIPE).astype(np.int32), starts) - 1 if arr.size else np.zeros(0, np.int32)
    crs = np.add.reduceat((arr == CR).astype(np.int32), starts) - (nexts - ends == 2)
    no_trailing = arr[np.maximum(ends - 1, 0)] != PIPE
    problems = [
        (no_trailing, lambda i: f"{layout.record_id} record does not end with '|'"),
        (crs > 0, lambda i: f"{layout.record_id} record holds a carriage return inside the line"),
        (pipes < layout.width,
         lambda i: f"{layout.record_id} has {pipes[i]} fields but its layout has {layout.width} (a field is missing)"),
        (pipes > layout.width + MAX_EXTRA_FIELDS,
         lambda i: f"{layout.record_id} has {pipes[i]} fields, more than its {layout.width} and "
                   f"{MAX_EXTRA_FIELDS} appended ones"),
    ]  # fmt: skip
    firsts = [(int(np.flatnonzero(bad)[0]), message) for bad, message in problems if bad.any()]
    if firsts:
        index, message = min(firsts, key=lambda item: item[0])
        raise RecordError(message(index), int(line_numbers[index]))

    fields = layout.fields()
    lines = pa.LargeStringArray.from_buffers(len(starts), pa.py_buffer(offsets), data)
    parts, order = [], []
    for n_fields in np.unique(pipes):  # fields per line
        rows = np.flatnonzero(pipes == n_fields)
        taken = lines.take(rows)
        try:
            table = _read(text_of_lines(taken)[0], fields, int(n_fields), types)
        except pa.ArrowException:
            index = _first_bad_line(taken, fields, int(n_fields), types)
            raise RecordError(_bad_value(taken[index].as_py(), fields, types, layout), int(line_numbers[rows[index]])) from None
        parts.append(_with_extra_fields(table.drop_columns(["_end"]), fields))
        order.append(rows)
    table = pa.concat_tables(parts, promote_options="none") if len(parts) > 1 else parts[0]
    return table.take(np.argsort(np.concatenate(order), kind="stable"))


def _first_bad_line(lines: pa.LargeStringArray, fields, n_fields: int, types) -> int:
    """The first line of `lines` that the typed read rejects, by bisection (about 2 x the read)."""
    lo, hi = 0, len(lines)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            _read(text_of_lines(lines.slice(lo, mid - lo))[0], fields, n_fields, types)
            lo = mid
        except pa.ArrowException:
            hi = mid
    return lo


def _bad_value(line: str, fields, types, layout: RecordLayout) -> str:
    """Which field of one rejected line does not convert, and what it holds."""
    values = line.rstrip("\r\n").split("|")[1:]
    for f, value in zip(fields, values):
        if value == "" or types[f.column] == pa.string():
            continue
        try:
            pa.array([value]).cast(types[f.column])
        except pa.ArrowException:
            return f"{layout.record_id} field {f.pos} ({f.column}) is {value!r}, not {_kind(types[f.column])}"
    return f"{layout.record_id} record does not convert: {line.rstrip()[:120]!r}"


def _kind(arrow_type: pa.DataType) -> str:
    if pa.types.is_integer(arrow_type):
        return "an int number"
    if pa.types.is_decimal(arrow_type):
        return f"a decimal number of at most {arrow_type.scale} decimals"
    return "a float number"


def _check_values(table: pa.Table, fields, types, required: tuple[str, ...], layout: RecordLayout,
                  native_longest: dict[str, int] | None = None) -> None:  # fmt: skip
    """No NaN or infinity, no over-long text, no blank in a key field: each names its line and field.
    `native_longest` (columns read natively): each string column's longest value, found while the
    lines were split; their numbers need no finiteness check (the native reader takes only
    -?digits[.digits] of at most 15 significant digits, always finite)."""
    line_numbers = table.column("line_number")

    def fail(what: str, f, bad: pa.ChunkedArray) -> None:
        index = pc.index(bad, True).as_py()
        value = table.column(f.column)[index].as_py()
        shown = f"{value!r}" if isinstance(value, str) and len(value) <= 40 else str(value)[:40]
        raise RecordError(f"{layout.record_id} field {f.pos} ({f.column}) {what.format(shown)}", line_numbers[index].as_py())

    for f in fields:
        column, arrow_type = table.column(f.column), types[f.column]
        if f.column in required and column.null_count:
            fail(f"is blank, but every {layout.record_id} needs one", f, pc.is_null(column))
        if pa.types.is_floating(arrow_type) and native_longest is None:
            total = pc.sum(column).as_py()  # NaN and infinities make the sum non-finite: one cheap pass
            if total is not None and not np.isfinite(total) and not pc.all(pc.is_finite(column)).as_py():
                fail("is {}, not a finite number", f, pc.invert(pc.is_finite(column)))
        elif pa.types.is_string(arrow_type) and (
                native_longest[f.column] if native_longest is not None else _longest(column)) > MAX_FIELD_CHARS:
            fail(f"is longer than {MAX_FIELD_CHARS} bytes", f, pc.greater(pc.binary_length(column), MAX_FIELD_CHARS))


def _longest(column: pa.ChunkedArray) -> int:
    """The longest value in bytes, from the offsets alone."""
    longest = 0
    for chunk in column.chunks:
        if len(chunk):
            offsets = np.frombuffer(chunk.buffers()[1], np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
            longest = max(longest, int(np.diff(offsets).max()))
    return longest


def _empty(fields, types) -> pa.Table:
    schema = pa.schema([*(pa.field(f.column, types[f.column]) for f in fields),
                        pa.field("extra_fields", pa.string()), pa.field("line_number", pa.int64())])  # fmt: skip
    return schema.empty_table()
