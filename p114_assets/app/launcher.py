"""Launching asset backfills on a running Dagster webserver, through its GraphQL API
(`launchPartitionBackfill`): what the UI does, for scripts and `p114 plan-backfill --launch`.

An asset backfill (not a job backfill) so the assets' backfill policy applies and the partitions
are run in chunks (dagster #17404)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import httpx

LAUNCH = """
mutation LaunchP114Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message partitionKeys }
    ... on UnauthorizedError { message }
    ... on InvalidSubsetError { message }
  }
}
"""


class LaunchError(RuntimeError):
    pass


def _launch(url: str, params: dict, timeout: float) -> str:
    try:
        response = httpx.post(f"{url.rstrip('/')}/graphql", json={"query": LAUNCH, "variables": {"params": params}},
                              timeout=timeout)  # fmt: skip
        response.raise_for_status()
        answer = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise LaunchError(f"could not reach the Dagster webserver at {url}: {exc}") from None
    if answer.get("errors"):
        raise LaunchError("; ".join(e.get("message", "?") for e in answer["errors"]))
    result = answer["data"]["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        raise LaunchError(f"{result['__typename']}: {result.get('message') or result}")
    return result["backfillId"]


def _tags(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in (tags or {}).items()]


def launch_backfill(url: str, asset_keys: Sequence[str], partition_keys: Sequence[str], title: str,
                    tags: dict[str, str] | None = None, timeout: float = 120.0) -> str:  # fmt: skip
    """Launch one asset backfill of `partition_keys` of `asset_keys` (and, as the UI does, the
    partitions of their selected downstream assets that depend on them); returns the backfill id."""
    params = {
        "partitionNames": list(partition_keys),
        "assetSelection": [{"path": [key]} for key in asset_keys],
        "fromFailure": False,
        "title": title,
        "tags": _tags(tags),
    }
    return _launch(url, params, timeout)


def launch_asset_backfill(url: str, ranges_by_asset: Mapping[str, Sequence[tuple[str, str]]], title: str,
                          tags: dict[str, str] | None = None, timeout: float = 120.0) -> str:  # fmt: skip
    """Launch one asset backfill of exactly these partition ranges (first, last) of each asset;
    returns the backfill id. A multi-partition range spans each dimension: "2024-01-01|SF" to
    "2024-01-31|SF" is the SF run of every date of January."""
    params = {
        "partitionsByAssets": [
            {"assetKey": {"path": [asset]}, "partitions": {"ranges": [{"start": a, "end": b} for a, b in ranges]}}
            for asset, ranges in ranges_by_asset.items()
        ],
        "title": title,
        "tags": _tags(tags),
    }
    return _launch(url, params, timeout)


def graph_backfill_ranges(partitions: Iterable[tuple[dt.date, str]], raw_assets: Sequence[str],
                          daily_assets: Sequence[str]) -> dict[str, list[tuple[str, str]]]:  # fmt: skip
    """The ranges of a backfill of the whole graph: the raw assets of exactly these (date, run
    type) partitions, and the daily assets of exactly their dates (a month per run), so derived
    tables are built by the backfill itself, in the chunks of their backfill policy."""
    from p114_assets.core.backfill import chunk_partitions
    from p114_assets.defs.partitions import partition_key

    partitions = list(partitions)
    raw = [(str(partition_key(*c[0])), str(partition_key(*c[-1]))) for c in chunk_partitions(partitions, len(partitions) or 1)]
    days = [c for c in chunk_partitions([(d, "II") for d in {d for d, _ in partitions}], len(partitions) or 1)]
    daily = [(str(c[0][0]), str(c[-1][0])) for c in days]
    return {**{a: raw for a in raw_assets}, **{a: daily for a in daily_assets}}
