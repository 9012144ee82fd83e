"""The one redaction filter: secrets (the Portal key, webhook URLs) never reach a log line, a
message or an exception.

A secret is registered once, where it is first held (`hide`); from then on:
- every log record of the process, from any logger, has every registered secret replaced when it
  is made, before any handler (Dagster's included) sees it: httpx logs each request's URL at INFO
  (the Portal key travels in the query string, a webhook's credentials in its path), httpcore the
  response headers at DEBUG (a redirect's Location), p114 the list entries it ignores;
- `redact(text)` does the same to any text, and `shorten(text, limit)` redacts *before* it cuts,
  so a second copy of a secret cannot slide into view when the first one shrinks;
- `preview(data)`, the start of a body for a message, redacts the whole first line, and hides the
  end of a line cut at the read limit when it is the start of a secret.
"""

from __future__ import annotations

import logging

HTTP_LOGGERS = ("httpx", "httpcore")
PREVIEW_BYTES = 64 * 1024  # how much of a body a preview reads: a first line longer than this is cut
MIN_PARTIAL = 4  # a cut-off tail this long that starts a secret is hidden too


class _HideSecrets(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.replacements: dict[str, str] = {}

    def redact(self, text: str) -> str:
        for secret in sorted(self.replacements, key=len, reverse=True):  # longest first: one secret may hold another
            if secret in text:
                text = text.replace(secret, self.replacements[secret])
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = _HideSecrets()
for _name in HTTP_LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)

# A logger's filters do not see its children's records (httpcore logs response headers, a redirect's
# Location included, from httpcore.http11), so the filter also runs where every record is made.
_make_record = logging.getLogRecordFactory()


def _redacted_record(*args, **kwargs) -> logging.LogRecord:
    record = _make_record(*args, **kwargs)
    if _FILTER.replacements:
        try:
            _FILTER.filter(record)
        except Exception:  # a record whose arguments do not fit its message: logging reports it later
            pass
    return record


logging.setLogRecordFactory(_redacted_record)


def hide(secret: str, replacement: str) -> None:
    """From now on, `secret` shows as `replacement` in every filtered log line and redacted text."""
    if secret:
        _FILTER.replacements[secret] = replacement




def logger(name: str) -> logging.Logger:
    """A logger whose every record passes through the redaction filter."""
    log = logging.getLogger(name)
    if _FILTER not in log.filters:
        log.addFilter(_FILTER)
    return log


def redact(text: str) -> str:
    """`text` with every registered secret replaced."""
    return _FILTER.redact(text)


def _hide_cut_tail(text: str) -> str:
    """Hide the end of a cut-off text when it is the start of a secret (the rest of it was cut)."""
    for secret, replacement in _FILTER.replacements.items():
        for size in range(min(len(secret) - 1, len(text)), MIN_PARTIAL - 1, -1):
            if text.endswith(secret[:size]):
                return text[:-size] + replacement
    return text


def shorten(text: str, limit: int = 120) -> str:
    """Redact, then cut to `limit` characters (never the other way round)."""
    cleaned = redact(text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit]


def preview(data: bytes, limit: int = 120) -> str:
    """The first line of a body for a message: redacted whole, then cut to `limit` characters."""
    if not data.strip():
        return "<empty body>"
    head = data[:PREVIEW_BYTES]
    line = head.decode("utf-8", errors="replace").strip().splitlines()[0]
    if len(data) > PREVIEW_BYTES and b"\n" not in head.strip():  # the line goes on past what was read
        line = _hide_cut_tail(line)
    return shorten(line, limit)
