"""How a risk report is shown: the JSON of GET /api/risk/live/, of which the risk snapshot
stores its columns. Apart from the serializers so that the services, which the serializers
import, can store a snapshot's columns in the same form. Also the JSON of the
decomposition and of the backtest, which the morning pack quotes."""

from typing import Any

from core.formatting import cents_str, decimal_str, ratio
from portfolio.ledger import Exposure

from ..selectors import (
    CONFIDENCES,
    Backtest,
    Decomposition,
    Exposures,
    LikelihoodRatio,
    RiskReport,
)


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
        "dv01_by_tenor": [
            {"bucket": bucket, "dv01": cents_str(value)}
            for bucket, value in report.exposures.dv01_by_tenor
        ],
        "drawdown": report.drawdown.as_dict(),
        "limits": [value.as_dict() for value in report.limits],
        "missing_history": report.missing_history,
    }


def decomposition_shown(report: Decomposition) -> dict[str, Any]:
    """The decomposition as GET /api/risk/decomposition/ answers it."""
    return {
        "as_of": report.as_of.isoformat(),
        "by": report.by,
        "confidence": report.confidence,
        "window_used": report.window_used,
        "var": decimal_str(report.var),
        "rows": [
            {
                "key": row.key,
                "component_var": decimal_str(row.component_var),
                "share": decimal_str(row.share),
            }
            for row in report.rows
        ],
        "incremental": [
            {"strategy": row.strategy, "incremental_var": decimal_str(row.incremental_var)}
            for row in report.incremental
        ],
    }


def likelihood_ratio_shown(test: LikelihoodRatio) -> dict[str, str | None]:
    return {"lr": decimal_str(ratio(test.lr)), "p_value": decimal_str(ratio(test.p_value))}


def backtest_shown(report: Backtest) -> dict[str, Any]:
    """The backtest as GET /api/risk/backtest/ answers it: the engine's floats to 6 places,
    VaR and P&L in cents."""
    return {
        "confidence": report.confidence,
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "observations": report.observations,
        "exceptions": report.exceptions,
        "expected": decimal_str(ratio(report.expected)),
        "kupiec": likelihood_ratio_shown(report.kupiec),
        "christoffersen": likelihood_ratio_shown(report.christoffersen),
        "traffic_light": report.traffic_light,
        "traffic_light_days": report.traffic_light_days,
        "days": [
            {
                "date": day.date.isoformat(),
                "var": decimal_str(day.var),
                "pnl": decimal_str(day.pnl),
                "exception": day.exception,
            }
            for day in report.days
        ],
    }
