"""The layout report of a profile: each fact the layout states with a mark short of [V] (the twins,
the trading-unit rule, identities, signs and ranges, blank fields, the trailer), and whether one
file confirms it, with counts.

It works on the text of a file split into fields (profile.py), not on parsed tables, so a file the
parser would refuse still gets its report. Where a fact is also a data-quality rule (ranges, the
settlement identities), the rule of core/quality.py judges it: a fact is written once.
"""

from __future__ import annotations

from types import SimpleNamespace

import polars as pl

from p114_assets.core import quality
from p114_assets.core.s0142.lines import UTF8_BOM, Lines
from p114_assets.core.s0142.parser import S0142Header
from p114_assets.core.s0142.layout import (
    APD,
    BO4,
    BP7,
    BPH,
    BPI,
    BPI_BLANK_MEANS,
    BPI_BP7_TWINS,
    LAYOUTS,
    PPC,
    SP7,
    SPI,
    SSD,
    ZZZ,
    RecordLayout,
)

_EPSILON = 1e-9
# The record types the report reads line by line (with their context); the profile splits the
# others once per distinct line, with a weight column (profile.WEIGHT).
READ_LINE_BY_LINE = frozenset({"AAA", "SRH", "ZZZ", "SPI", "SP7", "BPH", "BPI", "BP7", "BO4", "PPC", "APD", "SSD"})
_WEIGHT = "_n"


def _lines_where(frame: pl.DataFrame, mask: pl.Series) -> int:
    """How many lines of a record frame hold `mask` (a frame of distinct lines is weighted)."""
    mask = mask.fill_null(False)
    return int(frame[_WEIGHT].filter(mask).sum()) if _WEIGHT in frame.columns else int(mask.sum())


def _fact(name: str, statement: str, mark: str, confirmed: bool | None, **counts) -> dict:
    return {"fact": name, "statement": statement, "mark": mark, "confirmed": confirmed, "counts": counts}


def _f(layout: RecordLayout, column: str) -> str:
    return f"f{layout.position_of(column)}"


def _num(frame: pl.DataFrame, layout: RecordLayout, column: str) -> pl.Series:
    name = _f(layout, column)
    if name not in frame.columns:
        return pl.Series(column, [None] * frame.height, pl.Float64)
    return frame[name].cast(pl.Float64, strict=False).alias(column)


def _typed(frame: pl.DataFrame, layout: RecordLayout, columns: tuple[str, ...] | None = None) -> pl.DataFrame:
    """The record's fields (all, or `columns`) under their layout names and types (text stays text)."""
    cols = []
    for f in layout.fields():
        if columns is not None and f.column not in columns:
            continue
        name = f"f{f.pos}"
        if name not in frame.columns:
            cols.append(pl.lit(None, pl.String if f.type == "text" else pl.Float64).alias(f.column))
        elif f.type == "text":
            cols.append(pl.when(pl.col(name).str.len_bytes() > 0).then(pl.col(name)).alias(f.column))  # blank: null
        else:
            cols.append(pl.col(name).cast(pl.Float64, strict=False).alias(f.column))
    return frame.select(*cols, "line_number")


