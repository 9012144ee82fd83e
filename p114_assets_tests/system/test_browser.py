"""A real browser on the running Dagster UI: headless Chromium from the Debian package
(/usr/bin/chromium, which `make test` installs), driven by Playwright's Python API. It reads what
a user reads on the asset graph, bm_unit_period's partitions, the failed check of the bad
partition and the runs list, and saves a screenshot of each under artifacts/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from p114_assets_tests.system.conftest import BAD, GOOD, key
from p114_assets_tests.system.harness import REPO

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
TIMEOUT_MS = 90_000


@pytest.fixture
def page(system, tmp_path):
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs the Debian package 'chromium'")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    # what the newsletter dialog's "Skip" does, once per instance, so it never covers the page
    system.graphql.query("mutation { setNuxSeen }")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS, viewport={"width": 1600, "height": 1000},
        )  # fmt: skip
        browser.set_default_timeout(TIMEOUT_MS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def visit(page, url: str, expect: str) -> str:
    """Open `url` and wait until `expect` shows; the page's text."""
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_text(expect, exact=False).first.wait_for()
    return page.inner_text("body")


def test_a_user_reads_the_graph_the_partitions_the_failed_check_and_the_failed_run(system, page, bad_backfill, good_run):
    url = system.dagster.url

    # the asset graph around bm_unit_period: its file upstream, the derived tables downstream
    visit(page, f"{url}/assets/bm_unit_period?view=lineage", "settlement_canonical")
    text = page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "1-asset-graph.png"))
    for asset in ("s0142_file", "bm_unit_period", "settlement_canonical", "run_reconciliation"):
        assert asset in text

    text = visit(page, f"{url}/assets/bm_unit_period?view=partitions", "Failed (")
    page.screenshot(path=str(ARTIFACTS / "2-bm-unit-period-partitions.png"))
    assert "Failed (1)" in text and "Materialized (" in text

    visit(page, f"{url}/assets/bm_unit_period?view=checks&checkDetail=periods_per_day", "periods_per_day")
    page.get_by_text("Execution history", exact=True).click()
    row = page.get_by_role("row").filter(has_text=key(BAD, "SF"))
    row.first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "3-failed-check.png"))
    assert "Failed" in row.first.inner_text() and "missing 48" in row.first.inner_text()
    good = page.get_by_role("row").filter(has_text=key(GOOD, "SF"))
    assert "Passed" in good.first.inner_text()
    checks = page.inner_text("body")
    assert "every_unit_every_period" in checks and "Succeeded" in checks  # the checks that passed show as passed

    text = visit(page, f"{url}/runs?q%5B%5D=status%3AFAILURE", bad_backfill["id"])
    page.screenshot(path=str(ARTIFACTS / "4-failed-runs.png"))
    assert bad_backfill["id"] in text and "Failure" in text  # the bad partition's backfill, listed as failed
