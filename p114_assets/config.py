"""Every setting p114 reads from the environment, read and checked here and nowhere else.

Values the definitions need when they are built (the first partition date, the backfill chunk, the
warehouse and source, paths) and values the CLI and sensors need when they run are read by the
functions below, each when called. Secrets and run-time values that Dagster resolves itself (the
Portal key and the BigQuery project in resources) are given to resources as `dg.EnvVar`, never read
here. An empty variable counts as unset. A value that cannot be used raises ConfigError, one line
naming the variable: `P114_BACKFILL_CHUNK='x': expected a whole number >= 1`.

Every function takes an optional `env` mapping (default: the process environment), so tests and
callers can pass their own.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path

from p114_assets.core.alerts import AlertSink, EmailSink, GenericWebhook, SlackWebhook
from p114_assets.core.calendar import CalendarError, SettlementCalendar
from p114_assets.core.insights import DEFAULT_URL as INSIGHTS_URL
from p114_assets.core.portal import DEFAULT_URL, PortalClient

Env = Mapping[str, str] | None

WAREHOUSES = ("duckdb", "bigquery")
SOURCES = ("portal", "folder", "generator")


class ConfigError(ValueError):
    """An environment variable holds a value p114 cannot use; the message names it."""


def _get(name: str, env: Env) -> str | None:
    value = (os.environ if env is None else env).get(name)
    return value if value else None


def _text(name: str, default: str, env: Env) -> str:
    return _get(name, env) or default


def _whole(name: str, default: int, env: Env, minimum: int = 0) -> int:
    value = _get(name, env)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise ConfigError(f"{name}={value!r}: expected a whole number >= {minimum}")
    return number


def _flag(name: str, default: bool, env: Env) -> bool:
    value = _get(name, env)
    if value is None:
        return default
    if value not in ("0", "1"):
        raise ConfigError(f"{name}={value!r}: expected 1 (on) or 0 (off)")
    return value == "1"


def _choice(name: str, default: str, choices: tuple[str, ...], env: Env) -> str:
    value = (_get(name, env) or default).lower()
    if value not in choices:
        raise ConfigError(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


# -- the warehouse and where files come from ------------------------------------------------


def warehouse_kind(env: Env = None) -> str:
    """P114_WAREHOUSE: the one switch, `duckdb` (default) or `bigquery` (production)."""
    return _choice("P114_WAREHOUSE", "duckdb", WAREHOUSES, env)


def source_kind(env: Env = None) -> str:
    """P114_SOURCE: `portal` (the default with BigQuery), `folder` (the default locally) or `generator`."""
    return _choice("P114_SOURCE", "portal" if warehouse_kind(env) == "bigquery" else "folder", SOURCES, env)


def data_dir(env: Env = None) -> Path:
    return Path(_text("P114_DATA_DIR", "data", env))


def duckdb_path(env: Env = None) -> str:
    return _text("P114_DUCKDB_PATH", str(data_dir(env) / "p114.duckdb"), env)


def incoming_dir(env: Env = None) -> str:
    return _text("P114_INCOMING_DIR", str(data_dir(env) / "incoming"), env)


def landing_dir(env: Env = None) -> str:
    return _text("P114_LANDING_DIR", str(data_dir(env) / "landing"), env)


def reports_dir(env: Env = None) -> str:
    return _text("P114_REPORTS_DIR", str(data_dir(env) / "reports"), env)


def bigquery_project(env: Env = None) -> str | None:
    """P114_BQ_PROJECT: required with P114_WAREHOUSE=bigquery. Resources take it as dg.EnvVar (resolved
    by Dagster at run time); the CLI and the Python API, which run outside Dagster, read it here."""
    value = _get("P114_BQ_PROJECT", env)
    if value is None and warehouse_kind(env) == "bigquery":
        raise ConfigError("P114_BQ_PROJECT is not set: P114_WAREHOUSE=bigquery needs the Google Cloud project")
    return value


def bigquery_dataset(env: Env = None) -> str:
    return _text("P114_BQ_DATASET", "p114", env)


def bigquery_location(env: Env = None) -> str | None:
    return _get("P114_BQ_LOCATION", env)


def bigquery_storage_api(env: Env = None) -> bool:
    return _flag("P114_BQ_STORAGE_API", True, env)


def generator_units(env: Env = None) -> int:
    from p114_assets.core.synthetic.market import MIN_UNITS  # the generator is not loaded unless used

    return _whole("P114_GENERATOR_UNITS", 400, env, minimum=MIN_UNITS)


def generator_seed(env: Env = None) -> int:
    return _whole("P114_GENERATOR_SEED", 0, env)


# -- partitions and runs ----------------------------------------------------------------------


def start_date(env: Env = None) -> str:
    """P114_START_DATE: the first settlement date partition (YYYY-MM-DD)."""
    value = _text("P114_START_DATE", "2022-01-01", env)
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"P114_START_DATE={value!r}: expected a date YYYY-MM-DD") from None
    return value


def backfill_chunk(env: Env = None) -> int:
    """P114_BACKFILL_CHUNK: partitions per backfill run."""
    return _whole("P114_BACKFILL_CHUNK", 7, env, minimum=1)


def min_row_ratio(env: Env = None) -> float:
    """P114_MIN_ROW_RATIO: a file whose partition would keep fewer than this share of the rows of its
    previous version (in any raw table) fails the blocking check rows_vs_previous_version; 0 turns it off."""
    value = _get("P114_MIN_ROW_RATIO", env)
    if value is None:
        return 0.5
    try:
        ratio = float(value)
    except ValueError:
        ratio = -1.0
    if not 0 <= ratio <= 1:  # NaN fails this too
        raise ConfigError(f"P114_MIN_ROW_RATIO={value!r}: expected a number from 0 to 1")
    return ratio


def pool_wait_seconds(env: Env = None) -> int:
    """P114_POOL_WAIT_SECONDS: how long an in-process run (`p114 materialize`, `demo`,
    `plan-backfill --local`) waits for a slot of the `warehouse` pool held by another live run
    before it gives up with one line (0: give up at once)."""
    return _whole("P114_POOL_WAIT_SECONDS", 600, env, minimum=0)


def dagster_home(env: Env = None) -> str | None:
    """DAGSTER_HOME: the Dagster instance the CLI records runs in and reads check results from
    (Dagster requires an absolute path)."""
    value = _get("DAGSTER_HOME", env)
    if value is not None and not Path(value).is_absolute():
        raise ConfigError(f"DAGSTER_HOME={value!r}: expected an absolute path")
    return value


# -- the Elexon Portal and the settlement calendar --------------------------------------------


def portal_key(env: Env = None) -> str:
    """ELEXON_PORTAL_KEY, for the CLI and for telling whether the Portal sensor can run (resources
    take it as dg.EnvVar). A secret: never printed."""
    return _get("ELEXON_PORTAL_KEY", env) or ""


def portal_url(env: Env = None) -> str:
    return _text("P114_PORTAL_URL", DEFAULT_URL, env)


def portal_client(env: Env = None, **kwargs) -> PortalClient:
    """A Portal client with the key and address of the environment (KeyRefused without a key)."""
    return PortalClient(portal_key(env), portal_url(env), **kwargs)


def portal_lookback_days(env: Env = None) -> int:
    return _whole("P114_PORTAL_LOOKBACK_DAYS", 5, env, minimum=1)


def portal_poll_seconds(env: Env = None) -> int:
    return _whole("P114_PORTAL_POLL_SECONDS", 900, env, minimum=1)


def calendar(env: Env = None) -> SettlementCalendar:
    """The calendar file named by P114_CALENDAR_CSV, or nominal offsets alone."""
    path = _get("P114_CALENDAR_CSV", env)
    try:
        return SettlementCalendar.from_csv(path) if path else SettlementCalendar()
    except CalendarError as exc:
        raise ConfigError(f"P114_CALENDAR_CSV: {exc}") from None


# -- the Elexon Insights API (market data) ------------------------------------------------------


def insights_url(env: Env = None) -> str:
    """P114_INSIGHTS_URL: the Insights API up to /bmrs/api/v1 (no key), or a stand-in serving its paths."""
    value = _text("P114_INSIGHTS_URL", INSIGHTS_URL, env)
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"P114_INSIGHTS_URL={value!r}: expected an http:// or https:// URL")
    return value.rstrip("/")


def market_poll_seconds(env: Env = None) -> int:
    """P114_MARKET_POLL_SECONDS: how often the market sensor looks for yesterday's data."""
    return _whole("P114_MARKET_POLL_SECONDS", 1800, env, minimum=1)


