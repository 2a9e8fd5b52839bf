"""The pre-trade what-if: VaR 95% and limit statuses before and after a trade."""

from dataclasses import replace
from decimal import Decimal
from typing import Any

from core.formatting import decimal_str

from ..models import RiskLimit
from .book import money
from .limits import active_limits, book_drawdown, limit_value
from .var import Risk


class WhatIf:
    """VaR 95% and limit statuses of the book before a trade, and after it.

    A trade at the mark changes a position's quantity, notional and DV01, not NAV or the
    day's P&L, so the book after it is the same arrays with one position's entries moved. Each trade
    is judged alone against the current book. Without the history for a VaR, the what-if
    says why (`unavailable`) and still judges the limits that need none.
    """

    def __init__(self, risk: Risk):
        self.risk = risk
        self.limits = active_limits()
        needs_drawdown = any(lim.metric == RiskLimit.Metric.DRAWDOWN for lim in self.limits)
        self.drawdown = book_drawdown(risk.book) if needs_drawdown else None
        self.before = self._report(risk)

    def _report(self, risk: Risk) -> dict[str, Any]:
        figures = risk.figures
        return {
            "var_95": decimal_str(money(figures.var[0.95])) if figures else None,
            "limits": [limit_value(risk, limit, self.drawdown).as_dict() for limit in self.limits],
        }

    def after(
        self, position: int, quantity: Decimal, notional_cents: int, dv01_cents: int
    ) -> dict[str, Any]:
        """The what-if of a trade of `quantity` on row `position` of the book, by its
        base-currency notional and DV01 in cents (a DI1's from its PU: `BookArrays.traded`)."""
        book = self.risk.book
        traded = book.traded(position, float(quantity), notional_cents, dv01_cents)
        after = self._report(replace(self.risk, book=traded))
        return {
            "as_of": book.state.as_of.isoformat(),
            "method": self.risk.method,
            "window": self.risk.window,
            "window_used": self.risk.window_used,
            "short_history": self.risk.short_history,
            "unavailable": self.risk.var_unavailable,
            "var_95_before": self.before["var_95"],
            "var_95_after": after["var_95"],
            "limits_before": self.before["limits"],
            "limits_after": after["limits"],
            # Without the window's history the instrument adds nothing to the VaR.
            "missing_history": not bool(self.risk.complete[position]),
        }
