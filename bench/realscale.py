"""Real-scale settlement dates for the warehouse benchmarks, built cheaply.

A real-scale S0142 file (8,000 BM units, ~1.5 M lines) takes the generator ~6 s and the parser
~1.5 s, so a benchmark of hundreds of dates generates a few template days once (cached as gzip
files under bench/.cache) and loads each date from one of them, re-dated, straight through the
warehouse's load path (`replace_partition`: period times, write order, loaded_runs, one
transaction). The two clock-change dates of a year are generated for what they are (46 and 50
periods); every other date reuses an ordinary 48-period template.
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pyarrow as pa

CACHE = Path(__file__).parent / ".cache"
TEMPLATES = 5  # distinct ordinary days to cycle through


def _file(units: int, day: dt.date, run_type: str) -> Path:
    """The cached gz file of one generated (date, run), generated on first use."""
    from p114_assets.core.synthetic import SyntheticMarket, generate_file

    folder = CACHE / f"units{units}"
    found = sorted(folder.glob(f"S0142_{day:%Y%m%d}_{run_type}_*.gz"))
    if found:
        return found[-1]
    folder.mkdir(parents=True, exist_ok=True)
    generated = generate_file(SyntheticMarket.build(units, seed=0), day, run_type)
    path = folder / f"{generated.file_name.name}"
    partial = path.with_suffix(".part")
    partial.write_bytes(gzip.compress(generated.text, compresslevel=1, mtime=0))
    partial.replace(path)
    return path


def parsed(units: int, day: dt.date, run_type: str) -> dict[str, pa.Table]:
    from p114_assets.core.s0142.parser import parse_file

    return parse_file(_file(units, day, run_type)).tables


def redated(tables: dict[str, pa.Table], day: dt.date) -> dict[str, pa.Table]:
    """The same rows under another settlement date."""
    out = {}
    for name, t in tables.items():
        i = t.schema.get_field_index("settlement_date")
        out[name] = t.set_column(i, t.schema.field(i), pa.array([day] * t.num_rows, pa.date32()))
    return out


class Days:
    """Parsed tables for any date of one run type: a template (re-dated), or the date itself on a
    clock change. Templates are parsed once and kept."""

    def __init__(self, units: int, run_type: str, first: dt.date):
        from p114_assets.core.settlement import periods_in_day

        self.units, self.run_type, self._periods = units, run_type, periods_in_day
        self._templates = [first + dt.timedelta(days=i) for i in range(60) if periods_in_day(first + dt.timedelta(days=i)) == 48][:TEMPLATES]
        self._parsed: dict[dt.date, dict[str, pa.Table]] = {}

    def _get(self, day: dt.date) -> dict[str, pa.Table]:
        if day not in self._parsed:
            self._parsed[day] = parsed(self.units, day, self.run_type)
        return self._parsed[day]

    def tables(self, day: dt.date, index: int) -> dict[str, pa.Table]:
        if self._periods(day) != 48:
            return self._get(day)
        template = self._templates[index % len(self._templates)]
        return self._get(template) if template == day else redated(self._get(template), day)


def load(warehouse, dates: list[dt.date], run_type: str, units: int = 8000, progress: bool = True) -> float:
    """Load every date through the warehouse's load path; returns the seconds spent writing."""
    import time

    days = Days(units, run_type, dates[0])
    written = 0.0
    for i, day in enumerate(dates):
        tables = days.tables(day, i)
        started = time.perf_counter()
        warehouse.replace_partition(tables, day, run_type)
        written += time.perf_counter() - started
        if progress and (i + 1) % 10 == 0:
            print(f"  loaded {i + 1}/{len(dates)} dates ({run_type}), {written / (i + 1):.2f} s a date", flush=True)
    return written
