"""Benchmark: the derived tables and marts for 31 settlement dates at real scale, in DuckDB.

Three real-scale synthetic days (8,000 BM units, SF) are parsed and loaded under the 31 dates of
July 2024 (cycling through the three, so every date has ~384,000 bm_unit_period rows), then:

1. each derived table's SQL on its own, over the 31 dates at once (what one backfill run of a
   month executes), seconds each, with vlp_revenue_period as the baseline of the same run
   (canonical settlement is a view: its refresh writes one pointer row a date);
2. one Dagster range run of all six daily assets and their checks over the month, end to end.

    python bench/bench_marts.py [--units 8000] [--days 31]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=8000)
    parser.add_argument("--days", type=int, default=31)
    args = parser.parse_args()

    import dagster as dg
    import pyarrow as pa

    from p114_assets.core.classification import Thresholds
    from p114_assets.core.synthetic import SyntheticMarket, generate_file
    from p114_assets.core.s0142.parser import parse_bytes
    from p114_assets.definitions import ASSET_CHECKS, ASSETS
    from p114_assets.app.runner import folder_resources
    from p114_assets.warehouse import sql
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    first = dt.date(2024, 7, 1)
    dates = [first + dt.timedelta(days=i) for i in range(args.days)]
    with tempfile.TemporaryDirectory(prefix="p114-bench-") as tmp:
        warehouse = DuckDBWarehouse(path=str(Path(tmp) / "p114.duckdb"))
        started = time.perf_counter()
        market = SyntheticMarket.build(args.units, seed=0)
        days = []
        for day in dates[:3]:
            generated = generate_file(market, day, "SF")
            days.append(parse_bytes(generated.text, generated.file_name.name).tables)
        for i, day in enumerate(dates):
            tables = {name: t.set_column(t.schema.get_field_index("settlement_date"), t.schema.field("settlement_date"),
                                         pa.array([day] * t.num_rows, pa.date32())) for name, t in days[i % 3].items()}  # fmt: skip
            warehouse.replace_partition(tables, day, "SF")
        raw_rows = warehouse.query("SELECT COUNT(*) AS n FROM p114.bm_unit_period").column("n")[0].as_py()
        print(f"loaded {len(dates)} dates x SF, {raw_rows:,} bm_unit_period rows, in {time.perf_counter() - started:.0f} s")

        steps = [
            ("settlement_canonical_runs", lambda a, b: sql.canonical_runs(a, b)),  # the pointer: canonical is a view
            ("run_reconciliation", lambda a, b: sql.run_reconciliation(a, b)),
            ("vlp_revenue_period", lambda a, b: sql.vlp_revenue_period(a, b)),
            ("vlp_revenue_daily", lambda a, b: sql.vlp_revenue_daily(a, b)),
            ("vlp_party_daily", lambda a, b: sql.vlp_party_daily(a, b)),
            ("unit_classification", lambda a, b: sql.unit_classification(dates, Thresholds())),
        ]
        timings = []
        for table, select in steps:
            started = time.perf_counter()
            rows = warehouse.replace_dates(table, dates[0], dates[-1], select(dates[0], dates[-1]))
            timings.append((table, time.perf_counter() - started, rows))
        baseline = timings[2][1]
        print(f"{'SQL alone, 31 dates at once':32}{'seconds':>9}{'rows':>14}{'x vlp_revenue_period':>22}")
        for table, seconds, rows in timings:
            print(f"{table:32}{seconds:9.2f}{rows:14,}{seconds / baseline:22.2f}")

        resources = folder_resources(tmp, warehouse)  # every resource of the code location; these assets use two
        daily = [dg.AssetKey(table.replace("settlement_canonical_runs", "settlement_canonical")) for table, _ in steps]
        started = time.perf_counter()
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize([*ASSETS, *ASSET_CHECKS], selection=daily, resources=resources, instance=instance,
                                    run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                                    tags={"dagster/asset_partition_range_start": dates[0].isoformat(),
                                          "dagster/asset_partition_range_end": dates[-1].isoformat()})  # fmt: skip
        assert result.success
        seconds = time.perf_counter() - started
        print(f"Dagster range run of the {len(daily)} daily assets and their checks over {len(dates)} dates: "
              f"{seconds:.1f} s ({seconds / len(dates):.2f} s per date)")


if __name__ == "__main__":
    main()
