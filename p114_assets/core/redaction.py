"""Secrets kept out of the HTTP libraries' log lines: httpx logs every request's URL at INFO, and
the Portal key travels in the query string, a webhook's credentials in its path."""

from __future__ import annotations

import logging

HTTP_LOGGERS = ("httpx", "httpcore")


class _HideSecrets(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.replacements: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.replacements):
            for secret, replacement in self.replacements.items():
                message = message.replace(secret, replacement)
            record.msg, record.args = message, ()
        return True


_FILTER = _HideSecrets()
for _name in HTTP_LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)


def hide_in_http_logs(secret: str, replacement: str) -> None:
    """From now on, `secret` shows as `replacement` in every log line of the HTTP libraries."""
    if secret:
        _FILTER.replacements[secret] = replacement
