"""Plots as PNG bytes (matplotlib, no display), for asset metadata and the HTML report."""

from __future__ import annotations

import io


def _figure():
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    return plt


def _png(plt, fig) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def market_structure_figure(shares: list[dict], title: str):
    """Horizontal bars on a 0-100% axis: each class's share of the market's MWh (A_tot), labelled
    with MWh and unit counts (inside a long bar, after a short one). Returns (pyplot, figure)."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7.5, 3.2), dpi=110)
    labels = [s["class"].replace("_", " ") for s in shares]
    values = [s["share"] * 100 for s in shares]
    bars = ax.barh(labels, values, color=["#3b6ea8", "#5aa469", "#d1495b", "#edae49", "#9aa0a6"][: len(shares)])
    for bar, s in zip(bars, shares):
        inside = bar.get_width() > 55  # the label would run past 100%: write it inside the bar
        ax.text(bar.get_width() - 1 if inside else bar.get_width() + 1, bar.get_y() + bar.get_height() / 2,
                f"{s['share']:.1%}  ({s['mwh']:,.0f} MWh, {s['units']} units)", va="center", fontsize=8,
                ha="right" if inside else "left", color="white" if inside else "#1d2430")  # fmt: skip
    ax.invert_yaxis()
    ax.set_xlim(0, 100)  # shares of one whole: the axis is the whole
    ax.set_xlabel("share of MWh (A_self + A_so + A_dev), %")
    ax.set_title(title, fontsize=10)
    return plt, fig


def market_structure_png(shares: list[dict], title: str) -> bytes:
    """market_structure_figure as PNG bytes."""
    return _png(*market_structure_figure(shares, title))


def vlp_revenue_png(rows: list[dict], title: str) -> bytes:
    """Net balancing revenue per VLP party and settlement date (stacked by party)."""
    plt = _figure()
    dates = sorted({r["settlement_date"] for r in rows})
    parties = sorted({r["party_id"] for r in rows})
    revenue = {(r["party_id"], r["settlement_date"]): float(r["net_balancing_revenue_gbp"] or 0) for r in rows}  # exact GBP, drawn
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
