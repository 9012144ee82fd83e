"""Shared fixtures: hand-written S0142 files, small synthetic markets, gzip helpers."""

from __future__ import annotations

import datetime as dt
import gzip
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from p114_assets.core.synthetic import DEFAULT_UNITS, SyntheticMarket, generate_file

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def write_gz(folder: Path, name: str, text: str | bytes) -> Path:
    data = text.encode() if isinstance(text, str) else text
    path = folder / name
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


@pytest.fixture
def duckdb_connections(monkeypatch) -> list[str]:
    """The DuckDB connections opened from here on, one entry each (each costs ~40 ms of CPU)."""
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    opened, connect = [], DuckDBWarehouse.connect

    def counted(self, *args, **kwargs):
        opened.append(self.path)
        return connect(self, *args, **kwargs)

    monkeypatch.setattr(DuckDBWarehouse, "connect", counted)
    return opened


@pytest.fixture(scope="session")
def small_market() -> SyntheticMarket:
    return SyntheticMarket.build(60, seed=7)


@dataclass(frozen=True)
class RealScaleFile:
    path: Path
    line_count: int


@pytest.fixture(scope="session")
def real_scale_file(tmp_path_factory) -> RealScaleFile:
    """One calibrated real-scale file (8,000 BM units, SF), generated once per test session."""
    generated = generate_file(SyntheticMarket.build(DEFAULT_UNITS, seed=0), dt.date(2024, 10, 2), "SF")
    return RealScaleFile(generated.write(tmp_path_factory.mktemp("real_scale")), generated.line_count)