# -- Google Sheets (`p114 export --sheets`) -----------------------------------------------------


SHEETS_API_URL = "https://sheets.googleapis.com"


def sheets_credentials_file(env: Env = None) -> Path | None:
    """P114_SHEETS_CREDENTIALS: a service-account key file for Google Sheets (else Google's
    application-default credentials: GOOGLE_APPLICATION_CREDENTIALS, gcloud, workload identity)."""
    value = _get("P114_SHEETS_CREDENTIALS", env)
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"P114_SHEETS_CREDENTIALS={value!r}: expected a service-account key file (JSON)")
    return path.absolute()


def sheets_api_url(env: Env = None) -> str:
    """P114_SHEETS_API_URL: scheme and host of the Sheets API (a stand-in's in tests)."""
    value = _text("P114_SHEETS_API_URL", SHEETS_API_URL, env).rstrip("/")
    if not value.startswith(("https://", "http://")):
        raise ConfigError(f"P114_SHEETS_API_URL={value!r}: expected an http(s) URL")
    return value


# -- alerts -------------------------------------------------------------------------------------


def alert_lookback_days(env: Env = None) -> int:
    return _whole("P114_ALERT_LOOKBACK_DAYS", 60, env, minimum=1)


def alert_grace_working_days(env: Env = None) -> int:
    return _whole("P114_ALERT_GRACE_WORKING_DAYS", 2, env)


