"""The party section of a synthetic file: for every BSC party (in party id order) BPH and APC, then
per settlement period SP7, SSD, MD2, DB2, PPC, its two accounts (APD, each followed by its APB
records) and a BP7 for each BM unit it leads (followed by its MVR). Every record is rendered
through its layout."""

from __future__ import annotations

import numpy as np
import polars as pl

from p114_assets.core.s0142.layout import APB, APC, APD, BP7, BPH, DB2, MD2, MVR, PPC, SP7, SSD, SRH
from p114_assets.core.settlement import RUN_PRECEDENCE
from p114_assets.core.synthetic.economics import Day
from p114_assets.core.synthetic.rendering import PARTIES, keys, masked, render, texts, truth

# Order of the blocks of a party, and of the records inside a party's period.
PARTY_HEAD = {"BPH": 0, "APC": 1, "PERIODS": 2}
IN_PERIOD = {"SP7": 0, "SSD": 1, "MD2": 2, "DB2": 3, "PPC": 4, "APD": 5, "BP7": 6}
ACCOUNTS = ("P", "C")
_ACCOUNT_BLOCK = 1_000_000  # APD k5: account x this; its APB records follow at + 1 + unit index


def ssd_values(day: Day, spi: pl.DataFrame) -> pl.DataFrame:
    """SSD of every period: its fields named like an SPI field repeat SPI's; the rest as the
    public profile shows them (system totals, zeros, blanks)."""
    rng, n = day.rng, day.n_periods
    bm = day.party_bm_cashflow.sum(axis=0)
    ei = day.party_ei.sum(axis=0)
    shared = [f.column for f in SSD.named if f.column in spi.columns]

    def amount(low: int, high: int) -> list[str]:
        return texts(rng.integers(low, high, n), 2)

    zero = ["0"] * n
    own = {
        "total_system_bm_cashflow_gbp": bm, "total_system_energy_imbalance_cashflow_gbp": ei,
        "total_system_non_delivery_charge_gbp": day.party_nd.sum(axis=0),
        "net_imbalance_volume_mwh": (day.metered - day.emv).sum(axis=0),
    }  # fmt: skip
    unknown = {
        "ssd_01": zero, "ssd_02": texts(bm + rng.integers(-50_000, 50_000, n), 2), "ssd_03": zero, "ssd_04": zero,
        "ssd_13": texts(np.where(rng.random(n) < 0.87, -rng.integers(1, 2_000, n), 0), 3),
        "ssd_14": texts(rng.integers(20_000_000, 32_000_000, n), 3), "ssd_23": texts(rng.integers(300_000, 700_000, n), 3),
        "ssd_24": texts(rng.integers(-100_000, 250_000, n), 3), "ssd_25": texts(rng.integers(20_000_000, 27_000_000, n), 3),
        "ssd_26": texts(ei, 2), "ssd_27": zero, "ssd_34": zero, "ssd_35": zero, "ssd_37": zero,
        "ssd_38": texts(np.where(rng.random(n) < 0.33, 25 * rng.integers(-2, 6, n), 0), 0),
        "ssd_75": texts(rng.integers(2_000, 25_000, n), 3), "ssd_76": texts(-rng.integers(12_000_000, 16_000_000, n), 3),
    }  # fmt: skip
    paid = amount(20_000, 220_000)
    unknown |= {"ssd_78": paid, "ssd_79": paid}
    return spi.select("settlement_period", *shared).with_columns(
        **{name: pl.Series(values) for name, values in (own | unknown).items()})


def _party_periods(day: Day) -> pl.DataFrame:
    """One row per party and period (party-major), with the party's PPC values and its place in
    the file (party blocks are in party id order)."""
    parties = day.m.parties.with_columns(order=pl.col("party_id").rank("ordinal").cast(pl.Int64))
    n_p = day.n_periods
    rep = lambda a: np.repeat(np.asarray(a), n_p)  # noqa: E731
    vlp = rep(day.vlp_party)
    return pl.DataFrame({
        "party_index": rep(parties["party_index"]), "party_id": rep(parties["party_id"]), "order": rep(parties["order"]),
        "settlement_period": np.tile(np.arange(1, n_p + 1), parties.height),
        "bssc_cost_allocation_gbp": np.zeros(parties.height * n_p, np.int64),
        "bm_unit_cashflow_gbp": day.party_bm_cashflow.reshape(-1), "energy_imbalance_cashflow_gbp": day.party_ei.reshape(-1),
        "information_imbalance_cashflow_gbp": np.zeros(parties.height * n_p, np.int64),
        "non_delivery_charge_gbp": day.party_nd.reshape(-1), "residual_cashflow_reallocation_gbp": day.party_rcrc.reshape(-1),
        # PPC 9 for the Virtual Lead Parties on every period; PPC 10 where the party's units have BP7 25.
        "vlp_compensation_cashflow_gbp": masked(vlp, day.party_vlp_comp.reshape(-1)),
        "supplier_compensation_cashflow_gbp": masked(day.party_supplier_comp_filled.reshape(-1), day.party_supplier_comp.reshape(-1)),
    }, schema_overrides={"party_id": pl.String})  # fmt: skip


