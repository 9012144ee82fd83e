"""The system section of a synthetic file: per settlement period SPI, MD1, DB1 and TRA, then a BPI
for every BM unit (in unit id order) with its acceptances (BO3, BO4), its rare BO6 / BO7 and its
spot data (MEL, MIL, RDE, RDI, RUE, RUI) under it. Every record is rendered through its layout."""

from __future__ import annotations

import numpy as np
import polars as pl

from p114_assets.core.s0142.layout import (
    BO3, BO4, BO6, BO7, BPI, DB1, MD1, MEL, MIL, RDE, RDI, RUE, RUI, SPI, TRA, RecordLayout,
)  # fmt: skip
from p114_assets.core.synthetic.economics import Day
from p114_assets.core.synthetic.rendering import SYSTEM, keys, masked, number, render, texts, truth

# Order of the records under a BPI, and of the blocks at the head of a period.
UNDER_BPI = {"BPI": 0, "BO3": 1, "BO4": 2, "BO6": 3, "BO7": 4, "MEL": 5, "MIL": 6, "RDE": 7, "RDI": 8, "RUE": 9, "RUI": 10}
HEAD = {"SPI": 0, "MD1": 1, "DB1": 2, "TRA": 3, "UNITS": 4}
# Balancing services adjustment actions: companies and services as printed (spaces, '/', apostrophes).
BSAD_PARTIES = ("Northwind Energy A/S", "Helm Power Trading A/S", "O'Neill Flex Services Ltd", "Kestrel Energie AG",
                "Marsh & Vale Supply Ltd")  # fmt: skip
BSAD_SERVICES = ("System", "Energy", "Non-BM FR")


def _spi_unknowns(day: Day) -> dict[str, list[str]]:
    """SPI positions of unknown meaning, printed as the public profile shows them: zeros, blanks,
    constants (`T`, `10`, `0.1`) and system totals of both signs."""
    rng, n = day.rng, day.n_periods
    demand = np.where(day.metered < 0, day.metered, 0).sum(axis=0)
    supply = np.where(day.metered > 0, day.metered, 0).sum(axis=0)

    def sometimes(share: float, low: int, high: int, decimals: int) -> list[str]:
        return texts(np.where(rng.random(n) < share, rng.integers(low, high, n), 0), decimals)

    zero, blank = ["0"] * n, [None] * n
    bids = (day.accepted_volume - day.offer_sum).sum(axis=0)
    offers = day.offer_sum.sum(axis=0)
    reserve = sometimes(0.54, 100_000, 260_000, 3)
    return {
        "spi_05": texts(demand, 3), "spi_06": texts(supply, 3), "spi_08": zero, "spi_09": zero, "spi_10": blank,
        "spi_11": texts(offers + rng.integers(50_000, 400_000, n), 3), "spi_12": ["T"] * n, "spi_13": ["10"] * n,
        "spi_14": ["0.1"] * n, "spi_18": zero, "spi_22": zero, "spi_25": texts(bids, 3), "spi_26": texts(offers, 3),
        "spi_27": sometimes(0.2, -150_000, -1, 3), "spi_28": zero, "spi_29": sometimes(0.5, -2_000, -1, 3),
        "spi_30": sometimes(0.37, 1, 90_000, 3), "spi_31": texts(np.where(rng.random(n) < 0.33, -25 * rng.integers(5, 8, n), 0), 0),
        "spi_32": reserve, "spi_33": sometimes(0.33, -175_000, -150_000, 3), "spi_34": reserve,
        "spi_35": sometimes(0.2, -125_000, -20_000, 3), "spi_36": zero, "spi_37": sometimes(0.08, -112_500, -75_000, 3),
        "spi_38": sometimes(0.06, 70_000, 85_000, 3),
    }  # fmt: skip


