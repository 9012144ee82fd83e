"""S0142 parser: one gz (or plain) settlement report -> Arrow tables.

How it stays fast on 1.5 million lines: the body is decompressed with ISA-L, read once as a single
text column by polars (multi-threaded, native), and each record type we load is re-read through
polars' typed CSV reader with that record's layout. Nesting is implied by order in the file, so
the context of a record (its settlement period, its party, the BM unit it sits under) is found by
a backward as-of join on line numbers against the marker records (SPI, SP7, BPH, BPI). No Python
loop touches a line.

Errors: every rejection is an S0142Error naming the file, the line where there is one, and the
reason.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
from isal import igzip, isal_zlib

from p114_assets.core.s0142.files import GZIP_MAGIC, FileName
from p114_assets.core.s0142.layout import APD, BO4, BP7, BPI, BPI_BP7_TWINS, LAYOUTS, MD1, PPC, RecordLayout
from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.core.settlement import RUN_TYPES

UTF8_BOM = b"\xef\xbb\xbf"

_POLARS_TYPES = {"text": pl.String, "float": pl.Float64, "int": pl.Int64}


# The file-level checks an S0142Error can fail, in the order a parse meets them.
FILE_CHECKS = ("gzip_body", "header", "trailer_line_count", "records")


class S0142Error(ValueError):
    """An S0142 file that cannot be trusted: which file, which line (when known) and why, and which
    file-level check it failed (one of FILE_CHECKS, or header_matches_partition)."""

    def __init__(self, file: str, reason: str, line: int | None = None, check: str = "records"):
        self.file = file
        self.reason = reason
        self.line = line
        self.check = check
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line else self.file
        return f"{where}: {self.reason}"

    def __reduce__(self):  # keep file/line/reason across process boundaries (Dagster, multiprocessing)
        return (S0142Error, (self.file, self.reason, self.line, self.check))


@dataclass(frozen=True)
class S0142Header:
    """Facts about one file: from AAA, SRH and ZZZ (authoritative) and its name (a cross-check)."""

    file_name: str
    flow_version: str
    publication_stamp: str  # YYYYMMDDHHMMSS as printed in AAA
    settlement_date: dt.date
    run_type: str
    line_count: int
    checksum: str | None
    saa_run_number: str | None
    compressed_bytes: int
    uncompressed_bytes: int
    has_bom: bool
    record_counts: dict[str, int] = field(default_factory=dict, compare=False)

    @property
    def publication_ts(self) -> dt.datetime:
        return dt.datetime.strptime(self.publication_stamp, "%Y%m%d%H%M%S")

    @property
    def partition(self) -> tuple[dt.date, str]:
        return self.settlement_date, self.run_type


@dataclass
class ParsedS0142:
    header: S0142Header
    tables: dict[str, pa.Table]

    @property
    def row_counts(self) -> dict[str, int]:
        return {name: table.num_rows for name, table in self.tables.items()}


# ---------------------------------------------------------------------------------------------
# Body: bytes -> decompressed text -> one row per line


_MAX_RATIO = 64  # a gzip trailer claiming more than this expansion is not believed (e.g. a cut-off file)


def read_body(raw: bytes, name: str) -> bytes:
    """The text of a file: gunzipped if it starts with the gzip magic, else checked to be S0142 text.

    A Portal error page served with status 200 (for example ``Scripting Error 001``) is neither, and
    the error shows what the body says.
    """
    if raw[:2] != GZIP_MAGIC:
        text = raw[len(UTF8_BOM) :] if raw.startswith(UTF8_BOM) else raw
        if not text.startswith(b"AAA|"):
            raise S0142Error(name, f"not a gzip file and not S0142 text; the body begins {_preview(raw)!r}", check="gzip_body")
        return raw
    # The gzip trailer holds the uncompressed size: decompress into one buffer of that size, which
    # touches half the memory of a growing buffer (and fresh memory is the dominant cost of a parse).
    claimed = struct.unpack("<I", raw[-4:])[0] if len(raw) >= 18 else 0
    size_hint = max(1 << 16, min(claimed, len(raw) * _MAX_RATIO))
    try:
        text = isal_zlib.decompress(raw, 31, size_hint)
        if len(text) & 0xFFFFFFFF != claimed:  # several gzip members (or a damaged trailer): decode them all
            text = igzip.decompress(raw)
    except (isal_zlib.error, EOFError, OSError, ValueError) as exc:
        raise S0142Error(name, f"gzip body is truncated or corrupt ({exc})", check="gzip_body") from None
    if len(text) < 64 and not text.strip():  # only a tiny body can be empty; never copy a big one
        raise S0142Error(name, "the body is empty", check="gzip_body")
    return text


def _preview(raw: bytes, limit: int = 80) -> str:
    first = raw[:limit].split(b"\n", 1)[0].strip()
    return first.decode("utf-8", errors="replace") or f"<{len(raw)} bytes>"


def _lines(text: bytes, name: str, first_line: int = 1, n_rows: int | None = None) -> pl.DataFrame:
    """One row per physical line of `text` from line `first_line` on (at most `n_rows` of them):
    line_number (1-based, UInt32), line (null when blank), rt (record id).

    polars strips a UTF-8 byte-order mark and the CR of CRLF endings, and a final newline does not
    add a line, which is how ZZZ counts.
    """
    try:
        lines = pl.read_csv(
            text,
            has_header=False,
            separator="\x1f",  # a byte S0142 text never holds: the whole line is one field
            quote_char=None,
            new_columns=["line"],
            schema_overrides={"column_1": pl.String},
            encoding="utf8-lossy",
            skip_lines=first_line - 1,
            n_rows=n_rows,
        )
    except pl.exceptions.NoDataError:
        lines = pl.DataFrame(schema={"line": pl.String})
    except pl.exceptions.PolarsError as exc:
        raise S0142Error(name, f"body is not line-oriented S0142 text ({exc})") from None
    return lines.with_row_index("line_number", offset=first_line).with_columns(rt=pl.col("line").str.head(3))


# ---------------------------------------------------------------------------------------------
# Header and trailer


def _line_at(text: bytes, start: int) -> str:
    end = text.find(b"\n", start)
    return text[start : end if end >= 0 else len(text)].rstrip(b"\r").decode("utf-8", errors="replace")


def _head(text: bytes, name: str) -> dict:
    """AAA first and an SRH: read from the bytes near the start, before any per-line work."""
    has_bom = text.startswith(UTF8_BOM)
    first = _line_at(text, len(UTF8_BOM) if has_bom else 0)
    if not first.startswith("AAA|"):
        raise S0142Error(name, f"file does not start with an AAA header; line 1 is {first[:60]!r}", 1, check="header")
    aaa = first.split("|")
    if len(aaa) < 4 or not aaa[1].startswith("S0142"):
        raise S0142Error(name, f"AAA names flow {aaa[1] if len(aaa) > 1 else ''!r}, not an S0142 flow", 1, check="header")
    stamp = aaa[3]
    try:
        dt.datetime.strptime(stamp, "%Y%m%d%H%M%S")
    except ValueError:
        raise S0142Error(name, f"AAA creation time {stamp!r} is not YYYYMMDDHHMMSS", 1, check="header") from None

    srh_at = text.find(b"\nSRH|")
    if srh_at < 0:
        raise S0142Error(name, "no SRH settlement report header", check="header")
    srh_line = text.count(b"\n", 0, srh_at + 1) + 1
    srh = _line_at(text, srh_at + 1).split("|")
    if len(srh) < 3:
        raise S0142Error(name, "SRH has no settlement date and run type", srh_line, check="header")
    try:
        settlement_date = dt.datetime.strptime(srh[1], "%Y%m%d").date()
    except ValueError:
        raise S0142Error(name, f"SRH settlement date {srh[1]!r} is not YYYYMMDD", srh_line, check="header") from None
    if srh[2] not in RUN_TYPES:
        raise S0142Error(name, f"SRH run type {srh[2]!r} is not one of {' '.join(RUN_TYPES)}", srh_line, check="header")
    return {"file_name": name, "flow_version": aaa[1], "publication_stamp": stamp, "settlement_date": settlement_date,
            "run_type": srh[2], "saa_run_number": (srh[3] or None) if len(srh) > 3 else None, "has_bom": has_bom}  # fmt: skip


def _count_lines(text: bytes) -> int:
    """Lines as polars reads them: a final newline does not add a line, blank lines do."""
    return text.count(b"\n") + (0 if not text or text.endswith(b"\n") else 1)


def _trailer(text: bytes, name: str, total_lines: int) -> dict:
    """A ZZZ trailer whose count is the number of lines, with nothing after it but blank lines.
    `total_lines` is the number of lines the file has (counted once, by whoever read them)."""
    end = len(text)
    while end > 0 and text[end - 1 : end] in (b"\n", b"\r"):
        end -= 1
    last_line = total_lines - max(0, text.count(b"\n", end) - 1)  # the last non-blank line
    last_start = text.rfind(b"\n", 0, end) + 1
    last = _line_at(text, last_start)
    if not last.startswith("ZZZ|"):
        zzz_at = text.rfind(b"\nZZZ|", 0, last_start)
        if zzz_at < 0:
            raise S0142Error(name, f"no ZZZ trailer: the file is cut off after line {last_line}", last_line, check="trailer_line_count")
        zzz_line = last_line - text.count(b"\n", zzz_at + 1, last_start)
        after = text.find(b"\n", zzz_at + 1) + 1
        while text[after : after + 1] in (b"\n", b"\r"):
            after += 1
        raise S0142Error(name, "content after the ZZZ trailer", zzz_line + text.count(b"\n", zzz_at + 1, after), check="trailer_line_count")
    zzz = last.split("|")
    try:
        declared = int(zzz[1])
    except (IndexError, ValueError):
        raise S0142Error(name, f"ZZZ line count {zzz[1] if len(zzz) > 1 else ''!r} is not a number", last_line, check="trailer_line_count") from None
    if declared != last_line:
        raise S0142Error(name, f"ZZZ says the file has {declared} lines but it has {last_line}", last_line, check="trailer_line_count")
    return {"line_count": last_line, "checksum": (zzz[2] or None) if len(zzz) > 2 else None}


# ---------------------------------------------------------------------------------------------
# Records


_SPARE_COLUMNS = 3  # read this many fields past the layout; more are re-read (newer flow versions)


def _read_records(lines: pl.DataFrame, layout: RecordLayout, name: str) -> pl.DataFrame:
    """Every record of one type as typed columns named by the layout, plus line_number and
    extra_fields (fields past the known layout, kept as '|'-joined text)."""
    fields = layout.fields()
    typed = {f.column: _POLARS_TYPES[f.type] for f in fields}
    sub = lines.filter(pl.col("rt") == layout.record_id).select("line_number", "line")
    if sub.is_empty():
        return pl.DataFrame(schema={"line_number": pl.UInt32, **typed, "extra_fields": pl.String})
    buffer = io.BytesIO()
    sub.select("line").write_csv(buffer, include_header=False, quote_style="never")
    blob = buffer.getvalue()

    def read(n_spare: int, types: dict[str, pl.DataType]) -> pl.DataFrame:
        names = ["record_id", *typed, *[f"_extra_{i}" for i in range(n_spare)]]
        return pl.read_csv(blob, has_header=False, separator="|", quote_char=None,
                           schema={n: types.get(n, pl.String) for n in names},
                           truncate_ragged_lines=True, missing_columns="insert", encoding="utf8-lossy")

    n_spare = _SPARE_COLUMNS
    try:
        records = read(n_spare, typed)
        if records[f"_extra_{n_spare - 1}"].null_count() < records.height:  # a line may go on: count them all
            n_spare = int(sub["line"].str.count_matches("|", literal=True).max()) - layout.width + 1
            records = read(n_spare, typed)
    except pl.exceptions.PolarsError:
        _raise_first_bad_value(read(n_spare, {}), sub, layout, name)
        raise
    extras = [f"_extra_{i}" for i in range(n_spare)]
    if records.select(pl.any_horizontal(pl.col(extras).is_not_null()).any()).item():
        joined = pl.concat_str([pl.col(c).fill_null("") for c in extras], separator="|").str.strip_chars_end("|")
        extra_fields = pl.when(joined == "").then(None).otherwise(joined)
    else:
        extra_fields = pl.lit(None, pl.String)
    return records.select(sub["line_number"], *typed, extra_fields.alias("extra_fields"))


def _raise_first_bad_value(as_text: pl.DataFrame, sub: pl.DataFrame, layout: RecordLayout, name: str) -> None:
    """The slow path, taken only when a typed read failed: find the line and field to blame."""
    as_text = as_text.with_columns(sub["line_number"])
    for f in layout.fields():
        if f.type == "text":
            continue
        cast = as_text[f.column].cast(_POLARS_TYPES[f.type], strict=False)
        bad = as_text.filter(as_text[f.column].is_not_null() & cast.is_null())
        if not bad.is_empty():
            value = bad[f.column][0]
            raise S0142Error(
                name,
                f"{layout.record_id} field {f.pos} ({f.column}) is {value!r}, not a {f.type} number",
                int(bad["line_number"][0]),
            )


def _markers(spi: pl.DataFrame, sp7: pl.DataFrame, bph: pl.DataFrame) -> pl.DataFrame:
    """The context in force after each SPI, SP7 and BPH line, ordered by line number.

    SPI starts a period of the system section and clears the party; BPH starts a party and clears
    the period; SP7 starts a period inside the current party.
    """
    none_text, none_int = pl.lit(None, pl.String), pl.lit(None, pl.Int64)
    markers = pl.concat([
        spi.select("line_number", pl.lit("SPI").alias("section"), pl.col("settlement_period").alias("period"),
                   pl.lit("").alias("party")),  # "" clears the party; null means "carry on"
        sp7.select("line_number", pl.lit("SP7").alias("section"), pl.col("settlement_period").alias("period"),
                   none_text.alias("party")),
        bph.select("line_number", pl.lit("BPH").alias("section"), none_int.alias("period"),
                   pl.col("party_id").alias("party")),
    ]).sort("line_number")  # fmt: skip
    return markers.with_columns(pl.col("party").forward_fill().replace("", None))


def _in_force(markers: pl.DataFrame, line_numbers: pl.Series) -> tuple[pl.DataFrame, pl.Series]:
    """The marker row in force at each line (the last marker above it), and which lines have none."""
    position = markers["line_number"].search_sorted(line_numbers, side="right").cast(pl.Int64) - 1
    before_any = position < 0
    return markers.drop("line_number")[position.clip(0, None)], before_any


def _attach(records: pl.DataFrame, markers: pl.DataFrame, layout: RecordLayout, section: str, name: str) -> pl.DataFrame:
    """Give each record the period (and party) it sits in, insisting it is in the right section."""
    context, before_any = _in_force(markers, records["line_number"])
    wrong = before_any | (context["section"] != section)
    if wrong.any():
        where = "a system period (after an SPI)" if section == "SPI" else "a party period block (after BPH and SP7)"
        line = int(records["line_number"].filter(wrong)[0])
        raise S0142Error(name, f"{layout.record_id} record is not inside {where}", line)
    return records.with_columns(settlement_period=context["period"], party=context["party"])


def _attach_unit(bo4: pl.DataFrame, bpi: pl.DataFrame, markers: pl.DataFrame, name: str) -> pl.DataFrame:
    """BO4 records belong to the BPI above them, within the same system period."""
    units = pl.concat([
        bpi.select("line_number", "bm_unit_id"),
        markers.select("line_number", pl.lit(None, pl.String).alias("bm_unit_id")),  # a new block clears the unit
    ]).sort("line_number")  # fmt: skip
    position = units["line_number"].search_sorted(bo4["line_number"], side="right").cast(pl.Int64) - 1
    unit = units["bm_unit_id"][position.clip(0, None)]
    orphan = (position < 0) | unit.is_null()
    if orphan.any():
        raise S0142Error(name, "BO4 record is not under a BPI of its period", int(bo4["line_number"].filter(orphan)[0]))
    return bo4.with_columns(bm_unit_id=unit)


def _with_file_columns(df: pl.DataFrame, header: S0142Header, table: str) -> pa.Table:
    spec = RAW_TABLES[table]
    df = df.with_columns(
        settlement_date=pl.lit(header.settlement_date, pl.Date),
        run_type=pl.lit(header.run_type),
        publication_ts=pl.lit(header.publication_ts, pl.Datetime("us")),
        flow_version=pl.lit(header.flow_version),
    )
    return df.select(spec.column_names).to_arrow().cast(spec.arrow_schema())


def _bm_unit_period(bpi: pl.DataFrame, bp7: pl.DataFrame) -> pl.DataFrame:
    """BPI and BP7 of the same unit and period in one row, with BP7's values where both exist.

    The join runs on narrow key frames and then gathers the five BPI twin columns by row index,
    so the wide BP7 frame is never copied (memory, not arithmetic, is what a parse costs).
    """
    twins = list(BPI_BP7_TWINS)
    key = ["settlement_period", "bm_unit_id"]
    bpi_side = bpi.select(*key, pl.col("line_number").alias("bpi_line_number"), *[pl.col(c).alias(f"{c}__bpi") for c in twins])
    joined = bp7.rename({"line_number": "bp7_line_number", "party": "lead_party_id"})
    match = joined.select(key).join(bpi_side.select(*key, pl.int_range(pl.len(), dtype=pl.Int64).alias("_bpi_row")),
                                    on=key, how="left", maintain_order="left")
    if match.height != joined.height:  # a duplicated BPI multiplies rows: fall back to a plain join
        joined = joined.join(bpi_side, on=key, how="left")
    else:
        joined = joined.hstack(bpi_side.drop(key)[match["_bpi_row"]].get_columns())
    if joined["bpi_line_number"].is_not_null().sum() != bpi_side.height:  # rare: BPI records with no BP7 twin
        lonely = bpi_side.join(joined.select(key), on=key, how="anti")
        joined = pl.concat([joined, lonely], how="diagonal_relaxed")

    has_bp7 = pl.col("bp7_line_number").is_not_null()
    both = has_bp7 & pl.col("bpi_line_number").is_not_null()
    differs = [both & pl.col(c).ne_missing(pl.col(f"{c}__bpi")) for c in twins]
    if joined.select(pl.any_horizontal(differs).any()).item():
        parts = [
            pl.when(d).then(pl.format("{}: BPI {}, BP7 {}", pl.lit(c), pl.col(f"{c}__bpi").cast(pl.String).fill_null("blank"),
                                      pl.col(c).cast(pl.String).fill_null("blank")))
            for c, d in zip(twins, differs)
        ]
        text = pl.concat_str(parts, separator="; ", ignore_nulls=True)
        mismatch = pl.when(text == "").then(None).otherwise(text)
    else:
        mismatch = pl.lit(None, pl.String)
    lonely_rows = ~has_bp7
    return joined.with_columns(
        mismatch.alias("bpi_bp7_mismatch"),
        *[pl.when(lonely_rows).then(pl.col(f"{c}__bpi")).otherwise(pl.col(c)).alias(c) for c in twins],
    )


_LOADED = ("SPI", "SP7", "BPH", "MD1", "BPI", "BO4", "BP7", "PPC", "APD")


def _sections(text: bytes) -> list[tuple[int, int | None]]:
    """(first line, number of lines) of the system section (up to the first BPH) and of the party
    section. Reading them one after the other halves the memory held at once, and memory, more than
    arithmetic, is what a parse costs."""
    cut = text.find(b"\nBPH|")
    if cut < 0:
        return [(1, None)]
    system_lines = text.count(b"\n", 0, cut + 1)
    return [(1, system_lines), (system_lines + 1, None)]


def parse_bytes(raw: bytes, name: str) -> ParsedS0142:
    """Parse the bytes of one S0142 file (gz or plain). `name` is used in errors and metadata."""
    text = read_body(raw, name)
    head = _head(text, name)
    size = len(text)
    counts: Counter[str] = Counter()
    parts: dict[str, list[pl.DataFrame]] = {rid: [] for rid in _LOADED}
    sections = _sections(text)
    for index, (first, n_rows) in enumerate(sections):
        lines = _lines(text, name, first, n_rows)
        if index == len(sections) - 1:
            trailer = _trailer(text, name, first - 1 + lines.height)  # before any record is read
            del text  # polars holds what it needs; release ours before the big allocations below
        counts.update(dict(lines.group_by("rt").len().drop_nulls("rt").iter_rows()))
        for rid in _LOADED:
            parts[rid].append(_read_records(lines, LAYOUTS[rid], name))
        del lines
    header = S0142Header(**head, **trailer, compressed_bytes=len(raw), uncompressed_bytes=size,
                         record_counts=dict(sorted(counts.items())))
    read = {rid: pl.concat(frames, how="vertical_relaxed") for rid, frames in parts.items()}
    del parts

    markers = _markers(read["SPI"], read["SP7"], read["BPH"])
    bpi = _attach(read.pop("BPI"), markers, BPI, "SPI", name)
    frames = {
        "system_period": read["SPI"],
        "market_index": _attach(read["MD1"], markers, MD1, "SPI", name),
        "bm_unit_period": _bm_unit_period(bpi, _attach(read.pop("BP7"), markers, BP7, "SP7", name)),
        "bid_offer_pair": _attach_unit(_attach(read["BO4"], markers, BO4, "SPI", name), bpi, markers, name),
        "party_period": _attach(read["PPC"], markers, PPC, "SP7", name).rename({"party": "party_id"}),
        "account_period": _attach(read["APD"], markers, APD, "SP7", name).rename({"party": "party_id"}),
    }
    del bpi, read
    return ParsedS0142(header, {t: _with_file_columns(frames.pop(t), header, t) for t in list(frames)})


def parse_file(path: str | Path) -> ParsedS0142:
    """Parse one S0142 file from disk."""
    path = Path(path)
    return parse_bytes(_read(path), path.name)


def inspect_file(path: str | Path) -> S0142Header:
    """Header and trailer checks only (gzip body, AAA, SRH, ZZZ count), without parsing records.
    `record_counts` is left empty."""
    path = Path(path)
    raw = _read(path)
    text = read_body(raw, path.name)
    return S0142Header(**_head(text, path.name), **_trailer(text, path.name, _count_lines(text)),
                       compressed_bytes=len(raw), uncompressed_bytes=len(text))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise S0142Error(path.name, f"cannot read file ({exc.strerror or exc})", check="gzip_body") from None


def check_name_matches_header(header: S0142Header) -> None:
    """The file name is a cross-check of the header: a disagreement means a mislabelled file."""
    parts = FileName.parse(header.file_name)
    if parts is None:
        return  # a file given by hand under another name is judged by its header alone
    expected = (header.settlement_date, header.run_type, header.publication_stamp)
    actual = (parts.settlement_date, parts.run_type, parts.stamp)
    if expected != actual:
        raise S0142Error(
            header.file_name,
            f"file name says {parts.settlement_date} {parts.run_type} {parts.stamp} but the header says "
            f"{header.settlement_date} {header.run_type} {header.publication_stamp}",
            check="header_matches_partition",
        )


def check_header_matches(header: S0142Header, settlement_date: dt.date, run_type: str) -> None:
    """The file of a partition: its name agrees with its header, and its header with the partition."""
    check_name_matches_header(header)
    if header.partition != (settlement_date, run_type):
        raise S0142Error(
            header.file_name,
            f"header says {header.settlement_date} {header.run_type}, but the partition is {settlement_date} {run_type}",
            check="header_matches_partition",
        )


__all__ = [
    "check_header_matches",
    "LAYOUTS",
    "ParsedS0142",
    "S0142Error",
    "S0142Header",
    "check_name_matches_header",
    "inspect_file",
    "parse_bytes",
    "parse_file",
    "read_body",
]