def party_section(day: Day, up: pl.DataFrame, spi: pl.DataFrame, md1: pl.DataFrame, db1: pl.DataFrame,
                  srh: list[str]) -> tuple[list[pl.DataFrame], dict[str, pl.DataFrame]]:  # fmt: skip
    """The lines of the party section (with sort keys) and the typed values the parser should read."""
    pp = _party_periods(day)
    order, period = pl.col("order"), pl.col("settlement_period")

    def in_period(rid: str, k5: pl.Expr | int = 0) -> list[pl.Expr]:
        return keys(PARTIES, order, PARTY_HEAD["PERIODS"], period, IN_PERIOD[rid], k5)

    heads = pp.filter(period == 1)
    bph = heads.with_columns(**{f.column: pl.lit(value) for f, value in zip(BPH.named, srh)})
    frames = [render(bph.with_columns(*keys(PARTIES, order, PARTY_HEAD["BPH"])), BPH), _apc(day, heads)]
    frames.append(render(pp.with_columns(*in_period("SP7")), SP7))
    ssd = render(ssd_values(day, spi).with_columns(*keys(PARTIES)), SSD).select(period_line=pl.int_range(1, pl.len() + 1), line="line")
    frames.append(pp.join(ssd, left_on="settlement_period", right_on="period_line").select(*in_period("SSD"), "line"))
    for system, layout in ((md1, MD2), (db1, DB2)):  # repeated under every party
        lines = render(system.with_columns(*keys(PARTIES, 0, 0, period, 0, pl.col("ordinal"))), layout)
        copies = pp.select("order", "settlement_period").join(lines.select(pl.col("k3").alias("settlement_period"), "k5", "line"),
                                                             on="settlement_period")  # fmt: skip
        frames.append(copies.select(*in_period(layout.record_id, pl.col("k5")), "line"))
    frames.append(render(pp.with_columns(*in_period("PPC")), PPC))
    apd = _accounts(day, pp)
    frames.append(render(apd.with_columns(*in_period("APD", pl.col("account") * _ACCOUNT_BLOCK)), APD))
    frames += _reallocations(day, up, pp, in_period)
    bp7 = up.join(pp.select("party_index", "settlement_period", "order", "party_id"), on=["party_index", "settlement_period"])
    frames.append(render(bp7.with_columns(*in_period("BP7", pl.col("unit_index") * 10)), BP7))
    truths = {"PPC": truth(pp, PPC), "APD": truth(apd, APD), "BP7": truth(bp7, BP7)}
    return frames, truths


def _apc(day: Day, heads: pl.DataFrame) -> pl.DataFrame:
    """The party's day: PPC items summed; the system operator's BM cashflow on one party; the daily
    VLP and supplier compensation where the party has them."""
    roles = day.m.parties["role"].to_list()
    operator = roles.index("trader") if "trader" in roles else 0
    daily = lambda a: a.sum(axis=1)  # noqa: E731
    so = np.zeros(day.n_parties, np.int64)
    so[operator] = daily(day.party_bm_cashflow).sum()
    frame = heads.select("party_index", "order").with_columns(
        bssc_cost_allocation_gbp=pl.lit(0), bm_unit_cashflow_gbp=pl.Series(daily(day.party_bm_cashflow)),
        energy_imbalance_cashflow_gbp=pl.Series(daily(day.party_ei)), information_imbalance_cashflow_gbp=pl.lit(0),
        non_delivery_charge_gbp=pl.Series(daily(day.party_nd)), residual_cashflow_reallocation_gbp=pl.Series(daily(day.party_rcrc)),
        system_operator_bm_cashflow_gbp=pl.Series(so),
        daily_vlp_compensation_cashflow_gbp=masked(day.vlp_party, daily(day.party_vlp_comp)),
        daily_supplier_compensation_cashflow_gbp=masked(day.party_supplier_comp_filled.any(axis=1), daily(day.party_supplier_comp)),
    )  # fmt: skip
    return render(frame.with_columns(*keys(PARTIES, pl.col("order"), PARTY_HEAD["APC"])), APC)


