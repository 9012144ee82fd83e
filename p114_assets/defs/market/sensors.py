"""The sensor that loads yesterday's market data once it is published."""


import datetime as dt

import dagster as dg

from p114_assets import config
from p114_assets.core.insights import InsightsClient
from p114_assets.core.settlement import LONDON
from p114_assets.defs.market.assets import MARKET_ASSETS
from p114_assets.defs.partitions import START_DATE

READY_HOUR = 6  # London time: by then the day before is complete (BOD, BOALF, PN) and its EBOCF computed
PROBE_SECONDS = 5.0  # an unreachable API costs a sensor tick this long, never more


def market_run_request(instance: dg.DagsterInstance, now: dt.datetime, base_url: str,
                       probe: float = PROBE_SECONDS) -> dg.RunRequest | dg.SkipReason:  # fmt: skip
    """A run of the market assets for yesterday (London), or why not."""
    local = now.astimezone(LONDON)
    yesterday = local.date() - dt.timedelta(days=1)
    key = yesterday.isoformat()
    if yesterday < dt.date.fromisoformat(START_DATE):
        return dg.SkipReason(f"{key} is before P114_START_DATE {START_DATE}")
    if local.hour < READY_HOUR:
        return dg.SkipReason(f"waiting until {READY_HOUR:02d}:00 London time for {key} to be complete")
    missing = [a.key.to_user_string() for a in MARKET_ASSETS if key not in instance.get_materialized_partitions(a.key)]
    if not missing:
        return dg.SkipReason(f"market data for {key} is loaded")
    problem = InsightsClient(base_url).reachable(timeout=probe)
    if problem is not None:
        return dg.SkipReason(f"the Elexon Insights API at {base_url} is unreachable ({problem}): market data for {key} "
                             "not requested; it will be tried again at the next tick")  # fmt: skip
    return dg.RunRequest(run_key=f"market-{key}", partition_key=key, tags={"p114/launched_by": "p114_market sensor"})


@dg.sensor(
    name="p114_market",
    target=dg.AssetSelection.assets(*MARKET_ASSETS),
    minimum_interval_seconds=config.market_poll_seconds(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"Loads yesterday's market data (every asset of the market group) from the Elexon Insights API "
    f"(P114_INSIGHTS_URL) once it is complete ({READY_HOUR:02d}:00 London time), once per date. Skips, saying why, "
    f"when the API cannot be reached (a {PROBE_SECONDS:.0f}-second probe), so a machine without internet never "
    "waits on it. The comparison marts follow through declarative automation.",
)
def p114_market(context: dg.SensorEvaluationContext):
    return market_run_request(context.instance, dt.datetime.now(dt.timezone.utc), config.insights_url())
