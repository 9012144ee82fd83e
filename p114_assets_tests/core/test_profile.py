"""`p114 profile`: a field-by-field profile of a file, counted by hand on fixtures/hand_written_ii.s0142
(47 lines: 2 periods, units 2__AGOLD000, T_DRAX-1 and V__AFLEX001 under parties GOLD, DRAXP and FLEX).

BP7 rows, fields 6 / 8 / 13 / 18 / 22 (period 1, period 2 of each unit):
  2__AGOLD000  7.032 / -7.032 / DEFAULT__A  / blank / 0      6.5 / -6.5  / DEFAULT__A  / blank / 0.25
  T_DRAX-1     4.5   / 98.5   / T_DRAX-1    / blank / blank  0   / 100   / T_DRAX-1    / blank / blank
  V__AFLEX001  0     / 0      / V__AFLEX001 / blank / blank  0.3 / 1.2   / V__AFLEX001 / 1.2   / blank
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from p114_assets.app.cli import main
from p114_assets.core.s0142.profile import compare, profile_file, profiles_in
from p114_assets_tests.conftest import FIXTURES

FILE = FIXTURES / "hand_written_ii.s0142"


def test_record_counts_prefixes_and_tails_by_hand():
    p = profile_file(FILE)
    assert (p["lines"], p["bm_units"], p["has_bom"], p["samples"]) == (47, 3, False, True)
    assert p["record_types"] == {"AAA": 1, "APC": 3, "APD": 3, "BO3": 1, "BO4": 3, "BP7": 6, "BPH": 3, "BPI": 6, "MD1": 4,
                                 "MEL": 1, "PPC": 6, "SP7": 6, "SPI": 2, "SRH": 1, "ZZZ": 1}  # fmt: skip
    assert p["field_counts"]["BP7/25"] == 6 and p["field_counts"]["SPI/53"] == 2 and p["field_counts"]["ZZZ/2"] == 1
    assert p["bm_units_by_prefix"] == {"2__": 1, "T_": 1, "V__": 1}
    assert p["bp7_unit_prefixes"] == {"2__": 2, "T_": 2, "V__": 2}
    assert p["bp7_tail_nonblank_by_prefix"] == {"2__": {"22": 2, "25": 2}, "V__": {"18": 1, "23": 2}}
    assert p["headers"]["ZZZ"] == ["47", "4021"]


def test_field_forms_signs_distinct_and_samples_by_hand():
    bp7 = profile_file(FILE)["fields"]["BP7"]
    assert bp7["6"]["forms"] == {"integer": 2, "decimal": 4, "zero": 2, "positive": 4}
    assert (bp7["6"]["distinct"], bp7["6"]["sample"], bp7["6"]["column"], bp7["6"]["mark"]) == (
        5, ["7.032", "6.5", "4.5"], "information_imbalance_volume_mwh", "I")
    assert bp7["8"]["forms"] == {"integer": 2, "decimal": 4, "negative": 2, "zero": 1, "positive": 3}
    assert bp7["13"] == {"forms": {"text": 6}, "distinct": 3, "sample": ["DEFAULT__A", "T_DRAX-1", "V__AFLEX001"],
                         "column": "trading_unit_name", "mark": "V"}  # fmt: skip
    assert bp7["18"]["forms"] == {"blank": 5, "decimal": 1, "positive": 1} and bp7["18"]["distinct"] == 2  # a blank is a value
    assert bp7["22"]["forms"] == {"blank": 4, "integer": 1, "decimal": 1, "zero": 1, "positive": 1} and bp7["22"]["distinct"] == 3
    spi = profile_file(FILE)["fields"]["SPI"]
    assert spi["2"]["forms"] == {"decimal": 2, "negative": 1, "positive": 1}  # 70.5 and -12.25
    assert spi["53"] == {"forms": {"decimal": 2, "positive": 2}, "distinct": 1, "sample": ["85.23"],
                         "column": "supplier_sourcing_cost_gbp_per_mwh", "mark": "V"}  # fmt: skip
    assert profile_file(FILE)["fields"]["BPI"]["2"]["forms"] == {"text": 2, "blank": 4}


def test_no_samples_holds_no_value():
    p = profile_file(FILE, samples=False)
    assert p["samples"] is False
    assert not any("sample" in field for fields in p["fields"].values() for field in fields.values())
    assert "GOLD" not in json.dumps(p["fields"]) and "7.032" not in json.dumps(p)  # no party id, no volume


def test_layout_report_by_hand():
    report = {f["fact"]: f for f in profile_file(FILE)["layout_report"]}
    rule = report["trading_unit_rule"]
    assert rule["confirmed"] and rule["counts"]["blank_and_own_id"] == 4 and rule["counts"]["named_and_equal"] == 2
    iiv = report["information_imbalance_volume_is_absolute"]
    assert iiv["confirmed"] and iiv["counts"]["absolute_holds"] == 6 and iiv["counts"]["negative"] == 0
    assert report["bpi_bp7_twins"]["confirmed"] and report["bpi_bp7_twins"]["counts"]["pairs"] == 6
    assert report["supplier_compensation_cashflow"]["counts"] == {"rows_with_volume": 2, "holds": 2}  # 0.25 x 85.23 = 21.31
    assert report["trailer_line_count"]["confirmed"] and report["trailer_checksum"]["counts"]["verdict"] == "differs"
    # The old hand-written file does not settle: period 1 RCRC -1.20 against energy imbalance 12.50 - 20.00 = -7.50.
    rcrc = report["rcrc_balances_energy_imbalance"]
    assert rcrc["confirmed"] is False and rcrc["counts"]["periods_differing"] == 2
    rcrp = report["range_apd_10_residual_cashflow_reallocation_proportion"]  # 0.001, 0.9, 0.001: inside [-1, 1]
    assert rcrp["confirmed"] and rcrp["counts"] == {"values": 3, "below": 0, "above": 0}


def test_compare_finds_what_differs_and_nothing_else():
    p = profile_file(FILE)
    assert compare(p, p) == []
    other = json.loads(json.dumps(p))
    other["fields"]["BP7"]["6"]["forms"] = {"integer": 2, "decimal": 4, "zero": 2, "positive": 2, "negative": 2}
    other["record_types"]["DB1"] = 5
    found = compare(p, other)
    assert "BP7 6 (information_imbalance_volume_mwh) negative: 0.00% of records against 33.33%" in found
    assert any(line.startswith("record DB1:") for line in found)
    assert not any(line.startswith("BP7 8") for line in found)


def test_cli_round_trip_through_json(tmp_path):
    out = tmp_path / "profile.json"
    result = CliRunner().invoke(main, ["profile", str(FILE), "--json", str(out), "--no-samples"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "47 lines" in result.stdout and "layout report" in result.stdout and "confirmed" in result.stdout
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(profile_file(FILE, samples=False)))
    again = CliRunner().invoke(main, ["profile", str(FILE), "--compare", str(out)], catch_exceptions=False)
    assert again.exit_code == 0 and "0 difference(s)" in again.stdout
    facts = CliRunner().invoke(main, ["profile", str(FILE), "--compare", str(FIXTURES / "real_profile_facts.json")],
                               catch_exceptions=False)  # fmt: skip
    assert facts.exit_code == 0 and facts.stdout.count("difference(s) beyond") == 2  # one per real file
    assert len(profiles_in(json.loads((FIXTURES / "real_profile_facts.json").read_text()))) == 2


def test_a_file_that_is_not_s0142_is_one_line_error(tmp_path):
    bad = tmp_path / "S0142_20240101_II_20240115103000.gz"
    bad.write_bytes(b"Scripting Error 001")
    result = CliRunner().invoke(main, ["profile", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith("p114 profile: S0142_20240101_II_20240115103000.gz: not a gzip file")


def test_odd_lines_are_profiled_not_refused(tmp_path):
    """A record id the layout does not know is counted; a wider BP7 line (a newer flow version) and an
    APD line without its trailing '|' are split line by line, field by field."""
    lines = FILE.read_text().splitlines(keepends=True)
    bp7 = next(i for i, line in enumerate(lines) if line.startswith("BP7|"))
    apd = next(i for i, line in enumerate(lines) if line.startswith("APD|"))
    lines[bp7] = lines[bp7].rstrip("\n") + "9.5|\n"
    lines[apd] = lines[apd].rstrip("|\n") + "\n"
    lines.insert(3, "XYZ|1|2|\n")
    odd = tmp_path / "odd.s0142"
    odd.write_text("".join(lines))
    p = profile_file(odd)
    assert p["unknown_record_types"] == {"XYZ": [1, 4]} and "XYZ" not in p["record_types"]
    assert p["field_counts"]["BP7/25"] == 5 and p["field_counts"]["BP7/26"] == 1
    assert p["fields"]["BP7"]["26"]["forms"] == {"blank": 5, "decimal": 1, "positive": 1}
    assert p["fields"]["BP7"]["6"] == profile_file(FILE)["fields"]["BP7"]["6"]  # the other fields as before
    assert p["fields"]["APD"] == profile_file(FILE)["fields"]["APD"]  # the last field without its '|' is the same value
    assert p["record_types"]["APD"] == 3
