"""A field-by-field profile of an S0142 file, and what it says about the layout.

`profile_bytes` reads a file once, with the parser's scan (decompressed and indexed in streaming
pieces, no Python loop over lines; a body the parser cannot read is refused for the same reason),
splits each record type into text fields with pyarrow's CSV reader (polars, line by line, for odd
lines), and returns a JSON-ready dict in the shape of the public profile of two
real 2026 files (S0142_FORMAT.md, last section): for every record type and position, the counts
of blank / integer / decimal / text values, of negative / zero / positive numbers, the number of
distinct values (shown as ">1000" past 1,000) and three sample values; record counts, BM units by
id prefix, and which of BP7's trailing positions each prefix fills. Then a layout report: every
[I] or [?] fact the layout states (twins, identities, signs, ranges, the checksum), and whether this
file confirms it, with counts. Record ids the layout does not know are counted (unknown_record_types),
not profiled.

A profile holds no settlement value except those three samples per field, and `samples=False`
drops them, so a P114 licensee can share the profile of a file they may not share.

`compare` lists where two profiles differ beyond a tolerance; profiles of files of different
sizes compare by shares (of lines, of records, of BM units), never by raw counts.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from p114_assets.core.s0142 import facts
from p114_assets.core.s0142.layout import BP7, KNOWN_RECORD_IDS, LAYOUTS
from p114_assets.core.s0142.files import GZIP_MAGIC
from p114_assets.core.s0142.parser import S0142Error, _check_plain
from p114_assets.core.s0142.records import text_of_lines
from p114_assets.core.s0142.scan import Scan, ScanError

PROFILE_VERSION = 1
DISTINCT_CAP = 1000
SAMPLES = 3
_INTEGER = r"^-?\d+$"
_DECIMAL = r"^-?(?:\d+\.\d*|\.\d+)$"
FORMS = ("blank", "integer", "decimal", "text", "negative", "zero", "positive")


def profile_file(path: str | Path, samples: bool = True) -> dict:
    """The profile of one S0142 file on disk (gz or plain)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise S0142Error(path.name, f"cannot read file ({exc.strerror or exc})", check="gzip_body") from None
    return profile_bytes(raw, path.name, samples)


def profile_bytes(raw: bytes, name: str, samples: bool = True) -> dict:
    """The profile of the bytes of one S0142 file. See the module docstring for its shape."""
    scanned = _scan(raw, name)
    groups, early = scanned.by_record, scanned.split
    # Field counts come from each distinct line once, weighted by how many lines it stands for (SSD,
    # MD2 and DB2 repeat under every party); the layout report reads its records line by line, and
    # where nearly every line differs (BPI, BP7) the whole split, made during the scan, serves both.
    # Each other record type is a task, two at a time: pyarrow and polars release the GIL.
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        order = sorted(groups, key=lambda rid: -groups[rid].height)  # the big ones first
        split = dict(zip(order, pool.map(lambda rid: _split_record(rid, groups[rid]), order)))
        split |= {rid: (frame, None) for rid, frame in early.items()}
        records = {rid: whole if whole is not None else folded for rid, (whole, folded) in split.items()}
        counted = {rid: folded if folded is not None else whole for rid, (whole, folded) in split.items()}
        report = pool.submit(facts.layout_report, records, scanned.checksum)
        order = sorted(counted, key=lambda rid: -counted[rid].height)
        fields = dict(zip(order, pool.map(lambda rid: _field_profiles(rid, counted[rid], samples), order)))
        units = _bm_units(records["BP7"]) if "BP7" in records else {}
        layout_report = report.result()
    aaa = groups["AAA"]["line"][0] if "AAA" in groups else ""
    profile: dict = {
        "profile_version": PROFILE_VERSION,
        "file": name,
        "bytes": len(raw),
        "uncompressed_bytes": scanned.uncompressed_bytes,
        "lines": scanned.line_count,
        "has_bom": scanned.has_bom,
        "crlf": aaa.endswith("\r\n"),
        "samples": samples,
        **({"unknown_record_types": scanned.unknown} if scanned.unknown else {}),
        "headers": {rid: _header_fields(records[rid]) for rid in ("AAA", "SRH", "ZZZ") if rid in records},
        "record_types": {rid: _count(frame) for rid, frame in sorted(counted.items())},
        "field_counts": _field_counts(counted),
    }
    profile |= units
    profile["fields"] = {rid: fields[rid] for rid in sorted(fields)}
    profile["layout_report"] = layout_report
    return profile


