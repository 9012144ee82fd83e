"""Sensible defaults: plan-backfill plans from what the source holds and says what it assumed; the
report's market structure runs to 100% and names the days that had data; a failed materialize
prints its summary, not Dagster's step logs (unless --verbose); every environment variable is
checked before a command starts."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from p114_assets import config
from p114_assets.app.cli import main
from p114_assets.core.classification import window_label
from p114_assets.core.plots import market_structure_figure


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def _plan_rows(stdout: str) -> dict[str, list[str]]:
    return {cells[0]: cells[1:] for line in stdout.splitlines() if line.startswith("│")
            for cells in [[c.strip() for c in line.split("│")[1:-1]]]}  # fmt: skip


def test_plan_backfill_plans_from_the_files_the_folder_holds(tmp_path):
    folder = tmp_path / "incoming"
    assert invoke("generate", "--start", "2024-10-21", "--end", "2024-10-23", "--units", 9, "--out", folder).exit_code == 0
    assert invoke("generate", "--start", "2024-10-22", "--units", 9, "--run-types", "R1", "--out", folder).exit_code == 0
    result = invoke("plan-backfill", "--start", "2024-10-20", "--end", "2024-10-23", env={"P114_INCOMING_DIR": str(folder)})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (f"planned from the files in {folder} (P114_SOURCE=folder): 3 of 4 dates have one; "
                                             "--as-of D plans by the settlement calendar instead")  # fmt: skip
    # the demo's II and SF files plan SF (R1 where there is one), never RF, which the folder does not hold
    assert _plan_rows(result.stdout) == {"SF": ["2", "2024-10-21", "2024-10-23"], "R1": ["1", "2024-10-22", "2024-10-22"],
                                         "none in source": ["1", "2024-10-20", "2024-10-20"]}  # fmt: skip


def test_plan_backfill_says_when_it_plans_by_the_calendar():
    result = invoke("plan-backfill", "--start", "2022-01-03", "--end", "2022-01-04", env={"P114_SOURCE": "generator"})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (f"planned by the settlement calendar as of today ({dt.date.today()}): the generator "
                                             "source cannot be listed by settlement date; --as-of D plans as of another date")  # fmt: skip
    assert "RF" in _plan_rows(result.stdout)


def test_the_market_structure_axis_is_the_whole_and_long_bars_keep_their_labels():
    shares = [{"class": "self_dispatched", "share": 0.992, "mwh": 73_380.0, "units": 5},
              {"class": "imbalance_exposed", "share": 0.008, "mwh": 590.0, "units": 2}]  # fmt: skip
    plt, fig = market_structure_figure(shares, "t")
    try:
        (ax,) = fig.axes
        assert ax.get_xlim() == (0.0, 100.0)  # was up to 160% of the largest share: 140% and more
        labels = {t.get_text().split()[0]: t for t in ax.texts}
        assert labels["99.2%"].get_ha() == "right" and labels["99.2%"].get_position()[0] < 100  # inside its bar
        assert labels["0.8%"].get_ha() == "left"
    finally:
        plt.close(fig)


def test_the_window_label_says_the_days_that_had_data():
    assert window_label(30, 7, dt.date(2024, 10, 27)) == "7 of 30 days with data, to 2024-10-27"
    assert window_label(30, 30, dt.date(2024, 10, 27)) == "30 days to 2024-10-27"


def test_the_report_names_the_days_with_data(vlp_warehouse, tmp_path):
    result = invoke("report", "--warehouse", vlp_warehouse, "--out", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    assert "Market structure, 1 of 30 days with data, to 2024-06-05 (MWh-weighted)" in (tmp_path / "r.html").read_text()
    assert result.stdout == f"report: {tmp_path / 'r.html'}\n"


def _broken_folder(tmp_path):
    invoke("generate", "--start", "2024-03-30", "--units", 10, "--run-types", "II", "--out", tmp_path / "in")
    broken = next((tmp_path / "in").glob("*.gz"))
    broken.write_bytes(broken.read_bytes()[:3000])
    return tmp_path / "in"


def test_a_failed_materialize_prints_its_summary_not_dagsters_logs(tmp_path):
    folder = _broken_folder(tmp_path)
    quiet = invoke("materialize", "--source", folder, "--warehouse", tmp_path / "w.duckdb")
    assert quiet.exit_code == 1
    assert "dagster - ERROR" not in quiet.stderr and "Traceback" not in quiet.stderr and "Stack Trace" not in quiet.stderr
    failed = [line for line in quiet.stderr.splitlines() if line.startswith("failed ")]
    assert len(failed) == 1 and "2024-03-30 II" in failed[0] and "truncated" in failed[0]
    assert len(quiet.stderr.splitlines()) <= 8  # new warehouse, progress, the failure and its checks (was 70-120 lines)
    loud = invoke("materialize", "--source", folder, "--warehouse", tmp_path / "w.duckdb", "--verbose")
    assert loud.exit_code == 1 and "dagster - ERROR" in loud.stderr and "STEP_FAILURE" in loud.stderr


@pytest.mark.parametrize("name, value, message", [
    ("DAGSTER_HOME", "dagster_home", "DAGSTER_HOME='dagster_home': expected an absolute path"),
    ("P114_BQ_PROJECT", "", "P114_BQ_PROJECT is not set: P114_WAREHOUSE=bigquery needs the Google Cloud project"),
    ("P114_SHEETS_API_URL", "sheets.local", "P114_SHEETS_API_URL='sheets.local': expected an http(s) URL"),
])  # fmt: skip
def test_check_all_reads_every_setting(name, value, message):
    env = {"P114_WAREHOUSE": "bigquery"} if name == "P114_BQ_PROJECT" else {}
    with pytest.raises(config.ConfigError) as caught:
        config.check_all({**env, name: value})
    assert str(caught.value) == message
    config.check_all({})  # the defaults are all usable