class _Context:
    """The settlement period, party and BM unit in force at any line, from the marker records:
    SPI starts a system period (and clears the party), BPH a party, SP7 a period inside a party,
    BPI a BM unit of the system section."""

    def __init__(self, records: dict[str, pl.DataFrame]):
        empty = pl.DataFrame(schema={"line_number": pl.UInt32, "period": pl.Int64, "party": pl.String})
        parts = [empty]
        if "SPI" in records:
            parts.append(records["SPI"].select("line_number", _num(records["SPI"], SPI, "settlement_period").cast(pl.Int64).alias("period"), pl.lit("").alias("party")))
        if "SP7" in records:
            parts.append(records["SP7"].select("line_number", _num(records["SP7"], SP7, "settlement_period").cast(pl.Int64).alias("period"), pl.lit(None, pl.String).alias("party")))
        if "BPH" in records:
            parts.append(records["BPH"].select("line_number", pl.lit(None, pl.Int64).alias("period"), pl.col(_f(BPH, "party_id")).fill_null("").alias("party")))
        markers = pl.concat(parts, how="vertical_relaxed").sort("line_number")
        self.markers = markers.with_columns(pl.col("party").forward_fill().replace("", None))
        units = [self.markers.select("line_number", pl.lit(None, pl.String).alias("unit"))]
        if "BPI" in records:
            units.append(records["BPI"].select("line_number", pl.col(_f(BPI, "bm_unit_id")).alias("unit")))
        self.units = pl.concat(units).sort("line_number")

    def attach(self, frame: pl.DataFrame, unit: bool = False) -> pl.DataFrame:
        at = self.markers["line_number"].search_sorted(frame["line_number"], side="right").cast(pl.Int64) - 1
        rows = self.markers[at.clip(0, None)]
        out = frame.with_columns(settlement_period=pl.when(at >= 0).then(rows["period"]),
                                 party_id=pl.when(at >= 0).then(rows["party"]))  # fmt: skip
        if unit:
            at_unit = self.units["line_number"].search_sorted(frame["line_number"], side="right").cast(pl.Int64) - 1
            out = out.with_columns(bm_unit_id=pl.when(at_unit >= 0).then(self.units["unit"][at_unit.clip(0, None)]))
        return out


def layout_report(records: dict[str, pl.DataFrame], checksum: int | None) -> list[dict]:
    """Every fact, in a stable order. A fact whose records are missing is reported as not evaluated."""
    context = _Context(records)
    report = [_trailer_count(records), _checksum(records, checksum)]
    report += _bpi_bp7(records, context)
    report += _bp7_arithmetic(records, context)
    report += [_ssd_repeats_spi(records, context)]
    report += _identities(records, context)
    report += _ranges(records)
    report += [_blank_fields(records)]
    return report


# ---------------------------------------------------------------------------------------------
# Trailer


def _trailer_count(records: dict[str, pl.DataFrame]) -> dict:
    statement = "ZZZ 1 is the number of lines, AAA and ZZZ included"
    if "ZZZ" not in records:
        return _fact("trailer_line_count", statement, ZZZ.named[0].confidence, None)
    zzz = records["ZZZ"]
    declared = zzz[_f(ZZZ, "line_count")].cast(pl.Int64, strict=False)[0]
    line = int(zzz["line_number"][0])
    return _fact("trailer_line_count", statement, ZZZ.named[0].confidence, declared == line, declared=declared, zzz_line=line)


_CHECKSUM_PIECE = 8 << 20  # bytes: the parser folds the checksum over pieces of whole lines too


def idd_checksum(text: bytes) -> int | None:
    """The NETA IDD Part 1 checksum of the records before ZZZ, by the parser's algorithm (lines.py),
    or None when the file has no ZZZ line. Each record lies whole in one piece and XOR is
    associative, so the checksum is the XOR of the pieces' (small pieces touch little memory)."""
    end = text.rfind(b"\nZZZ|")
    if end < 0:
        return None
    view, checksum = memoryview(text), 0
    start = len(UTF8_BOM) if text.startswith(UTF8_BOM) else 0
    while start <= end:
        cut = text.rfind(b"\n", start, min(start + _CHECKSUM_PIECE, end + 1)) + 1 or end + 1
        checksum ^= Lines.index(view[start:cut], 1).checksum()
        start = cut
    return checksum


