"""Elexon Insights API client (the BMRS API, no key): market data beside the settlement truth.

Endpoints, parameters and row shapes follow the pinned OpenAPI description
(`shared/reference/elexon_insights_openapi.json`). Every body is checked before it is used:
an HTML page (a proxy's error page, even with status 200) or a body that is not JSON fails with
one line; a JSON body cut off before its end is retried; the rows must have the shape the spec
gives them (pydantic, field by field), or the call fails naming the first bad field.

Retries are the Portal client's (core/http_retry.py): 429 (honouring Retry-After), 5xx, timeouts
and cut-off bodies with bounded exponential backoff; any other 4xx fails at once with the API's
own message.

Request windows. The time-filtered datasets are asked for by settlement date and a range of
settlement periods (`from=to=<date>`, `settlementPeriodFrom/To`), which selects rows by the
settlement period their `timeFrom` falls in. The pinned spec states a maximum range for many
datasets ("maximum range of 7 days", "of 1 day") but none for the five used here, so each request
keeps to the span of the spec's own example for it: BOD one hour (2 periods), MID, DISBSAD,
BOALF and PN one settlement day. A day of 46 or 50 periods is walked the same way. The spec
defines no paging (no page or cursor parameters, no next links): a window's answer is complete.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Optional

import httpx
from pydantic import TypeAdapter, ValidationError
from typing_extensions import NotRequired, TypedDict

from p114_assets.core.http_retry import RetryingClient, Transient, is_transient_status, transient_status
from p114_assets.core.settlement import periods_in_day

log = logging.getLogger("p114.insights")

DEFAULT_URL = "https://data.elexon.co.uk/bmrs/api/v1"


class InsightsError(RuntimeError):
    """The Insights API could not give what was asked (one line: what, and why)."""


# ---------------------------------------------------------------------------------------------
# Row shapes, as the spec's schemas give them. Fields p114 uses are required; fields the spec
# marks nullable may be null or absent. Times stay text here and are parsed column-wise (with a
# strict format) by core/market_data.py.


class MarketIndexRow(TypedDict):  # MarketIndexDatasetResponse
    startTime: str
    dataProvider: Optional[str]
    settlementDate: dt.date
    settlementPeriod: int
    price: float
    volume: float


class BalancingAdjustmentRow(TypedDict):  # DisaggregatedBalancingServicesAdjustmentData
    settlementDate: dt.date
    settlementPeriod: int
    id: int
    cost: Optional[float]
    volume: float
    soFlag: bool
    storFlag: bool
    partyId: NotRequired[Optional[str]]
    assetId: NotRequired[Optional[str]]
    isTendered: NotRequired[Optional[bool]]
    service: NotRequired[Optional[str]]


class BidOfferRow(TypedDict):  # BidOfferDatasetResponse
    settlementDate: dt.date
    settlementPeriod: int
    timeFrom: str
    levelFrom: int
    timeTo: str
    levelTo: int
    pairId: int
    offer: float
    bid: float
    nationalGridBmUnit: NotRequired[Optional[str]]
    bmUnit: Optional[str]


class AcceptanceRow(TypedDict):  # BidOfferAcceptanceLevelDatasetResponse
    settlementDate: dt.date
    settlementPeriodFrom: int
    settlementPeriodTo: int
    timeFrom: str
    timeTo: str
    levelFrom: int
    levelTo: int
    acceptanceNumber: int
    acceptanceTime: str
    deemedBoFlag: bool
    soFlag: bool
    amendmentFlag: NotRequired[Optional[str]]
    storFlag: bool
    rrFlag: NotRequired[Optional[bool]]
    nationalGridBmUnit: NotRequired[Optional[str]]
    bmUnit: Optional[str]


class PhysicalNotificationRow(TypedDict):  # PhysicalNotificationData
    settlementDate: dt.date
    settlementPeriod: int
    timeFrom: str
    timeTo: str
    levelFrom: int
    levelTo: int
    nationalGridBmUnit: NotRequired[Optional[str]]
    bmUnit: Optional[str]


PAIRS = tuple(f"{sign}{n}" for n in range(1, 7) for sign in ("negative", "positive"))


class PairCashflows(TypedDict, total=False):  # DerivedDataBidOfferPairs: negative1..6, positive1..6
    negative1: Optional[float]
    positive1: Optional[float]
    negative2: Optional[float]
    positive2: Optional[float]
    negative3: Optional[float]
    positive3: Optional[float]
    negative4: Optional[float]
    positive4: Optional[float]
    negative5: Optional[float]
    positive5: Optional[float]
    negative6: Optional[float]
    positive6: Optional[float]


class IndicativeCashflowRow(TypedDict):  # IndicativeCashflowResponse (EBOCF)
    settlementDate: dt.date
    settlementPeriod: int
    startTime: str
    createdDateTime: NotRequired[Optional[str]]
    bmUnit: Optional[str]
    bmUnitType: NotRequired[Optional[str]]
    leadPartyName: NotRequired[Optional[str]]
    nationalGridBmUnit: NotRequired[Optional[str]]
    bidOfferPairCashflows: Optional[PairCashflows]
    totalCashflow: Optional[float]


class SystemPriceRow(TypedDict):  # SystemPriceResponse (DISEBSP)
    settlementDate: dt.date
    settlementPeriod: int
    startTime: str
    createdDateTime: NotRequired[Optional[str]]
    systemSellPrice: float
    systemBuyPrice: float
    bsadDefaulted: NotRequired[Optional[bool]]
    priceDerivationCode: NotRequired[Optional[str]]
    reserveScarcityPrice: NotRequired[Optional[float]]
    netImbalanceVolume: NotRequired[Optional[float]]
    sellPriceAdjustment: NotRequired[Optional[float]]
    buyPriceAdjustment: NotRequired[Optional[float]]
    replacementPrice: NotRequired[Optional[float]]
    replacementPriceReferenceVolume: NotRequired[Optional[float]]
    totalAcceptedOfferVolume: NotRequired[Optional[float]]
    totalAcceptedBidVolume: NotRequired[Optional[float]]
    totalAdjustmentSellVolume: NotRequired[Optional[float]]
    totalAdjustmentBuyVolume: NotRequired[Optional[float]]
    totalSystemTaggedAcceptedOfferVolume: NotRequired[Optional[float]]
    totalSystemTaggedAcceptedBidVolume: NotRequired[Optional[float]]
    totalSystemTaggedAdjustmentSellVolume: NotRequired[Optional[float]]
    totalSystemTaggedAdjustmentBuyVolume: NotRequired[Optional[float]]


class BmUnitRow(TypedDict, total=False):  # Reference.BmUnitData: every field nullable in the spec
    nationalGridBmUnit: Optional[str]
    elexonBmUnit: Optional[str]
    eic: Optional[str]
    fuelType: Optional[str]
    leadPartyName: Optional[str]
    bmUnitType: Optional[str]
    fpnFlag: Optional[bool]
    bmUnitName: Optional[str]
    leadPartyId: Optional[str]
    demandCapacity: Optional[str]
    generationCapacity: Optional[str]
    productionOrConsumptionFlag: Optional[str]
    transmissionLossFactor: Optional[str]
    workingDayCreditAssessmentImportCapability: Optional[str]
    nonWorkingDayCreditAssessmentImportCapability: Optional[str]
    workingDayCreditAssessmentExportCapability: Optional[str]
    nonWorkingDayCreditAssessmentExportCapability: Optional[str]
    creditQualifyingStatus: Optional[bool]
    demandInProductionFlag: Optional[bool]
    gspGroupId: Optional[str]
    gspGroupName: Optional[str]
    interconnectorId: Optional[str]


# ---------------------------------------------------------------------------------------------
# Endpoints: where each dataset is, how its body is wrapped, and its request window.


@dataclass(frozen=True)
class Endpoint:
    dataset: str
    path: str  # relative to the base URL; {settlementDate} and {bidOffer} filled per request
    rows: type
    wrapped: bool  # the body is {"data": [...], "metadata": ...} rather than a bare array
    window_periods: int | None = None  # settlement periods per request (time-filtered datasets)

    def adapter(self) -> TypeAdapter:
        return _adapter(self.rows, self.wrapped)


WHOLE_DAY = 50  # a window of 50 periods is one settlement date, however long
ENDPOINTS: dict[str, Endpoint] = {
    e.dataset: e
    for e in (
        Endpoint("MID", "/datasets/MID/stream", MarketIndexRow, False, WHOLE_DAY),
        Endpoint("DISBSAD", "/datasets/DISBSAD/stream", BalancingAdjustmentRow, False, WHOLE_DAY),
        Endpoint("BOD", "/datasets/BOD/stream", BidOfferRow, False, 2),  # the spec's example spans one hour
        Endpoint("BOALF", "/datasets/BOALF/stream", AcceptanceRow, False, WHOLE_DAY),
        Endpoint("PN", "/datasets/PN/stream", PhysicalNotificationRow, False, WHOLE_DAY),
        Endpoint("EBOCF", "/balancing/settlement/indicative/cashflows/all/{bidOffer}/{settlementDate}",
                 IndicativeCashflowRow, True),  # fmt: skip
        Endpoint("DISEBSP", "/balancing/settlement/system-prices/{settlementDate}", SystemPriceRow, True),
        Endpoint("BMUNITS", "/reference/bmunits/all", BmUnitRow, False),
    )
}

_ADAPTERS: dict[tuple[type, bool], TypeAdapter] = {}


def _adapter(rows: type, wrapped: bool) -> TypeAdapter:
    if (rows, wrapped) not in _ADAPTERS:
        if wrapped:
            body = TypedDict("Body", {"data": Optional[list[rows]], "metadata": NotRequired[Any]})  # type: ignore[misc,valid-type]
            _ADAPTERS[(rows, wrapped)] = TypeAdapter(body)
        else:
            _ADAPTERS[(rows, wrapped)] = TypeAdapter(list[rows])  # type: ignore[valid-type]
    return _ADAPTERS[(rows, wrapped)]


def period_windows(settlement_date: dt.date, window_periods: int) -> list[tuple[int, int]]:
    """The (first, last) settlement periods of each request for a date: its 46, 48 or 50 periods
    in windows of at most `window_periods`."""
    last = periods_in_day(settlement_date)
    return [(first, min(first + window_periods - 1, last)) for first in range(1, last + 1, window_periods)]


# ---------------------------------------------------------------------------------------------


class InsightsClient(RetryingClient):
    """The Insights API over httpx, one connection pool, retries as the Portal client's."""

    def __init__(self, base_url: str = DEFAULT_URL, timeout: float = 60.0, max_tries: int = 5,
                 backoff_seconds: float = 1.0, max_backoff_seconds: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep):  # fmt: skip
        super().__init__(base_url, timeout, max_tries, backoff_seconds, max_backoff_seconds, sleep,
                         headers={"Accept": "application/json"})  # fmt: skip
        self.requests = 0  # made, retries included (for metadata and tests)

    def __repr__(self) -> str:
        return f"InsightsClient({self.base_url})"

    # -- one request ----------------------------------------------------------------------------

    def get_rows(self, dataset: str, params: dict[str, Any] | None = None, **path: str) -> list[dict]:
        """The validated rows of one request to a dataset's endpoint."""
        endpoint = ENDPOINTS[dataset]
        url = self.base_url + endpoint.path.format(**path)
        what = f"{dataset} {' '.join(path.values())}".strip() + (f" {_describe(params)}" if params else "")

        def attempt() -> list[dict]:
            self.requests += 1
            response = self._http.get(url, params=params)
            body = response.content
            if is_transient_status(response.status_code):
                raise transient_status(response)
            if response.status_code >= 400:
                raise InsightsError(f"{what}: HTTP {response.status_code}: {_api_message(body)}")
            return _validate(what, endpoint, body)

        return self.retry.call(what, attempt, InsightsError, log)

    def reachable(self, timeout: float = 5.0) -> str | None:
        """None when the API answers at all (any HTTP status), else why not, in a few words. One
        try, bounded by `timeout`: for sensors deciding whether to ask for a run."""
        try:
            httpx.get(self.base_url + "/", timeout=timeout)  # the root: small, and any answer will do
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        return None

    # -- datasets ------------------------------------------------------------------------------

    def by_periods(self, dataset: str, settlement_date: dt.date) -> Iterator[list[dict]]:
        """The rows of a time-filtered dataset for one settlement date, one window at a time."""
        day = settlement_date.isoformat()
        for first, last in period_windows(settlement_date, ENDPOINTS[dataset].window_periods or WHOLE_DAY):
            yield self.get_rows(dataset, {"from": day, "to": day, "settlementPeriodFrom": first, "settlementPeriodTo": last})

    def for_date(self, dataset: str, settlement_date: dt.date, bid_offer: Literal["bid", "offer"] | None = None) -> list[dict]:
        """The rows of a dataset addressed by settlement date in its path (EBOCF, DISEBSP)."""
        path = {"settlementDate": settlement_date.isoformat()}
        if bid_offer is not None:
            path = {"bidOffer": bid_offer, **path}
        return self.get_rows(dataset, **path)

    def bm_units(self) -> list[dict]:
        """Elexon's current BM unit reference list."""
        return self.get_rows("BMUNITS")


