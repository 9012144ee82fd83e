"""The values of one synthetic settlement date and run, in integer units so that every identity
of a real file holds exactly in the printed text: volumes in milli-MWh, money in pence, prices in
pence per MWh, loss factors and reallocation proportions in 1e-7.

Identities (S0142_FORMAT.md): BPI 3-6 = BP7 4, 8, 12, 15; BP7 6 = |BP7 7 - BP7 8| (never negative);
BP7 7 = BP7 4 + BP7 5; BP7 16 = BP7 22 on supplier units; BP7 25 = BP7 22 x SPI 53; PPC 2 = the
party's BO4 14 + 15; PPC 3 = the party's APD 3; PPC 5 = the party's BP7 3; PPC 6 = the party's APD 5;
per period, the parties' PPC 6 sums to their PPC 3 (the residual cashflow is the energy imbalance
pot, shared by the reallocation proportions, some slightly negative); PPC 10 = the party's BP7 25.

Shapes calibrated to the public profile of two real 2026 files: which fields are mostly 0 or
blank, which signs occur, the acceptances and spot records per unit-period.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from p114_assets.core.settlement import RUN_PRECEDENCE, periods_in_day
from p114_assets.core.synthetic.market import SMALL_MARKET_PARTIES, SUPPLIER_PREFIXES, SyntheticMarket

# Standard deviation of the metered-volume revision of each run, relative to the final value.
RUN_REVISION = {"II": 0.06, "SF": 0.02, "R1": 0.01, "R2": 0.005, "R3": 0.002, "RF": 0.0, "DF": 0.0}
# Acceptances: BO4 pairs per BM unit-period about 0.009 and BO3 records 0.024 in real files.
# Acceptances go to a few units, often: the share of units the system operator moves at all, and
# the chance of a BOA in a period for such a unit (a flexible plant is moved in most periods).
BM_ACTIVE_SHARE = {"T_": 0.4, "T__": 0.4, "E_": 0.15, "E__": 0.15, "I_": 0.05, "V__": 0.2, "M_": 0.0}
BM_ACTIVE_PERIODS = 0.3
ONLINE_PROBABILITY = {"T_": 0.6, "T__": 0.6, "E_": 0.6, "E__": 0.6, "I_": 0.2, "V__": 0.15, "M_": 0.4}
VLP_COMPENSATION_ROWS = 0.15  # BP7 23 filled on ~15% of V__ rows
SUPPLIER_COMPENSATION_PARTIES = 25  # supplier parties with PPC 10 (773 / 1,214 rows, APC 12 on 29 / 35 parties)
SUPPLIER_COMPENSATION_ROWS = 0.045  # BP7 22 filled on ~4.5% of 2__ rows (5,072 / 8,193)
VLP_COMPENSATION_PAYERS = 0.6  # of VLP parties, PPC 9 positive on nearly every period; 0 for the rest


def _pence(volume_milli: np.ndarray, price_pence: np.ndarray | int) -> np.ndarray:
    """Cashflow in pence of a volume (milli-MWh) at a price (pence/MWh), rounded half away from zero."""
    exact = np.asarray(volume_milli, dtype=np.float64) * np.asarray(price_pence, dtype=np.float64) / 1000
    return (np.sign(exact) * np.floor(np.abs(exact) + 0.5)).astype(np.int64)


def _share_out(total: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split each period's `total` (pence, shape (periods,)) over accounts by `weights` (shape
    (accounts, periods), any sign) so that the parts sum to it exactly: the floor of each share,
    then the remainder a penny at a time to the largest fractions. A period without weights puts
    its total on the first account."""
    sums = weights.sum(axis=0)
    exact = np.divide(weights * total[None, :], sums[None, :], out=np.zeros(weights.shape), where=sums[None, :] != 0)
    exact[0, sums == 0] = total[sums == 0]
    parts = np.floor(exact).astype(np.int64)
    short = total - parts.sum(axis=0)
    order = np.argsort(-(exact - parts), axis=0, kind="stable")
    for j in np.flatnonzero(short):
        np.add.at(parts[:, j], order[np.arange(short[j]) % len(order), j], 1)
    return parts


