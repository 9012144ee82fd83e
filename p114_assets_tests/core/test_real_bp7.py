"""Real BP7 values (party GOLD, 2023-03-30 and 2023-03-31, SF) rendered into S0142 records at their
documented positions: the parser must give back every field.

The CSVs are a copy of ../shared/reference/real_bp7 (MIT, matched-energy/matched-analytics; licence and
provenance beside them in fixtures/real_bp7) so the tests run from any clone."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from decimal import Decimal

import polars as pl
import pytest

from p114_assets.core.s0142.parser import parse_bytes

from p114_assets_tests.conftest import FIXTURES

FILES = sorted((FIXTURES / "real_bp7").glob("matched-analytics_S0142_*_GOLD.csv"))


def test_both_reference_days_are_present():
    assert [p.name[18:32] for p in FILES] == ["S0142_20230330", "S0142_20230331"]

# CSV column (IDD name) -> (BP7 position, warehouse column)
BP7_FIELDS = {
    "BM Unit Id": (1, "bm_unit_id"),
    "Information Imbalance Cashflow": (2, "information_imbalance_cashflow_gbp"),
    "BM Unit Period Non-Delivery Charge": (3, "non_delivery_charge_gbp"),
    "Period FPN": (4, "period_fpn_mwh"),
    "Period BM Unit Balancing Services Volume": (5, "balancing_services_volume_mwh"),
    "Period Information Imbalance Volume": (6, "information_imbalance_volume_mwh"),
    "Period Expected Metered Volume": (7, "expected_metered_volume_mwh"),
    "BM Unit Metered Volume": (8, "metered_volume_mwh"),
    "Period BM Unit Non-Delivered Bid Volume": (9, "non_delivered_bid_volume_mwh"),
    "Period BM Unit Non-Delivered Offer Volume": (10, "non_delivered_offer_volume_mwh"),
    "Transmission Loss Factor": (11, "transmission_loss_factor"),
    "Transmission Loss Multiplier": (12, "transmission_loss_multiplier"),
    "Trading Unit Name": (13, "trading_unit_name"),
    "Total Trading Unit Metered Volume": (14, "total_trading_unit_metered_volume_mwh"),
    "BM Unit Applicable Balancing Services Volume": (15, "applicable_balancing_services_volume_mwh"),
    "Period Supplier BM Unit Delivered Volume": (16, "supplier_delivered_volume_mwh"),
    "Period Supplier BM Unit Non BM ABSVD Volume": (17, "supplier_non_bm_absvd_volume_mwh"),
}
# BPI positions of the BP7 twins (S0142_FORMAT.md): 1 unit, 2 trading unit, 3 FPN, 4 metered, 5 TLM, 6 ABSV
BPI_FROM = {1: "BM Unit Id", 2: "Trading Unit Name", 3: "Period FPN", 4: "BM Unit Metered Volume",
            5: "Transmission Loss Multiplier", 6: "BM Unit Applicable Balancing Services Volume"}  # fmt: skip


def render(rows: list[dict]) -> tuple[str, dt.date, str, str]:
    """An S0142 file holding these BP7 rows (and their BPI twins), values printed exactly as given."""
    first = rows[0]
    day = dt.datetime.strptime(first["Settlement Date"], "%d/%m/%Y").date()
    run = first["Settlement Run Type"]
    stamp = "20230425121906"
    periods = sorted({int(r["Settlement Period"]) for r in rows})
    by_period = {p: [r for r in rows if int(r["Settlement Period"]) == p] for p in periods}
    srh = f"{day:%Y%m%d}|{run}|1|1|{day:%Y%m%d}|1|1"
    lines = [f"AAA|S0142011|D|{stamp}|SA|UKDC|PB|PORTAL|1|OPER|", f"SRH|{srh}|NGC|"]
    for p in periods:
        lines.append(f"SPI|{p}|" + "|" * 52)
        for r in by_period[p]:
            lines.append("BPI|" + "|".join(r[BPI_FROM[pos]] for pos in range(1, 7)) + "|")
    lines.append(f"BPH|{srh}|{first['BSC']}|")
    lines.append("APC|" + "0|" * 12)
    for p in periods:
        lines.append(f"SP7|{p}|")
        for r in by_period[p]:
            fields = [""] * 25
            for column, (pos, _) in BP7_FIELDS.items():
                fields[pos - 1] = r[column]
            lines.append("BP7|" + "|".join(fields) + "|")
    lines.append(f"ZZZ|{len(lines) + 1}|0|")
    return "\n".join(lines) + "\n", day, run, first["BSC"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name[len("matched-analytics_"):])
def test_parser_reproduces_every_real_bp7_field(path):
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 672
    text, day, run, party = render(rows)
    parsed = parse_bytes(gzip.compress(text.encode(), mtime=0), path.name)
    bm = pl.from_arrow(parsed.tables["bm_unit_period"])
    assert bm.height == 672
    assert bm["bpi_bp7_mismatch"].null_count() == 672  # every BPI agrees with its twin
    assert set(bm["lead_party_id"]) == {party}
    assert set(bm["settlement_date"]) == {day} and set(bm["run_type"]) == {run}
    got = {(r["bm_unit_id"], r["settlement_period"]): r for r in bm.iter_rows(named=True)}
    for r in rows:
        out = got[(r["BM Unit Id"], int(r["Settlement Period"]))]
        for column, (_, name) in BP7_FIELDS.items():
            expected = r[column]
            if name in ("bm_unit_id", "trading_unit_name"):
                assert out[name] == (expected or None), (column, r)
            else:
                assert out[name] == (Decimal(expected) if isinstance(out[name], Decimal) else float(expected)), (column, r)


def test_real_values_obey_the_documented_identities():
    """BP7 6 = BP7 7 - BP7 8 and TLM = 1 + TLF + one of two per-period adjustments, on real rows."""
    for path in FILES:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        adjustments: dict[str, set[float]] = {}
        for r in rows:
            iiv = float(r["Period Information Imbalance Volume"])
            assert round(float(r["Period Expected Metered Volume"]) - float(r["BM Unit Metered Volume"]), 3) == iiv
            adj = round(float(r["Transmission Loss Multiplier"]) - 1 - float(r["Transmission Loss Factor"]), 7)
            adjustments.setdefault(r["Settlement Period"], set()).add(adj)
        assert max(len(v) for v in adjustments.values()) <= 2
