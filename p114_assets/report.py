"""A static HTML report of what the warehouse holds, written by `p114 demo` and `p114 report`.

Every figure comes from SQL through the Warehouse interface, so the same report works on DuckDB
and BigQuery.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

from p114_assets.core.s0142.layout import RAW_TABLES
from p114_assets.core.settlement import RUN_TYPES, periods_in_day
from p114_assets.warehouse.base import SCHEMA, Warehouse

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d2430; }
h1 { margin-bottom: 0.2rem; } .sub { color: #667; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #d5d9e0; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f1f3f6; } td.l, th.l { text-align: left; }
td.present { background: #cdebd3; } td.missing { color: #aab; }
"""


def _table(headers: list[str], rows: list[list], left: int = 1, classes: list[list[str]] | None = None) -> str:
    head = "".join(f'<th class="{"l" if i < left else ""}">{html.escape(str(h))}</th>' for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        cells = []
        for i, value in enumerate(row):
            css = ["l"] if i < left else []
            if classes:
                css.append(classes[r][i])
            text = f"{value:,.3f}" if isinstance(value, float) else (f"{value:,}" if isinstance(value, int) else str(value))
            cells.append(f'<td class="{" ".join(css)}">{html.escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def coverage(warehouse: Warehouse) -> list[dict]:
    """(date, run type) partitions present in bm_unit_period, with units and periods seen."""
    if not warehouse.table_exists("bm_unit_period"):
        return []
    return warehouse.query(
        f"SELECT settlement_date, run_type, count(DISTINCT bm_unit_id) AS units, "
        f"count(DISTINCT settlement_period) AS periods, count(*) AS rows "
        f"FROM {SCHEMA}.bm_unit_period GROUP BY settlement_date, run_type ORDER BY settlement_date, run_type"
    ).to_pylist()


def build_report(warehouse: Warehouse, title: str = "p114 warehouse report") -> str:
    cov = coverage(warehouse)
    sections = [f"<h1>{html.escape(title)}</h1>",
                f'<p class="sub">{html.escape(warehouse.location())} &middot; written {dt.datetime.now():%Y-%m-%d %H:%M}</p>']  # fmt: skip
    if not cov:
        sections.append("<p>The warehouse holds no settlement data yet.</p>")
        return _page(title, sections)

    dates = sorted({r["settlement_date"] for r in cov})
    present = {(r["settlement_date"], r["run_type"]): r for r in cov}
    grid, css = [], []
    for day in dates:
        row, row_css = [day.isoformat(), periods_in_day(day)], ["", ""]
        for run in RUN_TYPES:
            hit = present.get((day, run))
            row.append(f"{hit['units']} units, {hit['periods']} periods" if hit else "-")
            row_css.append("present" if hit else "missing")
        grid.append(row)
        css.append(row_css)
    sections += ["<h2>Coverage</h2>", "<p>Which settlement runs are loaded for each date "
                 "(periods expected from Europe/London: 46 / 48 / 50).</p>",
                 _table(["settlement date", "periods due", *RUN_TYPES], grid, left=1, classes=css)]  # fmt: skip

    counts = []
    for name in RAW_TABLES:
        if warehouse.table_exists(name):
            n = warehouse.query(f"SELECT count(*) AS n FROM {SCHEMA}.{name}").column("n")[0].as_py()
            counts.append([f"{SCHEMA}.{name}", int(n)])
    sections += ["<h2>Tables</h2>", _table(["table", "rows"], counts)]

    energy = warehouse.query(
        f"SELECT settlement_date, run_type, "
        f"CASE WHEN STARTS_WITH(bm_unit_id, '2__') OR STARTS_WITH(bm_unit_id, 'C__') THEN 'supplier (2__, C__)' "
        f"WHEN STARTS_WITH(bm_unit_id, 'V__') THEN 'secondary (V__)' WHEN STARTS_WITH(bm_unit_id, 'T_') THEN 'transmission (T_)' "
        f"WHEN STARTS_WITH(bm_unit_id, 'E_') THEN 'embedded (E_)' WHEN STARTS_WITH(bm_unit_id, 'I_') THEN 'interconnector (I_)' "
        f"ELSE 'other' END AS kind, sum(metered_volume_mwh) / 1000 AS gwh "
        f"FROM {SCHEMA}.bm_unit_period GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ).to_pylist()
    sections += ["<h2>Metered energy by BM unit kind (GWh, + = export)</h2>",
                 _table(["settlement date", "run", "unit kind", "GWh"],
                        [[r["settlement_date"].isoformat(), r["run_type"], r["kind"], float(r["gwh"])] for r in energy], left=3)]  # fmt: skip
    return _page(title, sections)


def _page(title: str, sections: list[str]) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>")  # fmt: skip


def write_report(warehouse: Warehouse, out: str | Path, title: str = "p114 warehouse report") -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(build_report(warehouse, title), encoding="utf-8")
    tmp.replace(out)
    return out
