"""The docs work: the notebook-style example in docs/python_api.md runs and computes what was worked
by hand, and every relative link in the README and docs/ points at a file in this repository (links
work on GitHub)."""

from __future__ import annotations

import contextlib
import io
import re
from decimal import Decimal as D
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "deploy" / "README.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def python_cells(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_the_python_api_example_runs(vlp_warehouse, monkeypatch):
    monkeypatch.setenv("P114_DUCKDB_PATH", str(vlp_warehouse))
    monkeypatch.delenv("P114_WAREHOUSE", raising=False)
    cells = python_cells((REPO / "docs" / "python_api.md").read_text())
    assert len(cells) == 4
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for cell in cells:
            exec(compile(cell, "docs/python_api.md", "exec"), namespace)
    assert namespace["tables"]["vlp_revenue_daily"] == 2
    assert namespace["by_party"].to_dicts() == [{"lead_party_id": "FLEX", "net_balancing_revenue_gbp": D("372.65"), "units": 2}]
    assert list(namespace["periods"]["settlement_period"]) == [1, 2]  # pandas, the unit's two periods in SF
    # SF, by hand: 373.75 - 1.10 - 8.90 + 1.45 = 365.20
    assert namespace["position"] == D("365.20")  # exact money: a Decimal
    assert "FLEX 2024-06-05 (SF): 365.20 GBP" in printed.getvalue()


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(REPO)) for d in DOCS])
def test_every_relative_link_resolves_inside_the_repository(doc):
    broken = []
    for target in LINK.findall(doc.read_text()):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        if not path.is_relative_to(REPO) or not path.exists():
            broken.append(target)
    assert broken == []


def test_no_doc_points_outside_the_repository():
    outside = [str(d.relative_to(REPO)) for d in DOCS if "../shared" in d.read_text() or "../reference" in d.read_text()]
    assert outside == []
