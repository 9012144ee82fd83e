"""`p114 export`: a table to CSV, Parquet and XLSX (read back and compared with the warehouse), a
file that appears only when complete, and the VLP dashboard to Google Sheets through gspread
against a stand-in of the Sheets API endpoints it calls (a real HTTP server on 127.0.0.1), with a
service-account key file exchanged for a token at a stand-in token endpoint."""

from __future__ import annotations

import datetime as dt
import errno
import json
import re
import urllib.parse

import openpyxl
import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from werkzeug import Response

from p114_assets.app.cli import main
from p114_assets_tests.conftest import GOOGLE_TOKEN, VLP_DAY as DAY


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_a_table_exported_reads_back_as_the_warehouse_holds_it(vlp_warehouse, tmp_path, fmt):
    out = tmp_path / f"party.{fmt}"
    done = invoke("export", "vlp_revenue_daily", "--start", DAY, "--end", DAY, "--out", out, "--warehouse", vlp_warehouse)
    assert done.exit_code == 0, done.output
    assert "2 rows of vlp_revenue_daily (2024-06-05 .. 2024-06-05)" in done.stdout
    assert "exporting" in done.stderr and "2/2" in done.stderr  # the progress bar, in rows
    if fmt == "csv":
        rows = pl.read_csv(out).to_dicts()
    elif fmt == "parquet":
        rows = pl.from_arrow(pq.read_table(out)).to_dicts()
    else:
        sheet = openpyxl.load_workbook(out, read_only=True).active
        header, *body = [list(r) for r in sheet.iter_rows(values_only=True)]
        rows = [dict(zip(header, r)) for r in body]
        assert rows[0]["settlement_date"] == dt.datetime(2024, 6, 5)  # a real date cell, not text
    by_unit = {r["bm_unit_id"]: r for r in rows}
    # SF, by hand (fixtures/vlp_sf.s0142): A: 230.50 cashflow - 1.10 non-delivery; B: 143.25
    assert float(by_unit["V__AFLEX001"]["net_balancing_revenue_gbp"]) == pytest.approx(229.40, abs=0.001)  # parquet: exact Decimal
    assert float(by_unit["V__BFLEX002"]["net_balancing_revenue_gbp"]) == pytest.approx(143.25, abs=0.001)
    assert {r["run_type"] for r in rows} == {"SF"}
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no .part left


def test_run_types_select_rows_and_the_format_follows_the_extension(vlp_warehouse, tmp_path):
    done = invoke("export", "bm_unit_period", "--start", DAY, "--run-types", "II", "--out", tmp_path / "ii.parquet",
                  "--warehouse", vlp_warehouse)  # fmt: skip
    assert done.exit_code == 0, done.output
    table = pq.read_table(tmp_path / "ii.parquet")
    assert set(table.column("run_type").to_pylist()) == {"II"} and table.num_rows == 7 * 2  # 7 units, 2 periods


def test_a_full_disk_leaves_no_part_file_and_says_so(vlp_warehouse, tmp_path, monkeypatch):
    from p114_assets.app import export

    def full(self, rows):  # what the OS says when a write finds the disk full
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "all.csv.part"))

    monkeypatch.setattr(export._ArrowWriter, "write", full)
    done = invoke("export", "bm_unit_period", "--start", DAY, "--out", tmp_path / "all.csv", "--warehouse", vlp_warehouse)
    assert done.exit_code == 1
    assert done.stderr.splitlines()[-1] == f"p114 export: No space left on device writing {tmp_path / 'all.csv.part'} (--verbose shows the traceback)"
    assert list(tmp_path.iterdir()) == []


def test_an_export_with_no_rows_writes_nothing(vlp_warehouse, tmp_path):
    done = invoke("export", "bm_unit_period", "--start", "2024-01-01", "--out", tmp_path / "x.csv", "--warehouse", vlp_warehouse)
    assert done.exit_code == 1
    assert done.stderr == f"p114 export: bm_unit_period has no rows for 2024-01-01 .. 2024-01-01 in duckdb:{vlp_warehouse}\n"
    assert list(tmp_path.iterdir()) == []


# -- Google Sheets -----------------------------------------------------------------------------------