def alert_start(env: Env = None) -> dt.date | None:
    """P114_ALERT_START: the first settlement date checked for incomplete days (default: the first
    date the warehouse holds)."""
    value = _get("P114_ALERT_START", env)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"P114_ALERT_START={value!r}: expected a date YYYY-MM-DD") from None


def alert_interval_seconds(env: Env = None) -> int:
    """P114_ALERT_INTERVAL_SECONDS: how often the alert sensor evaluates."""
    return _whole("P114_ALERT_INTERVAL_SECONDS", 60, env, minimum=1)


def automation_interval_seconds(env: Env = None) -> int:
    """P114_AUTOMATION_INTERVAL_SECONDS: how often the automation sensor evaluates the derived tables' conditions."""
    return _whole("P114_AUTOMATION_INTERVAL_SECONDS", 30, env, minimum=1)


def cluster_interval_seconds(env: Env = None) -> int:
    """P114_CLUSTER_INTERVAL_SECONDS: how often the cluster_loaded_months sensor looks for months whose dates are all loaded."""
    return _whole("P114_CLUSTER_INTERVAL_SECONDS", 120, env, minimum=1)


def alert_sinks(env: Env = None) -> list[AlertSink]:
    """Where alerts go besides the log: P114_SLACK_WEBHOOK_URL, P114_ALERT_WEBHOOK_URL, and email
    through P114_SMTP_HOST (+ _PORT 25, _FROM, _TO comma-separated, _USER, _PASSWORD, _STARTTLS 0/1)."""
    sinks: list[AlertSink] = []
    if slack := _get("P114_SLACK_WEBHOOK_URL", env):
        sinks.append(SlackWebhook("Slack webhook", slack))
    if webhook := _get("P114_ALERT_WEBHOOK_URL", env):
        sinks.append(GenericWebhook("alert webhook", webhook))
    if host := _get("P114_SMTP_HOST", env):
        recipients = tuple(r.strip() for r in (_get("P114_SMTP_TO", env) or "").split(",") if r.strip())
        if not recipients:
            raise ConfigError("P114_SMTP_HOST is set but P114_SMTP_TO names no recipient")
        sinks.append(EmailSink(
            host=host, port=_whole("P114_SMTP_PORT", 25, env, minimum=1), sender=_text("P114_SMTP_FROM", "p114@localhost", env),
            recipients=recipients, username=_get("P114_SMTP_USER", env), password=_get("P114_SMTP_PASSWORD", env),
            starttls=_flag("P114_SMTP_STARTTLS", False, env),
        ))  # fmt: skip
    return sinks


# -- everything at once ---------------------------------------------------------------------------


def check_all(env: Env = None) -> None:
    """Read every setting above (each function of this module that takes only `env`), so a value
    that cannot be used stops a command before it starts, with one line naming the variable."""
    import inspect
    import sys

    for name, reader in inspect.getmembers(sys.modules[__name__], inspect.isfunction):
        if name == "check_all" or name.startswith("_") or reader.__module__ != __name__:
            continue
        if list(inspect.signature(reader).parameters) == ["env"]:
            reader(env)
