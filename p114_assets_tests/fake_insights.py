"""A stand-in for the Elexon Insights API on a real HTTP server on 127.0.0.1 (pytest-httpserver).

It serves the paths p114 calls with recorded-shape JSON: every row starts from the example values
of its schema in the pinned OpenAPI description (fixtures/insights_openapi_subset.json, extracted
unchanged from shared/reference/elexon_insights_openapi.json) and takes our own values on top,
so a field the spec does not define cannot slip in. Time-filtered datasets are filtered as the
API documents: by settlement date and the period of the row's timeFrom (settlementPeriodFrom for
BOALF). Faults (429, 500, cut-off bodies, HTML pages) can be queued per path.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from pathlib import Path

from werkzeug import Request, Response

from p114_assets.core.settlement import period_start_utc, settlement_period_at

SPEC = json.loads((Path(__file__).parent / "fixtures" / "insights_openapi_subset.json").read_text())
SCHEMAS = SPEC["components"]["schemas"]
ROW_SCHEMAS = {
    "MID": "Insights.Api.Models.Responses.Balancing.DatasetRows.MarketIndexDatasetResponse",
    "DISBSAD": "Insights.Api.Models.Responses.Balancing.DatasetRows.DisaggregatedBalancingServicesAdjustmentData",
    "BOD": "Insights.Api.Models.Responses.Balancing.DatasetRows.BidOfferDatasetResponse",
    "BOALF": "Insights.Api.Models.Responses.Balancing.DatasetRows.BidOfferAcceptanceLevelDatasetResponse",
    "PN": "Insights.Api.Models.Responses.Balancing.Physical.DatasetRows.PhysicalNotificationData",
    "EBOCF": "Insights.Api.Models.Responses.Balancing.Settlement.IndicativeCashflowResponse",
    "DISEBSP": "Insights.Api.Models.Responses.Balancing.Settlement.SystemPriceResponse",
    "BMUNITS": "Insights.Api.Models.Responses.Reference.BmUnitData",
}
PERIOD_FIELD = {"MID": "settlementPeriod", "DISBSAD": "settlementPeriod", "BOD": "settlementPeriod", "BOALF": "settlementPeriodFrom",
                "PN": "settlementPeriod"}  # fmt: skip


def stamp(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def example_row(schema: str, **values) -> dict:
    """A row of the dataset's schema: the spec's example values, then ours (names checked)."""
    properties = SCHEMAS[ROW_SCHEMAS[schema]]["properties"]
    unknown = set(values) - set(properties)
    if unknown:
        raise KeyError(f"{schema} has no field(s) {sorted(unknown)} in the spec")
    row = {name: prop.get("example") for name, prop in properties.items() if "$ref" not in prop}
    return {**row, **values}


# -- rows with consistent dates, periods and times ---------------------------------------------


def period_times(day: dt.date, period: int) -> tuple[dt.datetime, dt.datetime]:
    start = period_start_utc(day, period)
    return start, start + dt.timedelta(minutes=30)


def bod(unit: str, day: dt.date, period: int, pair: int, level: float, offer: float, bid: float) -> dict:
    start, end = period_times(day, period)
    return example_row("BOD", dataset="BOD", settlementDate=day.isoformat(), settlementPeriod=period, timeFrom=stamp(start),
                       timeTo=stamp(end), levelFrom=level, levelTo=level, pairId=pair, offer=offer, bid=bid, bmUnit=unit,
                       nationalGridBmUnit=unit.split("_", 1)[-1].lstrip("_"))  # fmt: skip


def boalf(unit: str, number: int, accepted: dt.datetime, start: dt.datetime, end: dt.datetime, level_from: float,
          level_to: float, **flags) -> dict:  # fmt: skip
    day, first = settlement_period_at(start)
    _, last = settlement_period_at(end - dt.timedelta(seconds=1)) if end > start else (day, first)
    return example_row("BOALF", dataset="BOALF", settlementDate=day.isoformat(), settlementPeriodFrom=first, settlementPeriodTo=last,
                       timeFrom=stamp(start), timeTo=stamp(end), levelFrom=level_from, levelTo=level_to, acceptanceNumber=number,
                       acceptanceTime=stamp(accepted), bmUnit=unit, nationalGridBmUnit=unit.split("_", 1)[-1].lstrip("_"),
                       **{"deemedBoFlag": False, "soFlag": False, "storFlag": False, "rrFlag": False, "amendmentFlag": "ORI", **flags})  # fmt: skip


def pn(unit: str, start: dt.datetime, end: dt.datetime, level_from: float, level_to: float) -> dict:
    day, period = settlement_period_at(start)
    return example_row("PN", dataset="PN", settlementDate=day.isoformat(), settlementPeriod=period, timeFrom=stamp(start),
                       timeTo=stamp(end), levelFrom=level_from, levelTo=level_to, bmUnit=unit,
                       nationalGridBmUnit=unit.split("_", 1)[-1].lstrip("_"))  # fmt: skip


def flat_pn(unit: str, day: dt.date, periods: range, level: float) -> list[dict]:
    return [pn(unit, *period_times(day, p), level, level) for p in periods]


def mid(day: dt.date, period: int, provider: str, price: float, volume: float) -> dict:
    return example_row("MID", dataset="MID", startTime=stamp(period_start_utc(day, period)), dataProvider=provider,
                       settlementDate=day.isoformat(), settlementPeriod=period, price=price, volume=volume)  # fmt: skip


def disbsad(day: dt.date, period: int, action: int, cost: float, volume: float) -> dict:
    return example_row("DISBSAD", dataset="DISBSAD", settlementDate=day.isoformat(), settlementPeriod=period, id=action,
                       cost=cost, volume=volume, soFlag=True, storFlag=False)  # fmt: skip


def ebocf(unit: str, day: dt.date, period: int, pairs: dict[str, float | None], unit_type: str = "T",
          party: str = "Test Party") -> dict:  # fmt: skip
    cashflows = {f"{sign}{n}": None for n in range(1, 7) for sign in ("negative", "positive")} | pairs
    total = round(sum(v for v in pairs.values() if v is not None), 5)
    return example_row("EBOCF", settlementDate=day.isoformat(), settlementPeriod=period, startTime=stamp(period_start_utc(day, period)),
                       createdDateTime=stamp(period_start_utc(day, period) + dt.timedelta(hours=20)), bmUnit=unit,
                       bmUnitType=unit_type, leadPartyName=party, nationalGridBmUnit=unit.split("_", 1)[-1],
                       bidOfferPairCashflows=cashflows, totalCashflow=total)  # fmt: skip


def system_price(day: dt.date, period: int, price: float) -> dict:
    return example_row("DISEBSP", settlementDate=day.isoformat(), settlementPeriod=period, startTime=stamp(period_start_utc(day, period)),
                       createdDateTime=stamp(period_start_utc(day, period) + dt.timedelta(hours=1)), systemSellPrice=price,
                       systemBuyPrice=price)  # fmt: skip


def bm_unit(unit: str, party_id: str, party_name: str, unit_type: str = "T", fuel: str = "CCGT", generation: str = "100.000",
            demand: str = "0.000") -> dict:  # fmt: skip
    return example_row("BMUNITS", elexonBmUnit=unit, nationalGridBmUnit=unit.split("_", 1)[-1], eic="48W000000TEST-1",
                       fuelType=fuel, leadPartyName=party_name, leadPartyId=party_id, bmUnitType=unit_type, fpnFlag=True,
                       bmUnitName=unit, demandCapacity=demand, generationCapacity=generation, productionOrConsumptionFlag="P",
                       transmissionLossFactor="0.0012", creditQualifyingStatus=False, demandInProductionFlag=False,
                       gspGroupId="_A", gspGroupName="Eastern")  # fmt: skip


class FakeInsights:
    """The Insights paths p114 uses, on the given pytest-httpserver."""

    def __init__(self, httpserver):
        self.url = httpserver.url_for("/bmrs/api/v1").rstrip("/")
        self.rows: dict[str, list[dict]] = defaultdict(list)  # MID, DISBSAD, BOD, BOALF, PN, DISEBSP, EBOCF_bid, EBOCF_offer
        self.bm_units: list[dict] = []
        self.faults: list[tuple[str, Response | bytes]] = []  # (path regex, what to answer instead), used once each
        self.requests: list[tuple[str, dict]] = []
        httpserver.expect_request(re.compile(r"/.*")).respond_with_handler(self.handle)

    def fail_next(self, path_pattern: str, answer: Response | bytes) -> None:
        self.faults.append((path_pattern, answer))

    def requests_to(self, fragment: str) -> list[dict]:
        return [args for path, args in self.requests if fragment in path]

    def handle(self, request: Request) -> Response:
        path = request.path.removeprefix("/bmrs/api/v1")
        self.requests.append((path, dict(request.args)))
        for index, (pattern, answer) in enumerate(self.faults):
            if re.search(pattern, path):
                del self.faults[index]
                return answer if isinstance(answer, Response) else Response(answer, content_type="application/json")
        if match := re.fullmatch(r"/datasets/(\w+)/stream", path):
            return self._json(self._window(match.group(1), request.args))
        if match := re.fullmatch(r"/balancing/settlement/indicative/cashflows/all/(bid|offer)/([\d-]+)", path):
            return self._json({"data": [r for r in self.rows[f"EBOCF_{match.group(1)}"] if r["settlementDate"] == match.group(2)],
                               "metadata": {"datasets": ["EBOCF"]}})  # fmt: skip
        if match := re.fullmatch(r"/balancing/settlement/system-prices/([\d-]+)", path):
            return self._json({"data": [r for r in self.rows["DISEBSP"] if r["settlementDate"] == match.group(1)],
                               "metadata": {"datasets": ["DISEBSP"]}})  # fmt: skip
        if path == "/reference/bmunits/all":
            return self._json(self.bm_units)
        return Response(json.dumps({"title": "Not Found", "status": 404}), status=404, content_type="application/json")

    def _window(self, dataset: str, args) -> list[dict]:
        day = args["from"][:10]
        first, last = int(args.get("settlementPeriodFrom", 1)), int(args.get("settlementPeriodTo", 50))
        field = PERIOD_FIELD[dataset]
        return [r for r in self.rows[dataset] if r["settlementDate"] == day and first <= r[field] <= last]

    @staticmethod
    def _json(body) -> Response:
        return Response(json.dumps(body), content_type="application/json")
