"""S0142 record layouts (flow version 013): the one map from a field position in a record to a column.

The parser reads by it, the generator writes by it, and the raw tables (tables.py) are built from
it. A new record type or field is one edit here.

Confidence marks follow S0142_FORMAT.md: V seen in real files, C checked by arithmetic, I inferred,
? unknown. A position whose meaning is unknown keeps the file's text as printed, in a column named
``<record>_<position>`` (for example ``bp7_18``), so nothing in the file is dropped and no money is
built on a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldType = Literal["text", "float", "int"]


@dataclass(frozen=True)
class Field:
    """One position of a record: where it is, what we call it, what it holds."""

    pos: int
    column: str
    type: FieldType
    confidence: Literal["V", "C", "I", "?"]
    description: str = ""
    decimals: int | None = None  # printed precision in real files; the generator prints this many


@dataclass(frozen=True)
class RecordLayout:
    record_id: str
    width: int  # data fields after the record id in flow version 013
    named: tuple[Field, ...]
    description: str = ""

    def fields(self) -> list[Field]:
        """Every position 1..width: the named field, or an unknown text field kept as printed."""
        by_pos = {f.pos: f for f in self.named}
        return [
            by_pos.get(pos)
            or Field(pos, f"{self.record_id.lower()}_{pos:02d}", "text", "?", "meaning unknown; text as printed")
            for pos in range(1, self.width + 1)
        ]

    def position_of(self, column: str) -> int:
        for f in self.fields():
            if f.column == column:
                return f.pos
        raise KeyError(f"{self.record_id} has no column {column!r}")


def _vol(pos: int, column: str, confidence: str, description: str = "") -> Field:
    return Field(pos, column, "float", confidence, description, decimals=3)  # type: ignore[arg-type]


def _gbp(pos: int, column: str, confidence: str, description: str = "") -> Field:
    return Field(pos, column, "float", confidence, description, decimals=2)  # type: ignore[arg-type]


def _price(pos: int, column: str, confidence: str, description: str = "") -> Field:
    return Field(pos, column, "float", confidence, description, decimals=5)  # type: ignore[arg-type]


AAA = RecordLayout(
    "AAA",
    9,
    (
        Field(1, "flow_version", "text", "V", "flow id and version, e.g. S0142013"),
        Field(2, "aaa_02", "text", "V", "always D"),
        Field(3, "publication_ts", "text", "V", "creation time YYYYMMDDHHMMSS = file name stamp"),
        Field(4, "from_role", "text", "I"),
        Field(5, "from_participant", "text", "I"),
        Field(6, "to_role", "text", "I"),
        Field(7, "to_participant", "text", "I"),
        Field(8, "file_sequence_number", "text", "I"),
        Field(9, "test_flag", "text", "I", "OPER for operational files"),
    ),
    "file header",
)

SRH = RecordLayout(
    "SRH",
    8,
    (
        Field(1, "settlement_date", "text", "V", "YYYYMMDD"),
        Field(2, "run_type", "text", "V"),
        Field(3, "saa_run_number", "text", "V"),
        Field(4, "saa_cdca_run_number", "text", "V"),
        Field(5, "svaa_cdca_settlement_date", "text", "V"),
        Field(6, "svaa_cdca_run_number", "text", "V"),
        Field(7, "svaa_ssr_run_number", "text", "V"),
        Field(8, "bsc_party_id", "text", "V", "NGC"),
    ),
    "settlement report header",
)

SPI = RecordLayout(
    "SPI",
    53,
    (
        Field(1, "settlement_period", "int", "V"),
        _price(2, "system_buy_price_gbp_per_mwh", "I"),
        _price(3, "system_sell_price_gbp_per_mwh", "I", "equal to the buy price since single cash-out"),
        Field(4, "price_derivation_code", "text", "I"),
        _vol(7, "total_period_applicable_balancing_services_volume_mwh", "I"),
        _vol(23, "system_total_accepted_bid_volume_mwh", "I", "one of SPI 23-26, system accepted volumes"),
        _vol(24, "system_total_accepted_offer_volume_mwh", "I", "one of SPI 23-26, system accepted volumes"),
        _price(39, "replacement_price_gbp_per_mwh", "I"),
        Field(42, "loss_of_load_probability", "float", "I"),
        Field(43, "de_rated_margin", "float", "I"),
        _price(44, "value_of_lost_load_gbp_per_mwh", "I"),
        _price(45, "reserve_scarcity_price_gbp_per_mwh", "I"),
        _price(53, "supplier_sourcing_cost_gbp_per_mwh", "V", "constant over the day"),
    ),
    "system period information",
)

MD1 = RecordLayout(
    "MD1",
    4,
    (
        Field(1, "market_index_provider", "text", "V", "APXMIDP or N2EXMIDP"),
        _vol(2, "individual_liquidity_threshold_mwh", "V"),
        _price(3, "market_index_price_gbp_per_mwh", "V"),
        _vol(4, "market_index_volume_mwh", "V"),
    ),
    "market index data, one per provider per period",
)

# BPI shares its column names with the BP7 fields it duplicates: the twins are explicit here.
BPI = RecordLayout(
    "BPI",
    6,
    (
        Field(1, "bm_unit_id", "text", "I"),
        Field(2, "trading_unit_name", "text", "I", "blank for about a quarter of units"),
        _vol(3, "period_fpn_mwh", "I"),
        _vol(4, "metered_volume_mwh", "I"),
        Field(5, "transmission_loss_multiplier", "float", "I", decimals=7),
        _vol(6, "applicable_balancing_services_volume_mwh", "I"),
    ),
    "BM unit period information, system section",
)

BO4 = RecordLayout(
    "BO4",
    15,
    (
        Field(1, "pair_number", "int", "I", "negative numbers are bid pairs"),
        _price(2, "bid_price_gbp_per_mwh", "I"),
        _price(3, "offer_price_gbp_per_mwh", "I", "99999 is the default"),
        _vol(4, "accepted_bid_volume_mwh", "I", "<= 0"),
        _vol(5, "accepted_offer_volume_mwh", "I", ">= 0"),
        _vol(6, "priced_accepted_bid_volume_mwh", "I", "blank in S0142"),
        _vol(7, "priced_accepted_offer_volume_mwh", "I", "blank in S0142"),
        _vol(8, "tagged_bid_volume_mwh", "I"),
        _vol(9, "tagged_offer_volume_mwh", "I"),
        _vol(10, "repriced_bid_volume_mwh", "I"),
        _vol(11, "repriced_offer_volume_mwh", "I"),
        _vol(12, "originally_priced_bid_volume_mwh", "I"),
        _vol(13, "originally_priced_offer_volume_mwh", "I"),
        _gbp(14, "bid_cashflow_gbp", "I", "+ = paid to the party"),
        _gbp(15, "offer_cashflow_gbp", "I", "+ = paid to the party"),
    ),
    "BM unit period bid-offer pair volumes and cashflows",
)

BPH = RecordLayout(
    "BPH",
    8,
    tuple(Field(f.pos, f"srh_{f.pos}", "text", "V", "repeats SRH") for f in SRH.named[:7])
    + (Field(8, "party_id", "text", "V", "BSC party id; can be a numeric string"),),
    "party header",
)

SP7 = RecordLayout("SP7", 1, (Field(1, "settlement_period", "int", "V"),), "period header inside a party")

PPC = RecordLayout(
    "PPC",
    10,
    (
        _gbp(1, "bssc_cost_allocation_gbp", "I"),
        _gbp(2, "bm_unit_cashflow_gbp", "I", "+ = credit to the party"),
        _gbp(3, "energy_imbalance_cashflow_gbp", "I", "+ = debit to the party"),
        _gbp(4, "information_imbalance_cashflow_gbp", "I"),
        _gbp(5, "non_delivery_charge_gbp", "I", "+ = debit to the party"),
        _gbp(6, "residual_cashflow_reallocation_gbp", "I", "+ = credit to the party"),
        _gbp(9, "compensation_cashflow_9_gbp", "I", "a newer compensation amount; which one is unknown"),
        _gbp(10, "compensation_cashflow_10_gbp", "I", "a newer compensation amount; which one is unknown"),
    ),
    "party period charges",
)

APD = RecordLayout(
    "APD",
    14,
    (
        Field(1, "production_consumption_flag", "text", "V", "P or C"),
        _gbp(2, "bssc_cost_allocation_gbp", "V"),
        _gbp(3, "energy_imbalance_charge_gbp", "V"),
        _gbp(4, "information_imbalance_charge_gbp", "V"),
        _gbp(5, "residual_cashflow_reallocation_charge_gbp", "V"),
        _vol(6, "account_bilateral_contract_volume_mwh", "V"),
        _vol(7, "account_balancing_services_volume_mwh", "V"),
        _vol(8, "account_energy_imbalance_volume_mwh", "V"),
        _vol(9, "account_credited_energy_volume_mwh", "V"),
        Field(10, "residual_cashflow_reallocation_proportion", "float", "V", decimals=7),
    ),
    "account period data",
)

BP7 = RecordLayout(
    "BP7",
    25,
    (
        Field(1, "bm_unit_id", "text", "V"),
        _gbp(2, "information_imbalance_cashflow_gbp", "V", "always 0 today"),
        _gbp(3, "non_delivery_charge_gbp", "V", ">= 0, + = paid by the party"),
        _vol(4, "period_fpn_mwh", "V"),
        _vol(5, "balancing_services_volume_mwh", "V", "net accepted BOA volume"),
        _vol(6, "information_imbalance_volume_mwh", "C", "= BP7 7 - BP7 8"),
        _vol(7, "expected_metered_volume_mwh", "V"),
        _vol(8, "metered_volume_mwh", "V"),
        _vol(9, "non_delivered_bid_volume_mwh", "V", "<= 0"),
        _vol(10, "non_delivered_offer_volume_mwh", "V", ">= 0"),
        Field(11, "transmission_loss_factor", "float", "V", decimals=7),
        Field(12, "transmission_loss_multiplier", "float", "C", "= 1 + TLF + a per-period adjustment", 7),
        Field(13, "trading_unit_name", "text", "V"),
        _vol(14, "total_trading_unit_metered_volume_mwh", "V"),
        _vol(15, "applicable_balancing_services_volume_mwh", "V"),
        _vol(16, "supplier_delivered_volume_mwh", "V"),
        _vol(17, "supplier_non_bm_absvd_volume_mwh", "V"),
        _vol(22, "supplier_compensation_volume_mwh", "V", "only 2__ units"),
        _vol(23, "secondary_compensation_volume_mwh", "V", "only V__ units"),
        _gbp(25, "supplier_compensation_cashflow_gbp", "V", "= BP7 22 x SPI 53"),
    ),
    "BM unit period data under its lead party",
)

ZZZ = RecordLayout(
    "ZZZ",
    2,
    (Field(1, "line_count", "int", "C", "lines in the file, AAA and ZZZ included"), Field(2, "checksum", "text", "?")),
    "trailer",
)

LAYOUTS: dict[str, RecordLayout] = {
    layout.record_id: layout for layout in (AAA, SRH, SPI, MD1, BPI, BO4, BPH, SP7, PPC, APD, BP7, ZZZ)
}

# Pairs of columns in BPI and BP7 that must agree (S0142_FORMAT.md, cross-record facts).
BPI_BP7_TWINS: tuple[str, ...] = tuple(f.column for f in BPI.named if f.column != "bm_unit_id")
