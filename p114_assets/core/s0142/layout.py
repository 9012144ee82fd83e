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
        Field(2, "file_type", "text", "I", "always D in real files (NETA IDD Part 1 file header)"),
        Field(3, "publication_ts", "text", "V", "creation time YYYYMMDDHHMMSS = file name stamp"),
        Field(4, "from_role", "text", "I", "SA in real files"),
        Field(5, "from_participant", "text", "I", "UKDC in real files"),
        Field(6, "to_role", "text", "I", "PB in real files"),
        Field(7, "to_participant", "text", "I", "PORTAL in real files"),
        Field(8, "file_sequence_number", "text", "I", "a number that rises from file to file (41694, 41697 in the public profile)"),
        Field(9, "test_data_flag", "text", "I", "OPER for operational files, as against test (NETA IDD Part 1 file header)"),
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
        _price(39, "replacement_price_gbp_per_mwh", "I", "blank outside STOR windows (public profile: 36 / 39 of 48 periods)"),
        Field(40, "spi_40", "text", "?", "meaning unknown; blank exactly where SPI 39 is (public profile)"),
        Field(41, "stor_availability_window_flag", "text", "I", "T or F (public profile)"),
        Field(42, "loss_of_load_probability", "float", "I", "mostly 0 (public profile)", 7),
        Field(43, "de_rated_margin", "float", "I", decimals=3),
        _price(44, "value_of_lost_load_gbp_per_mwh", "I", "6000 in real files"),
        _price(45, "reserve_scarcity_price_gbp_per_mwh", "I",
               "= SPI 42 x SPI 44 [C] (public profile); blank on about half of the periods"),
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
        Field(2, "trading_unit_name", "text", "I",
              "blank for a unit that is its own trading unit (BP7 13 then holds the unit id), else equal to BP7 13 "
              "(public profile of two 2026 files: blank on about a quarter of rows, 50-51 distinct names)"),
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
        _vol(6, "priced_accepted_bid_volume_mwh", "I", "always blank in S0142 (public profile)"),
        _vol(7, "priced_accepted_offer_volume_mwh", "I", "always blank in S0142 (public profile)"),
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
        Field(7, "ppc_07", "text", "?", "meaning unknown; always blank (public profile)"),
        Field(8, "ppc_08", "text", "?", "meaning unknown; always blank (public profile)"),
        _gbp(9, "vlp_compensation_cashflow_gbp", "I",
             "Virtual Lead Party compensation cashflow, + = debit to the party: filled on every period for about a "
             "quarter of parties, never negative, for the parties whose APC 11 (daily VLP compensation, [V]) is "
             "filled (public profile)"),
        _gbp(10, "supplier_compensation_cashflow_gbp", "I",
             "supplier compensation cashflow, + = credit to the party: filled on some party-periods, both signs, "
             "with the values of BP7 25 (public profile); APC 12, its daily sum, is [V]"),
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
        Field(10, "residual_cashflow_reallocation_proportion", "float", "V",
              "the account's share of the period's residual cashflow; can be slightly negative "
              "(public profile: 1,934 / 2,151 rows such as -0.000006)", 7),
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
        _vol(6, "information_imbalance_volume_mwh", "I",
             "= |BP7 7 - BP7 8|: never negative in real files although BP7 8 is positive on 32-33 thousand rows, so "
             "not the signed difference (public profile); the real GOLD rows fit both"),
        _vol(7, "expected_metered_volume_mwh", "V"),
        _vol(8, "metered_volume_mwh", "V"),
        _vol(9, "non_delivered_bid_volume_mwh", "V", "<= 0"),
        _vol(10, "non_delivered_offer_volume_mwh", "V", ">= 0"),
        Field(11, "transmission_loss_factor", "float", "V", decimals=7),
        Field(12, "transmission_loss_multiplier", "float", "C", "= 1 + TLF + a per-period adjustment", 7),
        Field(13, "trading_unit_name", "text", "V",
              "never blank; a unit that is its own trading unit carries its own BM unit id here [I] (public "
              "profile); names are printed as registered, apostrophes and double spaces included"),
        _vol(14, "total_trading_unit_metered_volume_mwh", "V"),
        _vol(15, "applicable_balancing_services_volume_mwh", "V"),
        _vol(16, "supplier_delivered_volume_mwh", "V"),
        _vol(17, "supplier_non_bm_absvd_volume_mwh", "V"),
        Field(18, "bp7_18", "text", "?", "meaning unknown; filled on most V__ rows, rarely on 2__ / C__ (public profile)"),
        Field(19, "bp7_19", "text", "?", "meaning unknown; filled on some V__ rows, like BP7 23 (public profile)"),
        Field(20, "bp7_20", "text", "?", "meaning unknown; 1 or 0 on some V__ rows (public profile)"),
        Field(21, "bp7_21", "text", "?", "meaning unknown; F on some V__ rows (public profile)"),
        _vol(22, "supplier_compensation_volume_mwh", "V", "only 2__ units"),
        _vol(23, "secondary_compensation_volume_mwh", "V", "only V__ units"),
        Field(24, "bp7_24", "text", "?", "meaning unknown; filled on every 2__ and C__ row, never positive (public profile)"),
        _gbp(25, "supplier_compensation_cashflow_gbp", "V", "= BP7 22 x SPI 53"),
    ),
    "BM unit period data under its lead party",
)

