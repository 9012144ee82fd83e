"""One running Dagster (webserver + daemon on 127.0.0.1, throwaway DAGSTER_HOME) shared by the
system tests, with a folder source of small generated S0142 files and a loopback webhook that
records the alerts it is sent. Logs are printed when a test fails."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from p114_assets.core.synthetic import economics
from p114_assets.core.synthetic import SyntheticMarket, generate_file
from p114_assets.defs.partitions import settlement_run_partitions
from p114_assets_tests.system.harness import DagsterProcesses, running_dagster

UNITS = 60
RAW = ["s0142_file", "system_period", "market_index", "bm_unit_period", "bid_offer_pair", "party_period", "account_period"]
# The first date these tests load, and so the first date the incomplete-day alerts consider.
FIRST_DATE = dt.date(2025, 3, 3)
GOOD = FIRST_DATE  # a good SF file, loaded by a single-partition run
BAD = dt.date(2025, 3, 4)  # an SF file missing period 48: fails periods_per_day and every_unit_every_period


def key(day: dt.date, run_type: str) -> str:
    return f"{day}|{run_type}"


class Webhook:
    """A real HTTP server on 127.0.0.1 that records every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        lock = threading.Lock()
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    posts.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self, kind: str | None = None, partition: str | None = None) -> list[dict]:
        return [p for p in list(self.posts) if (kind is None or p["kind"] == kind) and (partition is None or p["partition"] == partition)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class System:
    dagster: DagsterProcesses
    root: Path
    incoming: Path
    warehouse: Path
    webhook: Webhook
    market: SyntheticMarket
    done: dict = field(default_factory=dict)  # scenarios already run by a shared fixture

    @property
    def graphql(self):
        return self.dagster.graphql

    def write(self, day: dt.date, run_type: str, periods: int | None = None) -> Path:
        """A generated file in the folder source; `periods` overrides the day's length (a bad file)."""
        if periods is None:
            return generate_file(self.market, day, run_type).write(self.incoming)
        original = economics.periods_in_day
        economics.periods_in_day = lambda _: periods
        try:
            generated = generate_file(self.market, day, run_type)
        finally:
            economics.periods_in_day = original
        path = self.incoming / generated.file_name.name
        path.write_bytes(gzip.compress(generated.text, mtime=0))
        return path


@pytest.fixture(scope="session")
def webhook():
    server = Webhook()
    yield server
    server.close()


@pytest.fixture(scope="session")
def system(tmp_path_factory, webhook) -> System:
    root = tmp_path_factory.mktemp("system")
    incoming, data = root / "incoming", root / "data"
    incoming.mkdir()
    env = {
        "P114_DATA_DIR": str(data),
        "P114_SOURCE": "folder",
        "P114_INCOMING_DIR": str(incoming),
        "P114_LANDING_DIR": str(data / "landing"),
        "P114_DUCKDB_PATH": str(data / "p114.duckdb"),
        "P114_ALERT_WEBHOOK_URL": webhook.url,
        # the sensors tick as often as the daemon allows, so waits stay short
        "P114_AUTOMATION_INTERVAL_SECONDS": "5",
        "P114_ALERT_INTERVAL_SECONDS": "5",
        "P114_CLUSTER_INTERVAL_SECONDS": "5",
    }
    with running_dagster(root / "dagster_home", env, root / "logs") as dagster:
        yield System(dagster, root, incoming, data / "p114.duckdb", webhook, SyntheticMarket.build(UNITS, seed=7))


def raw_check_keys(system: System) -> list[tuple[str, str]]:
    from p114_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    return sorted((k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys if k.asset_key.to_user_string() in RAW)


def run_partition(system: System, day: dt.date, run_type: str) -> dict:
    """A single-partition run of the raw assets and their checks, as the UI's Materialize launches it."""
    tags = dict(settlement_run_partitions.get_tags_for_partition_key(key(day, run_type)))
    run_id = system.graphql.launch_run(RAW, tags, raw_check_keys(system))
    return system.graphql.wait_run(run_id)


@pytest.fixture(scope="session")
def bad_backfill(system: System) -> dict:
    """A one-partition asset backfill of a bad file: a chunk of one, i.e. a range run with start == end."""
    system.write(BAD, "SF", periods=47)
    backfill_id = system.graphql.launch_backfill(RAW, [key(BAD, "SF")], title="one bad partition")
    return system.graphql.wait_backfill(backfill_id)


@pytest.fixture(scope="session")
def good_run(system: System) -> dict:
    system.write(GOOD, "SF")
    return run_partition(system, GOOD, "SF")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(autouse=True)
def _logs_on_failure(request):
    """Print the webserver's and daemon's logs when a system test fails."""
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed and "system" in request.fixturenames:
        system: System = request.getfixturevalue("system")
        print(system.dagster.log_tail(120))
