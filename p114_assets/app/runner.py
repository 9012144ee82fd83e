"""Materialize the asset graph in-process: what `p114 materialize`, `p114 demo`,
`p114 plan-backfill --local` and the benchmarks run.

Raw partitions run in chunks, each a range of consecutive dates of one run type (the shape a
backfill gives them), with their checks; a chunk that fails is re-run one partition at a time, so
one bad file costs only its own partition. Then the daily derived assets run with their checks
over each stretch of consecutive dates, a month per run, skipping dates with a failed partition
(nothing is built from a partition that failed to load or failed a blocking check). Runs are
recorded in the Dagster instance of DAGSTER_HOME when that is set (so `make dev` shows the history),
else in a throwaway one.

With market data (`with_market`), each stretch of dates then loads the market group from the Insights
API (P114_INSIGHTS_URL) and computes the comparison marts beside the settlement truth."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from p114_assets import config
from p114_assets.app.pool_wait import PoolGate, Say
from p114_assets.core.backfill import Partition, chunk_partitions
from p114_assets.core.insights import InsightsClient
from p114_assets.core.s0142.files import scan_folder
from p114_assets.core.s0142.tables import RAW_TABLES
from p114_assets.definitions import ASSET_CHECKS, ASSETS
from p114_assets.defs.market.assets import MARKET_ASSETS
from p114_assets.defs.marts.comparison import COMPARISON_ASSETS
from p114_assets.defs.marts.resources import ReportStore
from p114_assets.defs.resources import insights_from_env
from p114_assets.defs.partitions import BACKFILL_CHUNK, DERIVED_CHUNK, partition_key, settlement_date_partitions
from p114_assets.defs.run_health import LAUNCHED_BY_TAG, this_process_tags
from p114_assets.defs.settlement.assets import RAW_KEYS
from p114_assets.defs.settlement.resources import FolderSource, LandingZone
from p114_assets.defs.table_assets import WAREHOUSE_POOL
from p114_assets.warehouse import queries
from p114_assets.warehouse.base import Warehouse
from p114_assets.warehouse.duckdb import DuckDBWarehouse
from p114_assets.warehouse.tables import SETTLEMENT_TABLES, TABLES

# Dagster's console log: silent on the CLI (a failure prints 70-120 lines of step logs; the summary
# says what failed), its warnings and errors with --verbose. The event log keeps everything.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
VERBOSE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
MARKET_KEYS = [a.key for a in MARKET_ASSETS]
COMPARISON_KEYS = [a.key for a in COMPARISON_ASSETS]
DERIVED_KEYS = [a.key for a in ASSETS if a.partitions_def == settlement_date_partitions
                and a.key not in MARKET_KEYS and a.key not in COMPARISON_KEYS]  # fmt: skip
OnRun = Callable[[str, bool], None]


@dataclass(frozen=True)
class CheckFailure:
    asset: str
    check: str
    partition: str
    severity: str
    description: str


@dataclass
class RunSummary:
    partitions: list[Partition] = field(default_factory=list)
    failures: dict[tuple[dt.date, str], str] = field(default_factory=dict)
    check_failures: list[CheckFailure] = field(default_factory=list)
    derived_dates: list[dt.date] = field(default_factory=list)
    market_dates: list[dt.date] = field(default_factory=list)
    skipped_dates: list[dt.date] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures and not any(f.severity == "ERROR" for f in self.check_failures)


@contextmanager
def dagster_instance():
    """The instance of DAGSTER_HOME when it is set, else an in-memory one for this command."""
    home = config.dagster_home()
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)
        yield dg.DagsterInstance.get()
    else:
        with dg.DagsterInstance.ephemeral() as instance:
            yield instance


def root_causes(result: dg.ExecuteInProcessResult) -> str:
    """The root cause of each failed step (Dagster wraps the asset's own exception)."""
    messages = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error if event.step_failure_data else None
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            messages.append(error.message.strip())
    return "; ".join(messages)


def _check_failures(result: dg.ExecuteInProcessResult) -> list[CheckFailure]:
    """Failed evaluations, one per partition (a multi-partition run's overall results are skipped:
    its checks also record each partition)."""
    return [
        CheckFailure(e.asset_key.to_user_string(), e.check_name, e.partition, e.severity.value, e.description or "")
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.partition is not None
    ]


def folder_resources(folder: str | Path, warehouse: Warehouse, landing: str | Path | None = None) -> dict:
    """Every resource of the code location on local folders: files from `folder` (landed in
    `landing`, by default the folder itself), the given warehouse, plots in a `reports` folder
    beside a DuckDB file (else under the landing folder)."""
    base = Path(warehouse.path).parent if isinstance(warehouse, DuckDBWarehouse) else Path(landing or folder)
    return {"source": FolderSource(path=str(folder)), "landing": LandingZone(path=str(landing or folder)),
            "warehouse": warehouse, "reports": ReportStore(path=str(base / "reports")), "insights": insights_from_env()}  # fmt: skip


def _stretches(dates: list[dt.date], size: int) -> list[list[dt.date]]:
    """Consecutive dates in runs of at most `size`."""
    return [[day for day, _ in chunk] for chunk in chunk_partitions([(d, "II") for d in dates], size)]


def _run(selection: list[dg.AssetKey], keys: list[str], resources: dict, gate: PoolGate, launched_by: str,
         verbose: bool = False) -> dg.ExecuteInProcessResult:  # fmt: skip
    """One in-process run of `selection` over one partition key, or a range from the first to the
    last, once the warehouse pool has a free slot (and saying so while it waits). The run carries
    this process's pid, so a later command can tell if it was killed."""
    tags = {LAUNCHED_BY_TAG: launched_by, **this_process_tags()}
    if len(keys) > 1:
        tags |= {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    gate.wait_free()
    with gate.watching() as watch_tags:
        return dg.materialize([*ASSETS, *ASSET_CHECKS], selection=selection, partition_key=keys[0] if len(keys) == 1 else None,
                              resources=resources, instance=gate.instance, run_config=VERBOSE if verbose else QUIET,
                              raise_on_error=False, tags=tags | watch_tags)  # fmt: skip


def _record(summary: RunSummary, chunk: list[Partition], result: dg.ExecuteInProcessResult) -> None:
    summary.check_failures += _check_failures(result)
    if result.success:
        summary.partitions += chunk
    else:
        cause = root_causes(result) or "a blocking check failed"
        for key in chunk:
            summary.failures[key] = cause


def _materialized(result: dg.ExecuteInProcessResult, asset: str) -> set[str]:
    """Partitions of `asset` a run materialized (a failed chunk still materializes its good ones)."""
    return {e.partition for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset) and e.partition}


def materialize_partitions(partitions: list[Partition], resources: dict, chunk_size: int = BACKFILL_CHUNK,
                           on_run: OnRun | None = None, launched_by: str = "p114 materialize",
                           with_market: bool = False, verbose: bool = False, on_wait: Say | None = None) -> RunSummary:  # fmt: skip
    """Materialize the raw assets of these partitions in chunked runs, then the derived daily
    assets of every date whose partitions all loaded and passed their blocking checks, then (with
    market data) the market group and the comparison marts of those dates.

    First, runs of the instance whose process died are marked failed and their pool slots freed;
    before each run, `on_wait` hears which run holds the warehouse pool while this one waits for it
    (PoolWaitTimeout after P114_POOL_WAIT_SECONDS)."""
    summary = RunSummary()
    started = time.perf_counter()
    with dagster_instance() as instance:
        gate = PoolGate(instance, WAREHOUSE_POOL, config.pool_wait_seconds(), on_wait)
        gate.heal()
        for chunk in chunk_partitions(partitions, chunk_size):
            keys = [str(partition_key(*key)) for key in chunk]
            label = f"{chunk[0][0]}{'..' + str(chunk[-1][0]) if len(chunk) > 1 else ''} {chunk[0][1]}"
            result = _run(RAW_KEYS, keys, resources, gate, launched_by, verbose)
            if result.success or len(chunk) == 1:
                _record(summary, chunk, result)
                if on_run:
                    on_run(label, result.success)
                continue
            # The chunk loaded its good partitions and failed the bad ones (their checks say why);
            # partitions that did neither (skipped for another's failure) are run one at a time.
            loaded, failures = _materialized(result, "bm_unit_period"), _check_failures(result)
            failed_own = {f.partition for f in failures if f.severity == "ERROR"}
            summary.check_failures += failures
            if on_run:
                on_run(f"{label}: {len(chunk) - len(loaded)} partition(s) failed", False)
            for key, key_str in zip(chunk, keys):
                if key_str in loaded:
                    summary.partitions.append(key)
                elif key_str in failed_own:
                    summary.failures[key] = "; ".join(f"{f.asset}:{f.check} {f.description}" for f in failures
                                                      if f.partition == key_str and f.severity == "ERROR")  # fmt: skip
                else:
                    single = _run(RAW_KEYS, [key_str], resources, gate, launched_by, verbose)
                    _record(summary, [key], single)
                    if on_run:
                        on_run(f"{key[0]} {key[1]}", single.success)

        summary.skipped_dates = sorted({d for d, _ in summary.failures})
        good_dates = sorted({d for d, _ in summary.partitions} - set(summary.skipped_dates))
        for stretch in _stretches(good_dates, DERIVED_CHUNK):
            keys = [d.isoformat() for d in stretch]
            result = _run(DERIVED_KEYS, keys, resources, gate, launched_by, verbose)
            summary.check_failures += _check_failures(result)
            if result.success:
                summary.derived_dates += stretch
            else:
                for day in stretch:
                    summary.failures[(day, "daily")] = root_causes(result) or "a blocking check failed"
            if on_run:
                on_run(f"{keys[0]}..{keys[-1]} daily", result.success)
        if with_market:
            _materialize_market(summary, resources, gate, launched_by, on_run, verbose)
    summary.rows = table_rows(resources["warehouse"], summary.partitions, summary.derived_dates, with_market)
    summary.seconds = time.perf_counter() - started
    return summary


def _materialize_market(summary: RunSummary, resources: dict, gate: PoolGate, launched_by: str, on_run: OnRun | None,
                        verbose: bool = False) -> None:  # fmt: skip
    """The market group for the dates whose derived tables were built, then the comparison marts
    of the dates whose market data loaded and passed its blocking checks. An API that cannot be
    reached fails the market step at once, with one line, rather than after every retry."""
    insights = resources["insights"]
    problem = InsightsClient(insights.base_url).reachable(timeout=min(insights.timeout_seconds, 10.0))
    if problem is not None:
        for day in summary.derived_dates:
            summary.failures[(day, "market")] = f"the Elexon Insights API at {insights.base_url} is unreachable ({problem})"
        if on_run:
            on_run("market: the Insights API is unreachable", False)
        return
    for stretch in _stretches(summary.derived_dates, DERIVED_CHUNK):
        keys = [d.isoformat() for d in stretch]
        for label, selection in (("market", MARKET_KEYS), ("comparison", COMPARISON_KEYS)):
            result = _run(selection, keys, resources, gate, launched_by, verbose)
            summary.check_failures += _check_failures(result)
            if on_run:
                on_run(f"{keys[0]}..{keys[-1]} {label}", result.success)
            if not result.success:
                for day in stretch:
                    summary.failures[(day, label)] = root_causes(result) or "a blocking check failed"
                break
        else:
            summary.market_dates += stretch


def folder_partitions(source_dir: str | Path, start: dt.date | None = None, end: dt.date | None = None) -> list[Partition]:
    """The (date, run type) of the newest file of each partition in a folder, within [start, end]."""
    return [k for k in scan_folder(source_dir) if (start is None or k[0] >= start) and (end is None or k[0] <= end)]


def materialize_folder(source_dir: str | Path, warehouse: Warehouse, start: dt.date | None = None,
                       end: dt.date | None = None, on_run: OnRun | None = None,
                       chunk_size: int = BACKFILL_CHUNK, with_market: bool = False) -> RunSummary:  # fmt: skip
    """Materialize every asset for the partitions of the files in `source_dir` (optionally only
    settlement dates in [start, end]). Files stay where they are (the folder is the landing zone)."""
    partitions = folder_partitions(source_dir, start, end)
    if not partitions:
        return RunSummary()
    return materialize_partitions(partitions, folder_resources(source_dir, warehouse), chunk_size, on_run, with_market=with_market)


def planned_runs(partitions: list[Partition], chunk_size: int = BACKFILL_CHUNK, with_market: bool = False) -> int:
    """How many runs materialize_partitions makes when nothing fails (for a progress bar)."""
    stretches = len(_stretches(sorted({d for d, _ in partitions}), DERIVED_CHUNK))
    return len(chunk_partitions(partitions, chunk_size)) + stretches * (3 if with_market else 1)


def table_rows(warehouse: Warehouse, partitions: list[Partition], dates: list[dt.date],
               with_market: bool = False) -> dict[str, int]:  # fmt: skip
    """Rows per table for the given raw partitions and derived dates, counted in the warehouse
    (reading only their dates: on BigQuery, only their partitions). Market and comparison tables
    with market data (bm_units, not partitioned by date, is counted whole)."""
    wanted, wanted_dates = set(partitions), set(dates)
    rows = {}
    names = list(TABLES if with_market else SETTLEMENT_TABLES)
    existing = warehouse.existing_tables(names)  # asked once: each ask is a connection
    for name in names:
        if "settlement_date" not in TABLES[name].column_names:
            rows[name] = queries.table_rows(warehouse, name) if name in existing else 0
            continue
        rows[name] = 0
        raw = name in RAW_TABLES  # partitioned by date and run type; derived: by date
        days = sorted({d for d, _ in wanted} if raw else wanted_dates)
        if not days or name not in existing:
            continue
        counts = queries.row_counts(warehouse, name, days[0], days[-1], by_run=raw)
        if raw:
            rows[name] = sum(r["n"] for r in counts if (r["settlement_date"], r["run_type"]) in wanted)
        else:
            rows[name] = sum(r["n"] for r in counts if r["settlement_date"] in wanted_dates)
    return rows