def spi_values(day: Day) -> pl.DataFrame:
    """SPI of every period, named by the layout: numbers integer-scaled, unknown fields as text.
    SSD repeats the fields it shares a name with."""
    n = day.n_periods
    stor = pl.Series(day.stor)
    bids = (day.accepted_volume - day.offer_sum).sum(axis=0)
    frame = pl.DataFrame({
        "settlement_period": np.arange(1, n + 1), "sbp": day.sbp,
        "total_period_applicable_balancing_services_volume_mwh": day.absv.sum(axis=0),
        "system_total_accepted_bid_volume_mwh": bids, "system_total_accepted_offer_volume_mwh": day.offer_sum.sum(axis=0),
        "loss_of_load_probability": day.lolp_e7, "de_rated_margin": day.margin,
        **_spi_unknowns(day),
    })  # fmt: skip
    return frame.with_columns(
        system_buy_price_gbp_per_mwh=pl.col("sbp") * 1000,
        system_sell_price_gbp_per_mwh=pl.col("sbp") * 1000,
        price_derivation_code=pl.when(pl.col("sbp") > 6000).then(pl.lit("P")).otherwise(pl.lit("N")),
        # the replacement price, printed whole on about a quarter of the STOR periods
        replacement_price_gbp_per_mwh=pl.when(stor).then(pl.Series(np.where(day.rng.random(n) < 0.25, day.sbp // 100 * 100, day.sbp - 150)) * 1000),
        spi_40=pl.when(stor).then(pl.Series(np.where(day.rng.random(n) < 0.4, "0", np.where(day.rng.random(n) < 0.92, "1", "0.1")))),
        stor_availability_window_flag=pl.when(stor & day.stor_flag).then(pl.lit("T")).otherwise(pl.lit("F")),
        value_of_lost_load_gbp_per_mwh=pl.lit(600_000_000, pl.Int64),
        reserve_scarcity_price_gbp_per_mwh=pl.when(pl.Series(day.scarcity)).then(pl.col("loss_of_load_probability") * 60),
        supplier_sourcing_cost_gbp_per_mwh=pl.lit(day.ssc * 1000, pl.Int64),
    )


def _per_period(day: Day, rows_per_period: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(1, day.n_periods + 1), rows_per_period)


def db1_values(day: Day) -> pl.DataFrame:
    """Balancing services adjustment actions (3.6 / 6.7 a period in the profiled files). An action
    spans consecutive periods with the same round volume and price, as trades do, so the DB2 copies
    under a party repeat from period to period."""
    rng, n = day.rng, day.n_periods
    count = int(rng.integers(n // 2, n + 1))
    first = rng.integers(1, n + 1, count)
    length = rng.integers(1, 13, count)
    volume = rng.choice([-50_000, -37_500, -25_000, -15_000, -12_000, 12_000, 25_000, 50_000, 117_500], count)
    price = rng.choice([4_924, 6_750, 9_800, 11_750, 4_500, 13_000], count)  # pence / MWh
    actions = pl.DataFrame({
        "first": first, "length": length, "volume_mwh": volume, "cost_gbp": _cost(volume, price),
        "repriced_volume_mwh": np.where(rng.random(count) < 0.07, volume, 0),
        "originally_priced_volume_mwh": np.where(rng.random(count) < 0.2, volume, 0),
        "so_flag": np.where(rng.random(count) < 0.5, "T", "F"), "party_name": rng.choice(BSAD_PARTIES, count),
        "tendered_status": np.where(rng.random(count) < 0.8, "Tendered", "Non-tendered"),
        "service_type": rng.choice(BSAD_SERVICES, count), "asset": rng.integers(1, 4, count),
    })  # fmt: skip
    frame = (actions.with_columns(settlement_period=pl.int_ranges("first", pl.min_horizontal(pl.col("first") + pl.col("length"), n + 1)))
             .explode("settlement_period").sort("settlement_period", "first"))  # fmt: skip
    frame = frame.with_columns(ordinal=pl.int_range(pl.len()).over("settlement_period"))
    return frame.with_columns(
        bsad_action_number=pl.col("ordinal") + 1, tagged_volume_mwh=pl.col("volume_mwh"), stor_flag=pl.lit("F"), rsp_flag=pl.lit("F"),
        asset_id=pl.format("IND-{}{}", pl.col("party_name").str.head(4).str.to_uppercase().str.replace_all("[^A-Z]", "X"), pl.col("asset")))


def _cost(volume_milli: np.ndarray, price_pence: np.ndarray) -> np.ndarray:
    exact = volume_milli.astype(np.float64) * price_pence / 1000
    return (np.sign(exact) * np.floor(np.abs(exact) + 0.5)).astype(np.int64)


def md1_values(day: Day) -> pl.DataFrame:
    """Two market index records a period: APXMIDP with a price and volume, N2EXMIDP with zeros."""
    n, rng = day.n_periods, day.rng
    return pl.DataFrame({
        "settlement_period": np.repeat(np.arange(1, n + 1), 2), "ordinal": [0, 1] * n,
        "market_index_provider": ["APXMIDP", "N2EXMIDP"] * n, "individual_liquidity_threshold_mwh": [25_000] * (2 * n),
        "market_index_price_gbp_per_mwh": np.column_stack([(day.sbp + rng.integers(-800, 800, n)) * 1000, np.zeros(n, np.int64)]).reshape(-1),
        "market_index_volume_mwh": np.column_stack([rng.integers(500_000, 4_000_000, n), np.zeros(n, np.int64)]).reshape(-1),
    })  # fmt: skip


def unit_period_frame(day: Day) -> pl.DataFrame:
    """One row per BM unit and period (unit-major) with every BPI / BP7 value, integer-scaled."""
    u = day.m.units
    n_u, n_p = u.height, day.n_periods
    flat = lambda a: np.asarray(a).reshape(-1)  # noqa: E731  (unit-major, period-minor)
    rep = lambda a: np.repeat(np.asarray(a), n_p)  # noqa: E731
    supplier_rows = flat(day.supplier_comp_filled)
    secondary_rows = flat(day.secondary_filled)
    frame = pl.DataFrame({
        "unit_index": rep(u["unit_index"]), "party_index": rep(u["party_index"]), "bm_unit_id": rep(u["bm_unit_id"]),
        "prefix": rep(u["prefix"]), "own_trading_unit": rep(u["trading_unit_name"].is_null()),
        "tu": np.repeat(np.array(u["trading_unit_name"].to_list(), dtype=object), n_p),
        "settlement_period": np.tile(np.arange(1, n_p + 1), n_u),
        "period_fpn_mwh": flat(day.fpn), "metered_volume_mwh": flat(day.metered), "balancing_services_volume_mwh": flat(day.bsv),
        "expected_metered_volume_mwh": flat(day.emv), "information_imbalance_volume_mwh": flat(day.iiv),
        "applicable_balancing_services_volume_mwh": flat(day.absv), "non_delivered_bid_volume_mwh": flat(day.nd_bid),
        "non_delivered_offer_volume_mwh": flat(day.nd_offer), "non_delivery_charge_gbp": flat(day.nd_charge),
        "information_imbalance_cashflow_gbp": np.zeros(n_u * n_p, np.int64), "transmission_loss_factor": rep(u["tlf_e7"]),
        "transmission_loss_multiplier": flat(day.tlm), "total_trading_unit_metered_volume_mwh": flat(day.tu_total),
        "supplier_delivered_volume_mwh": flat(day.delivered), "supplier_non_bm_absvd_volume_mwh": flat(day.non_bm_absvd),
        "supplier_compensation_volume_mwh": masked(supplier_rows, flat(day.supplier_comp_vol)),
        "supplier_compensation_cashflow_gbp": masked(supplier_rows, flat(day.supplier_comp_cf)),
        "secondary_compensation_volume_mwh": masked(secondary_rows, flat(day.secondary_comp_vol)),
        "bp7_18_value": masked(flat(day.bp7_18_filled), flat(day.bp7_18)), "bp7_24_value": flat(day.bp7_24),
    }, schema_overrides={"tu": pl.String})  # fmt: skip
    supplier = pl.col("prefix").is_in(["2__", "C__"])
    return frame.with_columns(
        trading_unit_name=pl.coalesce("tu", "bm_unit_id"),  # BP7 13: the unit's own id when it is its own trading unit
        bpi_trading_unit_name=pl.col("tu"),  # BPI 2: blank then
        bp7_18=pl.when(pl.col("bp7_18_value").is_not_null()).then(number(pl.col("bp7_18_value"), 3)),
        bp7_19=pl.when(pl.Series(secondary_rows)).then(number(pl.col("secondary_compensation_volume_mwh"), 3)),
        bp7_20=pl.when(pl.Series(secondary_rows)).then(pl.lit("1")),
        bp7_21=pl.when(pl.Series(secondary_rows)).then(pl.lit("F")),
        bp7_24=pl.when(supplier).then(number(pl.col("bp7_24_value"), 3)),
    )


def system_section(day: Day, up: pl.DataFrame, spi: pl.DataFrame, md1: pl.DataFrame, db1: pl.DataFrame) -> tuple[list[pl.DataFrame], dict[str, pl.DataFrame]]:
    """The lines of the system section (with sort keys) and the typed values the parser should read."""
    period = pl.col("settlement_period")
    frames = [
        render(spi.with_columns(*keys(SYSTEM, period, HEAD["SPI"])), SPI),
        render(md1.with_columns(*keys(SYSTEM, period, HEAD["MD1"], 0, 0, pl.col("ordinal"))), MD1),
        render(db1.with_columns(*keys(SYSTEM, period, HEAD["DB1"], 0, 0, pl.col("ordinal"))), DB1),
    ]
    tra = pl.DataFrame({
        "settlement_period": np.repeat(np.arange(1, day.n_periods + 1), len(day.tu_names)),
        "trading_unit_name": day.tu_names * day.n_periods,
        "trading_unit_period_volume_mwh": day.tu_period_totals.T.reshape(-1)[: day.n_periods * len(day.tu_names)],
    }, schema_overrides={"trading_unit_name": pl.String}).with_columns(ordinal=pl.int_range(pl.len()).over("settlement_period"))  # fmt: skip
    frames.append(render(tra.with_columns(*keys(SYSTEM, period, HEAD["TRA"], 0, 0, pl.col("ordinal"))), TRA))

    def under(rid: str, k5: pl.Expr | int = 0) -> list[pl.Expr]:
        return keys(SYSTEM, period, HEAD["UNITS"], pl.col("unit_index"), UNDER_BPI[rid], k5)

    bpi_values = {f.column: f.column for f in BPI.fields()} | {"trading_unit_name": "bpi_trading_unit_name"}
    frames.append(render(up.with_columns(*under("BPI")), BPI, bpi_values))
    frames += _acceptances(day, under)
    frames += _spot_records(day, up, under)
    truths = {
        "SPI": truth(spi, SPI), "MD1": truth(md1, MD1),
        "BPI": truth(up.drop("trading_unit_name"), BPI),  # BPI 2 is read as BP7 13 (the trading-unit rule)
        "BO4": truth(_bo4_frame(day), BO4),
    }  # fmt: skip
    return frames, truths


def _bo4_frame(day: Day) -> pl.DataFrame:
    bo, rng = day.bo4, np.random.default_rng([day.m.seed, day.date.toordinal(), 4])
    n = bo["u"].size
    return pl.DataFrame({
        "unit_index": bo["u"].astype(np.int64), "settlement_period": bo["p"] + 1, "ordinal": bo["ordinal"],
        "pair_number": bo["pair_number"], "bid_price_gbp_per_mwh": bo["bid_price"] * 1000,
        "offer_price_gbp_per_mwh": bo["offer_price"] * 1000, "accepted_bid_volume_mwh": bo["bid_vol"],
        "accepted_offer_volume_mwh": bo["offer_vol"], "tagged_bid_volume_mwh": bo["bid_vol"],
        "tagged_offer_volume_mwh": bo["offer_vol"], "repriced_bid_volume_mwh": bo["repriced"],
        "repriced_offer_volume_mwh": np.zeros(n, np.int64),
        "originally_priced_bid_volume_mwh": np.where(rng.random(n) < 0.09, bo["bid_vol"], 0),
        "originally_priced_offer_volume_mwh": np.where(rng.random(n) < 0.04, bo["offer_vol"], 0),
        "bid_cashflow_gbp": bo["bid_cf"], "offer_cashflow_gbp": bo["offer_cf"],
    }).join(day.m.units.select("unit_index", "bm_unit_id"), on="unit_index", how="left")  # fmt: skip


def _acceptances(day: Day, under) -> list[pl.DataFrame]:
    """BO4 pairs, BO3 acceptances (about 2.6 per pair in real files, some from the period before),
    and a couple of the rare BO6 / BO7 records."""
    rng = np.random.default_rng([day.m.seed, day.date.toordinal(), 3])
    frames = [render(_bo4_frame(day).with_columns(*under("BO4", pl.col("ordinal"))), BO4)]
    n_bo3 = 1 + rng.poisson(2.3, day.acc_u.size)
    unit, period = np.repeat(day.acc_u, n_bo3), np.repeat(day.acc_p, n_bo3) + 1
    minutes = (period - 1) * 30 - rng.integers(0, 90, unit.size)  # acceptances come up to 90 minutes ahead
    bo3 = pl.DataFrame({
        "unit_index": unit.astype(np.int64), "settlement_period": period, "ordinal": np.arange(unit.size),
        "acceptance_number": 10_000 + np.arange(unit.size) * 7 % 90_000,
        "minutes": minutes, "cadl_flag": np.where(rng.random(unit.size) < 0.2, "T", "F"),
        "so_flag": np.where(rng.random(unit.size) < 0.3, "T", "F"), "stor_provider_flag": ["F"] * unit.size,
        "reserve_scarcity_price_flag": ["F"] * unit.size,
    }).with_columns(  # fmt: skip
        acceptance_time=(pl.lit(day.date).cast(pl.Datetime("us")) + pl.duration(minutes=pl.col("minutes"))).dt.strftime("%Y%m%d%H%M%S"))
    frames.append(render(bo3.with_columns(*under("BO3", pl.col("ordinal"))), BO3))
    rare = bo3.head(8)  # BO6 / BO7 are rare and their fields unknown: 8 and 1 in the R3 file
    frames.append(render(rare.with_columns(*under("BO6")), BO6, {"bo6_01": pl.format("{}", pl.col("ordinal") + 28), "bo6_03": pl.lit("30")}))
    frames.append(render(rare.head(1).with_columns(*under("BO7")), BO7, {"bo7_01": pl.lit("1"), "bo7_02": pl.lit("0"), "bo7_03": pl.lit("0.333")}))
    return frames


def _spot_records(day: Day, up: pl.DataFrame, under) -> list[pl.DataFrame]:
    """MEL and MIL for every physical unit and period (a second spot point on about one in eight),
    run-up / run-down rates for the units that declare them."""
    rng = np.random.default_rng([day.m.seed, day.date.toordinal(), 5])
    units = day.m.units
    traits = units.select("unit_index", "size", "has_rue", "has_rde", "has_rui", "has_rdi",
                          capacity=pl.when(pl.col("prefix").is_in(["I_", "V__"])).then(0).otherwise((pl.col("size") * 2).round(0)) * 1000,
                          imports=pl.when(pl.col("prefix") == "I_").then(-(pl.col("size") * 2).round(0) * 1000).otherwise(0))  # fmt: skip
    spot = up.filter(~pl.col("prefix").is_in(["2__", "C__"])).select("unit_index", "settlement_period").join(traits, on="unit_index")
    split = pl.Series(rng.random(spot.height) < 0.13)
    at = pl.Series(rng.integers(1, 30, spot.height))
    first = spot.with_columns(from_minute=pl.lit(0), to_minute=pl.when(split).then(at).otherwise(30), k=pl.lit(0))
    second = spot.filter(split).with_columns(from_minute=at.filter(split), to_minute=pl.lit(30), k=pl.lit(1))
    points = pl.concat([first, second], how="vertical_relaxed")
    out = []
    for layout, level in ((MEL, "capacity"), (MIL, "imports")):
        frame = points.with_columns(from_level_mw=pl.col(level), to_level_mw=pl.col(level))
        out.append(render(frame.with_columns(*under(layout.record_id, pl.col("k"))), layout))
    rate_choice = np.array([50_000, 10_000, 2_000, 1_500, 5_000, 999_000])
    for layout, trait in ((RDE, "has_rde"), (RDI, "has_rdi"), (RUE, "has_rue"), (RUI, "has_rui")):
        rows = spot.filter(pl.col(trait))
        out.append(render(rows.with_columns(*under(layout.record_id)), layout, _rates(rng, rows.height, rate_choice, layout)))
    return out


def _rates(rng: np.random.Generator, n: int, choices: np.ndarray, layout: RecordLayout) -> dict[str, pl.Expr]:
    """A single rate for most units; an elbow and a second (and third) rate for about one in five."""
    elbows = rng.random(n) < 0.18
    third = elbows & (rng.random(n) < 0.9)
    sign = -1 if layout.record_id in ("RDI", "RUI") else 1
    return {
        "rate_1": pl.lit(pl.Series(rng.choice(choices, n))),
        "elbow_2_mw": pl.lit(masked(elbows, sign * rng.integers(1, 300, n) * 1000)),
        "rate_2": pl.lit(masked(elbows, rng.choice(choices, n))),
        "elbow_3_mw": pl.lit(masked(third, sign * rng.integers(300, 600, n) * 1000)),
        "rate_3": pl.lit(masked(third, rng.choice(choices, n))),
    }


__all__ = ["db1_values", "md1_values", "spi_values", "system_section", "unit_period_frame"]