# ---------------------------------------------------------------------------------------------
# Lines and fields


@dataclass
class Scanned:
    """What the scan found: the lines of each record type (frames of line_number and line, in file
    order, line end kept), the types split as they came (SPLIT_IN_SCAN), the body's size, BOM and
    line count (what ZZZ counts), record ids the layout does not know (id: (lines, first line)), and
    the IDD checksum of the lines before ZZZ (None without a ZZZ)."""

    by_record: dict[str, pl.DataFrame]
    split: dict[str, pl.DataFrame]
    uncompressed_bytes: int
    has_bom: bool
    line_count: int
    unknown: dict[str, list[int]]
    checksum: int | None


# Read line by line, and every line names its BM unit, so nothing to fold: split as they come.
SPLIT_IN_SCAN = frozenset({"BPI", "BP7", "BO4"})


def _scan(raw: bytes, name: str) -> Scanned:
    """One pass with the parser's scan (scan.py): decompressed in one thread while this one indexes
    the lines and checks them (a body the parser cannot read is refused with the parser's reason),
    folds in the checksum and takes the lines of every known record type; batches of the big types
    are split into fields in a third thread as they fill."""
    parts: dict[str, list[pl.DataFrame]] = {}

    def read(rid: str, lines: pa.LargeStringArray, numbers: np.ndarray) -> None:
        numbers = pl.Series("line_number", numbers, pl.UInt32)
        fast = _split_even(lines, numbers) if rid in SPLIT_IN_SCAN else None
        if fast is None:
            group = pl.DataFrame([numbers, pl.Series("line", lines, pl.String)])
            fast = _split(group) if rid in SPLIT_IN_SCAN else group
        parts.setdefault(rid, []).append(fast)

    def header(first_lines: dict[int, str]) -> None:
        if not first_lines.get(1, "").startswith("AAA|"):
            raise ScanError("not an S0142 file: line 1 is not an AAA header", 1, check="header")

    if raw[:2] != GZIP_MAGIC:
        _check_plain(raw, name)  # an error page, not a file: say what it says, as the parser does
    scan = Scan(read=read, loaded=_KNOWN, on_header=header)
    try:
        scan.run(raw)
        header(scan.first_lines)  # a one-line body never calls on_header
        scan.finish()
    except ScanError as exc:
        raise S0142Error(name, exc.reason, exc.line, exc.check) from None
    finally:
        scan.close()
    split = {rid: _concat_split(frames) for rid, frames in parts.items() if rid in SPLIT_IN_SCAN}
    return Scanned(
        by_record={rid: pl.concat(frames) for rid, frames in parts.items() if rid not in SPLIT_IN_SCAN},
        split=split,
        uncompressed_bytes=scan.uncompressed_bytes,
        has_bom=scan.has_bom,
        line_count=scan.line_count,
        unknown={rid: list(seen) for rid, seen in scan.unknown.items()},
        checksum=scan.checksum if scan.zzz_line is not None else None,
    )


_KNOWN = tuple(sorted(KNOWN_RECORD_IDS))


