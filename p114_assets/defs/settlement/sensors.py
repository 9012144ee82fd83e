"""The Portal sensor: new S0142 files on the Elexon Portal become runs of their partitions."""

import datetime as dt
import json

import dagster as dg

from p114_assets import config
from p114_assets.core.portal import PortalError
from p114_assets.core.s0142.files import FileName
from p114_assets.defs.partitions import partition_key
from p114_assets.defs.settlement.assets import RAW_KEYS, s0142_file


def _loaded_file(instance: dg.DagsterInstance, key: dg.MultiPartitionKey) -> str | None:
    """The file name the latest materialization of an s0142_file partition recorded."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=s0142_file.key, asset_partitions=[str(key)]),
                                              limit=1).records  # fmt: skip
    if not records:
        return None
    value = records[0].asset_materialization.metadata.get("file_name")
    return value.value if value is not None else ""


def portal_run_requests(instance: dg.DagsterInstance, listed: dict[str, str], seen: set[str]) -> list[dg.RunRequest]:
    """A run for every listed file not requested before whose partition is not loaded, or was
    loaded from an earlier stamp (a re-publication of the same run)."""
    requests = []
    for name in sorted(listed):
        if name in seen:
            continue
        parts = FileName.parse(name)
        key = partition_key(parts.settlement_date, parts.run_type)
        loaded = _loaded_file(instance, key)
        loaded_parts = FileName.parse(loaded) if loaded else None
        if loaded_parts is not None and loaded_parts.stamp >= parts.stamp:
            continue
        requests.append(dg.RunRequest(run_key=name, partition_key=key, tags={"p114/portal_file": name}))
    return requests


@dg.sensor(
    name="p114_portal",
    target=dg.AssetSelection.assets(*RAW_KEYS),
    minimum_interval_seconds=config.portal_poll_seconds(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Polls the Elexon Portal list for the last few publication dates (P114_PORTAL_LOOKBACK_DAYS, "
    "default 5) and requests runs for the (date, run type) partitions that appeared and are not loaded, or were "
    "re-published with a later stamp. Each file is requested once. Does nothing, and says so, without "
    "ELEXON_PORTAL_KEY.",
)
def p114_portal(context: dg.SensorEvaluationContext):
    if not config.portal_key():
        message = "ELEXON_PORTAL_KEY is not set: the Portal sensor is idle (set it to pick up new S0142 files)"
        if context.cursor != "idle":
            context.log.info(message)
            context.update_cursor("idle")
        return dg.SkipReason(message)
    state = json.loads(context.cursor) if context.cursor and context.cursor != "idle" else {}
    today = dt.date.today()
    days = [today - dt.timedelta(days=i) for i in range(config.portal_lookback_days())]
    listed: dict[str, str] = {}
    try:
        with config.portal_client() as portal:
            for day in days:
                listed.update(portal.list(day))
    except PortalError as exc:  # never holds the key
        return dg.SkipReason(f"Portal list failed: {exc}")
    seen = set(state.get("requested", []))
    requests = portal_run_requests(context.instance, listed, seen)
    # remember what was listed in the lookback, so a file is considered once
    keep = {n for n in seen | set(listed) if (FileName.parse(n).stamp[:8] >= f"{min(days):%Y%m%d}")}
    context.update_cursor(json.dumps({"requested": sorted(keep)}))
    if not requests:
        return dg.SkipReason(f"{len(listed)} files listed for {min(days)}..{max(days)}; nothing new to load")
    return requests