def _describe(params: dict[str, Any]) -> str:
    if "settlementPeriodFrom" in params:
        return f"{params['from']} periods {params['settlementPeriodFrom']}-{params['settlementPeriodTo']}"
    return " ".join(f"{k}={v}" for k, v in params.items())


def _preview(body: bytes) -> str:
    text = body[:300].decode("utf-8", errors="replace").strip()
    return (text.splitlines()[0] if text else "<empty body>")[:160]


def _api_message(body: bytes) -> str:
    """A 4xx body's message: the API answers errors as JSON (an ASP.NET problem: title, errors)."""
    try:
        problem = json.loads(body)
    except ValueError:
        return _page_title(body) or _preview(body)
    if isinstance(problem, dict):
        errors = problem.get("errors")
        details = "; ".join(f"{k}: {' '.join(map(str, v if isinstance(v, list) else [v]))}"
                            for k, v in errors.items()) if isinstance(errors, dict) else ""  # fmt: skip
        title = str(problem.get("title") or problem.get("message") or problem.get("detail") or "")
        return "; ".join(p for p in (title, details) if p)[:300] or _preview(body)
    return _preview(body)


def _page_title(body: bytes) -> str | None:
    head = body[:4000].decode("utf-8", errors="replace")
    lower = head.lower()
    if not lower.lstrip().startswith("<"):
        return None
    start, end = lower.find("<title>"), lower.find("</title>")
    title = head[start + 7 : end].strip() if 0 <= start < end else ""
    return f"an HTML page ({title or _preview(body)})"


def _validate(what: str, endpoint: Endpoint, body: bytes) -> list[dict]:
    """The body's rows, after checking it is complete JSON of the endpoint's shape."""
    stripped = body.lstrip()
    if not stripped:
        raise Transient("an empty body (cut off?)")
    page = _page_title(stripped)
    if page is not None:
        raise InsightsError(f"{what}: the API answered with {page}, not JSON")
    try:
        parsed = endpoint.adapter().validate_json(stripped)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] in ("json_invalid", "json_type"):
            if stripped[:1] in (b"[", b"{"):  # JSON that stops early: a cut-off body, worth another try
                raise Transient(f"the body was cut off ({len(body):,} bytes, incomplete JSON)") from None
            raise InsightsError(f"{what}: not JSON: {_preview(body)}") from None
        location = ".".join(str(part) for part in first["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InsightsError(f"{what}: unexpected JSON shape at {location or 'the top'}: {first['msg']}{more}") from None
    if endpoint.wrapped:
        return parsed.get("data") or []
    return parsed

