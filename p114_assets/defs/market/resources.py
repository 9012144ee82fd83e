"""The Elexon Insights API as a resource (no key: nothing secret to hide)."""


import dagster as dg
from pydantic import Field

from p114_assets.core.insights import DEFAULT_URL, InsightsClient


class InsightsResource(dg.ConfigurableResource):
    """Where market data comes from: the Insights API (P114_INSIGHTS_URL), or a stand-in serving
    the same paths."""

    base_url: str = Field(default=DEFAULT_URL, description="base URL of the Insights API, up to /bmrs/api/v1")
    timeout_seconds: float = Field(default=60.0, description="timeout of each request")
    max_tries: int = Field(default=5, description="tries per request for transient failures (429, 5xx, timeouts, cut-off bodies)")

    def client(self) -> InsightsClient:
        return InsightsClient(self.base_url, timeout=self.timeout_seconds, max_tries=self.max_tries)
