"""Benchmark: one real-scale partition end to end into DuckDB, through Dagster.

A real-scale S0142 file (8,000 BM units) is materialized in-process by the same code `p114
materialize` runs: one run for the partition (s0142_file: validate and land; raw_tables: parse and
replace the partition in six tables in one transaction; the 22 checks of the file and raw tables),
then one run for the date's six derived tables (settlement_canonical, run_reconciliation, the three
VLP marts, unit_classification) and their checks. Prints wall seconds for the first load into an empty warehouse and for a re-load of the
same partition, with parse alone and write alone (no Dagster, no checks) as the baselines of the
same run: parse, the checks of the parsed rows (check before swap) and their write, each with
its ratio to parse (issue 14.2: raw replace and checks each at most 1x parse). `--parts-only` skips
the Dagster runs.

    python bench/bench_partition.py [--units 8000] [--parts-only]
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
    parser.add_argument("--parts-only", action="store_true", help="parse, checks and write alone; no Dagster runs")
    args = parser.parse_args()

    from p114_assets.core.synthetic import SyntheticMarket, generate_file
    from p114_assets.core.s0142.parser import parse_file
    from p114_assets.app.runner import materialize_folder
    from p114_assets.warehouse import checked_load
    from p114_assets.warehouse.duckdb import DuckDBWarehouse

    with tempfile.TemporaryDirectory(prefix="p114-bench-") as tmp:
        folder = Path(tmp) / "incoming"
        path = generate_file(SyntheticMarket.build(args.units, seed=0), dt.date(2024, 10, 2), "SF").write(folder)
        time.sleep(3)  # let the generator's freed memory settle

        # The parts on their own, as the load step runs them (check before swap): parse; check the
        # parsed rows (every raw check, one pass a table) and write them into a fresh DuckDB file;
        # then the same partition again (a re-load: the old rows are replaced).
        started = time.perf_counter()
        parsed = parse_file(path)
        parse_alone = time.perf_counter() - started
        direct = DuckDBWarehouse(path=str(Path(tmp) / "direct.duckdb"))
        day, run_type = parsed.header.settlement_date, parsed.header.run_type
        loads = [checked_load.load_partition(direct, parsed.tables, parsed.header, day, run_type) for _ in range(2)]
        assert all(load.loaded for load in loads)
        lines = parsed.header.line_count
        del parsed

        # End to end through Dagster, as `p114 materialize` runs it.
        warehouse = DuckDBWarehouse(path=str(Path(tmp) / "p114.duckdb"))
        figures = []
        for label in () if args.parts_only else ("first load, empty warehouse", "re-load of the same partition"):
            summary = materialize_folder(folder, warehouse)
            assert summary.ok, summary.failures
            figures.append((label, summary.seconds, summary.rows["bm_unit_period"]))
        size = Path(warehouse.path).stat().st_size if figures else 0

    print(f"file: {path.name}, {lines:,} lines, {args.units:,} BM units")
    print(f"parse alone (baseline):         {parse_alone:7.2f} s")
    for label, load in zip(("first load", "re-load"), loads):
        print(f"{label + ', checks (23, 1 pass)':32}{load.check_seconds:7.2f} s   ({load.check_seconds / parse_alone:.2f}x parse)")
        print(f"{label + ', write (6 tables, 1 txn)':32}{load.write_seconds:7.2f} s   ({load.write_seconds / parse_alone:.2f}x parse)")
    for label, seconds, rows in figures:
        print(f"{label:32}{seconds:7.2f} s   ({rows:,} bm_unit_period rows; {seconds / parse_alone:.1f}x parse alone)")
    if figures:
        print(f"DuckDB file after two loads of one partition: {size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
