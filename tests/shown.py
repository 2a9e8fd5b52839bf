"""The selectors' values as the API shows them (through its serializers), for the tests
that state their figures as the JSON does."""

from typing import Any

from attribution.api.serializers import AttributionSerializer
from attribution.selectors import Period, attribution_report
from portfolio.api.serializers import BookSerializer
from portfolio.selectors import live_book
from risk.api.report import backtest_shown, decomposition_shown, report_shown
from risk.selectors import backtest, decomposition, live_risk

# GET /api/book/'s keys, in their order (API.md's, then the live day's accounts), before
# the cache's `cached` and `cache_age_seconds`.
BOOK_KEYS = [
    "as_of",
    "valuation_date",
    "base_currency",
    "nav",
    "positions",
    "totals",
    "stale_prices",
    "cash",
    "carry",
    "fees",
    "management_fee",
    "performance_fee",
    "performance_provision",
    "units",
    "quota",
]


def shown_book() -> dict[str, Any]:
    return dict(BookSerializer(live_book()).data)


def shown_risk(**query: Any) -> dict[str, Any]:
    return report_shown(live_risk(**query))


def shown_attribution(period: Period, by: str) -> dict[str, Any]:
    return dict(AttributionSerializer(attribution_report(period, by)).data)


def shown_decomposition(**query: Any) -> dict[str, Any]:
    return decomposition_shown(decomposition(**query))


def shown_backtest(**query: Any) -> dict[str, Any]:
    return backtest_shown(backtest(**query))
