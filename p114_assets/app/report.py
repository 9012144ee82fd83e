"""A static HTML report of what the warehouse holds, written by `p114 demo` and `p114 report`.

Every figure comes from SQL through the Warehouse interface, so the same report works on DuckDB
and BigQuery.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from decimal import Decimal
from pathlib import Path

from p114_assets.core.atomic_write import write_atomically
from p114_assets.core.classification import market_structure, window_label
from p114_assets.core.plots import market_structure_png, vlp_revenue_png
from p114_assets.core.settlement import RUN_TYPES, periods_in_day
from p114_assets.warehouse import queries
from p114_assets.warehouse.base import SCHEMA, Warehouse
from p114_assets.warehouse.tables import TABLES

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
            text = f"{value:,.3f}" if isinstance(value, (float, Decimal)) else (f"{value:,}" if isinstance(value, int) else str(value))
            cells.append(f'<td class="{" ".join(css)}">{html.escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def build_report(warehouse: Warehouse, title: str = "p114 warehouse report") -> str:
    cov = queries.coverage(warehouse)
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

    existing = warehouse.existing_tables(list(TABLES))  # asked once: each ask is a connection
    counts = [[f"{SCHEMA}.{name}", queries.table_rows(warehouse, name)] for name in TABLES if name in existing]
    sections += ["<h2>Tables</h2>", _table(["table", "rows"], counts)]

    energy = queries.energy_by_unit_kind(warehouse)
    sections += ["<h2>Metered energy by BM unit kind (GWh, + = export)</h2>",
                 _table(["settlement date", "run", "unit kind", "GWh"],
                        [[r["settlement_date"].isoformat(), r["run_type"], r["kind"], float(r["gwh"])] for r in energy], left=3)]  # fmt: skip
    sections += _vlp_sections(warehouse) + _classification_sections(warehouse)
    return _page(title, sections)


def _img(png: bytes, alt: str) -> str:
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}"></p>'


def _vlp_sections(warehouse: Warehouse) -> list[str]:
    if not (warehouse.table_exists("vlp_party_daily") and warehouse.table_exists("vlp_revenue_daily")):
        return []
    by_party = queries.vlp_revenue_by_party(warehouse)
    parties = queries.vlp_positions(warehouse)
    if not parties:
        return []
    return [
        "<h2>Virtual Lead Parties</h2>",
        "<p>Net balancing revenue of each party's V__ units (BO4 cashflows minus non-delivery charges), and each "
        "party's settlement position from its PPC records: BM cashflow - non-delivery - energy imbalance + RCRC "
        "(GBP, + = paid to the party). Formulas: docs/marts.md.</p>",
        _img(vlp_revenue_png(by_party, "Net balancing revenue of VLP units, by party and day"), "VLP revenue"),
        _table(["party", "settlement date", "run", "VLP units", "BM cashflow", "non-delivery", "energy imbalance", "RCRC",
                "net position"],
               [[r["party_id"], r["settlement_date"].isoformat(), r["run_type"], r["vlp_units"], *[
                   f"{(r[c] or 0):,.2f}" for c in ("bm_cashflow_gbp", "non_delivery_charge_gbp", "energy_imbalance_cashflow_gbp",
                                                   "residual_cashflow_reallocation_gbp", "net_settlement_position_gbp")]]
                for r in parties], left=3),
    ]  # fmt: skip


def _classification_sections(warehouse: Warehouse) -> list[str]:
    if not warehouse.table_exists("unit_classification"):
        return []
    latest = queries.latest_date(warehouse, "unit_classification")
    if latest is None:
        return []
    units = queries.classified_units(warehouse, latest)
    shares = market_structure((u["class"], u["a_tot_mwh"]) for u in units)
    window = int(units[0]["window_days"]) if units else 1
    days = queries.days_with_data(warehouse, "settlement_canonical", latest - dt.timedelta(days=window - 1), latest)
    title = f"Market structure, {window_label(window, days, latest)} (MWh-weighted)"
    return [
        "<h2>Self-balancing classification</h2>",
        "<p>Non-supplier BM units by how they balanced over the window: shares of MWh (A_self + A_so + A_dev), "
        "never of rows. Rules: docs/marts.md.</p>",
        f"<h3>{html.escape(title)}</h3>",
        _img(market_structure_png(shares, title), title),
        _table(["class", "MWh", "share", "units"],
               [[s["class"], f"{s['mwh']:,.1f}", f"{s['share']:.1%}", s["units"]] for s in shares]),
    ]  # fmt: skip


def _page(title: str, sections: list[str]) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>")  # fmt: skip


def write_report(warehouse: Warehouse, out: str | Path, title: str = "p114 warehouse report") -> Path:
    out = Path(out)  # its folder must exist: a report is never written somewhere unexpected
    return write_atomically(out, build_report(warehouse, title))