@pytest.fixture(autouse=True)
def _no_dagster_home(monkeypatch):
    """Tests never touch the developer's Dagster instance."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for servers that cannot be started on port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def local_resources(folder: Path, warehouse_path: Path, landing: Path | None = None) -> dict:
    """Every resource the code location needs, on local folders and a DuckDB file."""
    from p114_assets.app.runner import folder_resources
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    return folder_resources(folder, DuckDBWarehouse(path=str(warehouse_path)), landing)


PORTAL_KEY = "Sk3y-ab12CD34ef"


class FakePortal:
    """The Elexon Portal's list and download endpoints, served by a real HTTP server on 127.0.0.1:
    lists the files it holds by publication date (their stamp's date), serves them by name, and
    refuses any other key with 403."""

    def __init__(self, httpserver, key: str = PORTAL_KEY):
        import json

        from werkzeug import Response

        self.files: dict[str, bytes] = {}
        self.url = httpserver.url_for("/").rstrip("/")

        def listing(request):
            if request.args.get("key") != key:
                return Response("Forbidden", status=403)
            day = request.args.get("date", "").replace("-", "")
            found = {n: f"{n[-18:-14]}-{n[-14:-12]}-{n[-12:-10]} 07:00:00" for n in self.files if n.split("_")[3][:8] == day}
            return Response(json.dumps(found or []), content_type="application/json")

        def download(request):
            if request.args.get("key") != key:
                return Response("Forbidden", status=403)
            name = request.args.get("filename", "")
            return Response(self.files[name]) if name in self.files else Response("Scripting Error 004", status=200)

        httpserver.expect_request("/p114/list").respond_with_handler(listing)
        httpserver.expect_request("/p114/download").respond_with_handler(download)

    def publish(self, generated) -> str:
        name = generated.file_name.name
        self.files[name] = gzip.compress(generated.text, mtime=0)
        return name


# ---------------------------------------------------------------------------------------------
# A local BigQuery emulator, used with the real google-cloud-bigquery client. Its known gaps are
# worked around here, in tests only: anonymous credentials and an api_endpoint (EmulatorBigQuery),
# the generic upload content type, and no Storage Read API (use_storage_api=False).

BQ_PROJECT = "p114-test"


@pytest.fixture(scope="session")
def bq_emulator(tmp_path_factory):
    import os
    import signal
    import subprocess
    import sys
    import time

    import google.cloud.bigquery.client as bigquery_client
    import httpx
    from duckdb_extensions import import_extension

    import_extension("spatial")  # once, from the bundled wheel: the emulator then runs offline
    rest, grpc = free_port(), free_port()
    log = (tmp_path_factory.mktemp("bqemulator") / "emulator.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bqemulator", "start", "--rest-host", "127.0.0.1", "--rest-port", str(rest),
         "--grpc-host", "127.0.0.1", "--grpc-port", str(grpc), "--project", BQ_PROJECT, "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,  # its own process group, stopped as one
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{rest}"
    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(f"{endpoint}/bigquery/v2/projects/{BQ_PROJECT}/datasets", timeout=2)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                os.killpg(process.pid, signal.SIGKILL)
                raise RuntimeError(f"the BigQuery emulator did not start; see {log.name}") from None
            time.sleep(0.3)
    patch = pytest.MonkeyPatch()
    patch.setattr(bigquery_client, "_GENERIC_CONTENT_TYPE", "application/octet-stream")  # the emulator rejects */*
    try:
        yield endpoint
    finally:
        patch.undo()
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def emulator_bigquery(endpoint: str):
    """A BigQueryResource whose client talks to the emulator (test-only)."""
    from contextlib import contextmanager

    from dagster_gcp import BigQueryResource
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    class EmulatorBigQuery(BigQueryResource):
        endpoint: str

        @contextmanager
        def get_client(self):
            yield bigquery.Client(project=self.project, credentials=AnonymousCredentials(),
                                  client_options=ClientOptions(api_endpoint=self.endpoint))  # fmt: skip

    return EmulatorBigQuery(project=BQ_PROJECT, endpoint=endpoint)


@pytest.fixture
def bq_warehouse(bq_emulator):
    """A BigQuery warehouse on the emulator, in a dataset of its own."""
    import uuid

    from p114_assets.warehouse.bigquery import BigQueryWarehouse

    return BigQueryWarehouse(bigquery=emulator_bigquery(bq_emulator), dataset=f"p114_{uuid.uuid4().hex[:8]}",
                             use_storage_api=False)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Google credentials as a user configures them: a service-account key file whose token endpoint is
# a real HTTP server on 127.0.0.1 (the clients sign a real JWT with the key and exchange it there).

GOOGLE_TOKEN = "ya29.p114-test-token"


@pytest.fixture(scope="session")
def _rsa_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()  # fmt: skip


def _token_endpoint(httpserver) -> str:
    import json

    from werkzeug import Response

    httpserver.expect_request("/token", method="POST").respond_with_handler(
        lambda request: Response(json.dumps({"access_token": GOOGLE_TOKEN, "expires_in": 3600, "token_type": "Bearer"}),
                                 content_type="application/json"))  # fmt: skip
    return httpserver.url_for("/token")


@pytest.fixture
def google_key_file(httpserver, tmp_path, _rsa_key_pem, monkeypatch) -> Path:
    """A service-account key file (for GOOGLE_APPLICATION_CREDENTIALS or P114_SHEETS_CREDENTIALS);
    its token endpoint answers with GOOGLE_TOKEN."""
    import json

    from google.auth import credentials

    # After a token refresh, google-auth looks up the account's "regional access boundary" at
    # iamcredentials.googleapis.com in a background thread: nothing in a test may leave the machine.
    monkeypatch.setattr(credentials.CredentialsWithRegionalAccessBoundary, "_is_regional_access_boundary_lookup_required",
                        lambda self: False)  # fmt: skip
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "p114-test", "private_key_id": "k1", "private_key": _rsa_key_pem,
        "client_email": "p114@p114-test.iam.gserviceaccount.com", "client_id": "1", "token_uri": _token_endpoint(httpserver),
    }))  # fmt: skip
    return path


def bigquery_env(emulator: str, key_file: Path, dataset: str) -> dict[str, str]:
    """The environment that points every command at the BigQuery emulator, as a user's would point
    at BigQuery: the switch, the project and dataset, and application-default credentials."""
    return {"P114_WAREHOUSE": "bigquery", "P114_BQ_PROJECT": BQ_PROJECT, "P114_BQ_DATASET": dataset,
            "P114_BQ_STORAGE_API": "0", "BIGQUERY_EMULATOR_HOST": emulator,
            "GOOGLE_APPLICATION_CREDENTIALS": str(key_file)}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# A warehouse an analyst would open: the hand-written VLP files (fixtures/vlp_ii.s0142 and
# vlp_sf.s0142, 2024-06-05, figures worked by hand in defs/test_marts.py) loaded and every daily
# asset built from them.

VLP_DAY = dt.date(2024, 6, 5)


@pytest.fixture(scope="session")
def vlp_warehouse(tmp_path_factory) -> Path:
    """The DuckDB file (absolute path); II and SF loaded, so the marts hold SF's figures."""
    import dagster as dg

    from p114_assets.app.runner import DERIVED_KEYS
    from p114_assets.core.s0142.parser import parse_file
    from p114_assets.definitions import ASSET_CHECKS, ASSETS

    folder = tmp_path_factory.mktemp("vlp")
    resources = local_resources(folder, folder / "p114.duckdb")
    for fixture in ("vlp_ii.s0142", "vlp_sf.s0142"):  # two periods only: loaded straight, as the mart tests do
        parsed = parse_file(FIXTURES / fixture)
        resources["warehouse"].replace_partition(parsed.tables, VLP_DAY, parsed.header.run_type)
    with dg.instance_for_test() as instance:  # the settlement side's daily assets (no market data)
        result = dg.materialize([*ASSETS, *ASSET_CHECKS], selection=DERIVED_KEYS, partition_key=str(VLP_DAY), resources=resources,
                                instance=instance, raise_on_error=False)  # fmt: skip
    assert result.success
    return (folder / "p114.duckdb").absolute()