class Day:
    """Every value of one settlement date and run of a market, computed once."""

    def __init__(self, market: SyntheticMarket, settlement_date: dt.date, run_type: str):
        self.m = market
        self.date = settlement_date
        self.run = run_type
        self.n_periods = periods_in_day(settlement_date)
        # Values fixed for the date (prices, notifications, acceptances) share one seed across runs;
        # metered volumes and what follows from them are revised run by run.
        self.rng = np.random.default_rng([market.seed, settlement_date.toordinal(), 1])
        self.rng_run = np.random.default_rng([market.seed, settlement_date.toordinal(), 2, RUN_PRECEDENCE[run_type]])
        u = market.units
        self.prefix = u["prefix"].to_numpy()
        self.size = u["size"].to_numpy()
        self.party_of_unit = u["party_index"].to_numpy()
        self.n_units, self.n_parties = u.height, market.parties.height
        self._system()
        self._notifications_and_acceptances()
        self._metered()
        self._unit_extras()
        self._trading_units()
        self._accounts()

    # -- the system ---------------------------------------------------------------------------

    def _system(self) -> None:
        rng, n = self.rng, self.n_periods
        shape = 0.75 + 0.35 * np.sin(np.linspace(-np.pi / 2, 3 * np.pi / 2, n))  # low at night, peak early evening
        base = rng.uniform(45, 95)
        self.sbp = np.round((base * shape + rng.normal(0, 12, n)) * 100).astype(np.int64)  # pence / MWh
        self.sbp[rng.random(n) < 0.03] *= -1  # a few negative-price periods
        self.ssc = int(round(rng.uniform(55, 120) * 100))  # supplier sourcing cost, pence / MWh, all day
        self.adj_deliver = np.round(rng.uniform(-0.0190, -0.0170, n) * 1e7).astype(np.int64)
        self.adj_offtake = np.round(rng.uniform(0.0140, 0.0160, n) * 1e7).astype(np.int64)
        self.demand_shape = 0.8 + 0.3 * np.sin(np.linspace(-np.pi / 2, 3 * np.pi / 2, n))
        # STOR availability windows: replacement price (SPI 39, 40) only inside them (12 or 9 of 48
        # periods in the profiled files); the reserve scarcity price on a block of periods, or none.
        start = int(rng.integers(n // 4, n // 2))
        self.stor = np.zeros(n, dtype=bool)
        self.stor[start : start + int(rng.integers(n * 3 // 16, n // 4 + 1))] = True
        self.stor_flag = bool(rng.random() < 0.5)  # SPI 41: T inside the windows on some days, F all day on others
        self.scarcity = np.zeros(n, dtype=bool)
        if rng.random() < 0.5:
            first = int(rng.integers(0, n // 2))
            self.scarcity[first : first + n // 2] = True
        self.lolp_e7 = np.where(self.scarcity & (rng.random(n) < 0.15), rng.integers(1, 200, n), 0)
        self.margin = rng.integers(9_000_000, 32_000_000, n)  # de-rated margin, 1e-3

    # -- units ----------------------------------------------------------------------------------

    def _by_prefix(self, table: dict[str, float], default: float = 0.0) -> np.ndarray:
        return np.array([table.get(p, default) for p in self.prefix])

    def _notifications_and_acceptances(self) -> None:
        rng, n_u, n_p = self.rng, self.n_units, self.n_periods
        prefix, size = self.prefix, self.size
        self.physical = ~np.isin(prefix, SUPPLIER_PREFIXES)
        self.active = self.m.parties["active"].to_numpy()[self.party_of_unit]
        self.online = self.physical & self.active & (rng.random(n_u) < self._by_prefix(ONLINE_PROBABILITY))
        # Physical notifications are flat for hours at a time and printed as round numbers.
        blocks = -(-n_p // 6)
        level = np.clip(rng.uniform(0.3, 1.0, (n_u, 1)) + rng.normal(0, 0.1, (n_u, blocks)), 0, 1)
        load = np.repeat(level, 6, axis=1)[:, :n_p]
        # Interconnector flows and half of the transmission units notify whole MWh; the rest to the kWh.
        whole = (prefix == "I_") | np.isin(prefix, ["T_", "T__"]) & (rng.random(n_u) < 0.3)
        step = np.where(whole, 1.0, 0.001)[:, None]
        fpn = np.where(self.online[:, None], np.round(size[:, None] * load / step) * step, 0.0)
        importing = np.isin(prefix, ["I_", "V__"]) & (rng.random(n_u) < 0.5) | np.isin(prefix, ["T_", "E_"]) & (rng.random(n_u) < 0.3)
        fpn[importing] *= -1  # interconnector imports, storage charging
        self.fpn = np.round(fpn * 1000).astype(np.int64)  # milli-MWh

        # In a demo-sized market every unit that can be moved is, so a small file still has acceptances.
        share = self._by_prefix(BM_ACTIVE_SHARE) if self.n_parties >= SMALL_MARKET_PARTIES else np.where(prefix == "M_", 0.0, 1.0)
        moved = (self.online | (prefix == "V__") & self.active) & (rng.random(n_u) < share)
        flexible = (prefix == "T_") & (self.m.units["unit_index"].to_numpy() % 11 == 3)  # moved in most periods
        p_acc = np.where(flexible, 0.5, BM_ACTIVE_PERIODS)
        accepted = moved[:, None] & (rng.random((n_u, n_p)) < p_acc[:, None])
        acc_u, acc_p = np.nonzero(accepted)
        n_pairs = 1 + (rng.random(acc_u.size) < 0.3)
        row_u, row_p = np.repeat(acc_u, n_pairs), np.repeat(acc_p, n_pairs)
        ordinal = np.arange(row_u.size) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)
        offer = rng.random(row_u.size) < 0.4  # bids are the commoner pairs
        pair_number = np.where(offer, ordinal + 1, -(ordinal + 1))
        sbp = self.sbp[row_p]
        offer_price = sbp + rng.integers(500, 6000, row_u.size)
        bid_price = sbp - rng.integers(500, 6000, row_u.size)
        negative_bids = (rng.random(n_u) < 0.2)[row_u]  # subsidised plant pays to be turned down
        bid_price = np.where(negative_bids, -rng.integers(1000, 8000, row_u.size), bid_price)
        offer_price = np.where(rng.random(row_u.size) < 0.05, 9_999_900, offer_price)  # 99999: the default offer
        offer_price = np.where(offer, np.maximum(offer_price, bid_price + 100), offer_price)
        bid_price = np.where(offer, bid_price, np.minimum(bid_price, offer_price - 100))
        volume = np.maximum(1, np.round(size[row_u] * rng.uniform(0.02, 0.3, row_u.size) * 1000)).astype(np.int64)
        offer_vol = np.where(offer, volume, 0)
        bid_vol = np.where(offer, 0, -volume)
        self.bo4 = {
            "u": row_u, "p": row_p, "ordinal": ordinal, "pair_number": pair_number,
            "bid_price": bid_price, "offer_price": offer_price, "bid_vol": bid_vol, "offer_vol": offer_vol,
            "bid_cf": _pence(bid_vol, bid_price), "offer_cf": _pence(offer_vol, np.where(offer_vol != 0, offer_price, 0)),
            "repriced": np.where(rng.random(row_u.size) < 0.02, bid_vol, 0),
        }  # fmt: skip
        self.accepted_volume = np.zeros((n_u, n_p), dtype=np.int64)
        np.add.at(self.accepted_volume, (row_u, row_p), bid_vol + offer_vol)
        self.offer_sum = np.zeros((n_u, n_p), dtype=np.int64)
        np.add.at(self.offer_sum, (row_u, row_p), offer_vol)
        offer_value = np.zeros((n_u, n_p), dtype=np.float64)
        np.add.at(offer_value, (row_u, row_p), offer_vol * offer_price.astype(np.float64))
        self.mean_offer_price = np.divide(offer_value, self.offer_sum, out=np.zeros_like(offer_value), where=self.offer_sum > 0)
        self.acc_u, self.acc_p = acc_u, acc_p
        # Balancing services outside BOAs (BP7 15, on ~0.9% of rows) and non-BM ABSVD of suppliers (BP7 17).
        services = self.physical[:, None] & (rng.random((n_u, n_p)) < 0.03)
        self.absv = np.where(services, np.round(rng.normal(0, 0.3, (n_u, n_p)) * 1000), 0).astype(np.int64)
        absvd = ~self.physical[:, None] & (rng.random((n_u, 1)) < 0.004)
        self.non_bm_absvd = np.where(absvd, rng.integers(-60, 60, (n_u, n_p)), 0)

    def _metered(self) -> None:
        """Metered volumes: the final (RF) truth from the date's seed, revised per run."""
        rng, n_u, n_p, prefix, size = self.rng, self.n_units, self.n_periods, self.prefix, self.size
        bo_and_services = self.accepted_volume + self.absv
        weather = np.isin(prefix, ["E_", "E__"]) & (self.m.units["unit_index"].to_numpy() % 10 < 3)
        noise = rng.normal(0, 1, (n_u, n_p)) * (np.where(weather, 0.2, 0.01) * size)[:, None]
        truth = np.where(self.online[:, None], (self.fpn + bo_and_services) / 1000 + noise, bo_and_services / 1000)
        vlp = prefix == "V__"
        truth[vlp] = bo_and_services[vlp] / 1000 * rng.uniform(0.6, 1.1, (vlp.sum(), 1))  # idle VLP units meter nothing
        sup = prefix == "2__"
        # A supplier registers a base unit in every GSP group; about half of them have customers.
        customers = sup & self.active & (rng.random(n_u) < 0.5)
        demand = -size[:, None] * self.demand_shape[None, :] * rng.uniform(0.9, 1.1, (n_u, n_p))
        truth[sup] = 0.0
        truth[customers] = demand[customers]
        spill = sup & self.active & ~customers & (rng.random(n_u) < 0.1)  # embedded generation behind a supplier unit
        truth[spill] = size[spill, None] * rng.uniform(0, 0.3, (spill.sum(), n_p))
        cfd = (prefix == "C__") & self.active & (rng.random(n_u) < 0.08)
        truth[cfd] = -size[cfd, None] * rng.uniform(0, 1, (cfd.sum(), n_p))
        truth[prefix == "C__"] *= cfd[prefix == "C__", None]
        misc = (prefix == "M_") & self.active
        truth[misc] = size[misc, None] * rng.uniform(-1, 1, (misc.sum(), n_p))
        sigma = RUN_REVISION[self.run] * np.where(np.isin(prefix, ["T_", "T__", "I_"]), 0.1, 1.0)
        revised = truth * (1 + self.rng_run.normal(0, 1, (n_u, n_p)) * sigma[:, None])
        self.metered = np.round(revised * 1000).astype(np.int64)
        tlf = self.m.units["tlf_e7"].to_numpy()
        delivering = self.metered > 0
        self.tlm = 10_000_000 + tlf[:, None] + np.where(delivering, self.adj_deliver[None, :], self.adj_offtake[None, :])
        self.tlm[prefix == "I_"] = 10_000_000  # interconnector units: no transmission losses (BP7 12 prints 1)

    def _unit_extras(self) -> None:
        """Supplier and secondary compensation, the derived volumes and the non-delivery charge."""
        rng, n_u, n_p, prefix = self.rng_run, self.n_units, self.n_periods, self.prefix
        parties = self.m.parties
        with_base_units = np.unique(self.party_of_unit[(prefix == "2__") & self.active])
        comp_parties = with_base_units[: max(1, round(SUPPLIER_COMPENSATION_PARTIES * self.n_parties / 479))]
        candidate = (prefix == "2__") & np.isin(self.party_of_unit, comp_parties)
        share = min(0.9, SUPPLIER_COMPENSATION_ROWS * max(1, (prefix == "2__").sum()) / max(1, candidate.sum()))
        filled = candidate[:, None] & (rng.random((n_u, n_p)) < share)
        negative = np.isin(self.party_of_unit, comp_parties[:: 8])[:, None]  # a few parties are paid back
        nothing = (rng.random((self.n_parties, n_p)) < 0.05)[self.party_of_unit]  # or owed nothing in a period
        volume = np.where(rng.random((n_u, n_p)) < 0.07, 0, np.round(rng.lognormal(-3, 1.5, (n_u, n_p)) * 1000))
        volume = np.where(nothing, 0, volume) * np.where(negative ^ (rng.random((n_u, n_p)) < 0.03), -1, 1)
        self.supplier_comp_filled = filled
        self.supplier_comp_vol = np.where(filled, volume, 0).astype(np.int64)  # BP7 22
        self.supplier_comp_cf = _pence(self.supplier_comp_vol, self.ssc)  # BP7 25 = BP7 22 x SPI 53
        self.delivered = self.supplier_comp_vol  # BP7 16 (0 where 22 is blank)
        vlp = prefix == "V__"
        self.secondary_filled = vlp[:, None] & (rng.random((n_u, n_p)) < VLP_COMPENSATION_ROWS)
        secondary = np.round(rng.lognormal(-0.5, 1.0, (n_u, n_p)) * 1000) * np.where(rng.random((n_u, n_p)) < 0.04, -1, 1)
        secondary[rng.random((n_u, n_p)) < 0.007] = 0
        self.secondary_comp_vol = np.where(self.secondary_filled, secondary, 0).astype(np.int64)  # BP7 23 (and 19)
        # BP7 18 [?]: on ~68% of V__ rows, half of them 0, most others small negatives; on a few supplier units.
        draw = rng.random((n_u, n_p))
        self.bp7_18 = np.where(draw < 0.5, 0, np.where(draw < 0.97, -rng.integers(1, 40, (n_u, n_p)), rng.integers(1, 40, (n_u, n_p))))
        self.bp7_18_filled = (vlp[:, None] & (rng.random((n_u, n_p)) < 0.68)) | (
            np.isin(prefix, SUPPLIER_PREFIXES) & (rng.random(n_u) < 0.002))[:, None]
        # BP7 24 [?]: on every supplier row, never positive: the negative metered volume of some units.
        some = np.isin(prefix, SUPPLIER_PREFIXES) & (rng.random(n_u) < 0.7)
        self.bp7_24 = np.where(some[:, None], np.minimum(self.metered, 0), 0)

        self.bsv = self.accepted_volume + self.absv + self.delivered  # BP7 5 (BOAs + services + delivered)
        self.emv = self.fpn + self.bsv  # BP7 7
        self.iiv = np.abs(self.emv - self.metered)  # BP7 6
        shortfall = np.clip(self.emv - self.metered, 0, self.offer_sum)
        self.nd_offer = np.where(self.offer_sum > 0, shortfall, 0)
        excess = np.clip(self.metered - self.emv, 0, None)
        bid_sum = self.accepted_volume - self.offer_sum
        self.nd_bid = np.where(bid_sum < 0, -np.minimum(excess, -bid_sum), 0)
        spread = np.clip(self.mean_offer_price - self.sbp[None, :], 0, None)
        self.nd_charge = np.round(self.nd_offer * spread / 1000).astype(np.int64)  # pence, >= 0

    def _trading_units(self) -> None:
        names = self.m.units["trading_unit_name"].to_list()
        self.tu_names = sorted({t for t in names if t is not None}, key=str.casefold)
        index = {name: i for i, name in enumerate(self.tu_names)}
        tu_index = np.array([index.get(t, -1) for t in names])
        totals = np.zeros((max(len(index), 1), self.n_periods), dtype=np.int64)
        named = tu_index >= 0
        np.add.at(totals, tu_index[named], self.metered[named])
        self.tu_total = np.where(named[:, None], totals[np.maximum(tu_index, 0)], self.metered)
        self.tu_period_totals = totals

    # -- parties --------------------------------------------------------------------------------

    def by_party(self, unit_values: np.ndarray) -> np.ndarray:
        out = np.zeros((self.n_parties, self.n_periods), dtype=np.int64)
        np.add.at(out, self.party_of_unit, unit_values)
        return out

    def _accounts(self) -> None:
        """Party money: PPC from the party's units, APD per production / consumption account, and the
        residual cashflow shared out so that the parties' RCRC sums to their energy imbalance charges."""
        rng, n_party, n_p = self.rng_run, self.n_parties, self.n_periods
        bo4 = self.bo4
        cashflow = np.zeros((n_party, n_p), dtype=np.int64)
        np.add.at(cashflow, (self.party_of_unit[bo4["u"]], bo4["p"]), bo4["bid_cf"] + bo4["offer_cf"])
        self.party_bm_cashflow = cashflow
        self.party_nd = self.by_party(self.nd_charge)
        self.party_supplier_comp = self.by_party(self.supplier_comp_cf)
        self.party_supplier_comp_filled = self.by_party(self.supplier_comp_filled.astype(np.int64)) > 0
        self.vlp_party = (self.m.parties["role"] == "vlp").to_numpy()
        # PPC 9, filled for the VLP parties on every period (>= 0): most of them pay a little nearly
        # every period, the rest nothing all day (APC 11 is 0 for about 40% of them).
        payer = self.vlp_party & (np.random.default_rng([self.m.seed, 9]).random(n_party) < VLP_COMPENSATION_PAYERS)
        amount = np.round(rng.lognormal(3, 1.6, (n_party, n_p))).astype(np.int64)
        self.party_vlp_comp = np.where(payer[:, None] & (rng.random((n_party, n_p)) < 0.95), amount, 0)

        credited = np.round(self.metered * self.tlm / 1e7).astype(np.int64)
        services = np.round(self.bsv * self.tlm / 1e7).astype(np.int64)
        parties = self.m.parties
        trader = ((parties["role"] == "trader") & parties["active"]).to_numpy()
        fixed = np.random.default_rng([self.m.seed, 10])  # what an account does is stable across dates
        accounts = {}
        for flag, sign in (("P", 1), ("C", -1)):
            mask = (credited * sign) > 0
            cev = self.by_party(np.where(mask, credited, 0))
            absv = self.by_party(np.where(mask, services, 0))
            hedged = fixed.random((n_party, 1)) < 0.55  # the rest leave their whole volume in imbalance
            contract = np.where(hedged & (cev != 0), np.round(cev * rng.uniform(0.9, 1.1, cev.shape)), 0)
            traded = trader[:, None] & (fixed.random((n_party, 1)) < 0.7)  # traders hold positions, no volume
            contract = np.where(traded, sign * np.round(rng.lognormal(2, 1.5, (n_party, n_p)) * 1000), contract).astype(np.int64)
            eiv = cev - contract - absv
            accounts[flag] = {"cev": cev, "absv": absv, "contract": contract, "eiv": eiv,
                              "ei_charge": _pence(-eiv, np.broadcast_to(self.sbp, eiv.shape))}  # fmt: skip
        # Reallocation proportions follow credited energy, except for some accounts that get none;
        # about a quarter of the shares are tiny negative ones (APD 10 in real files).
        weights = np.concatenate([np.abs(accounts[f]["cev"]).astype(np.float64) for f in ("P", "C")])
        shares = fixed.random((2 * n_party, 1))
        weights = np.where(shares < 0.2, 0.0, np.where(shares > 0.75, -weights * 1e-3, weights))
        sums = np.where(weights > 0, weights, 0).sum(axis=0)  # shares of the positive weights: none above 1
        rcrp = np.round(np.divide(weights, sums[None, :], out=np.zeros_like(weights), where=sums[None, :] != 0) * 1e7).astype(np.int64)
        residual = sum(a["ei_charge"].sum(axis=0) for a in accounts.values())
        rcrc = _share_out(residual, rcrp.astype(np.float64))
        for i, flag in enumerate(("P", "C")):
            accounts[flag]["rcrp_e7"] = rcrp[i * n_party : (i + 1) * n_party]
            accounts[flag]["rcrc"] = rcrc[i * n_party : (i + 1) * n_party]
        self.accounts = accounts
        self.party_ei = accounts["P"]["ei_charge"] + accounts["C"]["ei_charge"]
        self.party_rcrc = accounts["P"]["rcrc"] + accounts["C"]["rcrc"]


__all__ = ["Day"]
