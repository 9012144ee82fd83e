"""No secret in any output. A hostile Portal (a real HTTP server on 127.0.0.1) plants the scripting
key in list entries, error bodies (a second copy past the first 120 characters), response headers
and redirects. Afterwards neither the key nor any 8 characters of it may appear in the CLI's stdout
and stderr, nor anywhere in a Dagster instance that ran the partition: its run storage (event
log) and its compute logs, read as raw bytes."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug import Response

from p114_assets.core import redaction
from p114_assets.core.portal import PortalClient, PortalError

KEY = "PLANTEDk3y-0123456789abcdefXYZ"
DAY = dt.date(2024, 6, 3)
NAME = "S0142_20240603_II_20240610093000.gz"


def fragments(secret: str, size: int = 8) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def leaks(text: str | bytes) -> set[str]:
    text = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    return {f for f in fragments(KEY) if f in text}


class HostilePortal:
    """Lists redirect to a URL holding the key; the list holds the key in names; a download answers
    400 with the key twice in its body (the second past the first 120 characters) and in headers."""

    def __init__(self, httpserver):
        self.url = httpserver.url_for("/").rstrip("/")

        def listing(request):
            if request.args.get("key") != KEY:
                return Response("Forbidden", status=403)
            return Response(status=302, headers={"Location": f"/p114/list2?key={KEY}&date={request.args.get('date')}",
                                                 "X-Echo": KEY})  # fmt: skip

        def listing2(request):
            names = {NAME: "2024-06-10 09:30:00", f"?key={KEY}": "x", f"{'A' * 70}{KEY}": "y"}  # the key cut at 80 by the old code
            return Response(json.dumps(names), content_type="application/json", headers={"X-Key": KEY})

        def download(request):
            body = f"Error: bad filename for /p114/download?key={KEY}&filename={request.args.get('filename')} " + "." * 40 + f" (key {KEY})"
            return Response(body, status=400, headers={"X-Echo": KEY, "Set-Cookie": f"k={KEY}"})

        httpserver.expect_request("/p114/list").respond_with_handler(listing)
        httpserver.expect_request("/p114/list2").respond_with_handler(listing2)
        httpserver.expect_request("/p114/download").respond_with_handler(download)


def test_redact_before_cut():
    redaction.hide(KEY, "<key hidden>")
    body = f"first {KEY} then {'-' * 77} then {KEY} and more".encode()  # the second copy straddles 120 + len(KEY)
    shown = redaction.preview(body, limit=120)
    assert not leaks(shown) and shown.count("<key hidden>") == 2
    old_way = body[: 120 + len(KEY)].decode().replace(KEY, "<key hidden>")[:120]  # what the client used to do
    assert leaks(old_way)  # ... showed the start of the second copy
    cut = ("x" * (redaction.PREVIEW_BYTES - 10) + KEY).encode()  # a first line longer than what is read
    assert not leaks(redaction.preview(cut, limit=redaction.PREVIEW_BYTES))
    assert not leaks(redaction.shorten("A" * 70 + KEY, 80))


def test_the_one_filter_covers_p114_loggers_and_http_logs(caplog):
    redaction.hide(KEY, "<key hidden>")
    with caplog.at_level(logging.INFO):
        logging.getLogger("p114.portal").warning("entry %r", KEY)
        logging.getLogger("httpx").info("HTTP Request: GET http://x/p114/list?key=%s", KEY)
        redaction.logger("p114.elsewhere").error("body %s", KEY)
    assert len(caplog.records) == 3 and not leaks(caplog.text)


def test_the_portal_client_hides_the_key_everywhere(httpserver, caplog, tmp_path):
    HostilePortal(httpserver)
    with caplog.at_level(logging.DEBUG), PortalClient(KEY, httpserver.url_for("/").rstrip("/"), max_tries=1) as portal:
        listed = portal.list(DAY)
        with pytest.raises(PortalError) as caught:
            portal.download(NAME, tmp_path)
    assert listed == {NAME: "2024-06-10 09:30:00"}
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")  # not the stand-in server's own log
    assert "ignoring" in ours and "HTTP Request" in ours and "receive_response_headers" in ours  # the lines were written ...
    assert not leaks(ours) and not leaks(str(caught.value)) and not leaks(repr(caught.value))  # ... without the key
    assert "<key hidden>" in str(caught.value)


def _environment(portal_url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("P114_", "DAGSTER_", "ELEXON_"))}
    return {**env, "ELEXON_PORTAL_KEY": KEY, "P114_PORTAL_URL": portal_url, "P114_SOURCE": "portal",
            "P114_DATA_DIR": str(home / "data"), "DAGSTER_HOME": str(home / "dagster_home")}  # fmt: skip


@pytest.mark.slow
def test_no_key_in_cli_output_run_storage_or_compute_logs(httpserver, tmp_path):
    HostilePortal(httpserver)
    env = _environment(httpserver.url_for("/").rstrip("/"), tmp_path)
    (tmp_path / "dagster_home").mkdir()

    fetch = subprocess.run([sys.executable, "-c", "from p114_assets.app.cli import main; main()", "fetch",
                            "--published-from", "2024-06-10", "--dest", str(tmp_path / "got")],
                           env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert fetch.returncode == 1 and "HTTP 400" in fetch.stderr and "ignoring" in fetch.stderr, fetch.stderr
    assert not leaks(fetch.stdout) and not leaks(fetch.stderr)

    # A real Dagster run of the partition (multiprocess executor: each step's output is captured as compute logs).
    run = subprocess.run([sys.executable, "-m", "dagster", "asset", "materialize", "-m", "p114_assets.definitions",
                          "--select", "s0142_file", "--partition", f"{DAY}|II"],
                         env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)  # fmt: skip
    assert run.returncode != 0 and "HTTP 400" in run.stdout + run.stderr, run.stderr[-3000:]
    assert not leaks(run.stdout) and not leaks(run.stderr)
    stored = [p for p in (tmp_path / "dagster_home").rglob("*") if p.is_file()]
    compute_logs = [p for p in stored if p.suffix in (".err", ".out", ".complete") or "compute_logs" in str(p)]
    assert compute_logs and any(p.suffix == ".db" for p in stored)  # run storage and compute logs were written ...
    assert any(b"ignoring" in p.read_bytes() for p in compute_logs)  # ... and hold the Portal's warnings
    assert {str(p.relative_to(tmp_path)): leaks(p.read_bytes()) for p in stored if leaks(p.read_bytes())} == {}
