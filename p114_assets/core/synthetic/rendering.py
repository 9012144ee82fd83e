"""Rendering values into S0142 lines through the record layouts (core/s0142/layout.py).

A record is rendered from a frame of values named by its layout's columns: numbers are integers
scaled by the field's printed decimals (value x 10**decimals) and printed minimally, as real files
print them (`0`, `-25`, `0.5`, `1.0183849`); text is printed as given; every position the frame
does not name is blank. No field position is written anywhere but in the layout.

Lines are ordered by six sort keys that encode the nesting of the file (section, then period or
party, then block, unit, record, ordinal), so records can be built type by type and sorted once.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from p114_assets.core.s0142.layout import RecordLayout

SORT_KEYS = ["k0", "k1", "k2", "k3", "k4", "k5"]
HEADER, SYSTEM, PARTIES = 0, 1, 2  # sections (k0); the trailer is appended after the sort
# Bits of each key in the one 64-bit key the lines are sorted by (sorting one integer column is
# several times faster than six): room for 16k parties, 256k BM units, 8M ordinals.
_KEY_BITS = (2, 14, 3, 18, 4, 23)


def number(expr: pl.Expr, decimals: int) -> pl.Expr:
    """Print an integer-scaled column (value x 10**decimals) as real files do: 0, -25, 0.5, 1.0183849.
    Null prints blank."""
    if decimals == 0:
        return expr.cast(pl.Int64).cast(pl.String).fill_null("")
    scale = 10**decimals
    magnitude = expr.cast(pl.Int64).abs()
    whole = (magnitude // scale).cast(pl.String)
    frac = (magnitude % scale).cast(pl.String).str.zfill(decimals).str.strip_chars_end("0")
    sign = pl.when(expr < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    text = pl.concat_str([sign, whole, pl.when(frac == "").then(pl.lit("")).otherwise(pl.lit(".") + frac)])
    return text.fill_null("")


def texts(values: np.ndarray, decimals: int) -> list[str]:
    """An integer-scaled array printed as `number` prints it."""
    return pl.select(number(pl.lit(pl.Series(np.asarray(values, dtype=np.int64))), decimals)).to_series().to_list()


def masked(mask: np.ndarray, values: np.ndarray) -> pl.Series:
    """Integer values where `mask` holds, null (a blank field) elsewhere."""
    return pl.Series(np.asarray(values, dtype=np.int64)).scatter(np.flatnonzero(~np.asarray(mask, dtype=bool)), None)


def render(frame: pl.DataFrame, layout: RecordLayout, values: dict[str, pl.Expr | str] | None = None) -> pl.DataFrame:
    """The lines of one record type, with the frame's sort keys. `values` maps layout columns to
    expressions (or the names of frame columns); by default every frame column named like a layout
    column is used. Numeric fields are integer-scaled; text fields are printed as they are."""
    if values is None:
        values = {f.column: f.column for f in layout.fields() if f.column in frame.columns}
    parts: list[pl.Expr] = [pl.lit(layout.record_id)]
    for f in layout.fields():
        value = values.get(f.column)
        if value is None:
            parts.append(pl.lit(""))
            continue
        expr = pl.col(value) if isinstance(value, str) else value
        if f.type == "text":
            parts.append(expr.cast(pl.String).fill_null(""))
        else:
            parts.append(number(expr, 0 if f.type == "int" else (f.decimals if f.decimals is not None else 7)))
    parts.append(pl.lit(""))  # every line ends with '|'
    return frame.select(*SORT_KEYS, pl.concat_str(parts, separator="|").alias("line"))


def keys(k0: int, k1: pl.Expr | int = 0, k2: pl.Expr | int = 0, k3: pl.Expr | int = 0, k4: pl.Expr | int = 0,
         k5: pl.Expr | int = 0) -> list[pl.Expr]:  # fmt: skip
    """Sort key columns for a frame: literals or expressions."""

    def as_expr(v: pl.Expr | int) -> pl.Expr:
        return v.cast(pl.Int64) if isinstance(v, pl.Expr) else pl.lit(v, pl.Int64)

    return [as_expr(v).alias(name) for name, v in zip(SORT_KEYS, (k0, k1, k2, k3, k4, k5))]


def sorted_text(frames: list[pl.DataFrame]) -> str:
    """The lines of every frame, in key order, joined by newlines (with a final newline)."""
    body = pl.concat(frames, how="vertical_relaxed")
    key = pl.lit(0, pl.UInt64)
    for name, bits in zip(SORT_KEYS, _KEY_BITS):
        key = key * (1 << bits) + pl.col(name).cast(pl.UInt64)
    overflow = body.select(*[(pl.col(n) >= (1 << b)).any() for n, b in zip(SORT_KEYS, _KEY_BITS)]).row(0)
    if any(overflow):
        raise ValueError("too many parties, units or records for the synthetic file's sort key")
    lines = body.select(key.alias("key"), "line").sort("key")["line"]
    return lines.str.join("\n").item() + "\n"


def truth(frame: pl.DataFrame, layout: RecordLayout) -> pl.DataFrame:
    """Typed values (floats in real units) of the layout columns a frame holds, as the parser should
    read them, with the record's context (period, BM unit, party) where the frame has it."""
    cols = []
    names = {f.column for f in layout.fields()}
    for f in layout.fields():
        if f.column not in frame.columns:
            continue
        if f.type == "float":
            cols.append((pl.col(f.column) / 10 ** (f.decimals if f.decimals is not None else 7)).alias(f.column))
        elif f.type == "int":
            cols.append(pl.col(f.column).cast(pl.Int64))
        else:
            cols.append(pl.col(f.column))
    cols += [pl.col(c) for c in ("settlement_period", "bm_unit_id", "party_id") if c in frame.columns and c not in names]
    return frame.select(cols)


__all__ = ["HEADER", "PARTIES", "SORT_KEYS", "SYSTEM", "keys", "masked", "number", "render", "sorted_text", "texts", "truth"]
