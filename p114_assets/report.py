"""A static HTML report of what the warehouse holds, written by `p114 demo` and `p114 report`.

Every figure comes from SQL through the Warehouse interface, so the same report works on DuckDB
and BigQuery.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from pathlib import Path

from p114_assets.core.classification import market_structure
from p114_assets.core.settlement import RUN_TYPES, periods_in_day
from p114_assets.warehouse import sql
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
    for name in TABLES:
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
    sections += _vlp_sections(warehouse) + _classification_sections(warehouse)
    return _page(title, sections)


def _img(png: bytes, alt: str) -> str:
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}"></p>'


def _vlp_sections(warehouse: Warehouse) -> list[str]:
    if not (warehouse.table_exists("vlp_party_daily") and warehouse.table_exists("vlp_revenue_daily")):
        return []
    by_party = warehouse.query(
        f"SELECT lead_party_id AS party_id, settlement_date, SUM(net_balancing_revenue_gbp) AS net_balancing_revenue_gbp "
        f"FROM {SCHEMA}.vlp_revenue_daily GROUP BY lead_party_id, settlement_date"
    ).to_pylist()
    parties = warehouse.query(
        f"SELECT party_id, settlement_date, run_type, vlp_units, bm_cashflow_gbp, non_delivery_charge_gbp, "
        f"energy_imbalance_cashflow_gbp, residual_cashflow_reallocation_gbp, net_settlement_position_gbp "
        f"FROM {SCHEMA}.vlp_party_daily ORDER BY settlement_date, party_id"
    ).to_pylist()
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
    latest = warehouse.query(f"SELECT MAX(settlement_date) AS d FROM {SCHEMA}.unit_classification").column("d")[0].as_py()
    if latest is None:
        return []
    units = warehouse.query(f"SELECT class, a_tot_mwh, window_days FROM {SCHEMA}.unit_classification "
                            f"WHERE settlement_date = {sql.date_literal(latest)}").to_pylist()  # fmt: skip
    shares = market_structure((u["class"], u["a_tot_mwh"]) for u in units)
    window = units[0]["window_days"] if units else "?"
    title = f"Market structure, {window} days to {latest} (MWh-weighted)"
    return [
        "<h2>Self-balancing classification</h2>",
        "<p>Non-supplier BM units by how they balanced over the window: shares of MWh (A_self + A_so + A_dev), "
        "never of rows. Rules: docs/marts.md.</p>",
        _img(market_structure_png(shares, title), "market structure"),
        _table(["class", "MWh", "share", "units"],
               [[s["class"], f"{s['mwh']:,.1f}", f"{s['share']:.1%}", s["units"]] for s in shares]),
    ]  # fmt: skip


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


# ---------------------------------------------------------------------------------------------
# Plots (PNG bytes), for asset metadata and the report


def _figure():
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    return plt


def _png(plt, fig) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    import io

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def market_structure_png(shares: list[dict], title: str) -> bytes:
    """Horizontal bars: each class's share of the market's MWh (A_tot), with MWh and unit counts."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7.5, 3.2), dpi=110)
    labels = [s["class"].replace("_", " ") for s in shares]
    values = [s["share"] * 100 for s in shares]
    bars = ax.barh(labels, values, color=["#3b6ea8", "#5aa469", "#d1495b", "#edae49", "#9aa0a6"][: len(shares)])
    for bar, s in zip(bars, shares):
        ax.text(bar.get_width() + 0.5, bar.get_y() + bar.get_height() / 2,
                f"{s['share']:.1%}  ({s['mwh']:,.0f} MWh, {s['units']} units)", va="center", fontsize=8)  # fmt: skip
    ax.invert_yaxis()
    ax.set_xlim(0, max(values + [1]) * 1.6)
    ax.set_xlabel("share of MWh (A_self + A_so + A_dev), %")
    ax.set_title(title, fontsize=10)
    return _png(plt, fig)


def vlp_revenue_png(rows: list[dict], title: str) -> bytes:
    """Net balancing revenue per VLP party and settlement date (stacked by party)."""
    plt = _figure()
    dates = sorted({r["settlement_date"] for r in rows})
    parties = sorted({r["party_id"] for r in rows})
    revenue = {(r["party_id"], r["settlement_date"]): r["net_balancing_revenue_gbp"] for r in rows}
    fig, ax = plt.subplots(figsize=(7.5, 3.4), dpi=110)
    bottom_pos = [0.0] * len(dates)
    bottom_neg = [0.0] * len(dates)
    for party in parties[:12]:
        values = [revenue.get((party, d), 0.0) for d in dates]
        base = [bp if v >= 0 else bn for v, bp, bn in zip(values, bottom_pos, bottom_neg)]
        ax.bar([d.isoformat()[5:] for d in dates], values, bottom=base, label=party)
        bottom_pos = [bp + max(v, 0) for v, bp in zip(values, bottom_pos)]
        bottom_neg = [bn + min(v, 0) for v, bn in zip(values, bottom_neg)]
    ax.axhline(0, color="#333", linewidth=0.6)
    ax.set_ylabel("net balancing revenue, GBP")
    ax.set_title(title, fontsize=10)
    if parties:
        ax.legend(fontsize=7, ncol=3, loc="upper left", frameon=False)
    return _png(plt, fig)
