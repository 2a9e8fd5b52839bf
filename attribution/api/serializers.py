"""Serializers of the performance API: parse the query, describe the answers."""

import datetime as dt
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from core.formatting import decimal_str, ratio
from core.serializers import code_field, money_field

from ..selectors import (
    BASES,
    DEFAULT_BASIS,
    DEFAULT_BY,
    DEFAULT_PERFORMANCE_PERIOD,
    DEFAULT_PERIOD,
    DIMENSIONS,
    PERIODS,
    AttributionReport,
    AttributionRow,
    PerformanceReport,
    ReturnStatistics,
)

RETURN_PLACES = 15  # decimals of a return in the API: rows still add up within 1e-12
RETURN_QUANTUM = Decimal(1).scaleb(-RETURN_PLACES)


def return_str(value: float) -> str:
    return f"{value:.{RETURN_PLACES}f}"


def return_decimal(value: float) -> Decimal:
    """The return as the API shows it, as a Decimal: the float's exact value rounded half
    to even to RETURN_PLACES, as `return_str` rounds it."""
    return Decimal(value).quantize(RETURN_QUANTUM)


def _ratio_str(value: float) -> str:
    """A ratio (volatility, Sharpe…) to 6 places."""
    return decimal_str(ratio(value)) or "0"


def _optional(show: Any, value: Any) -> str | None:
    return None if value is None else show(value)


class AttributionQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=PERIODS, default=DEFAULT_PERIOD)
    by = serializers.ChoiceField(choices=list(DIMENSIONS), default=DEFAULT_BY)
    as_of = serializers.DateField(
        required=False, help_text="Named periods end here (default latest)."
    )
    start = serializers.DateField(required=False, help_text="period=custom only.")
    end = serializers.DateField(required=False, help_text="period=custom only.")


class AttributionRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    pnl = money_field()
    contribution = serializers.CharField(help_text="Carino-linked contribution to the return.")


class AttributionSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=PERIODS)
    by = serializers.ChoiceField(choices=list(DIMENSIONS))
    start = serializers.DateField()
    end = serializers.DateField()
    total_pnl = money_field()
    total_return = serializers.CharField(help_text="Π(1 + r_t) − 1, as a decimal string.")
    linking = serializers.CharField()
    rows = AttributionRowSerializer(many=True)
    cached = serializers.BooleanField()
    cache_age_seconds = serializers.FloatField(allow_null=True)

    def to_representation(self, report: AttributionReport) -> dict[str, Any]:  # type: ignore[override]
        return {
            "period": report.period.name,
            "by": report.by,
            "start": report.period.start.isoformat(),
            "end": report.period.end.isoformat(),
            "total_pnl": decimal_str(report.total_pnl),
            "total_return": return_str(report.total_return),
            "linking": report.linking,
            "rows": [attribution_row(row) for row in report.rows],
        }


def attribution_row(row: AttributionRow) -> dict[str, str]:
    shown = {"key": row.key, "pnl": f"{row.pnl:f}", "contribution": return_str(row.contribution)}
    if row.fx_pnl is not None and row.fx_contribution is not None:
        shown.update(fx_pnl=f"{row.fx_pnl:f}", fx_contribution=return_str(row.fx_contribution))
    return shown


class PerformanceQuerySerializer(AttributionQuerySerializer):
    by = None  # type: ignore[assignment]  # statistics are by strategy
    period = serializers.ChoiceField(choices=PERIODS, default=DEFAULT_PERFORMANCE_PERIOD)
    strategy = code_field(required=False, help_text="Only this strategy's row in by_strategy.")
    basis = serializers.ChoiceField(
        choices=BASES,
        default=DEFAULT_BASIS,
        help_text="The fund's figures net of its fees, or gross (before them).",
    )


class DayReturnSerializer(serializers.Serializer):
    date = serializers.DateField()
    locals()["return"] = serializers.CharField()  # a keyword, so declared by name


class MaxDrawdownSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="1 − I_t / max I_s of the period's NAV index.")
    peak = serializers.DateField(allow_null=True)
    trough = serializers.DateField(allow_null=True)


class StatisticsSerializer(serializers.Serializer):
    pnl = money_field()
    locals()["return"] = serializers.CharField(help_text="Π(1 + r_t) − 1 (time-weighted).")
    annualized_return = serializers.CharField(help_text="(1 + return)^(252/days) − 1.")
    volatility = serializers.CharField(allow_null=True, help_text="std(r, ddof=1) × √252.")
    sharpe = serializers.CharField(allow_null=True, help_text="Of r − CDI, annualized.")
    sortino = serializers.CharField(allow_null=True)
    max_drawdown = MaxDrawdownSerializer()
    calmar = serializers.CharField(allow_null=True)
    hit_ratio = serializers.CharField(allow_null=True, help_text="Days up / days that moved.")
    best_day = DayReturnSerializer()
    worst_day = DayReturnSerializer()
    benchmark_return = serializers.CharField(allow_null=True)
    excess_return = serializers.CharField(allow_null=True, help_text="return − benchmark_return.")


class StrategyStatisticsSerializer(StatisticsSerializer):
    strategy = serializers.CharField()


def statistics_shown(stats: ReturnStatistics) -> dict[str, Any]:
    """The statistics as the API shows them: returns to RETURN_PLACES, ratios to 6 places."""
    figures = stats.figures
    return {
        "pnl": decimal_str(stats.pnl),
        "return": return_str(figures.total_return),
        "annualized_return": return_str(figures.annualized_return),
        "volatility": _optional(_ratio_str, figures.volatility),
        "sharpe": _optional(_ratio_str, figures.sharpe),
        "sortino": _optional(_ratio_str, figures.sortino),
        "max_drawdown": {
            "value": return_str(figures.max_drawdown),
            "peak": _optional(dt.date.isoformat, stats.drawdown_peak),
            "trough": _optional(dt.date.isoformat, stats.drawdown_trough),
        },
        "calmar": _optional(_ratio_str, figures.calmar),
        "hit_ratio": _optional(_ratio_str, figures.hit_ratio),
        "best_day": {"date": stats.best_day.isoformat(), "return": return_str(stats.best_return)},
        "worst_day": {
            "date": stats.worst_day.isoformat(),
            "return": return_str(stats.worst_return),
        },
        "benchmark_return": _optional(return_str, figures.benchmark_return),
        "excess_return": _optional(return_str, figures.excess_return),
    }


class PerformanceSerializer(StatisticsSerializer):
    # GET /api/performance/: a `PerformanceReport` (`attribution.selectors.performance`).
    period = serializers.ChoiceField(choices=PERIODS)
    basis = serializers.ChoiceField(
        choices=BASES,
        help_text="The fund's figures net of its fees or gross; by_strategy is the same on both.",
    )
    start = serializers.DateField()
    end = serializers.DateField()
    days = serializers.IntegerField()
    benchmark = serializers.CharField()
    benchmark_days_carried = serializers.IntegerField(
        help_text="Days without their own rate, at the latest rate before them."
    )
    benchmark_unavailable = serializers.CharField(allow_null=True)
    by_strategy = StrategyStatisticsSerializer(many=True)

    def to_representation(self, report: PerformanceReport) -> dict[str, Any]:  # type: ignore[override]
        return {
            "period": report.period.name,
            "basis": report.basis,
            "start": report.period.start.isoformat(),
            "end": report.period.end.isoformat(),
            "days": report.days,
            **statistics_shown(report.fund),
            "benchmark": report.benchmark,
            "benchmark_days_carried": report.benchmark_days_carried,
            "benchmark_unavailable": report.benchmark_unavailable,
            "by_strategy": [
                {"strategy": row.strategy, **statistics_shown(row.statistics)}
                for row in report.by_strategy
            ],
        }
