"""How a risk report is shown: the JSON of GET /api/risk/live/, of which the risk snapshot
stores its columns. Apart from the serializers so that the services, which the serializers
import, can store a snapshot's columns in the same form."""

from typing import Any

from core.formatting import cents_str, decimal_str
from portfolio.ledger import Exposure

from ..selectors import CONFIDENCES, Exposures, RiskReport


def _split(groups: dict[str, Exposure]) -> dict[str, dict[str, str]]:
    return {k: {"gross": cents_str(e.gross), "net": cents_str(e.net)} for k, e in groups.items()}


def exposures_shown(exposures: Exposures) -> dict[str, Any]:
    total = exposures.total
    return {
        "gross": cents_str(total.gross),
        "net": cents_str(total.net),
        "long": cents_str(total.long),
        "short": cents_str(total.short),
        "leverage": decimal_str(exposures.leverage),
        "by_asset_class": _split(exposures.by_asset_class),
        "by_currency": _split(exposures.by_currency),
        "by_strategy": _split(exposures.by_strategy),
        "top_concentrations": [
            {
                "instrument": row.instrument,
                "strategy": row.strategy,
                "notional": cents_str(row.notional_cents),
                "weight": decimal_str(row.weight),
            }
            for row in exposures.top_concentrations
        ],
    }


def report_shown(report: RiskReport) -> dict[str, Any]:
    """The report as GET /api/risk/live/ answers it (without the cache fields)."""
    return {
        "as_of": report.as_of.isoformat(),
        "nav": decimal_str(report.nav),
        "method": report.method,
        "window": report.window,
        "window_used": report.window_used,
        "short_history": report.short_history,
        "var_unavailable": report.var_unavailable,
        "var": {str(a): decimal_str(report.var[a]) for a in CONFIDENCES},
        "expected_shortfall": {
            str(a): decimal_str(report.expected_shortfall[a]) for a in CONFIDENCES
        },
        "exposures": exposures_shown(report.exposures),
        "dv01_by_currency": {c: cents_str(v) for c, v in report.exposures.dv01_by_currency.items()},
        "drawdown": report.drawdown.as_dict(),
        "limits": [value.as_dict() for value in report.limits],
        "missing_history": report.missing_history,
    }
