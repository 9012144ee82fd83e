"""The Portal client against a real HTTP server on 127.0.0.1 that behaves like the Elexon Portal."""

from __future__ import annotations

import datetime as dt
import gzip
import logging

import pytest
from werkzeug import Response

from p114_assets.core.portal import KeyRefused, PortalClient, PortalError, gzip_complete
from p114_assets.core.synthetic import SyntheticMarket, generate_file

KEY = "Sk3y-ab12CD34ef"  # 15 characters, like a real scripting key
DAY = dt.date(2024, 6, 3)


@pytest.fixture(scope="module")
def s0142():
    generated = generate_file(SyntheticMarket.build(10, seed=2), DAY, "SF")
    return generated.file_name.name, gzip.compress(generated.text, mtime=0)


@pytest.fixture
def portal(httpserver):
    client = PortalClient(KEY, httpserver.url_for("/").rstrip("/"), timeout=5, max_tries=4, sleep=lambda _: None)
    yield client
    client.close()


def listing(httpserver, date: str):
    return httpserver.expect_request("/p114/list", query_string={"key": KEY, "date": date, "filter": "s0142"})


def test_list_and_download(httpserver, portal, s0142, tmp_path):
    name, body = s0142
    listing(httpserver, "2024-06-25").respond_with_json({name: "2024-06-25 07:07:38", "../../etc/passwd": "x", "README.txt": "y"})
    httpserver.expect_request("/p114/download", query_string={"key": KEY, "filename": name}).respond_with_data(body)
    assert portal.list(dt.date(2024, 6, 25)) == {name: "2024-06-25 07:07:38"}  # names that are not S0142 are ignored
    got = portal.download(name, tmp_path)
    assert got.downloaded and got.path == tmp_path / name and got.path.read_bytes() == body and got.bytes == len(body)
    again = portal.download(name, tmp_path)
    assert not again.downloaded  # a complete copy is already there
    assert len([r for r, _ in httpserver.log if r.path == "/p114/download"]) == 1
    assert not list(tmp_path.glob("*.part"))


def test_an_empty_day(httpserver, portal):
    listing(httpserver, "2024-06-29").respond_with_json([])
    assert portal.list(dt.date(2024, 6, 29)) == {}


def test_429_then_success(httpserver, portal, s0142):
    name, _ = s0142
    listing(httpserver, "2024-06-25").respond_with_response(Response("slow down", status=429, headers={"Retry-After": "0"}))
    httpserver.clear_all_handlers()
    httpserver.expect_ordered_request("/p114/list").respond_with_response(Response("slow down", status=429, headers={"Retry-After": "0"}))
    httpserver.expect_ordered_request("/p114/list").respond_with_json({name: "2024-06-25 07:07:38"})
    assert portal.list(dt.date(2024, 6, 25)) == {name: "2024-06-25 07:07:38"}
    assert len(httpserver.log) == 2


def test_500_twice_then_success(httpserver, portal, s0142, tmp_path):
    name, body = s0142
    for _ in range(2):
        httpserver.expect_ordered_request("/p114/download").respond_with_response(Response("oops", status=500))
    httpserver.expect_ordered_request("/p114/download").respond_with_data(body)
    assert portal.download(name, tmp_path).path.read_bytes() == body
    assert len(httpserver.log) == 3


