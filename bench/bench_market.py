"""Benchmark: one real-scale day of BOD and BOALF from the Insights API into the warehouse.

The Insights API is not reachable from the machines this runs on, so a local HTTP server on
127.0.0.1 (a separate process, so its memory is not counted) serves a generated day in the API's
shape: BOD for 3,125 BM units x 48 periods x 10 bid-offer pairs (1.5 million rows, in the
client's one-hour windows, 24 requests) and BOALF for 800 accepted units x 125 profile segments
(100,000 rows, one request). Each figure is one fresh Python process (what a Dagster step is)
doing exactly what the asset does: InsightsClient -> JSON shape validation (pydantic) -> columns,
UTC times, settlement periods (core.market_data) -> Arrow -> DuckDB partition replace.

Baseline, measured in the same run: the same rows, already as Arrow (a Parquet file), written by
the same partition replace: the cost of the warehouse alone. Also timed: the acceptance estimate
(core/acceptance_estimate.py) over the loaded day, as the acceptance_estimate asset runs it.

    python bench/bench_market.py [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

DAY = dt.date(2024, 6, 12)
BOD_UNITS, PAIRS, ACCEPTED_UNITS, SEGMENTS = 3125, 10, 800, 125

SERVER = textwrap.dedent(
    """
    import datetime as dt, json, random, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse
    from p114_assets.core.insights import period_windows
    from p114_assets.core.settlement import period_start_utc, settlement_period_at
    day = dt.date.fromisoformat(sys.argv[1]); bod_units, pairs, accepted, segments = map(int, sys.argv[2:6])
    rng = random.Random(114)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
    def bod_rows(first, last):
        rows = []
        for p in range(first, last + 1):
            start = period_start_utc(day, p); end = start + dt.timedelta(minutes=30)
            for u in range(bod_units):
                for k in range(1, pairs // 2 + 1):
                    for pair in (k, -k):
                        size = (5 + (u % 40)) * (1 if pair > 0 else -1)
                        rows.append({"dataset": "BOD", "settlementDate": day.isoformat(), "settlementPeriod": p,
                                     "timeFrom": stamp(start), "levelFrom": size, "timeTo": stamp(end), "levelTo": size,
                                     "pairId": pair, "offer": round(40 + 10 * k + rng.random() * 5, 2),
                                     "bid": round(30 + 5 * k - rng.random() * 5, 2),
                                     "nationalGridBmUnit": f"UNIT{u:05d}", "bmUnit": f"T_UNIT{u:05d}"})
        return rows
    bodies = {("BOD", first): json.dumps(bod_rows(first, last)).encode() for first, last in period_windows(day, 2)}
    acceptances = []
    day_start = period_start_utc(day, 1)
    for u in range(accepted):
        t = day_start + dt.timedelta(minutes=rng.randrange(0, 60))
        level = 0
        for s in range(segments):
            end = t + dt.timedelta(minutes=rng.choice((2, 5, 10)))
            new = rng.randrange(0, 60)
            d, first = settlement_period_at(t); _, last = settlement_period_at(end - dt.timedelta(seconds=1))
            acceptances.append({"dataset": "BOALF", "settlementDate": d.isoformat(), "settlementPeriodFrom": first,
                                "settlementPeriodTo": last, "timeFrom": stamp(t), "timeTo": stamp(end), "levelFrom": level,
                                "levelTo": new, "acceptanceNumber": 1000 * u + s // 5, "acceptanceTime": stamp(t),
                                "deemedBoFlag": False, "soFlag": s % 7 == 0, "amendmentFlag": "ORI", "storFlag": False,
                                "rrFlag": False, "nationalGridBmUnit": f"UNIT{u:05d}", "bmUnit": f"T_UNIT{u:05d}"})
            t, level = end, new
    acceptances = [a for a in acceptances if a["settlementDate"] == day.isoformat()]
    bodies[("BOALF", 1)] = json.dumps(acceptances).encode()
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlparse(self.path); args = parse_qs(url.query)
            dataset = url.path.split("/")[-2]
            body = bodies.get((dataset, int(args.get("settlementPeriodFrom", ["1"])[0])), b"[]")
            self.send_response(200); self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        def log_message(self, *args):
            pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], sum(len(b) for b in bodies.values()), len(acceptances), flush=True)
    server.serve_forever()
    """
)

WORKER = textwrap.dedent(
    """
    import datetime as dt, json, resource, sys, time
    import polars as pl, pyarrow.parquet as pq
    from p114_assets.core.insights import InsightsClient
    from p114_assets.core.market_data import fetch_day
    from p114_assets.defs.market.assets import to_table
    from p114_assets.warehouse.duckdb import DuckDBWarehouse
    from p114_assets.warehouse.market_tables import MARKET_TABLES
    mode, url, table, day, warehouse_path, parquet = sys.argv[1:7]
    day = dt.date.fromisoformat(day)
    warehouse = DuckDBWarehouse(path=warehouse_path)
    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    started, cpu_started = time.perf_counter(), cpu()
    if mode == "load":
        with InsightsClient(url, timeout=300) as client:
            got = fetch_day(client, table, day)
        rows = to_table(MARKET_TABLES[table], got.frame)
        fetched = time.perf_counter() - started
        pq.write_table(rows, parquet)  # for the baseline; not timed
        paused = time.perf_counter()
        warehouse.replace_date_rows(table, day, day, rows)
        wrote = time.perf_counter() - paused
        total = fetched + wrote
        requests = got.requests
    elif mode == "write":
        rows = pq.read_table(parquet)
        paused = time.perf_counter()
        warehouse.replace_date_rows(table, day, day, rows)
        fetched, wrote = 0.0, time.perf_counter() - paused
        total, requests = wrote, 0
    else:  # the acceptance estimate over the loaded day
        from p114_assets.core.acceptance_estimate import estimate
        from p114_assets.warehouse import market_queries
        warehouse.create_tables(["physical_notification"])
        inputs = [pl.from_arrow(table) for table in market_queries.estimate_inputs(warehouse, day)]
        result = estimate(day, *inputs)
        rows = result.rows
        total = time.perf_counter() - started
        fetched = wrote = 0.0
        requests = 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": total, "fetch": fetched, "write": wrote, "cpu": cpu() - cpu_started, "rss_mb": rss,
                      "rows": rows.num_rows if hasattr(rows, "num_rows") else rows.height, "requests": requests}))
    """
)


def worker(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per measurement")
    args = parser.parse_args()

    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-c", SERVER, DAY.isoformat(), str(BOD_UNITS), str(PAIRS), str(ACCEPTED_UNITS),
                               str(SEGMENTS)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        port, body_bytes, acceptances = (int(x) for x in server.stdout.readline().split())
        url = f"http://127.0.0.1:{port}/bmrs/api/v1"
        print(f"local Insights stand-in on 127.0.0.1:{port}: {body_bytes / 1e6:,.0f} MB of JSON for {DAY} "
              f"(generated in {time.perf_counter() - started:.0f} s)")  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="p114-bench-market-") as tmp:
            results: dict[str, dict[str, list[dict]]] = {}
            for table in ("bid_offer", "acceptance"):
                parquet = str(Path(tmp) / f"{table}.parquet")
                for _ in range(args.runs):
                    for mode in ("write", "load") if Path(parquet).exists() else ("load", "write"):
                        results.setdefault(table, {}).setdefault(mode, []).append(
                            worker(mode, url, table, DAY.isoformat(), str(Path(tmp) / "p114.duckdb"), parquet))
            # the physical notifications the estimate reads: none served, so FPN is 0 (counted)
            estimates = [worker("estimate", url, "acceptance", DAY.isoformat(), str(Path(tmp) / "p114.duckdb"), "-")
                         for _ in range(args.runs)]  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(f"{'':34}{'rows':>11}{'requests':>10}{'median s':>10}{'min s':>8}{'max s':>8}{'CPU s':>8}{'peak RSS':>11}")
    for table, modes in results.items():
        load, write = modes["load"], modes["write"]
        rows = load[0]["rows"]
        for label, runs, key in ((f"{table}: API -> warehouse", load, "seconds"), ("  of which fetch + validate + convert", load, "fetch"),
                                 ("  of which write", load, "write"), (f"{table}: write alone (baseline)", write, "seconds")):
            secs = [r[key] for r in runs]
            print(f"{label:34}{rows:11,}{runs[0]['requests']:10}{statistics.median(secs):10.2f}{min(secs):8.2f}{max(secs):8.2f}"
                  f"{statistics.median(r['cpu'] for r in runs):8.2f}{max(r['rss_mb'] for r in runs):8.0f} MB")  # fmt: skip
        ratio = statistics.median(r["seconds"] for r in load) / statistics.median(r["seconds"] for r in write)
        print(f"{'':34}API -> warehouse / write alone: {ratio:.1f}x")
    secs = [r["seconds"] for r in estimates]
    print(f"{'acceptance estimate (the day)':34}{estimates[0]['rows']:11,}{0:10}{statistics.median(secs):10.2f}{min(secs):8.2f}"
          f"{max(secs):8.2f}{statistics.median(r['cpu'] for r in estimates):8.2f}{max(r['rss_mb'] for r in estimates):8.0f} MB")  # fmt: skip
    print(f"[{dt.date.today()}]")


if __name__ == "__main__":
    main()
