"""Elexon Portal client for P114 S0142 files (S0142_FORMAT.md, "File name and the Portal").

    GET {base}/p114/list?key=<key>&date=<publication date YYYY-MM-DD>&filter=s0142
        -> {"<file name>": "<date-time>", ...}, or [] when nothing was published that day
    GET {base}/p114/download?key=<key>&filename=<file name>   -> the gzip file

Every body is checked before it is trusted: the Portal answers some errors with HTTP 200 and a
short text such as ``Scripting Error 001``. Transient failures (timeouts, broken connections, 429,
5xx, a body cut off before its end) are retried with exponential backoff and jitter, honouring
Retry-After; a refused key (401, 403, or a scripting error about the key) and other 4xx fail at
once. Downloads stream to a `.part` file and are renamed into place only when the gzip stream is
complete. File names from the list are checked against the S0142 pattern before they touch the
disk.

The scripting key is a secret: it is never logged, never put in an exception, and redacted from
anything the HTTP library says (its request log lines carry the URL).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from isal import isal_zlib

from p114_assets.core.atomic_write import replacing
from p114_assets.core.http_retry import RetryingClient, Transient, is_transient_status, transient_status
from p114_assets.core.redaction import hide, logger, preview, redact, shorten
from p114_assets.core.s0142.files import GZIP_MAGIC, FileName

log = logger("p114.portal")  # every line through the one redaction filter

DEFAULT_URL = "https://downloads.elexonportal.co.uk"
REDACTED = "<key hidden>"


class PortalError(RuntimeError):
    """The Portal could not give what was asked. Never holds the key."""


class KeyRefused(PortalError):
    """The Portal refused the scripting key: retrying cannot help."""


@dataclass
class Download:
    path: Path
    downloaded: bool  # False: a valid file of that name was already there
    bytes: int


def gzip_complete(path: Path) -> bool:
    """Whether a file holds a complete gzip stream (every member to its end marker), checked by
    streaming it through the decompressor without keeping the output."""
    try:
        with path.open("rb") as handle:
            if handle.read(2) != GZIP_MAGIC:
                return False
            handle.seek(0)
            member = isal_zlib.decompressobj(31)
            pending = b""
            while True:
                chunk = pending or handle.read(1 << 20)
                pending = b""
                if not chunk:
                    return member.eof
                member.decompress(chunk, 1 << 20)
                while member.unconsumed_tail:
                    member.decompress(member.unconsumed_tail, 1 << 20)
                if member.eof and member.unused_data:  # another member follows
                    pending = member.unused_data
                    member = isal_zlib.decompressobj(31)
    except (OSError, isal_zlib.error):
        return False


class PortalClient(RetryingClient):
    def __init__(self, key: str, base_url: str = DEFAULT_URL, timeout: float = 60.0, max_tries: int = 5,
                 backoff_seconds: float = 1.0, max_backoff_seconds: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep):  # fmt: skip
        if not key:
            raise KeyRefused("no Portal scripting key: set ELEXON_PORTAL_KEY")
        self._key = key
        hide(key, REDACTED)
        super().__init__(base_url, timeout, max_tries, backoff_seconds, max_backoff_seconds, sleep)

    def __repr__(self) -> str:
        return f"PortalClient({self.base_url}, key={REDACTED})"

    # -- plumbing ---------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return redact(text)

    def _with_retries(self, what: str, attempt: Callable[[], object]):
        def guarded():
            try:
                return attempt()
            except (httpx.TimeoutException, httpx.TransportError):
                raise  # the retry policy's to judge
            except httpx.HTTPError as exc:  # too many redirects, an undecodable body: not worth retrying
                raise PortalError(f"{what}: {type(exc).__name__}: {shorten(str(exc), 200)}") from None

        return self.retry.call(what, guarded, PortalError, log, self._redact)

    def _check_status(self, response: httpx.Response, body_preview: str) -> None:
        status = response.status_code
        if status in (401, 403):
            raise KeyRefused(f"the Portal refused the scripting key (HTTP {status})")
        if is_transient_status(status):
            raise transient_status(response)
        if status >= 400:
            raise PortalError(f"HTTP {status}: {body_preview}")
        if body_preview.startswith("Scripting Error") or body_preview.lower().startswith(("<html", "<!doctype")):
            if "key" in body_preview.lower():
                raise KeyRefused(f"the Portal refused the scripting key: {body_preview}")
            raise PortalError(f"the Portal answered with an error page: {body_preview}")

    def _preview(self, data: bytes) -> str:
        """The start of a body, for messages: its first line, with the key hidden (an error page
        may echo the request URL), redacted before it is cut."""
        return preview(data)

    # -- the two calls ------------------------------------------------------------------------

    def list(self, publication_date: dt.date) -> dict[str, str]:
        """Files published on a date: {file name: date-time string}. Only S0142 file names are
        returned; anything else in the answer is logged and ignored."""
        what = f"list of {publication_date}"

        def attempt() -> dict[str, str]:
            response = self._http.get(f"{self.base_url}/p114/list",
                                      params={"key": self._key, "date": publication_date.isoformat(), "filter": "s0142"})  # fmt: skip
            body = response.content
            self._check_status(response, self._preview(body))
            try:
                answer = json.loads(body)
            except ValueError:
                raise PortalError(f"{what}: not JSON: {self._preview(body)}") from None
            if answer == []:
                return {}
            if not isinstance(answer, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in answer.items()):
                raise PortalError(f"{what}: expected a JSON object of file names, got {self._preview(body)}")
            return answer

        files = self._with_retries(what, attempt)
        accepted = {}
        for name, stamp in files.items():
            if FileName.parse(name) is None:
                log.warning("%s: ignoring %r, which is not an S0142 file name", what, shorten(name, 80))
            else:
                accepted[name] = stamp
        return accepted

    def download(self, filename: str, dest: str | Path) -> Download:
        """Download one file into `dest` under its own name (skipped when a complete copy is there)."""
        if FileName.parse(filename) is None:
            raise PortalError(f"refusing to download {shorten(filename, 80)!r}: not an S0142 file name")
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / filename
        if target.exists() and gzip_complete(target):
            return Download(target, False, target.stat().st_size)

        def attempt() -> Download:
            with replacing(target) as partial:  # renamed into place only when the gzip stream is whole
                with self._http.stream("GET", f"{self.base_url}/p114/download",
                                       params={"key": self._key, "filename": filename}) as response:  # fmt: skip
                    chunks = response.iter_bytes(1 << 20)
                    first = next(chunks, b"")
                    if response.status_code != 200 or first[:2] != GZIP_MAGIC:
                        self._check_status(response, self._preview(first))
                        raise PortalError(f"{filename}: not a gzip file: {self._preview(first)}")
                    size = 0
                    with partial.open("wb") as handle:
                        for chunk in itertools.chain((first,), chunks):  # streamed, never all in memory
                            handle.write(chunk)
                            size += len(chunk)
                if not gzip_complete(partial):
                    raise Transient(f"{filename}: the body was cut off ({size:,} bytes, gzip stream incomplete)")
            return Download(target, True, size)

        return self._with_retries(f"download of {filename}", attempt)