def test_a_cut_off_body_is_retried_and_never_kept(httpserver, portal, s0142, tmp_path):
    name, body = s0142
    httpserver.expect_ordered_request("/p114/download").respond_with_data(body[: len(body) // 2])
    httpserver.expect_ordered_request("/p114/download").respond_with_data(body)
    assert portal.download(name, tmp_path).path.read_bytes() == body
    assert len(httpserver.log) == 2


def test_giving_up_leaves_nothing_behind(httpserver, portal, s0142, tmp_path):
    name, body = s0142
    httpserver.expect_request("/p114/download").respond_with_data(body[:1000])
    with pytest.raises(PortalError, match=f"gave up after 4 tries: {name}: the body was cut off"):
        portal.download(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_scripting_error_with_status_200_shows_its_text_and_is_not_retried(httpserver, portal, s0142, tmp_path):
    name, _ = s0142
    httpserver.expect_request("/p114/download").respond_with_data("Scripting Error 001")
    with pytest.raises(PortalError, match="the Portal answered with an error page: Scripting Error 001"):
        portal.download(name, tmp_path)
    httpserver.expect_request("/p114/list").respond_with_data("<html><body>Maintenance</body></html>")
    with pytest.raises(PortalError, match="error page: <html><body>Maintenance"):
        portal.list(DAY)
    assert len(httpserver.log) == 2 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("response", [Response("no", status=403), Response("no", status=401),
                                      Response("Scripting Error 003: Invalid Key", status=200)])  # fmt: skip
def test_a_refused_key_fails_at_once(httpserver, portal, response):
    httpserver.expect_request("/p114/list").respond_with_response(response)
    with pytest.raises(KeyRefused, match="the Portal refused the scripting key"):
        portal.list(DAY)
    assert len(httpserver.log) == 1


def test_answers_of_the_wrong_shape(httpserver, portal):
    httpserver.expect_ordered_request("/p114/list").respond_with_data("not json at all")
    httpserver.expect_ordered_request("/p114/list").respond_with_json(["a", "b"])
    httpserver.expect_ordered_request("/p114/list").respond_with_response(Response("missing", status=404))
    with pytest.raises(PortalError, match="not JSON: not json at all"):
        portal.list(DAY)
    with pytest.raises(PortalError, match="expected a JSON object of file names"):
        portal.list(DAY)
    with pytest.raises(PortalError, match="HTTP 404: missing"):
        portal.list(DAY)
    assert len(httpserver.log) == 3  # none retried


def test_names_that_are_not_s0142_files_never_touch_the_disk(portal, tmp_path):
    for bad in ("../S0142_20240603_SF_20240625070738.gz", "S0142_20240603_SF_20240625070738.gz/../../x", "/etc/passwd"):
        with pytest.raises(PortalError, match="not an S0142 file name"):
            portal.download(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_portal_is_retried_then_reported(tmp_path):
    client = PortalClient(KEY, "http://127.0.0.1:9", timeout=2, max_tries=2, sleep=lambda _: None)
    with pytest.raises(PortalError, match="gave up after 2 tries: connection failed") as caught:
        client.list(DAY)
    assert KEY not in str(caught.value)


def test_the_key_appears_nowhere(httpserver, s0142, tmp_path, caplog, capsys):
    name, body = s0142
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    client = PortalClient(KEY, httpserver.url_for("/").rstrip("/"), timeout=5, max_tries=3, sleep=lambda _: None)
    httpserver.expect_ordered_request("/p114/list").respond_with_response(Response("busy", status=503))
    httpserver.expect_ordered_request("/p114/list").respond_with_json({name: "x"})
    httpserver.expect_ordered_request("/p114/download").respond_with_data(body[:500])
    httpserver.expect_ordered_request("/p114/download").respond_with_data(body)
    httpserver.expect_ordered_request("/p114/list").respond_with_response(Response("no", status=403))
    client.list(DAY)
    client.download(name, tmp_path)
    with pytest.raises(KeyRefused) as refused:
        client.list(DAY)
    captured = capsys.readouterr()
    # every log line of the client side (werkzeug is the test server playing the Portal: it receives the key)
    client_logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))
    assert "HTTP Request: GET" in client_logs  # httpx did log its requests...
    for text in (client_logs, captured.out, captured.err, str(refused.value), repr(client)):
        assert KEY not in text  # ...but never the key
    assert KEY in httpserver.log[0][0].query_string.decode()  # (it was sent, of course)


@pytest.mark.parametrize("response", [Response(f"Bad request: /p114/list?key={KEY}&date=2024-06-03", status=400),
                                      Response(f"Scripting Error 002: no file for key {KEY}", status=200),
                                      Response(f"<html>download?key={KEY}</html>", status=200)])  # fmt: skip
def test_an_error_body_that_echoes_the_key_is_shown_without_it(httpserver, portal, response, tmp_path):
    httpserver.expect_request("/p114/list").respond_with_response(response)
    httpserver.expect_request("/p114/download").respond_with_response(response)
    for call in (lambda: portal.list(DAY), lambda: portal.download("S0142_20240603_SF_20240625070738.gz", tmp_path)):
        with pytest.raises(PortalError) as caught:
            call()
        assert KEY not in str(caught.value) and "<key hidden>" in str(caught.value)


def test_gzip_complete(tmp_path, s0142):
    _, body = s0142
    whole, cut, plain = tmp_path / "whole.gz", tmp_path / "cut.gz", tmp_path / "plain"
    whole.write_bytes(body + gzip.compress(b"second member", mtime=0))
    cut.write_bytes(body[:-20])
    plain.write_bytes(b"AAA|...")
    assert gzip_complete(whole) and not gzip_complete(cut) and not gzip_complete(plain)
    assert not gzip_complete(tmp_path / "missing.gz")


def test_no_key_no_client():
    with pytest.raises(KeyRefused, match="set ELEXON_PORTAL_KEY"):
        PortalClient("")