ZZZ = RecordLayout(
    "ZZZ",
    2,
    (Field(1, "line_count", "int", "C", "lines in the file, AAA and ZZZ included"),
     Field(2, "checksum", "text", "I", "the NETA IDD Part 1 file checksum (XOR of the records' 4-byte words), unverified "
                                       "on a Portal copy: computed and shown, never failed on")),
    "trailer",
)

# Records that no raw table loads. Their layouts name what the public profile of two 2026 files
# shows (S0142_FORMAT.md, last section), so the generator renders them and the profiler reports them
# by name. A field of SSD that repeats an SPI field carries that field's column name.


def _same_as(layout: RecordLayout, record_id: str, description: str) -> RecordLayout:
    return RecordLayout(record_id, layout.width, layout.named, description)


BO3 = RecordLayout(
    "BO3",
    8,
    (
        Field(1, "acceptance_number", "int", "I", "bid-offer acceptance number (names from the IDD's BOA record)"),
        Field(2, "acceptance_time", "text", "I", "YYYYMMDDHHMMSS"),
        Field(3, "cadl_flag", "text", "I", "T or F"),
        Field(4, "so_flag", "text", "I", "T or F"),
        Field(5, "stor_provider_flag", "text", "I", "T or F"),
        Field(6, "reserve_scarcity_price_flag", "text", "I", "T or F"),
        Field(7, "rr_instruction_flag", "text", "I", "blank in both profiled files"),
        Field(8, "rr_schedule_flag", "text", "I", "blank in both profiled files"),
    ),
    "bid-offer acceptance, under its BPI",
)
BO6 = RecordLayout("BO6", 4, (), "rare; meaning unknown")
BO7 = RecordLayout("BO7", 3, (), "rare; meaning unknown")
MEL = RecordLayout(
    "MEL",
    4,
    (
        Field(1, "from_minute", "int", "I", "minutes into the period, 0..29 (value shapes in the public profile)"),
        Field(2, "from_level_mw", "float", "I", decimals=3),
        Field(3, "to_minute", "int", "I", "minutes into the period, 1..30"),
        Field(4, "to_level_mw", "float", "I", decimals=3),
    ),
    "maximum export limit spot data, under its BPI",
)
MIL = _same_as(MEL, "MIL", "maximum import limit spot data (levels <= 0), under its BPI")
RDE = RecordLayout(
    "RDE",
    5,
    (
        Field(1, "rate_1", "float", "I", "MW per minute (value shapes in the public profile)", 3),
        Field(2, "elbow_2_mw", "float", "I", "blank for a single-rate unit", 3),
        Field(3, "rate_2", "float", "I", decimals=3),
        Field(4, "elbow_3_mw", "float", "I", decimals=3),
        Field(5, "rate_3", "float", "I", decimals=3),
    ),
    "run-down rate (export), under its BPI",
)
RDI = _same_as(RDE, "RDI", "run-down rate (import), under its BPI")
RUE = _same_as(RDE, "RUE", "run-up rate (export), under its BPI")
RUI = _same_as(RDE, "RUI", "run-up rate (import), under its BPI")
TRA = RecordLayout(
    "TRA",
    2,
    (
        Field(1, "trading_unit_name", "text", "I", "as registered: the DEFAULT__ base trading units and the multi-unit ones"),
        _vol(2, "trading_unit_period_volume_mwh", "I"),
    ),
    "trading unit period totals",
)
DB1 = RecordLayout(
    "DB1",
    13,
    (
        Field(1, "bsad_action_number", "int", "I", "1.. within the period"),
        _gbp(2, "cost_gbp", "I"),
        _vol(3, "volume_mwh", "I"),
        _vol(4, "tagged_volume_mwh", "I"),
        _vol(5, "repriced_volume_mwh", "I"),
        _vol(6, "originally_priced_volume_mwh", "I"),
        Field(7, "so_flag", "text", "I"),
        Field(8, "stor_flag", "text", "I"),
        Field(9, "rsp_flag", "text", "I"),
        Field(10, "party_name", "text", "I", "company name, with spaces and / (MFT Energy A/S)"),
        Field(11, "asset_id", "text", "I"),
        Field(12, "tendered_status", "text", "I", "Tendered or Non-tendered"),
        Field(13, "service_type", "text", "I", "System, Energy, Non-BM FR"),
    ),
    "balancing services adjustment actions (BSAD)",
)
DB2 = _same_as(DB1, "DB2", "DB1 repeated under every party")
MD2 = _same_as(MD1, "MD2", "MD1 repeated under every party")
APC = RecordLayout(
    "APC",
    12,
    (
        _gbp(1, "bssc_cost_allocation_gbp", "I", "PPC 1 summed over the day"),
        _gbp(2, "bm_unit_cashflow_gbp", "I", "PPC 2 summed over the day"),
        _gbp(3, "energy_imbalance_cashflow_gbp", "I", "PPC 3 summed over the day"),
        _gbp(4, "information_imbalance_cashflow_gbp", "I", "PPC 4 summed over the day"),
        _gbp(5, "non_delivery_charge_gbp", "I", "PPC 5 summed over the day"),
        _gbp(6, "residual_cashflow_reallocation_gbp", "I", "PPC 6 summed over the day"),
        _gbp(7, "system_operator_bm_cashflow_gbp", "I", "non-zero for one party only, GBP millions a day"),
        _gbp(11, "daily_vlp_compensation_cashflow_gbp", "V", "+ = debit; filled for the parties whose PPC 9 is"),
        _gbp(12, "daily_supplier_compensation_cashflow_gbp", "V", "+ = credit"),
    ),
    "party day charges",
)
SSD = RecordLayout(
    "SSD",
    79,
    (
        _price(5, "system_buy_price_gbp_per_mwh", "I", "= SPI 2"),
        _price(6, "system_sell_price_gbp_per_mwh", "I", "= SPI 3"),
        Field(7, "price_derivation_code", "text", "I", "= SPI 4"),
        _gbp(8, "total_system_bm_cashflow_gbp", "I"),
        _gbp(9, "total_system_energy_imbalance_cashflow_gbp", "I"),
        _gbp(10, "total_system_non_delivery_charge_gbp", "I"),
        _vol(11, "system_total_accepted_bid_volume_mwh", "I", "= SPI 23"),
        _vol(16, "system_total_accepted_offer_volume_mwh", "I", "= SPI 24"),
        _vol(18, "net_imbalance_volume_mwh", "I"),
        Field(19, "spi_11", "text", "?", "= SPI 11 (public profile)"),
        _vol(36, "total_period_applicable_balancing_services_volume_mwh", "I", "= SPI 7"),
        *(Field(pos, f"spi_{pos - 22:02d}", "text", "?", f"= SPI {pos - 22} (public profile)") for pos in range(47, 61)),
        _price(61, "replacement_price_gbp_per_mwh", "I", "= SPI 39"),
        Field(62, "spi_40", "text", "?", "= SPI 40"),
        Field(63, "stor_availability_window_flag", "text", "I", "= SPI 41"),
        Field(64, "loss_of_load_probability", "float", "I", "= SPI 42", 7),
        Field(65, "de_rated_margin", "float", "I", "= SPI 43", 3),
        _price(66, "value_of_lost_load_gbp_per_mwh", "I", "= SPI 44"),
        _price(67, "reserve_scarcity_price_gbp_per_mwh", "I", "= SPI 45"),
        _price(77, "supplier_sourcing_cost_gbp_per_mwh", "I", "= SPI 53"),
    ),
    "system period data, repeated identically under every party (names from the S0141 layout)",
)
APB = RecordLayout(
    "APB",
    4,
    (
        Field(1, "bm_unit_id", "text", "I"),
        _vol(2, "credited_energy_volume_mwh", "I"),
        _vol(3, "fixed_mvr_mwh", "I", "always 0 in the public profile"),
        Field(4, "percentage_mvr", "float", "I", "percent", 3),
    ),
    "account period BM unit data (metered volume reallocation), under its APD",
)
MVR = RecordLayout(
    "MVR",
    5,
    (
        Field(1, "subsidiary_party_id", "text", "I"),
        Field(2, "production_consumption_flag", "text", "I", "P or C"),
        _vol(3, "credited_energy_volume_mwh", "I"),
        _vol(4, "fixed_mvr_mwh", "I"),
        Field(5, "percentage_mvr", "float", "I", "percent", 3),
    ),
    "metered volume reallocation, under its BP7",
)

