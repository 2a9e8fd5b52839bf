"""The live risk report (GET /api/risk/live/ and the risk snapshot's content)."""

import datetime as dt
from decimal import Decimal
from typing import Any

from core.formatting import RATIO, cents_str, decimal_str
from portfolio.ledger import Exposure
from portfolio.selectors import Drawdown, book_state_on

from .. import engine
from .book import Book, money
from .limits import LimitValue, book_drawdown, limits_evaluate
from .var import CONFIDENCES, Risk, risk_compute

TOP_CONCENTRATIONS = 10


def exposures_report(book: Book) -> tuple[dict[str, Any], dict[str, str]]:
    """The `exposures` block of the report, and DV01 by currency."""
    exposures = engine.exposures(
        book.notional_cents,
        book.dv01_cents,
        asset_class=book.asset_class,
        currency=book.currency,
        strategy=book.strategy,
    )
    nav = book.state.nav

    def share(cents_value: int) -> str | None:
        return (
            decimal_str((Decimal(cents_value).scaleb(-2) / nav).quantize(RATIO))
            if nav > 0
            else None
        )

    def split(groups: dict[str, Exposure]) -> dict[str, dict[str, str]]:
        return {
            k: {"gross": cents_str(e.gross), "net": cents_str(e.net)} for k, e in groups.items()
        }

    top = engine.top_concentrations(book.notional_cents, TOP_CONCENTRATIONS)
    return {
        "gross": cents_str(exposures.total.gross),
        "net": cents_str(exposures.total.net),
        "long": cents_str(exposures.total.long),
        "short": cents_str(exposures.total.short),
        "leverage": share(exposures.total.gross),
        "by_asset_class": split(exposures.by_asset_class),
        "by_currency": split(exposures.by_currency),
        "by_strategy": split(exposures.by_strategy),
        "top_concentrations": [
            {
                "instrument": str(book.symbols[i]),
                "strategy": str(book.strategy[i]),
                "notional": cents_str(int(book.notional_cents[i])),
                "weight": share(abs(int(book.notional_cents[i]))),
            }
            for i in top
        ],
    }, {c: cents_str(v) for c, v in exposures.dv01_by_currency.items()}


def risk_report(risk: Risk, limits: list[LimitValue], fund_drawdown: Drawdown) -> dict[str, Any]:
    """The answer of GET /api/risk/live/ (without the cache fields), and the risk
    snapshot's content. VaR and ES are null when the history is too short for them."""
    exposures, dv01 = exposures_report(risk.book)
    figures = risk.figures

    def table(values: dict[float, float] | None) -> dict[str, str | None]:
        return {
            str(a): decimal_str(money(values[a])) if values is not None else None
            for a in CONFIDENCES
        }

    return {
        "as_of": risk.book.state.as_of.isoformat(),
        "nav": decimal_str(risk.book.state.nav),
        "method": risk.method,
        "window": risk.window,
        "window_used": risk.window_used,
        "short_history": risk.short_history,
        "var_unavailable": risk.var_unavailable,
        "var": table(figures.var if figures else None),
        "expected_shortfall": table(figures.expected_shortfall if figures else None),
        "exposures": exposures,
        "dv01_by_currency": dv01,
        "drawdown": fund_drawdown.as_dict(),
        "limits": [value.as_dict() for value in limits],
        "missing_history": risk.missing_history,
    }


def risk_of(
    book: Book, *, window: int | None = None, method: str = "historical"
) -> tuple[Risk, list[LimitValue], dict[str, Any]]:
    """A book's risk, its limits and the report of both."""
    risk = risk_compute(window=window, method=method, book=book)
    fund_drawdown = book_drawdown(book)
    limits = limits_evaluate(risk, fund_drawdown)
    return risk, limits, risk_report(risk, limits, fund_drawdown)


def live_risk(*, window: int | None = None, method: str = "historical") -> dict[str, Any]:
    """GET /api/risk/live/: the live book's risk."""
    return risk_of(Book.load(), window=window, method=method)[2]


def risk_on(day: dt.date, *, window: int | None = None) -> dict[str, Any]:
    """The risk of the book at the close of a past business day, from the timeline."""
    return risk_of(Book.load(book_state_on(day)), window=window)[2]
