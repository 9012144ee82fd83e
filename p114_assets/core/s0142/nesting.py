"""Nesting by order: the period, party and BM unit of each record, and BPI joined with its BP7 twin.

An S0142 file is flat; a record's context is whatever marker record (SPI, SP7, BPH, BPI) came last
above it. With the markers' line numbers sorted, a binary search of each record's line number finds
it: numpy over arrays, no join and no Python loop per record.

Where the native module is built (_fields.c), Markers.attach is one merge of the sorted line numbers
and the BPI/BP7 join one pass (native_join); the numpy/pyarrow forms here are their fallback and
reference (test_parser_join.py holds them to each other).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from p114_assets.core.s0142.layout import BPI_BLANK_MEANS, BPI_BP7_TWINS
from p114_assets.core.s0142.lines import _fields  # None where not built: the numpy/pyarrow join

SPI, SP7, BPH = 0, 1, 2
_WHERE = {SPI: "a system period (after an SPI)", SP7: "a party period block (after BPH and SP7)"}
# The most periods x units a BPI/BP7 join addresses directly (_match, native_join); past it the
# general match by sort.
_MAX_SLOTS = 50_000_000


class NestingError(ValueError):
    def __init__(self, reason: str, line: int):
        super().__init__(reason)
        self.reason, self.line = reason, line


def line_numbers(table: pa.Table, column: str = "line_number") -> np.ndarray:
    return table.column(column).to_numpy()


@dataclass
class Markers:
    """The context in force after each marker line: SPI starts a period of the system section and
    clears the party; BPH starts a party and clears the period; SP7 starts a period in the party."""

    lines: np.ndarray  # sorted line numbers
    section: np.ndarray  # SPI, SP7 or BPH
    period: np.ndarray  # int64; -1 after a BPH
    party: np.ndarray  # index into `parties`; -1 where no party is in force
    parties: pa.Array

    @classmethod
    def build(cls, spi: pa.Table, sp7: pa.Table, bph: pa.Table) -> "Markers":
        lines = np.concatenate([line_numbers(spi), line_numbers(sp7), line_numbers(bph)])
        section = np.repeat(np.array([SPI, SP7, BPH], np.int8), [spi.num_rows, sp7.num_rows, bph.num_rows])
        period = np.concatenate([spi.column("settlement_period").to_numpy(), sp7.column("settlement_period").to_numpy(),
                                 np.full(bph.num_rows, -1, np.int64)]).astype(np.int64)  # fmt: skip
        party_of = np.concatenate([np.full(spi.num_rows + sp7.num_rows, -1), np.arange(bph.num_rows)])
        order = np.argsort(lines, kind="stable")
        lines, section, period, party_of = lines[order], section[order], period[order], party_of[order]
        setter = np.where(section != SP7, np.arange(lines.size), -1)  # SPI and BPH set (or clear) the party
        last_setter = np.maximum.accumulate(setter) if setter.size else setter
        party = np.where(last_setter >= 0, party_of[np.maximum(last_setter, 0)], -1).astype(np.int64)
        return cls(lines.astype(np.int64), section, period, party, bph.column("party_id").combine_chunks())

    def attach(self, table: pa.Table, record_id: str, section: int) -> tuple[np.ndarray, np.ndarray]:
        """The period and party index of each record, insisting it sits in the right section."""
        if _fields is not None:  # one merge of the sorted line numbers, chunk by chunk (no copy of them)
            column = table.column("line_number")
            chunks = [(chunk.buffers()[1], chunk.offset, len(chunk)) for chunk in column.chunks]
            period, party, wrong = _fields.attach(self.lines, self.section, self.period, self.party, chunks, section, True)
            if wrong >= 0:
                raise NestingError(f"{record_id} record is not inside {_WHERE[section]}", column[wrong].as_py())
            return np.frombuffer(period, np.int64), np.frombuffer(party, np.int64)
        numbers = line_numbers(table)
        if not self.lines.size and numbers.size:  # no marker at all: the first record is outside
            raise NestingError(f"{record_id} record is not inside {_WHERE[section]}", int(numbers[0]))
        position = np.searchsorted(self.lines, numbers, side="right") - 1
        wrong = (position < 0) | (self.section[np.maximum(position, 0)] != section)
        if section == SP7:  # a party period block needs its party
            wrong |= self.party[np.maximum(position, 0)] < 0
        if wrong.any():
            raise NestingError(f"{record_id} record is not inside {_WHERE[section]}", int(numbers[np.argmax(wrong)]))
        return self.period[position], self.party[position]

    def party_ids(self, index: np.ndarray) -> pa.Array:
        if not index.size or index.min() >= 0:  # every record has its party (always so in a party block)
            return self.parties.take(pa.array(index))
        return self.parties.take(pa.array(index, mask=index < 0))


def attach_unit(bo4: pa.Table, bpi: pa.Table, markers: Markers, bpi_lines: np.ndarray | None = None) -> pa.ChunkedArray:
    """The BM unit of each BO4: the BPI above it, with no marker (a new period or party) between.
    (`bpi_lines`: line_numbers(bpi), when the caller has them.)"""
    bo4_lines = line_numbers(bo4)
    bpi_lines = line_numbers(bpi) if bpi_lines is None else bpi_lines
    unit = np.searchsorted(bpi_lines, bo4_lines, side="right") - 1
    marker = np.searchsorted(markers.lines, bo4_lines, side="right") - 1
    above = bpi_lines[np.maximum(unit, 0)] if bpi_lines.size else np.zeros(bo4_lines.size, np.int64)
    orphan = (unit < 0) | ((marker >= 0) & (markers.lines[np.maximum(marker, 0)] > above))
    if orphan.any():
        raise NestingError("BO4 record is not under a BPI of its period", int(bo4_lines[np.argmax(orphan)]))
    return bpi.column("bm_unit_id").take(pa.array(unit))  # from the chunks: the few BO4 units, not every BPI's


def bm_unit_period(bpi: pa.Table, bpi_period: np.ndarray, bp7: pa.Table, bp7_period: np.ndarray,
                   lead_party: pa.Array, bpi_lines: np.ndarray | None = None) -> pa.Table:  # fmt: skip
    """BPI and BP7 of the same unit and period in one row, with BP7's values where both exist; BPI
    rows with no BP7 keep their own values. Columns: BP7's fields, settlement_period, lead_party_id,
    bpi_bp7_mismatch, bpi_line_number, bp7_line_number, extra_fields."""
    joined = native_join(bpi, bpi_period, bp7, bp7_period, True)  # with_used (positional: tests stub it)
    used = None  # which BPI rows a BP7 row took: from the native join, else from `match` below
    if joined is None:
        match = _match(bpi, bpi_period, bp7, bp7_period)
        if match is None:  # a unit twice in a period: each BP7 row takes the first such BPI
            match = _match_by_sort(bpi, bpi_period, bp7, bp7_period)
        differs = None
    else:
        match, differs, used = joined
    matched = match >= 0
    every = bool(matched.all())  # the usual file: every BP7 has its BPI, so no mask and no clipped copy
    out = bp7.rename_columns(["bp7_line_number" if c == "line_number" else c for c in bp7.column_names])
    out = out.append_column("settlement_period", pa.array(bp7_period, pa.int64()))
    out = out.append_column("lead_party_id", lead_party)
    index = match if every else np.maximum(match, 0)
    bpi_lines = line_numbers(bpi) if bpi_lines is None else bpi_lines
    taken = bpi_lines[index] if bpi.num_rows else np.zeros(len(match), np.int64)  # masked where unmatched
    out = out.append_column("bpi_line_number", pa.array(taken, pa.int64(), mask=None if every else ~matched))
    if differs is None:
        differs = _differs(bp7, bpi, index, matched)
    out = out.append_column("bpi_bp7_mismatch", _mismatch(bp7, bpi, index, differs))
    if bpi.column("extra_fields").null_count < bpi.num_rows:
        bpi_extra = pc.if_else(pa.array(matched), _gather(bpi.column("extra_fields"), index), pa.scalar(None, pa.string()))
        out = out.set_column(out.schema.get_field_index("extra_fields"), "extra_fields",
                             _with_bpi_extra(out.column("extra_fields"), bpi_extra))

    if used is None:
        used = np.zeros(bpi.num_rows, bool)
        used[match[matched]] = True
    if used.all():
        return out
    lonely = pa.array(np.flatnonzero(~used))
    rest = bpi.take(lonely)
    columns = {c: rest.column(c) for c in ("bm_unit_id", *BPI_BP7_TWINS)}
    columns["settlement_period"] = pa.array(bpi_period[~used], pa.int64())
    columns["bpi_line_number"] = rest.column("line_number")
    columns["extra_fields"] = _with_bpi_extra(pa.nulls(len(lonely), pa.string()), rest.column("extra_fields"))
    extra = pa.table({name: columns.get(name, pa.nulls(len(lonely), out.schema.field(name).type))
                      for name in out.column_names}, schema=out.schema)  # fmt: skip
    return pa.concat_tables([out, extra])


def _gather(column: pa.ChunkedArray, index: np.ndarray) -> pa.Array:
    """column[index]."""
    return column.take(pa.array(index))


def _numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """A number column in numpy, without copying through Arrow: values (float64, or a decimal's
    scaled integer: decimal128(18, s) always fits its low 64-bit word) and validity."""
    values, valid = [], []
    for chunk in column.chunks:
        n, offset = len(chunk), chunk.offset
        if pa.types.is_decimal128(chunk.type) and chunk.type.precision <= 18:
            values.append(np.frombuffer(chunk.buffers()[1], np.int64)[2 * offset : 2 * (offset + n) : 2])
        else:
            values.append(chunk.to_numpy(zero_copy_only=False))
        bitmap = chunk.buffers()[0]
        if bitmap is None or chunk.null_count == 0:
            valid.append(np.ones(n, bool))
        else:
            bits = np.unpackbits(np.frombuffer(bitmap, np.uint8), bitorder="little")
            valid.append(bits[offset : offset + n].astype(bool))
    if not values:
        return np.zeros(0), np.zeros(0, bool)
    return np.concatenate(values), np.concatenate(valid)


def _with_bpi_extra(bp7_extra, bpi_extra) -> pa.ChunkedArray:
    """One extra_fields column for the joined row: BP7's, then BPI's after 'BPI: ' (newer flow
    versions may append fields to either record, and neither is dropped)."""
    bp7_extra, bpi_extra = (pa.chunked_array([c]) if isinstance(c, pa.Array) else c for c in (bp7_extra, bpi_extra))
    label = pa.repeat(pa.scalar("BPI: "), len(bpi_extra))
    labelled = pc.binary_join_element_wise(label, bpi_extra.combine_chunks(), "")
    bp7_extra = bp7_extra.combine_chunks()
    both = pc.binary_join_element_wise(bp7_extra, labelled, "; ")  # null where either is (null_handling="skip"
    either = pc.if_else(pc.is_null(bp7_extra), labelled, bp7_extra)  # drops all-null rows in pyarrow 26)
    return pa.chunked_array([pc.if_else(pc.is_null(both), either, both)])


def _match(bpi: pa.Table, bpi_period: np.ndarray, bp7: pa.Table, bp7_period: np.ndarray) -> np.ndarray | None:
    """For each BP7 row, its BPI row (-1: none), by direct addressing on (period, unit code): the
    units are dictionary-encoded once, and a table of periods x units holds each BPI's row. None
    when a unit appears twice in a period (the slower general match handles that)."""
    if bpi.num_rows == 0:
        return np.full(bp7.num_rows, -1, np.int64)
    encoded = pc.dictionary_encode(bpi.column("bm_unit_id").combine_chunks())
    units = encoded.dictionary
    bpi_code = encoded.indices.to_numpy().astype(np.int64)
    bp7_code = pc.fill_null(pc.index_in(bp7.column("bm_unit_id"), value_set=units), -1).to_numpy().astype(np.int64)
    low = min(bpi_period.min(), bp7_period.min() if bp7_period.size else 0)
    high = max(bpi_period.max(), bp7_period.max() if bp7_period.size else 0)
    if low < 0 or (high + 1) * len(units) > _MAX_SLOTS:
        return None
    slots = np.full((high + 1) * len(units), -1, np.int64)
    bpi_key = bpi_period * len(units) + bpi_code
    slots[bpi_key] = np.arange(bpi.num_rows)
    if (slots[bpi_key] != np.arange(bpi.num_rows)).any():
        return None  # a unit twice in one period
    return np.where(bp7_code >= 0, slots[bp7_period * len(units) + np.maximum(bp7_code, 0)], -1)


def _match_by_sort(bpi: pa.Table, bpi_period: np.ndarray, bp7: pa.Table, bp7_period: np.ndarray) -> np.ndarray:
    left = pl.DataFrame({"p": bp7_period, "u": pl.from_arrow(bp7.column("bm_unit_id"))})
    right = pl.DataFrame({"p": bpi_period, "u": pl.from_arrow(bpi.column("bm_unit_id"))}).with_row_index("row")
    right = right.group_by("p", "u", maintain_order=True).agg(pl.col("row").first())
    joined = left.join(right, on=["p", "u"], how="left", maintain_order="left")
    return joined["row"].fill_null(-1).to_numpy().astype(np.int64)


def _differs(bp7: pa.Table, bpi: pa.Table, index: np.ndarray, matched: np.ndarray) -> dict[str, np.ndarray]:
    """Where BPI (its row `index` of each BP7 row, where `matched`) disagrees with its BP7 twin, a
    bool mask a twin column that differs somewhere (BPI_BLANK_MEANS: a blank BPI value stands for
    another column of the row, e.g. the unit's own id as its trading unit). Numbers are compared in
    numpy, text in Arrow (native_join computes the same in one pass)."""
    if bpi.num_rows == 0 or not matched.any():
        return {}
    differs = {}
    for column in BPI_BP7_TWINS:
        actual = bp7.column(column)
        if pa.types.is_floating(actual.type) or pa.types.is_decimal(actual.type):
            a, a_ok = _numbers(actual)
            e, e_ok = _numbers(bpi.column(column))
            e, e_ok = e[index], e_ok[index]
            unequal_np = matched & ((a_ok != e_ok) | (a_ok & e_ok & (a != e)))
            if unequal_np.any():
                differs[column] = unequal_np
            continue
        expected = _gather(bpi.column(column), index)
        if column in BPI_BLANK_MEANS:
            expected = pc.coalesce(expected, bp7.column(BPI_BLANK_MEANS[column]))
        unequal = pc.or_kleene(pc.not_equal(actual, expected), pc.xor(pc.is_null(actual), pc.is_null(expected)))
        unequal = pc.and_(pc.fill_null(unequal, False), pa.array(matched))
        if pc.any(unequal).as_py():
            differs[column] = unequal.to_numpy(zero_copy_only=False)
    return differs


def _mismatch(bp7: pa.Table, bpi: pa.Table, index: np.ndarray, differs: dict[str, np.ndarray]) -> pa.Array:
    """'column: BPI x, BP7 y; ...' where a twin differs (`differs`: _differs), else null; only the
    rows that differ are rendered (a blank BPI value says what it stands for)."""
    if not differs:
        return pa.nulls(bp7.num_rows, pa.string())
    rows = np.flatnonzero(np.logical_or.reduce(list(differs.values())))
    at, at_bpi = pa.array(rows), pa.array(index[rows])
    parts = []
    for column, unequal in differs.items():
        bpi_value = pl.from_arrow(bpi.column(column).take(at_bpi))
        side = pl.DataFrame({
            "flag": pl.Series(unequal[rows]),
            "bpi": bpi_value.cast(pl.String).fill_null("blank"),
            "bp7": pl.from_arrow(bp7.column(column).take(at)).cast(pl.String).fill_null("blank"),
        })  # fmt: skip
        if column in BPI_BLANK_MEANS:  # say what the blank stands for
            own = pl.from_arrow(bp7.column(BPI_BLANK_MEANS[column]).take(at)).cast(pl.String).fill_null("blank")
            side = side.with_columns(own=own).with_columns(
                bpi=pl.when(bpi_value.is_null()).then(pl.format("blank (so {})", "own")).otherwise("bpi"))
        parts.append(side.select(pl.when("flag").then(pl.format(f"{column}: BPI {{}}, BP7 {{}}", "bpi", "bp7"))).to_series().alias(column))
    text = pl.DataFrame(parts).select(pl.concat_str(pl.all(), separator="; ", ignore_nulls=True)).to_series()
    full = pl.Series("m", [None] * bp7.num_rows, pl.String).scatter(rows, text)
    return full.to_arrow().cast(pa.string())


_TWIN_KINDS = {pa.string(): "s", pa.float64(): "f"}


def native_join(bpi: pa.Table, bpi_period: np.ndarray, bp7: pa.Table, bp7_period: np.ndarray,
                with_used: bool = False) -> tuple | None:  # fmt: skip
    """_match (or _match_by_sort) and _differs in one native pass (_fields.join): each BP7 row's
    first BPI row of its period and unit (-1: none), and the twins that differ (`with_used`: and a
    bool a BPI row, whether a BP7 row took it, which the pass finds anyway). None where the
    native module is absent or a column is of a type it does not compare: the numpy/pyarrow forms
    then do the same."""
    if _fields is None:
        return None
    twins = []
    for column in BPI_BP7_TWINS:
        kind = _twin_kind(bpi.column(column).type)
        if kind is None or bp7.column(column).type != bpi.column(column).type:
            return None
        blank = BPI_BLANK_MEANS.get(column)
        if blank is not None and (kind != "s" or bp7.column(blank).type != pa.string()):
            return None
        twins.append((kind, _chunks(bpi.column(column)), _chunks(bp7.column(column)),
                      _chunks(bp7.column(blank)) if blank else None))  # fmt: skip
    units = bpi.column("bm_unit_id"), bp7.column("bm_unit_id")
    if any(u.type != pa.string() for u in units):
        return None
    joined = _fields.join(np.ascontiguousarray(bpi_period, np.int64), _chunks(units[0]),
                          np.ascontiguousarray(bp7_period, np.int64), _chunks(units[1]), twins, _MAX_SLOTS)  # fmt: skip
    if joined is None:  # null units, or periods too far apart for direct addressing
        return None
    match, used, differ_bytes = joined
    differs = {}
    for column, found in zip(BPI_BP7_TWINS, differ_bytes):
        if found is not None:  # None: the twin agrees on every row
            differs[column] = np.frombuffer(found, np.bool_)
    if with_used:
        return np.frombuffer(match, np.int64), differs, np.frombuffer(used, np.bool_)
    return np.frombuffer(match, np.int64), differs


def _twin_kind(arrow_type: pa.DataType) -> str | None:
    if pa.types.is_decimal128(arrow_type) and arrow_type.precision <= 18:
        return "d"
    return _TWIN_KINDS.get(arrow_type)


def _chunks(column: pa.ChunkedArray) -> list[tuple]:
    """A column's chunks as _fields.join reads them: (validity, values, data, offset, length)."""
    out = []
    for chunk in column.chunks:
        buffers = chunk.buffers()
        validity = buffers[0] if chunk.null_count else None
        out.append((validity, buffers[1], buffers[2] if len(buffers) > 2 else None, chunk.offset, len(chunk)))
    return out