LAYOUTS: dict[str, RecordLayout] = {
    layout.record_id: layout
    for layout in (AAA, SRH, SPI, MD1, DB1, TRA, BPI, BO3, BO4, BO6, BO7, MEL, MIL, RDE, RDI, RUE, RUI, BPH, APC,
                   SP7, SSD, MD2, DB2, PPC, APD, APB, BP7, MVR, ZZZ)  # fmt: skip
}

# Pairs of columns in BPI and BP7 that must agree (S0142_FORMAT.md, cross-record facts).
BPI_BP7_TWINS: tuple[str, ...] = tuple(f.column for f in BPI.named if f.column != "bm_unit_id")

# The trading-unit rule (the real-file profile of S0142_FORMAT.md): BPI 2 is blank for a unit that is
# its own trading unit, and BP7 13 then holds the unit's own BM unit id; otherwise BPI 2 = BP7 13.
# So a twin listed here is compared with BPI's value, or, where BPI is blank, with the named column
# of the same row: the BP7 twin must equal coalesce(BPI value, that column).
BPI_BLANK_MEANS: dict[str, str] = {"trading_unit_name": "bm_unit_id"}


# ---------------------------------------------------------------------------------------------
# The record catalogue (S0142_FORMAT.md, flow version 013): every record id a file may hold, with
# its number of data fields, from its layout. The parser loads nine of them (parser._HOME); any id
# not listed here fails a parse (a damaged id or a stray byte-order mark would otherwise drop rows
# silently).

RECORD_WIDTHS: dict[str, int] = {rid: layout.width for rid, layout in LAYOUTS.items()}
KNOWN_RECORD_IDS: frozenset[str] = frozenset(RECORD_WIDTHS)

# Caps that bound the memory and time a damaged file can cost, derived from the layouts: the longest
# text in real files is a company or trading unit name of about 40 characters, so a field holds at
# most MAX_FIELD_CHARS; newer flow versions append a few fields (v014: two on BP7), so a record may
# carry MAX_EXTRA_FIELDS past its layout; a line is then at most the widest record (SSD, 79 fields)
# plus those extra fields, each with its separator, after a 3-character record id.
MAX_FIELD_CHARS = 100
MAX_EXTRA_FIELDS = 20
MAX_LINE_BYTES = 3 + (max(RECORD_WIDTHS.values()) + MAX_EXTRA_FIELDS) * (MAX_FIELD_CHARS + 1) + 1  # + CR