def _accounts(day: Day, pp: pl.DataFrame) -> pl.DataFrame:
    """APD: a production and a consumption account per party and period. APD 11-13 (meaning
    unknown) are filled where the party pays VLP compensation, as in real files."""
    frames = []
    comp = day.party_vlp_comp.reshape(-1)
    for account, flag in enumerate(ACCOUNTS):
        a = day.accounts[flag]
        paying = (comp > 0) & (account == 0)
        frames.append(pp.select("party_index", "party_id", "order", "settlement_period").with_columns(
            account=pl.lit(account, pl.Int64), production_consumption_flag=pl.lit(flag),
            bssc_cost_allocation_gbp=pl.lit(0, pl.Int64), information_imbalance_charge_gbp=pl.lit(0, pl.Int64),
            energy_imbalance_charge_gbp=pl.Series(a["ei_charge"].reshape(-1)),
            residual_cashflow_reallocation_charge_gbp=pl.Series(a["rcrc"].reshape(-1)),
            account_bilateral_contract_volume_mwh=pl.Series(a["contract"].reshape(-1)),
            account_balancing_services_volume_mwh=pl.Series(a["absv"].reshape(-1)),
            account_energy_imbalance_volume_mwh=pl.Series(a["eiv"].reshape(-1)),
            account_credited_energy_volume_mwh=pl.Series(a["cev"].reshape(-1)),
            residual_cashflow_reallocation_proportion=pl.Series(a["rcrp_e7"].reshape(-1)),
            apd_11=pl.Series(texts(np.where(paying, np.maximum(1, comp // 50), 0), 7)),
            apd_12=pl.Series(texts(np.where(paying, np.maximum(1, comp * 1000 // max(day.ssc, 1)), 0), 3)),
            apd_13=pl.Series(texts(np.where(paying, comp, 0), 2)), apd_14=pl.lit("0"),
        ))  # fmt: skip
    return pl.concat(frames)


def _reallocations(day: Day, up: pl.DataFrame, pp: pl.DataFrame, in_period) -> list[pl.DataFrame]:
    """Metered volume reallocation: for each unit that has it, an APB under its lead party's account
    (P for a unit delivering, C for one taking) and an MVR naming the subsidiary party under its BP7."""
    units = day.m.units.filter(pl.col("has_mvr"))
    parties = day.m.parties["party_id"].to_list()
    rng = np.random.default_rng([day.m.seed, 6])
    subsidiaries = pl.DataFrame({"unit_index": units["unit_index"],
                                 "subsidiary_party_id": [parties[i] for i in rng.integers(0, min(len(parties), 52), units.height)],
                                 "percentage_mvr": np.where(rng.random(units.height) < 0.9, 100_000, np.where(rng.random(units.height) < 0.5, 20_000, 0))})  # fmt: skip
    rows = (up.join(subsidiaries, on="unit_index").join(pp.select("party_index", "settlement_period", "order"), on=["party_index", "settlement_period"])
            .with_columns(credited=(pl.col("metered_volume_mwh") * pl.col("transmission_loss_multiplier") / 10_000_000).round(0).cast(pl.Int64)))  # fmt: skip
    rows = rows.with_columns(
        account=pl.when(pl.col("credited") >= 0).then(0).otherwise(1),
        production_consumption_flag=pl.when(pl.col("credited") >= 0).then(pl.lit("P")).otherwise(pl.lit("C")),
        credited_energy_volume_mwh=pl.col("credited") * pl.col("percentage_mvr") // 100_000, fixed_mvr_mwh=pl.lit(0),
    )
    apb = render(rows.with_columns(*in_period("APD", pl.col("account") * _ACCOUNT_BLOCK + 1 + pl.col("unit_index"))), APB)
    mvr = render(rows.with_columns(*in_period("BP7", pl.col("unit_index") * 10 + 1)), MVR)
    return [apb, mvr]


def srh_fields(day: Day) -> list[str]:
    """SRH 1-7 (BPH repeats them): date, run, and run numbers that rise with the run's maturity."""
    run_no = str(RUN_PRECEDENCE[day.run] + 1)
    date_text = f"{day.date:%Y%m%d}"
    values = {"settlement_date": date_text, "run_type": day.run, "saa_run_number": run_no, "saa_cdca_run_number": run_no,
              "svaa_cdca_settlement_date": date_text, "svaa_cdca_run_number": run_no,
              "svaa_ssr_run_number": str(166_000 + day.date.toordinal() % 1000)}  # fmt: skip
    return [values[f.column] for f in SRH.named[:7]]


__all__ = ["party_section", "srh_fields", "ssd_values"]
