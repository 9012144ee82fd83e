"""Launching asset backfills on a running Dagster webserver, through its GraphQL API
(`launchPartitionBackfill`): what the UI does, for scripts and `p114 plan-backfill --launch`.

An asset backfill (not a job backfill) so the assets' backfill policy applies and the partitions
are run in chunks (dagster #17404)."""

from __future__ import annotations

from collections.abc import Sequence

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


def launch_backfill(url: str, asset_keys: Sequence[str], partition_keys: Sequence[str], title: str,
                    tags: dict[str, str] | None = None, timeout: float = 120.0) -> str:  # fmt: skip
    """Launch one asset backfill of `partition_keys` of `asset_keys`; returns the backfill id."""
    params = {
        "partitionNames": list(partition_keys),
        "assetSelection": [{"path": [key]} for key in asset_keys],
        "fromFailure": False,
        "title": title,
        "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
    }
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