def _checksum(records: dict[str, pl.DataFrame], computed: int | None) -> dict:
    """ZZZ 2 against the IDD checksum of the lines before ZZZ (computed by the profile's scan)."""
    statement = "ZZZ 2 is the NETA IDD Part 1 checksum (XOR of the records' 4-byte words)"
    mark = ZZZ.named[1].confidence
    printed = records["ZZZ"][_f(ZZZ, "checksum")][0] if "ZZZ" in records and _f(ZZZ, "checksum") in records["ZZZ"].columns else None
    printed = printed or None  # blank
    if printed is None or computed is None:
        return _fact("trailer_checksum", statement, mark, None, verdict="absent")
    # the parser's verdict (ZZZ 2 read as an unsigned or a signed 32-bit number), on this file's values
    verdict = S0142Header.checksum_matches.fget(SimpleNamespace(checksum=printed, checksum_computed=computed))
    return _fact("trailer_checksum", statement, mark, verdict == "matches", verdict=verdict)


# ---------------------------------------------------------------------------------------------
# BPI and BP7


def _bpi_bp7(records: dict[str, pl.DataFrame], context: _Context) -> list[dict]:
    twins = [c for c in BPI_BP7_TWINS if c not in BPI_BLANK_MEANS]
    twin_statement = "BPI " + ", ".join(str(BPI.position_of(c)) for c in twins) + " equal BP7 " + ", ".join(
        str(BP7.position_of(c)) for c in twins)
    rule_statement = ("BPI 2 is blank where the unit is its own trading unit, and BP7 13 then holds the unit's id; "
                      "otherwise BPI 2 equals BP7 13")  # fmt: skip
    if "BPI" not in records or "BP7" not in records:
        return [_fact("bpi_bp7_twins", twin_statement, "C", None), _fact("trading_unit_rule", rule_statement, "I", None)]
    key = ["settlement_period", "bm_unit_id"]
    compared = (*key[1:], *BPI_BP7_TWINS)
    bpi = context.attach(_typed(records["BPI"], BPI, compared))
    bp7 = context.attach(_typed(records["BP7"], BP7, compared))
    joined = bpi.join(bp7, on=key, how="inner", suffix="_bp7")
    differs = {c: int(((joined[c] - joined[f"{c}_bp7"]).abs() > _EPSILON).sum() + (joined[c].is_null() != joined[f"{c}_bp7"].is_null()).sum())
               for c in twins}  # fmt: skip
    twins_fact = _fact("bpi_bp7_twins", twin_statement, "C", not any(differs.values()), pairs=joined.height,
                       **{f"{c}_differing": n for c, n in differs.items()})  # fmt: skip
    ((twin, meaning),) = BPI_BLANK_MEANS.items()  # the trading-unit rule, as the layout states it
    blank = joined[twin].is_null()
    own = joined[f"{twin}_bp7"] == joined[meaning]
    same = joined[twin] == joined[f"{twin}_bp7"]
    counts = {
        "blank_and_own_id": int((blank & own.fill_null(False)).sum()),
        "blank_and_other_name": int((blank & ~own.fill_null(False)).sum()),
        "named_and_equal": int((~blank & same.fill_null(False)).sum()),
        "named_and_different": int((~blank & ~same.fill_null(False)).sum()),
        "bp7_13_blank": int(joined[f"{twin}_bp7"].is_null().sum()),
        "bpi_2_distinct": int(joined[twin].n_unique() - (1 if blank.any() else 0)),
    }
    rule = _fact("trading_unit_rule", rule_statement, BPI.named[1].confidence,
                 counts["blank_and_other_name"] == 0 and counts["named_and_different"] == 0, pairs=joined.height, **counts)
    return [twins_fact, rule]


