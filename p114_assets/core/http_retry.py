"""The retry policy every p114 HTTP client shares (the Elexon Portal and Insights clients).

Transient failures are retried with exponential backoff and jitter, for a bounded number of tries:
timeouts, broken connections, HTTP 429 (waiting what Retry-After asks, capped) and 5xx, and bodies
cut off before their end. Everything else (other 4xx, a body of the wrong shape) fails at once:
retrying cannot help. The clients decide what is transient by raising `Transient`; this module
decides when and how often to try again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt

T = TypeVar("T")


class Transient(Exception):
    """A failure worth retrying. Its message is what the final error shows (already redacted)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def is_transient_status(status: int) -> bool:
    return status == 429 or status >= 500


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After in seconds (the integer form; an HTTP date is ignored: backoff applies)."""
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


def transient_status(response: httpx.Response) -> Transient:
    return Transient(f"HTTP {response.status_code}", retry_after_seconds(response))


@dataclass
class RetryPolicy:
    """How often and how patiently to try a request again."""

    max_tries: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_backoff_seconds)
        delay = min(self.backoff_seconds * 2 ** (state.attempt_number - 1), self.max_backoff_seconds)
        return delay * random.uniform(0.5, 1.0)  # jitter: clients that failed together do not retry together

    def call(self, what: str, attempt: Callable[[], T], give_up: type[Exception], log: logging.Logger,
             redact: Callable[[str], str] = lambda text: text) -> T:  # fmt: skip
        """Run `attempt` until it returns, retrying `Transient` failures, timeouts and transport
        errors; after the last try raise `give_up` with one line naming `what` and the last cause.
        Any other exception passes through at once."""

        @retry(retry=retry_if_exception(lambda e: isinstance(e, Transient)), wait=self.wait,
               stop=stop_after_attempt(self.max_tries), reraise=True, sleep=self.sleep,
               before_sleep=lambda s: log.warning("%s: %s; trying again (%d of %d)", what, s.outcome.exception(),
                                                  s.attempt_number + 1, self.max_tries))  # fmt: skip
        def run() -> T:
            try:
                return attempt()
            except httpx.TimeoutException as exc:
                raise Transient(f"timed out ({type(exc).__name__})") from None
            except httpx.TransportError as exc:  # refused, reset, cut off before Content-Length
                raise Transient(f"connection failed ({type(exc).__name__}: {redact(str(exc))})") from None

        try:
            return run()
        except Transient as exc:
            raise give_up(f"{what}: gave up after {self.max_tries} tries: {exc}") from None


class RetryingClient:
    """What every p114 HTTP client shares: a base URL, one httpx connection pool and the retry
    policy. Subclasses add their calls and decide what is transient."""

    def __init__(self, base_url: str, timeout: float = 60.0, max_tries: int = 5, backoff_seconds: float = 1.0,
                 max_backoff_seconds: float = 60.0, sleep: Callable[[float], None] = time.sleep,
                 headers: dict[str, str] | None = None):  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.retry = RetryPolicy(max_tries, backoff_seconds, max_backoff_seconds, sleep)
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)), follow_redirects=True,
                                  headers=headers)  # fmt: skip

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