def _concat_split(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Batches of one split record type; a batch with more fields widens the others with nulls."""
    if len(frames) == 1:
        return frames[0]
    joined = pl.concat(frames, how="diagonal")
    fields = sorted((c for c in joined.columns if c.startswith("f")), key=lambda c: int(c[1:]))
    return joined.select(*fields, "line_number", "n_fields")


WEIGHT = "_n"  # lines a distinct line stands for, in a frame of distinct lines
def _distinct(group: pl.DataFrame) -> pl.LazyFrame:
    """Each distinct line once, in the order of its first appearance, with how many lines it stands
    for (WEIGHT) and the number of its first line."""
    return group.lazy().group_by("line", maintain_order=True).agg(pl.len().alias(WEIGHT), pl.col("line_number").first())


def _count(frame: pl.DataFrame) -> int:
    """Lines of a record frame, whole or of distinct lines."""
    return int(frame[WEIGHT].sum()) if WEIGHT in frame.columns else frame.height


def blank(column: str) -> pl.Expr:
    """A blank field: printed empty (or missing from a short line)."""
    return pl.col(column).is_null() | (pl.col(column).str.len_bytes() == 0)


_SLICE = 100_000  # lines split by one task: a string kernel runs on one core, so big types go in slices
_PIPES = pacsv.ParseOptions(delimiter="|", quote_char=False, double_quote=False, newlines_in_values=False,
                            ignore_empty_lines=False)  # fmt: skip


_WORKERS = 2  # record types worked on at a time


def _split_record(rid: str, group: pl.DataFrame) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """One record type split into fields: line by line (for the layout report) and as distinct
    lines (for the field counts), each where it is needed."""
    whole = _split(group) if rid in facts.READ_LINE_BY_LINE else None
    folded = None if whole is not None and rid in SPLIT_IN_SCAN else _split(_distinct(group).collect())
    return whole, folded


def _split(group: pl.DataFrame) -> pl.DataFrame:
    """The lines of one record type as text columns f1..fN ("" or null when blank), plus
    line_number, n_fields (fields after the record id, not counting the empty one after a trailing
    '|') and, for distinct lines, WEIGHT. Lines that all end with '|' and hold as many fields as the
    first are read by pyarrow's CSV reader (as the parser reads them, records.py); others go to
    polars, line by line, in slices across the cores."""
    weight = [group[WEIGHT]] if WEIGHT in group.columns else []
    fast = _split_even(group["line"].to_arrow(compat_level=pl.CompatLevel.oldest()), group["line_number"], *weight)
    if fast is not None:
        return fast
    line = group["line"]  # as in the file, line end included (what follows the trailing '|')
    trailing = line.str.ends_with("|\n") | line.str.ends_with("|") | line.str.ends_with("|\r\n")
    n_fields = (line.str.count_matches("|", literal=True) - trailing.cast(pl.UInt32)).alias("n_fields")
    width = int(n_fields.max() or 0)
    # The line end follows the last '|' (it is the field after it on a shorter line) or ends the last field.
    fields = [pl.col("line").str.split_exact("|", width).struct.field(f"field_{i}") for i in range(1, width + 1)]
    fields = [f.str.strip_chars_end("\r\n").alias(f"f{i}") for i, f in enumerate(fields, start=1)]
    slices = pl.collect_all([group.lazy().slice(start, _SLICE).select(*fields) for start in range(0, max(group.height, 1), _SLICE)])
    return pl.concat(slices).with_columns(group["line_number"], n_fields, *weight)


def _split_even(lines: pa.LargeStringArray, *columns: pl.Series) -> pl.DataFrame | None:
    """The fast split of `_split` (the lines as arrow, with the columns to keep beside them), or None
    where the lines are not all alike."""
    if len(lines) == 0:
        return None
    data, offsets = text_of_lines(lines)
    first = bytes(data[: offsets[1]]).rstrip(b"\r\n")
    if not first.endswith(b"|"):
        return None
    width = first.count(b"|") - 1
    names = ["_id", *(f"f{i}" for i in range(1, width + 1)), "_end"]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            pacsv.ReadOptions(column_names=names, block_size=1 << 20, use_threads=data.size > 1 << 20),
            _PIPES,
            pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False,
                                 check_utf8=False, include_columns=names[1:]),
        )  # fmt: skip
    except pa.ArrowInvalid:  # a line with another field count
        return None
    if table.num_rows != len(lines) or pc.any(pc.not_equal(table.column("_end"), "")).as_py():
        return None  # a stray carriage return split a line, or a line lost its trailing '|'
    frame = pl.from_arrow(table.drop_columns(["_end"]))
    return frame.with_columns(columns[0], pl.lit(width, pl.UInt32).alias("n_fields"), *columns[1:])


def _header_fields(frame: pl.DataFrame) -> list[str]:
    row = frame.row(0, named=True)
    return [row[f"f{i}"] or "" for i in range(1, row["n_fields"] + 1)]


def _field_counts(records: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Lines per (record type, fields after the id): a newer flow version shows as a wider record."""
    out: dict[str, int] = {}
    for rid, frame in sorted(records.items()):
        weight = pl.col(WEIGHT).sum() if WEIGHT in frame.columns else pl.len()
        for width, count in frame.group_by("n_fields").agg(weight).sort("n_fields").iter_rows():
            out[f"{rid}/{width}"] = int(count)
    return out


def unit_prefix(expr: pl.Expr) -> pl.Expr:
    """`2__`, `C__`, `V__`, `T__`, `E__` (two underscores) or `T_`, `E_`, `I_`, `M_` (one)."""
    return (pl.when(expr.str.slice(1, 2) == "__").then(expr.str.head(3))
            .when(expr.str.slice(1, 1) == "_").then(expr.str.head(2))
            .otherwise(pl.lit("other")))  # fmt: skip


def _bm_units(bp7: pl.DataFrame) -> dict:
    """BP7 rows and distinct BM units by id prefix, and the trailing BP7 positions (18 on, of
    unknown or supplier / secondary meaning) that each prefix fills."""
    unit = f"f{BP7.position_of('bm_unit_id')}"
    tail = [f.pos for f in BP7.fields() if f.pos > BP7.position_of("supplier_non_bm_absvd_volume_mwh")]
    by_prefix = bp7.with_columns(prefix=unit_prefix(pl.col(unit)))
    rows = by_prefix.group_by("prefix").agg(pl.len().alias("rows"), pl.col(unit).n_unique().alias("units"),
                                            *[(~blank(f"f{p}")).sum().alias(str(p)) for p in tail if f"f{p}" in bp7.columns])
    rows = rows.sort(["rows", "prefix"], descending=[True, False])
    fill = {r["prefix"]: {k: v for k, v in r.items() if k not in ("prefix", "rows", "units") and v}
            for r in rows.iter_rows(named=True)}  # fmt: skip
    return {
        "bp7_unit_prefixes": dict(zip(rows["prefix"], rows["rows"])),
        "bm_units_by_prefix": dict(zip(rows["prefix"], rows["units"])),
        "bm_units": int(bp7[unit].n_unique()),
        "bp7_tail_nonblank_by_prefix": {p: f for p, f in fill.items() if f},
    }


def _value_counts(frame: pl.DataFrame, column: str) -> pl.LazyFrame:
    """A column's distinct values and how many records hold each (for distinct lines: their WEIGHT)."""
    if WEIGHT in frame.columns:
        counted = frame.lazy().group_by(pl.col(column).alias("value")).agg(pl.col(WEIGHT).sum().cast(pl.Int64).alias("n"))
    else:
        counted = frame.lazy().select(pl.col(column).value_counts(sort=False, name="n")).unnest(column).rename({column: "value"})
    return counted.with_columns(pl.col("n").cast(pl.Int64))


def _field_profiles(rid: str, frame: pl.DataFrame, samples: bool) -> dict[str, dict]:
    """Counts per position of one record type. Each column is reduced to its distinct values and
    their counts (in parallel across columns), and only the distinct values are classified."""
    columns = [c for c in frame.columns if c.startswith("f")]
    plans = [_value_counts(frame, c).with_columns(column=pl.lit(c)) for c in columns]
    filled = {c: pl.col(c).filter(~blank(c)) for c in columns}
    if samples and columns:  # the first distinct values in file order: a prefix of the column nearly always holds three
        plans.append(frame.lazy().select(filled[c].head(5000).unique(maintain_order=True).head(SAMPLES).implode() for c in columns))
    done = pl.collect_all(plans) if plans else []
    empty = pl.DataFrame(schema={"value": pl.String, "n": pl.Int64, "column": pl.String})
    values = pl.concat(done[: len(columns)]) if columns else empty
    is_int, is_dec = pl.col("value").str.contains(_INTEGER), pl.col("value").str.contains(_DECIMAL)
    number = pl.when(is_int | is_dec).then(pl.col("value").cast(pl.Float64, strict=False))
    weight = pl.col("n")
    stats = values.group_by("column").agg(
        blank=weight.filter(blank("value")).sum(), integer=weight.filter(is_int).sum(),
        decimal=weight.filter(is_dec).sum(), negative=weight.filter(number < 0).sum(),
        zero=weight.filter(number == 0).sum(), positive=weight.filter(number > 0).sum(),
        distinct=(~blank("value")).sum(),
    )  # fmt: skip
    by_column = {row["column"]: row for row in stats.iter_rows(named=True)}
    heads = done[len(columns)].row(0, named=True) if samples and columns else {}
    layout = LAYOUTS.get(rid)
    named = {f.pos: f for f in layout.fields()} if layout else {}
    lines = _count(frame)
    out: dict[str, dict] = {}
    for c in columns:
        pos, row = int(c[1:]), by_column[c]
        counts = {form: int(row[form] or 0) for form in FORMS if form != "text"}
        counts["text"] = lines - counts["blank"] - counts["integer"] - counts["decimal"]
        distinct = int(row["distinct"]) + (1 if counts["blank"] else 0)  # as the public profile: a blank is a value
        entry: dict = {"forms": {form: counts[form] for form in FORMS if counts[form]},
                       "distinct": f">{DISTINCT_CAP}" if distinct > DISTINCT_CAP else distinct}  # fmt: skip
        if samples:
            first = list(heads[c])
            if len(first) < SAMPLES and row["distinct"] > len(first):  # sparse: look further
                first = frame.select(filled[c].unique(maintain_order=True).head(SAMPLES)).to_series().to_list()
            entry["sample"] = first
        if pos in named:
            entry["column"] = named[pos].column
            entry["mark"] = named[pos].confidence
        out[str(pos)] = entry
    return out


# ---------------------------------------------------------------------------------------------
# Comparing two profiles


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


MIN_COUNT = 10  # below this many records on both sides, a share is too coarse to compare (but 0 against some is not)


def _differs(a: float, b: float, tolerance: float, floor: float, counts: tuple[int, int] | None = None) -> bool:
    """Beyond tolerance: one is zero and the other is not, or the relative difference exceeds
    `tolerance` and the absolute one `floor`, on at least MIN_COUNT records."""
    if (a == 0) != (b == 0):
        return True
    if counts is not None and max(counts) < MIN_COUNT:
        return False
    return abs(a - b) > floor and abs(a - b) > tolerance * max(abs(a), abs(b))


def compare(a: dict, b: dict, tolerance: float = 0.25, floor: float = 0.005) -> list[str]:
    """Where profile `a` differs from profile `b` beyond `tolerance` (relative) and `floor`
    (absolute, for shares). Keys present in only one of them are compared only where both have
    them, so a partial profile (such as the committed facts of the real files) compares too."""
    out: list[str] = []
    a_lines, b_lines = _lines_of(a), _lines_of(b)
    if "record_types" in a and "record_types" in b and a_lines and b_lines:
        for rid in sorted(set(a["record_types"]) | set(b["record_types"])):
            na, nb = a["record_types"].get(rid, 0), b["record_types"].get(rid, 0)
            if _differs(_share(na, a_lines), _share(nb, b_lines), tolerance, 0.0):
                out.append(f"record {rid}: {na:,} of {a_lines:,} lines ({_share(na, a_lines):.2%}) "
                           f"against {nb:,} of {b_lines:,} ({_share(nb, b_lines):.2%})")  # fmt: skip
    if "field_counts" in a and "field_counts" in b:
        for key in sorted(set(a["field_counts"]) ^ set(b["field_counts"])):
            out.append(f"record width {key}: in {'the first' if key in a['field_counts'] else 'the second'} profile only")
    for key, label in (("bm_units_by_prefix", "BM units"), ("bp7_unit_prefixes", "BP7 rows")):
        if key in a and key in b:
            ta, tb = sum(a[key].values()), sum(b[key].values())
            for prefix in sorted(set(a[key]) | set(b[key])):
                na, nb = a[key].get(prefix, 0), b[key].get(prefix, 0)
                if _differs(_share(na, ta), _share(nb, tb), tolerance, floor):
                    out.append(f"{label} {prefix}: {_share(na, ta):.2%} against {_share(nb, tb):.2%}")
    if "bp7_tail_nonblank_by_prefix" in a and "bp7_tail_nonblank_by_prefix" in b:
        rows_a, rows_b = a.get("bp7_unit_prefixes", {}), b.get("bp7_unit_prefixes", {})
        fa, fb = a["bp7_tail_nonblank_by_prefix"], b["bp7_tail_nonblank_by_prefix"]
        for prefix in sorted(set(fa) | set(fb) | set(rows_a) & set(rows_b)):
            for pos in sorted(set(fa.get(prefix, {})) | set(fb.get(prefix, {})), key=int):
                sa = _share(fa.get(prefix, {}).get(pos, 0), rows_a.get(prefix, 0))
                sb = _share(fb.get(prefix, {}).get(pos, 0), rows_b.get(prefix, 0))
                if _differs(sa, sb, tolerance, floor):
                    out.append(f"BP7 {pos} filled on {prefix} rows: {sa:.2%} against {sb:.2%}")
    out += _compare_fields(a, b, tolerance, floor)
    out += _compare_facts(a, b)
    return out


def _lines_of(profile: dict) -> int | None:
    """Lines of the profiled file; the public profile's JSON states only its record counts."""
    return profile.get("lines") or (sum(profile["record_types"].values()) if "record_types" in profile else None)


def profiles_in(document: dict) -> list[dict]:
    """The profiles a JSON document holds: one (`p114 profile --json`), or a list under "profiles"
    (fixtures/real_profile_facts.json) or "files" (the public profile's schema-report.json)."""
    for key in ("profiles", "files"):
        if isinstance(document.get(key), list):
            return document[key]
    return [document]


def _compare_fields(a: dict, b: dict, tolerance: float, floor: float) -> list[str]:
    out: list[str] = []
    fields_a, fields_b = a.get("fields", {}), b.get("fields", {})
    for rid in sorted(set(fields_a) & set(fields_b)):
        na, nb = a.get("record_types", {}).get(rid), b.get("record_types", {}).get(rid)
        if not na or not nb:
            continue
        for pos in sorted(set(fields_a[rid]) & set(fields_b[rid]), key=int):
            fa, fb = fields_a[rid][pos], fields_b[rid][pos]
            label = f"{rid} {pos}" + (f" ({fa['column']})" if fa.get("column") else "")
            for form in FORMS:
                if form not in fa.get("forms", {}) and form not in fb.get("forms", {}):
                    continue
                if "forms" not in fa or "forms" not in fb:
                    continue
                ca, cb = fa["forms"].get(form, 0), fb["forms"].get(form, 0)
                sa, sb = _share(ca, na), _share(cb, nb)
                if _differs(sa, sb, tolerance, floor, (ca, cb)):
                    out.append(f"{label} {form}: {sa:.2%} of records against {sb:.2%}")
            da, db = fa.get("distinct"), fb.get("distinct")
            if da is not None and db is not None and (da == 1) != (db == 1):
                out.append(f"{label}: {'one value' if da == 1 else f'{da} distinct values'} against "
                           f"{'one value' if db == 1 else f'{db} distinct values'}")  # fmt: skip
    return out


def _compare_facts(a: dict, b: dict) -> list[str]:
    verdicts: Callable[[dict], dict] = lambda p: {f["fact"]: f.get("confirmed") for f in p.get("layout_report", [])}  # noqa: E731
    fa, fb = verdicts(a), verdicts(b)
    return [f"layout fact {name}: {_verdict(fa[name])} against {_verdict(fb[name])}"
            for name in sorted(set(fa) & set(fb)) if fa[name] != fb[name]]  # fmt: skip


def _verdict(confirmed: bool | None) -> str:
    return {True: "confirmed", False: "contradicted", None: "not evaluated"}[confirmed]


__all__ = ["FORMS", "PROFILE_VERSION", "compare", "profile_bytes", "profile_file", "profiles_in", "unit_prefix"]