def _bp7_arithmetic(records: dict[str, pl.DataFrame], context: _Context) -> list[dict]:
    iiv_statement = "BP7 6 = |BP7 7 - BP7 8| (never negative), not the signed difference"
    comp_statement = "BP7 25 = BP7 22 x SPI 53, to the penny"
    if "BP7" not in records:
        return [_fact("information_imbalance_volume_is_absolute", iiv_statement, "I", None),
                _fact("supplier_compensation_cashflow", comp_statement, "V", None)]
    bp7 = records["BP7"]
    iiv, emv, qm = (_num(bp7, BP7, c) for c in ("information_imbalance_volume_mwh", "expected_metered_volume_mwh", "metered_volume_mwh"))
    signed = ((emv - qm) - iiv).abs() < 5e-4
    absolute = ((emv - qm).abs() - iiv).abs() < 5e-4
    counts = {"rows": bp7.height, "absolute_holds": int(absolute.sum()), "signed_holds": int(signed.sum()),
              "absolute_only": int((absolute & ~signed).sum()), "signed_only": int((signed & ~absolute).sum()),
              "neither": int((~absolute & ~signed).fill_null(True).sum()), "negative": int((iiv < 0).sum())}  # fmt: skip
    iiv_fact = _fact("information_imbalance_volume_is_absolute", iiv_statement,
                     BP7.named[5].confidence, counts["neither"] == 0 and counts["signed_only"] == 0, **counts)
    volume = _num(bp7, BP7, "supplier_compensation_volume_mwh")
    cashflow = _num(bp7, BP7, "supplier_compensation_cashflow_gbp")
    with_period = context.attach(bp7.select("line_number"))
    spi = records.get("SPI")
    if spi is None:
        return [iiv_fact, _fact("supplier_compensation_cashflow", comp_statement, "V", None)]
    price = pl.DataFrame({"settlement_period": _num(spi, SPI, "settlement_period").cast(pl.Int64),
                          "ssc": _num(spi, SPI, "supplier_sourcing_cost_gbp_per_mwh")})  # fmt: skip
    ssc = with_period.join(price, on="settlement_period", how="left", maintain_order="left")["ssc"]
    filled = volume.is_not_null()
    expected = (volume * ssc).round(2)
    holds = ((expected - cashflow).abs() < 0.0101) & filled  # a half penny may round either way
    comp = _fact("supplier_compensation_cashflow", comp_statement, "V", bool(holds.sum() == filled.sum()),
                 rows_with_volume=int(filled.sum()), holds=int(holds.sum()))
    return [iiv_fact, comp]


def _ssd_repeats_spi(records: dict[str, pl.DataFrame], context: _Context) -> dict:
    statement = "SSD is the same line under every party, and its fields named like an SPI field hold that SPI value"
    if "SSD" not in records or "SPI" not in records:
        return _fact("ssd_repeats_spi", statement, "I", None)
    shared = [f for f in SSD.named if f.column in {g.column for g in SPI.fields()}]
    ssd = context.attach(records["SSD"].select("line_number", *[pl.col(f"f{f.pos}").alias(f.column) for f in shared if f"f{f.pos}" in records["SSD"].columns]))
    spi = records["SPI"].select(_num(records["SPI"], SPI, "settlement_period").cast(pl.Int64).alias("settlement_period"),
                                *[pl.col(_f(SPI, f.column)).alias(f"{f.column}_spi") for f in shared if _f(SPI, f.column) in records["SPI"].columns])  # fmt: skip
    joined = ssd.join(spi, on="settlement_period", how="left")
    columns = [f.column for f in shared if f.column in joined.columns and f"{f.column}_spi" in joined.columns]

    def same(c: str) -> pl.Expr:  # as numbers where both are numbers, else as text
        a, b = pl.col(c).cast(pl.Float64, strict=False), pl.col(f"{c}_spi").cast(pl.Float64, strict=False)
        return pl.when(a.is_not_null() & b.is_not_null()).then((a - b).abs() < _EPSILON).otherwise(pl.col(c).eq_missing(pl.col(f"{c}_spi")))

    differing = joined.select([(~same(c)).sum().alias(c) for c in columns]).row(0, named=True) if columns else {}
    lines_per_period = records["SSD"].with_columns(context.attach(records["SSD"].select("line_number"))["settlement_period"]).drop(
        "line_number").unique().group_by("settlement_period").len()
    variants = int((lines_per_period["len"] > 1).sum())
    return _fact("ssd_repeats_spi", statement, "I", variants == 0 and not any(differing.values()), ssd_lines=records["SSD"].height,
                 fields_compared=len(columns), periods_with_different_ssd_lines=variants,
                 **{f"{c}_differing": int(n) for c, n in differing.items() if n})  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Settlement identities, judged by the rules of core/quality.py


