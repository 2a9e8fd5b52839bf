"""The risk and performance page of the admin: what drives VaR, whether VaR can be
trusted (its backtest, with the P&L-vs-VaR chart) and the risk-adjusted performance
against the CDI. Each figure is the API's (the same selectors); a part that cannot be
computed says why and the others still show."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest

from attribution import selectors as performance
from attribution.api.serializers import return_decimal
from attribution.selectors import PerformanceReport, ReturnStatistics
from core import charts
from core.formatting import money, percent, ratio
from risk import engine
from risk import selectors as risk
from risk.selectors import Backtest, Decomposition, LikelihoodRatio
from risk.selectors.decomposition import BY

PERFORMANCE_PERIODS = ("mtd", "qtd", "ytd", "itd")
DEFAULT_PERIOD = "ytd"
CONFIDENCES = (0.95, 0.99)


def _choice(request: HttpRequest, name: str, choices: tuple[Any, ...], default: Any) -> Any:
    """A query parameter among `choices` (by its text); anything else is the default."""
    given = request.GET.get(name)
    return next((c for c in choices if str(c) == given), default)


def _shown(compute: Callable[[], Any], present: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """A selector's answer as the page shows it, or why it has none (its 400's message)."""
    try:
        report = compute()
    except ValidationError as error:
        return {"unavailable": " ".join(error.messages)}
    return present(report)


def _pct(value: float | None, places: int = 2) -> str:
    """A return, rounded as the API shows it, in percent."""
    return "—" if value is None else percent(return_decimal(value), places)


def _ratio_pct(value: float | None, places: int = 2) -> str:
    """A ratio (volatility, hit ratio), rounded as the API shows it, in percent."""
    return "—" if value is None else percent(ratio(value), places)


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{ratio(value):.2f}"


def _statistics_row(name: str, stats: ReturnStatistics) -> dict[str, Any]:
    peak, figures = stats.drawdown_peak, stats.figures
    return {
        "name": name,
        "pnl": money(stats.pnl),
        "sign": "neg" if stats.pnl < 0 else "pos",
        "return": _pct(figures.total_return),
        "annualized": _pct(figures.annualized_return),
        "volatility": _ratio_pct(figures.volatility),
        "sharpe": _ratio(figures.sharpe),
        "sortino": _ratio(figures.sortino),
        "drawdown": _pct(figures.max_drawdown),
        "drawdown_peak": peak or "",
        "drawdown_trough": stats.drawdown_trough if peak else "",
        "calmar": _ratio(figures.calmar),
        "hit_ratio": _ratio_pct(figures.hit_ratio, 0),
        "best": _pct(stats.best_return),
        "best_day": stats.best_day,
        "worst": _pct(stats.worst_return),
        "worst_day": stats.worst_day,
        "excess": _pct(figures.excess_return),
    }


def _performance(report: PerformanceReport) -> dict[str, Any]:
    return {
        "start": report.period.start.isoformat(),
        "end": report.period.end.isoformat(),
        "days": report.days,
        "benchmark": report.benchmark,
        "benchmark_return": _pct(report.fund.figures.benchmark_return),
        "benchmark_unavailable": report.benchmark_unavailable,
        "rows": [
            _statistics_row("Fund", report.fund),
            *(_statistics_row(row.strategy, row.statistics) for row in report.by_strategy),
        ],
    }


def _decomposition(report: Decomposition) -> dict[str, Any]:
    return {
        "as_of": report.as_of,
        "var": money(report.var),
        "window_used": report.window_used,
        "rows": [
            {
                "key": row.key,
                "component_var": money(row.component_var),
                "share": "—" if row.share is None else percent(row.share, 1),
                "width": 0 if row.share is None else min(max(float(row.share), 0.0), 1.0),
            }
            for row in report.rows
        ],
        "incremental": [
            {"strategy": row.strategy, "value": money(row.incremental_var)}
            for row in report.incremental
        ],
    }


def _test_shown(test: LikelihoodRatio) -> dict[str, str]:
    """A likelihood-ratio test as a person reads it: LR to 2 places, its p-value to 3."""
    return {"lr": f"{test.lr:,.2f}", "p_value": f"{test.p_value:.3f}"}


def _backtest(report: Backtest) -> dict[str, Any]:
    shown = report.days[-engine.BASEL_DAYS :]
    return {
        "start": report.start,
        "end": report.end,
        "observations": report.observations,
        "exceptions": report.exceptions,
        "expected": f"{ratio(report.expected):.1f}",
        "kupiec": _test_shown(report.kupiec),
        "christoffersen": _test_shown(report.christoffersen),
        "traffic_light": report.traffic_light,
        "traffic_light_days": report.traffic_light_days,
        "chart_days": len(shown),
        "chart": charts.backtest_chart(
            [day.date.isoformat() for day in shown],
            [float(day.pnl) for day in shown],
            [float(day.var) for day in shown],
            [day.exception for day in shown],
            width=1400,
            height=300,
        ),
        "exception_days": [
            {"date": day.date, "pnl": money(day.pnl), "var": money(day.var)}
            for day in reversed(report.days)
            if day.exception
        ],
    }


def analytics(request: HttpRequest) -> dict[str, Any]:
    period = _choice(request, "period", PERFORMANCE_PERIODS, DEFAULT_PERIOD)
    by = _choice(request, "by", BY, "position")
    confidence = _choice(request, "confidence", CONFIDENCES, 0.99)
    return {
        "period": period,
        "periods": PERFORMANCE_PERIODS,
        "by": by,
        "bys": [(b, b.replace("_", " ")) for b in BY],
        "by_label": by.replace("_", " "),
        "confidence": confidence,
        "confidences": CONFIDENCES,
        "performance": _shown(lambda: performance.performance(period=period), _performance),
        "decomposition": _shown(lambda: risk.decomposition(by=by), _decomposition),
        "backtest": _shown(lambda: risk.backtest(confidence=confidence), _backtest),
    }
