"""Alerts: failed checks and incomplete settlement days, delivered where the environment says.

Always a structured log line; optionally a Slack incoming webhook (JSON ``{"text": ...}``), any URL
that accepts a JSON POST of the alert's fields, and email. Which ones: config.alert_sinks, from the
environment.

Webhook URLs carry their credentials in the path, so they are secrets: no URL is ever logged or put
in an exception message. Transient failures (timeouts, broken connections, 429, 5xx) are retried
with backoff; a 4xx is not.
"""

from __future__ import annotations

import json
import logging
import smtplib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Literal, Protocol

import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from p114_assets.core.redaction import hide, logger

log = logger("p114.alerts")  # every line through the one redaction filter


@dataclass(frozen=True)
class Alert:
    kind: Literal["check_failed", "incomplete_day"]
    asset: str
    partition: str
    check: str | None
    severity: str
    reason: str

    @property
    def key(self) -> str:
        """What makes two alerts the same alert (each is delivered once)."""
        return f"{self.kind}|{self.asset}|{self.check or ''}|{self.partition}"

    def text(self) -> str:
        what = f"check {self.check} {self.severity}" if self.kind == "check_failed" else "incomplete settlement day"
        return f"p114: {what} on {self.asset} {self.partition}: {self.reason}"

    def fields(self) -> dict:
        return {"source": "p114", **asdict(self)}


class AlertSink(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


class DeliveryError(RuntimeError):
    """A sink refused or could not take an alert. Never holds a URL or a password."""


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, (httpx.TransportError, smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError))


_retry = retry(retry=retry_if_exception(_transient), wait=wait_exponential_jitter(multiplier=0.5, max=8),
               stop=stop_after_attempt(4), reraise=True)  # fmt: skip


@dataclass(frozen=True)
class _Webhook:
    name: str
    url: str
    timeout: float = 10.0

    def __post_init__(self) -> None:  # the URL is a secret: httpx would log it with every POST
        hide(self.url, f"<{self.name} url hidden>")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<url hidden>)"

    def payload(self, alert: Alert) -> dict:
        raise NotImplementedError

    def send(self, alert: Alert) -> None:
        @_retry
        def post() -> None:
            response = httpx.post(self.url, json=self.payload(alert), timeout=self.timeout)
            response.raise_for_status()

        try:
            post()
        except httpx.HTTPStatusError as exc:
            raise DeliveryError(f"{self.name} answered HTTP {exc.response.status_code}") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{self.name} unreachable ({type(exc).__name__})") from None


class SlackWebhook(_Webhook):
    def payload(self, alert: Alert) -> dict:
        return {"text": alert.text()}


class GenericWebhook(_Webhook):
    def payload(self, alert: Alert) -> dict:
        return alert.fields()


@dataclass(frozen=True)
class EmailSink:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    name: str = "email"
    timeout: float = 10.0

    def __repr__(self) -> str:
        return f"EmailSink({self.host}:{self.port} -> {', '.join(self.recipients)})"

    def send(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = alert.text()[:180]
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(alert.text() + "\n\n" + json.dumps(alert.fields(), indent=2))

        @_retry
        def deliver() -> None:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)

        try:
            deliver()
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"email via {self.host}:{self.port} failed ({type(exc).__name__})") from None


def deliver(alerts: Sequence[Alert], sinks: Sequence[AlertSink], logger: logging.Logger | logging.LoggerAdapter = log) -> list[str]:
    """Log every alert as one structured line, then send it to every sink. Returns the delivery
    failures (one line each); a failing sink does not stop the others."""
    problems = []
    for alert in alerts:
        logger.warning("p114 alert %s", json.dumps(alert.fields(), sort_keys=True))
        for sink in sinks:
            try:
                sink.send(alert)
            except DeliveryError as exc:
                problems.append(f"{alert.key}: {exc}")
                logger.error("p114 alert delivery failed: %s", exc)
    return problems
