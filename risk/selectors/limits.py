"""Risk limits: each active limit's value, utilization and status on a book."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from core.formatting import RATIO, decimal_str
from portfolio.selectors import Drawdown, drawdown

from ..models import RiskLimit
from .book import BookArrays, money
from .var import Risk

LIMIT_STATUSES = ("ok", "warning", "breach", "unavailable")
VAR_METRICS = {
    RiskLimit.Metric.VAR_95: ("var", 0.95),
    RiskLimit.Metric.VAR_99: ("var", 0.99),
    RiskLimit.Metric.ES_95: ("es", 0.95),
    RiskLimit.Metric.ES_99: ("es", 0.99),
}


@dataclass(frozen=True)
class LimitValue:
    limit: RiskLimit
    value: Decimal | None  # None: undefined (a ratio to a NAV that is not positive)
    unavailable: str = ""  # why there is no value to judge (a VaR without the history)

    @property
    def utilization(self) -> Decimal | None:
        if self.value is None:
            return None
        return (self.value / self.limit.limit).quantize(RATIO)

    @property
    def status(self) -> str:
        """ok, warning or breach; unavailable (neither a breach nor a clean bill) when the
        metric cannot be computed yet."""
        if self.unavailable:
            return "unavailable"
        if self.value is None or self.value > self.limit.limit:
            return "breach"
        if self.value >= self.limit.limit * self.limit.warning_fraction:
            return "warning"
        return "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.limit.pk,
            "name": self.limit.name,
            "metric": self.limit.metric,
            "scope": self.limit.scope,
            "limit": decimal_str(self.limit.limit),
            "value": decimal_str(self.value),
            "utilization": decimal_str(self.utilization),
            "status": self.status,
        }


def book_drawdown(book: BookArrays) -> Drawdown:
    """The fund's drawdown on the book's date: from the timeline, and the live NAV for a
    live book's day that has no snapshot yet."""
    state = book.state
    return drawdown(state.as_of, nav=state.nav if state.live else None)


def limit_value(risk: Risk, limit: RiskLimit, fund_drawdown: Drawdown | None) -> LimitValue:
    """The value of a limit's metric on its scope of the book."""
    book, nav = risk.book, risk.book.state.nav
    mask = book.scope_mask(limit)
    notional = book.notional_cents[mask]
    metric = limit.metric
    M = RiskLimit.Metric
    value: Decimal | None
    if metric in VAR_METRICS:
        if risk.var_unavailable:
            return LimitValue(limit, None, risk.var_unavailable)
        figure, confidence = VAR_METRICS[M(metric)]
        value = money(risk.var_table(confidence, mask)[figure])
    elif metric == M.ASSET_CLASS_GROSS:
        value = Decimal(int(np.abs(notional).sum())).scaleb(-2)
    elif metric == M.DV01:
        value = Decimal(abs(int(book.dv01_cents[mask].sum()))).scaleb(-2)
    elif metric == M.DAILY_LOSS:
        pnl = int(book.daily_pnl_cents[mask].sum())
        pnl += int(book.closed_daily_pnl_cents[book.scope_mask(limit, closed=True)].sum())
        value = Decimal(max(-pnl, 0)).scaleb(-2)
    elif metric == M.DRAWDOWN:
        assert fund_drawdown is not None
        value = fund_drawdown.value
    elif nav <= 0:
        value = None
    else:
        cents_value = {
            M.GROSS_LEVERAGE: int(np.abs(notional).sum()),
            M.NET_LEVERAGE: abs(int(notional.sum())),
            M.CONCENTRATION: int(np.abs(notional).max(initial=0)),
        }[M(metric)]
        value = (Decimal(cents_value).scaleb(-2) / nav).quantize(RATIO)
    return LimitValue(limit, value)


def active_limits() -> list[RiskLimit]:
    return list(RiskLimit.objects.filter(is_active=True).order_by("name"))


def limits_evaluate(risk: Risk, fund_drawdown: Drawdown | None = None) -> list[LimitValue]:
    """Every active limit's value, utilization and status on the book."""
    limits = active_limits()
    if fund_drawdown is None and any(lim.metric == RiskLimit.Metric.DRAWDOWN for lim in limits):
        fund_drawdown = book_drawdown(risk.book)
    return [limit_value(risk, limit, fund_drawdown) for limit in limits]


def breached(limits: Iterable[Mapping[str, Any]]) -> list[str]:
    """The names of the limits in breach, from limit rows as reported (`LimitValue.as_dict`,
    a risk snapshot's or a what-if's `limits`)."""
    return [row["name"] for row in limits if row["status"] == "breach"]
