"""The seed system's Google Sheets dashboard, written by `p114 export --sheets SPREADSHEET_ID`.

Two worksheets, each replaced whole on every export (created when missing, resized to fit):
- `VLP summary 30d`: every VLP unit over the 30 days to the newest date with VLP data: its party,
  days with data, BM cashflow, non-delivery charge, net balancing revenue, accepted volumes;
- `VLP daily 7d`: each VLP party's settlement position per day over the last 7 days, item by item.

gspread talks to the Sheets API. Credentials: the service-account key file named by
P114_SHEETS_CREDENTIALS, else Google's application-default credentials; the spreadsheet must be
shared with that account. P114_SHEETS_API_URL points the client elsewhere (a stand-in in tests).
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass

import pyarrow as pa

from p114_assets import config
from p114_assets.warehouse import queries
from p114_assets.warehouse.base import Warehouse

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
SUMMARY_DAYS, BREAKDOWN_DAYS = 30, 7


class SheetsError(RuntimeError):
    """The dashboard could not be written; one line, never a credential."""


@dataclass(frozen=True)
class View:
    title: str
    first: dt.date
    last: dt.date
    rows: pa.Table


def dashboard_views(warehouse: Warehouse) -> list[View]:
    """The two views, ending on the newest settlement date with VLP data."""
    if not warehouse.table_exists("vlp_revenue_daily") or not warehouse.table_exists("vlp_party_daily"):
        raise SheetsError(f"{warehouse.location()} has no VLP tables yet: materialize the marts first")
    last = queries.latest_date(warehouse, "vlp_revenue_daily")
    if last is None:
        raise SheetsError(f"{warehouse.location()} holds no VLP revenue yet")
    summary_from = last - dt.timedelta(days=SUMMARY_DAYS - 1)
    breakdown_from = last - dt.timedelta(days=BREAKDOWN_DAYS - 1)
    return [View(f"VLP summary {SUMMARY_DAYS}d", summary_from, last, queries.vlp_unit_summary(warehouse, summary_from, last)),
            View(f"VLP daily {BREAKDOWN_DAYS}d", breakdown_from, last, queries.vlp_party_breakdown(warehouse, breakdown_from, last))]  # fmt: skip


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, decimal.Decimal | float):
        return float(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def values(rows: pa.Table) -> list[list]:
    """A header row and the rows, as the Sheets API takes them (dates as ISO text, money as numbers)."""
    return [rows.schema.names] + [[_cell(v) for v in record.values()] for record in rows.to_pylist()]


def client():
    """A gspread client with the configured credentials, talking to the configured Sheets API."""
    import google.auth
    import gspread
    from google.auth.exceptions import DefaultCredentialsError
    from google.auth.transport.requests import AuthorizedSession
    from google.oauth2 import service_account

    api = config.sheets_api_url()
    key_file = config.sheets_credentials_file()
    try:
        if key_file:
            credentials = service_account.Credentials.from_service_account_file(str(key_file), scopes=SCOPES)
        else:
            credentials, _ = google.auth.default(scopes=SCOPES)
    except (DefaultCredentialsError, ValueError) as exc:
        where = f"the service-account file {key_file}" if key_file else "application-default credentials"
        raise SheetsError(f"no usable Google credentials ({where}): {str(exc).splitlines()[0]}; set "
                          f"P114_SHEETS_CREDENTIALS to a service-account key file, or run "
                          f"`gcloud auth application-default login`") from None  # fmt: skip

    class _Session(AuthorizedSession):
        def request(self, method, url, *args, **kwargs):  # gspread's URLs name Google's host: use the configured one
            if url.startswith(config.SHEETS_API_URL):
                url = api + url[len(config.SHEETS_API_URL):]
            return super().request(method, url, *args, **kwargs)

    return gspread.Client(auth=credentials, session=_Session(credentials))


def write_dashboard(spreadsheet_id: str, views: list[View], sheets=None) -> str:
    """Replace each view's worksheet in the spreadsheet; returns the spreadsheet's title."""
    import gspread
    from google.auth.exceptions import GoogleAuthError
    from requests import RequestException

    try:
        book = (sheets or client()).open_by_key(spreadsheet_id)
        existing = {ws.title: ws for ws in book.worksheets()}
        for view in views:
            grid = values(view.rows)
            rows, cols = max(len(grid), 2), max(len(grid[0]), 1)
            sheet = existing.get(view.title) or book.add_worksheet(view.title, rows=rows, cols=cols)
            sheet.clear()
            sheet.resize(rows=rows, cols=cols)
            sheet.update(grid, "A1", value_input_option=gspread.utils.ValueInputOption.raw)
        return book.title
    except gspread.exceptions.SpreadsheetNotFound:
        raise SheetsError(f"spreadsheet {spreadsheet_id} not found, or not shared with p114's Google account") from None
    except gspread.exceptions.APIError as exc:
        raise SheetsError(f"the Sheets API refused: HTTP {exc.code}: {exc.error.get('message', '')}".rstrip(": ")) from None
    except GoogleAuthError as exc:
        raise SheetsError(f"Google refused the credentials: {str(exc).splitlines()[0][:200]}") from None
    except RequestException as exc:
        raise SheetsError(f"could not reach the Sheets API ({type(exc).__name__})") from None
