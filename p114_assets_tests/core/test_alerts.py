"""Alert delivery against real servers on 127.0.0.1: an HTTP server and an SMTP sink."""

from __future__ import annotations

import json
import logging

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from werkzeug import Response

from p114_assets.config import alert_sinks as sinks_from_env
from p114_assets.core.alerts import Alert, DeliveryError, GenericWebhook, SlackWebhook, deliver
from p114_assets_tests.conftest import free_port

ALERT = Alert("check_failed", "bm_unit_period", "2024-06-05|SF", "periods_per_day", "ERROR", "47 periods; 2024-06-05 has 48")
SECRET_PATH = "/services/T000/B000/s3cr3tT0k3n"


def test_slack_and_generic_webhooks_post_json(httpserver):
    httpserver.expect_oneshot_request(SECRET_PATH, method="POST").respond_with_data("ok")
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")
    SlackWebhook("Slack webhook", httpserver.url_for(SECRET_PATH)).send(ALERT)
    GenericWebhook("alert webhook", httpserver.url_for("/hook")).send(ALERT)
    slack, generic = [json.loads(req.data) for req, _ in httpserver.log]
    assert slack == {"text": "p114: check periods_per_day ERROR on bm_unit_period 2024-06-05|SF: 47 periods; 2024-06-05 has 48"}
    assert generic == {"source": "p114", "kind": "check_failed", "asset": "bm_unit_period", "partition": "2024-06-05|SF",
                       "check": "periods_per_day", "severity": "ERROR", "reason": "47 periods; 2024-06-05 has 48"}  # fmt: skip


def test_transient_failures_are_retried_and_4xx_is_not(httpserver):
    for _ in range(2):
        httpserver.expect_ordered_request("/hook").respond_with_response(Response("busy", status=503))
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    GenericWebhook("alert webhook", httpserver.url_for("/hook")).send(ALERT)
    assert len(httpserver.log) == 3
    httpserver.clear()
    httpserver.expect_request(SECRET_PATH).respond_with_response(Response("no such hook", status=404))
    with pytest.raises(DeliveryError) as caught:
        SlackWebhook("Slack webhook", httpserver.url_for(SECRET_PATH)).send(ALERT)
    assert len(httpserver.log) == 1  # not retried
    assert str(caught.value) == "Slack webhook answered HTTP 404"
    assert "s3cr3t" not in repr(SlackWebhook("Slack webhook", httpserver.url_for(SECRET_PATH)))


def test_a_failing_sink_is_logged_without_its_url_and_does_not_stop_the_others(httpserver, caplog):
    httpserver.expect_request(SECRET_PATH).respond_with_response(Response("gone", status=410))
    httpserver.expect_request("/hook").respond_with_data("ok")
    sinks = [SlackWebhook("Slack webhook", httpserver.url_for(SECRET_PATH)), GenericWebhook("alert webhook", httpserver.url_for("/hook"))]
    caplog.set_level(logging.DEBUG)  # every logger, httpx (which logs each request's URL) included
    problems = deliver([ALERT], sinks)
    assert problems == [f"{ALERT.key}: Slack webhook answered HTTP 410"]
    assert [r.path for r, _ in httpserver.log] == [SECRET_PATH, "/hook"]
    # the client side only (werkzeug is the test server playing Slack: it receives the URL)
    client_logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))
    assert "HTTP Request: POST" in client_logs and "<Slack webhook url hidden>" in client_logs
    assert "s3cr3t" not in client_logs
    structured = next(r for r in caplog.records if r.getMessage().startswith("p114 alert {"))
    assert json.loads(structured.getMessage()[len("p114 alert "):])["check"] == "periods_per_day"


@pytest.fixture
def smtp_sink():
    received = []

    class Collect(Message):
        def handle_message(self, message):
            received.append(message)

    controller = Controller(Collect(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, received
    finally:
        controller.stop()


def test_email_reaches_a_real_smtp_server(smtp_sink):
    controller, received = smtp_sink
    port = controller.port
    (sink,) = sinks_from_env({"P114_SMTP_HOST": "127.0.0.1", "P114_SMTP_PORT": str(port), "P114_SMTP_FROM": "p114@example.org",
                              "P114_SMTP_TO": "ops@example.org, analyst@example.org"})  # fmt: skip
    sink.send(ALERT)
    assert len(received) == 1
    message = received[0]
    assert message["To"] == "ops@example.org, analyst@example.org"
    assert message["Subject"].startswith("p114: check periods_per_day ERROR on bm_unit_period 2024-06-05|SF")


def test_sinks_from_env():
    assert sinks_from_env({}) == []
    kinds = [type(s).__name__ for s in sinks_from_env({"P114_SLACK_WEBHOOK_URL": "http://127.0.0.1/x", "P114_ALERT_WEBHOOK_URL": "http://127.0.0.1/y"})]
    assert kinds == ["SlackWebhook", "GenericWebhook"]
    with pytest.raises(ValueError, match="names no recipient"):
        sinks_from_env({"P114_SMTP_HOST": "127.0.0.1"})