def _identities(records: dict[str, pl.DataFrame], context: _Context) -> list[dict]:
    tables: dict[str, pl.DataFrame] = {}
    if "PPC" in records:
        tables["party_period"] = context.attach(_typed(records["PPC"], PPC))
    if "APD" in records:
        tables["account_period"] = context.attach(_typed(records["APD"], APD))
    if "BO4" in records:
        tables["bid_offer_pair"] = context.attach(_typed(records["BO4"], BO4), unit=True)
    elif "PPC" in records:
        tables["bid_offer_pair"] = pl.DataFrame(schema={"bm_unit_id": pl.String, "settlement_period": pl.Int64,
                                                        "bid_cashflow_gbp": pl.Float64, "offer_cashflow_gbp": pl.Float64})  # fmt: skip
    if "BP7" in records:
        bp7 = context.attach(records["BP7"].select("line_number", pl.col(_f(BP7, "bm_unit_id")).alias("bm_unit_id")))
        tables["bm_unit_period"] = bp7.rename({"party_id": "lead_party_id"})
    out = []
    for identity in quality.IDENTITIES:
        if not all(t in tables for t in identity.tables):
            out.append(_fact(identity.rule.name, identity.rule.description, "I", None))
            continue
        outcome = identity.outcome(tables)
        out.append(_fact(identity.rule.name, identity.rule.description, "I", outcome.passed, **outcome.metadata))
    return out


def _ranges(records: dict[str, pl.DataFrame]) -> list[dict]:
    """The value ranges of core/quality.py, on every record field of that name."""
    out = []
    for rid, layout in LAYOUTS.items():
        if rid not in records:
            continue
        for f in layout.named:
            if f.column not in quality.VALUE_RANGES or f"f{f.pos}" not in records[rid].columns:
                continue
            low, high = quality.VALUE_RANGES[f.column]
            frame = records[rid]
            values = frame[f"f{f.pos}"].cast(pl.Float64, strict=False)
            below = _lines_where(frame, values < low) if low is not None else 0
            above = _lines_where(frame, values > high) if high is not None else 0
            bounds = f"in [{low}, {high}]" if low is not None and high is not None else (f">= {low}" if low is not None else f"<= {high}")
            out.append(_fact(f"range_{rid.lower()}_{f.pos}_{f.column}", f"{rid} {f.pos} ({f.column}) {bounds}", f.confidence,
                             below + above == 0, values=_lines_where(frame, values.is_not_null()), below=below, above=above))
    return out


def _blank_fields(records: dict[str, pl.DataFrame]) -> dict:
    """Fields the layout describes as always blank (BO4 6-7, PPC 7-8, ...): how often they are not."""
    stated = [(rid, f) for rid, layout in LAYOUTS.items() for f in layout.named if "always blank" in f.description]
    counts = {f"{rid} {f.pos}": _lines_where(records[rid], records[rid][f"f{f.pos}"].str.len_bytes() > 0)
              for rid, f in stated if rid in records and f"f{f.pos}" in records[rid].columns}  # fmt: skip
    statement = "fields the layout calls always blank are blank: " + ", ".join(f"{rid} {f.pos}" for rid, f in stated)
    return _fact("stated_blank_fields", statement, "I", not any(counts.values()) if counts else None,
                 **{f"{k} filled": v for k, v in counts.items()})


__all__ = ["idd_checksum", "layout_report"]
