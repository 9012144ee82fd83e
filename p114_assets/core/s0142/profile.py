"""A field-by-field profile of an S0142 file, and what it says about the layout.

`profile_bytes` reads a file once (decompressed by ISA-L, split into lines and fields by polars,
no Python loop over lines) and returns a JSON-ready dict in the shape of the public profile of two
real 2026 files (S0142_FORMAT.md, last section): for every record type and position, the counts
of blank / integer / decimal / text values, of negative / zero / positive numbers, the number of
distinct values (shown as ">1000" past 1,000) and three sample values; record counts, BM units by
id prefix, and which of BP7's trailing positions each prefix fills. Then a layout report: every
[I] or [?] fact the layout states (twins, identities, signs, ranges, the checksum), and whether this
file confirms it, with counts.

A profile holds no settlement value except those three samples per field, and `samples=False`
drops them, so a P114 licensee can share the profile of a file they may not share.

`compare` lists where two profiles differ beyond a tolerance; profiles of files of different
sizes compare by shares (of lines, of records, of BM units), never by raw counts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from p114_assets.core.s0142 import facts
from p114_assets.core.s0142.layout import BP7, LAYOUTS
from p114_assets.core.s0142.parser import S0142Error, read_body

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
    text = read_body(raw, name)
    lines = _lines(text)
    if lines.is_empty() or not (lines["rt"][0] == "AAA"):
        raise S0142Error(name, "not an S0142 file: line 1 is not an AAA header", 1, check="header")
    # Field counts come from each distinct line once, weighted by how many lines it stands for (SSD,
    # MD2 and DB2 repeat under every party); the layout report reads its records line by line, and
    # where nearly every line differs (BPI, BP7) the whole split serves both.
    groups = {rid: group for (rid,), group in lines.partition_by("rt", as_dict=True).items() if rid is not None}
    records = {rid: _split(group) for rid, group in groups.items() if rid in facts.READ_LINE_BY_LINE}
    counted = {rid: records[rid] if rid in _MOSTLY_DISTINCT and rid in records else _split(_distinct(group))
               for rid, group in groups.items()}  # fmt: skip
    records |= {rid: frame for rid, frame in counted.items() if rid not in records}
    profile: dict = {
        "profile_version": PROFILE_VERSION,
        "file": name,
        "bytes": len(raw),
        "uncompressed_bytes": len(text),
        "lines": lines.height,
        "has_bom": text.startswith(b"\xef\xbb\xbf"),
        "crlf": b"\r\n" in text[:4096],
        "samples": samples,
        "headers": {rid: _header_fields(records[rid]) for rid in ("AAA", "SRH", "ZZZ") if rid in records},
        "record_types": {rid: _count(frame) for rid, frame in sorted(counted.items())},
        "field_counts": _field_counts(counted),
    }
    if "BP7" in records:
        profile |= _bm_units(records["BP7"])
    profile["fields"] = {rid: _field_profiles(rid, frame, samples) for rid, frame in sorted(counted.items())}
    profile["layout_report"] = facts.layout_report(text, records)
    return profile


# ---------------------------------------------------------------------------------------------
# Lines and fields


def _lines(text: bytes) -> pl.DataFrame:
    """One row per line: line_number (1-based), line, rt (record id). polars drops a byte-order mark
    and the CR of CRLF endings, and a final newline does not add a line."""
    try:
        lines = pl.read_csv(text, has_header=False, separator="\x1f", quote_char=None, new_columns=["line"],
                            schema_overrides={"column_1": pl.String}, encoding="utf8-lossy")  # fmt: skip
    except pl.exceptions.NoDataError:
        lines = pl.DataFrame(schema={"line": pl.String})
    return lines.with_row_index("line_number", offset=1).with_columns(rt=pl.col("line").str.head(3))


WEIGHT = "_n"  # lines a distinct line stands for, in a frame of distinct lines
_MOSTLY_DISTINCT = frozenset({"BPI", "BP7", "BO4"})  # every line names its BM unit: nothing to fold


def _distinct(group: pl.DataFrame) -> pl.DataFrame:
    """Each distinct line once, in the order of its first appearance, with how many lines it stands
    for (WEIGHT) and the number of its first line."""
    return group.group_by("line", maintain_order=True).agg(pl.len().alias(WEIGHT), pl.col("line_number").first())


def _count(frame: pl.DataFrame) -> int:
    """Lines of a record frame, whole or of distinct lines."""
    return int(frame[WEIGHT].sum()) if WEIGHT in frame.columns else frame.height


def blank(column: str) -> pl.Expr:
    """A blank field: printed empty (or missing from a short line)."""
    return pl.col(column).is_null() | (pl.col(column).str.len_bytes() == 0)


def _split(group: pl.DataFrame) -> pl.DataFrame:
    """The lines of one record type as text columns f1..fN ("" or null when blank), plus line_number,
    n_fields (fields after the record id, not counting the empty one after a trailing '|') and, for
    distinct lines, WEIGHT."""
    separators = group["line"].str.count_matches("|", literal=True)
    trailing = group["line"].str.ends_with("|").cast(pl.UInt32)
    n_fields = (separators - trailing).alias("n_fields")
    width = int(n_fields.max() or 0)
    split = group.select(pl.col("line").str.split_exact("|", width)).unnest("line")
    names = split.columns[1 : width + 1]  # a blank field stays "" (cheaper than a null; BLANK says so)
    return split.select(*[pl.col(c).alias(f"f{i}") for i, c in enumerate(names, start=1)]).with_columns(
        group["line_number"], n_fields, *([group[WEIGHT]] if WEIGHT in group.columns else []))


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


def _field_profiles(rid: str, frame: pl.DataFrame, samples: bool) -> dict[str, dict]:
    """Counts per position of one record type. Each column is reduced to its distinct values and
    their counts (in parallel across columns), and only the distinct values are classified."""
    columns = [c for c in frame.columns if c.startswith("f")]
    if WEIGHT in frame.columns:  # distinct lines: a value counts as many times as its lines
        counted = pl.collect_all([frame.lazy().group_by(pl.col(c).alias("value")).agg(pl.col(WEIGHT).sum().alias("n"))
                                  .with_columns(column=pl.lit(c)) for c in columns])  # fmt: skip
    else:
        counted = pl.collect_all([frame.lazy().select(pl.col(c).value_counts(sort=False, name="n")).unnest(c)
                                  .rename({c: "value"}).with_columns(column=pl.lit(c)) for c in columns])  # fmt: skip
    values = pl.concat(counted) if counted else pl.DataFrame(schema={"value": pl.String, "n": pl.UInt32, "column": pl.String})
    is_int, is_dec = pl.col("value").str.contains(_INTEGER), pl.col("value").str.contains(_DECIMAL)
    number = pl.when(is_int | is_dec).then(pl.col("value").cast(pl.Float64, strict=False))
    weight = pl.col("n").cast(pl.Int64)
    stats = values.group_by("column").agg(
        blank=weight.filter(blank("value")).sum(), integer=weight.filter(is_int).sum(),
        decimal=weight.filter(is_dec).sum(), negative=weight.filter(number < 0).sum(),
        zero=weight.filter(number == 0).sum(), positive=weight.filter(number > 0).sum(),
        distinct=(~blank("value")).sum(),
    )  # fmt: skip
    by_column = {row["column"]: row for row in stats.iter_rows(named=True)}
    firsts = {}
    if samples:  # the first distinct values in file order: a prefix of the column nearly always holds three
        filled = {c: pl.col(c).filter(~blank(c)) for c in columns}
        heads = pl.collect_all([frame.lazy().select(filled[c].head(5000).unique(maintain_order=True).head(SAMPLES).implode())
                                for c in columns])  # fmt: skip
        for c, head in zip(columns, heads):
            first = head.item().to_list()
            if len(first) < SAMPLES and by_column[c]["distinct"] > len(first):
                first = frame.select(filled[c].unique(maintain_order=True).head(SAMPLES)).to_series().to_list()
            firsts[c] = first
    layout = LAYOUTS.get(rid)
    named = {f.pos: f for f in layout.fields()} if layout else {}
    out: dict[str, dict] = {}
    for c in columns:
        pos, row = int(c[1:]), by_column[c]
        counts = {form: int(row[form] or 0) for form in FORMS if form != "text"}
        counts["text"] = _count(frame) - counts["blank"] - counts["integer"] - counts["decimal"]
        distinct = int(row["distinct"]) + (1 if counts["blank"] else 0)  # as the public profile: a blank is a value
        entry: dict = {"forms": {form: counts[form] for form in FORMS if counts[form]},
                       "distinct": f">{DISTINCT_CAP}" if distinct > DISTINCT_CAP else distinct}  # fmt: skip
        if samples:
            entry["sample"] = firsts[c]
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