class SheetsStandIn:
    """The Sheets API v4 endpoints gspread calls to replace worksheets: spreadsheet metadata,
    batchUpdate (addSheet, updateSheetProperties), values clear and values update. Holds one
    spreadsheet; refuses any token but GOOGLE_TOKEN (401) and any other spreadsheet (404)."""

    def __init__(self, httpserver, spreadsheet_id: str):
        self.id = spreadsheet_id
        self.sheets: dict[str, dict] = {"Sheet1": {"sheetId": 0, "rows": 1000, "cols": 26, "values": [["keep me?"]]}}
        self.calls: list[str] = []
        self.url = httpserver.url_for("/").rstrip("/")
        httpserver.expect_request(re.compile(r"^/v4/spreadsheets/.*")).respond_with_handler(self.handle)

    def _metadata(self) -> dict:
        return {"spreadsheetId": self.id, "properties": {"title": "p114 dashboard"},
                "sheets": [{"properties": {"sheetId": s["sheetId"], "title": t, "index": i, "sheetType": "GRID",
                                           "gridProperties": {"rowCount": s["rows"], "columnCount": s["cols"]}}}
                           for i, (t, s) in enumerate(self.sheets.items())]}  # fmt: skip

    def _title(self, sheet_id: int) -> str:
        return next(t for t, s in self.sheets.items() if s["sheetId"] == sheet_id)

    def handle(self, request):
        self.calls.append(f"{request.method} {urllib.parse.unquote(request.path)}")
        if request.headers.get("Authorization") != f"Bearer {GOOGLE_TOKEN}":
            return Response(json.dumps({"error": {"code": 401, "message": "no token", "status": "UNAUTHENTICATED"}}), status=401)
        path = urllib.parse.unquote(request.path)[len("/v4/spreadsheets/"):]
        if not path.startswith(self.id):
            return Response(json.dumps({"error": {"code": 404, "message": "Requested entity was not found.",
                                                  "status": "NOT_FOUND"}}), status=404)  # fmt: skip
        rest = path[len(self.id):]
        if request.method == "GET" and rest == "":
            return Response(json.dumps(self._metadata()), content_type="application/json")
        if request.method == "POST" and rest == ":batchUpdate":
            replies = []
            for change in request.get_json()["requests"]:
                if "addSheet" in change:
                    props = change["addSheet"]["properties"]
                    grid = props.get("gridProperties", {})
                    new_id = max(s["sheetId"] for s in self.sheets.values()) + 1
                    self.sheets[props["title"]] = {"sheetId": new_id, "rows": grid.get("rowCount", 1000),
                                                   "cols": grid.get("columnCount", 26), "values": []}  # fmt: skip
                    replies.append({"addSheet": {"properties": self._metadata()["sheets"][-1]["properties"]}})
                elif "updateSheetProperties" in change:
                    props = change["updateSheetProperties"]["properties"]
                    sheet = self.sheets[self._title(props["sheetId"])]
                    grid = props.get("gridProperties", {})
                    sheet["rows"], sheet["cols"] = grid.get("rowCount", sheet["rows"]), grid.get("columnCount", sheet["cols"])
                    replies.append({})
                else:
                    return Response(json.dumps({"error": {"code": 400, "message": f"stand-in: {list(change)}"}}), status=400)
            return Response(json.dumps({"spreadsheetId": self.id, "replies": replies}), content_type="application/json")
        match = re.fullmatch(r"/values/'?(.+?)'?(?:!A1)?(:clear)?", rest)
        if match and match.group(1) in self.sheets:
            sheet = self.sheets[match.group(1)]
            if request.method == "POST" and match.group(2):
                sheet["values"] = []
                return Response(json.dumps({"spreadsheetId": self.id, "clearedRange": match.group(1)}), content_type="application/json")
            if request.method == "PUT" and request.args.get("valueInputOption") == "RAW":
                values = request.get_json()["values"]
                if len(values) > sheet["rows"] or max(map(len, values)) > sheet["cols"]:
                    return Response(json.dumps({"error": {"code": 400, "message": "exceeds grid limits"}}), status=400)
                sheet["values"] = values
                return Response(json.dumps({"spreadsheetId": self.id, "updatedRows": len(values)}), content_type="application/json")
        return Response(json.dumps({"error": {"code": 400, "message": f"stand-in does not serve {request.method} {rest}"}}),
                        status=400)  # fmt: skip


def test_the_vlp_dashboard_goes_to_a_google_sheet(vlp_warehouse, httpserver, google_key_file):
    stand_in = SheetsStandIn(httpserver, "1AbCdEf")
    env = {"P114_SHEETS_CREDENTIALS": str(google_key_file), "P114_SHEETS_API_URL": stand_in.url}
    done = invoke("export", "--sheets", "1AbCdEf", "--warehouse", vlp_warehouse, env=env)
    assert done.exit_code == 0, done.output
    assert "VLP summary 30d: 2 rows (2024-05-07 .. 2024-06-05)" in done.stdout
    assert "VLP daily 7d: 1 rows (2024-05-30 .. 2024-06-05)" in done.stdout
    summary = stand_in.sheets["VLP summary 30d"]["values"]
    assert summary[0][:3] == ["lead_party_id", "bm_unit_id", "days"]
    assert [(r[1], r[5]) for r in summary[1:]] == [("V__AFLEX001", 229.40), ("V__BFLEX002", 143.25)]  # best first, SF
    daily = stand_in.sheets["VLP daily 7d"]["values"]
    assert daily[1][:3] == ["2024-06-05", "FLEX", "SF"]
    # SF, by hand: 373.75 cashflow - 1.10 non-delivery - 8.90 energy imbalance + 1.45 RCRC = 365.20
    assert daily[1][-1] == pytest.approx(365.20, abs=0.001)
    assert stand_in.sheets["Sheet1"]["values"] == [["keep me?"]]  # other worksheets are left alone

    again = invoke("export", "--sheets", "1AbCdEf", "--warehouse", vlp_warehouse, env=env)  # replaced, not appended
    assert again.exit_code == 0 and stand_in.sheets["VLP summary 30d"]["values"] == summary
    assert len(stand_in.sheets) == 3
    assert {c.split()[0] for c in stand_in.calls} == {"GET", "POST", "PUT"}


def test_sheets_errors_are_one_line(vlp_warehouse, httpserver, google_key_file, tmp_path):
    stand_in = SheetsStandIn(httpserver, "1AbCdEf")
    env = {"P114_SHEETS_CREDENTIALS": str(google_key_file), "P114_SHEETS_API_URL": stand_in.url}
    missing = invoke("export", "--sheets", "nope", "--warehouse", vlp_warehouse, env=env)
    assert missing.exit_code == 1
    assert missing.stderr == "p114 export: spreadsheet nope not found, or not shared with p114's Google account\n"
    env["P114_SHEETS_CREDENTIALS"] = str(tmp_path / "absent.json")
    absent = invoke("export", "--sheets", "1AbCdEf", "--warehouse", vlp_warehouse, env=env)
    assert absent.exit_code == 2
    assert absent.stderr == f"p114 export: P114_SHEETS_CREDENTIALS='{tmp_path / 'absent.json'}': expected a service-account key file (JSON)\n"
