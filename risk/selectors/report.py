"""The live risk report (GET /api/risk/live/ and the risk snapshot's content)."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from core.formatting import RATIO
from portfolio.ledger import Exposure
from portfolio.selectors import Drawdown, book_state_on

from .. import engine
from .book import BookArrays, money
from .limits import LimitValue, book_drawdown, limits_evaluate
from .var import CONFIDENCES, Risk, risk_compute

TOP_CONCENTRATIONS = 10


@dataclass(frozen=True)
class Concentration:
    """One of the book's largest notionals."""

    instrument: str
    strategy: str
    notional_cents: int
    weight: Decimal | None  # |notional| / NAV; None when NAV is not positive


@dataclass(frozen=True)
class Exposures:
    """The book's exposures, in cents: in total and by asset class, currency and strategy."""

    total: Exposure
    leverage: Decimal | None  # gross / NAV; None when NAV is not positive
    by_asset_class: dict[str, Exposure]
    by_currency: dict[str, Exposure]
    by_strategy: dict[str, Exposure]
    top_concentrations: list[Concentration]
    dv01_by_currency: dict[str, int]
    dv01_by_tenor: list[tuple[str, int]]  # (bucket, cents) in bucket order: they add up


def exposures_report(book: BookArrays) -> Exposures:
    """The book's exposures, its largest notionals and its DV01 by currency and by tenor."""
    exposures = engine.exposures(
        book.notional_cents,
        book.dv01_cents,
        asset_class=book.asset_class,
        currency=book.currency,
        strategy=book.strategy,
    )
    nav = book.state.nav

    def share(cents_value: int) -> Decimal | None:
        return (Decimal(cents_value).scaleb(-2) / nav).quantize(RATIO) if nav > 0 else None

    top = engine.top_concentrations(book.notional_cents, TOP_CONCENTRATIONS)
    return Exposures(
        total=exposures.total,
        leverage=share(exposures.total.gross),
        by_asset_class=exposures.by_asset_class,
        by_currency=exposures.by_currency,
        by_strategy=exposures.by_strategy,
        top_concentrations=[
            Concentration(
                instrument=str(book.symbols[i]),
                strategy=str(book.strategy[i]),
                notional_cents=int(book.notional_cents[i]),
                weight=share(abs(int(book.notional_cents[i]))),
            )
            for i in top
        ],
        dv01_by_currency=dict(exposures.dv01_by_currency),
        dv01_by_tenor=engine.dv01_by_tenor(book.tenor_bucket, book.dv01_cents),
    )


@dataclass(frozen=True)
class RiskReport:
    """The risk of a book: GET /api/risk/live/ (without the cache fields), and the risk
    snapshot's content. VaR and ES are None when the history is too short for them."""

    as_of: dt.date
    nav: Decimal
    method: str
    window: int
    window_used: int
    short_history: bool
    var_unavailable: str | None
    var: dict[float, Decimal | None]  # by confidence (CONFIDENCES), to the cent
    expected_shortfall: dict[float, Decimal | None]
    exposures: Exposures
    drawdown: Drawdown
    limits: list[LimitValue]
    missing_history: list[str]


def risk_report(risk: Risk, limits: list[LimitValue], fund_drawdown: Drawdown) -> RiskReport:
    """The report of a book's risk and its limits."""
    figures = risk.figures

    def table(values: dict[float, float] | None) -> dict[float, Decimal | None]:
        return {a: money(values[a]) if values is not None else None for a in CONFIDENCES}

    return RiskReport(
        as_of=risk.book.state.as_of,
        nav=risk.book.state.nav,
        method=risk.method,
        window=risk.window,
        window_used=risk.window_used,
        short_history=risk.short_history,
        var_unavailable=risk.var_unavailable,
        var=table(figures.var if figures else None),
        expected_shortfall=table(figures.expected_shortfall if figures else None),
        exposures=exposures_report(risk.book),
        drawdown=fund_drawdown,
        limits=limits,
        missing_history=risk.missing_history,
    )


def risk_of(
    book: BookArrays, *, window: int | None = None, method: str = "historical"
) -> tuple[Risk, list[LimitValue], RiskReport]:
    """A book's risk, its limits and the report of both."""
    risk = risk_compute(window=window, method=method, book=book)
    fund_drawdown = book_drawdown(book)
    limits = limits_evaluate(risk, fund_drawdown)
    return risk, limits, risk_report(risk, limits, fund_drawdown)


def live_risk(*, window: int | None = None, method: str = "historical") -> RiskReport:
    """GET /api/risk/live/: the live book's risk."""
    return risk_of(BookArrays.load(), window=window, method=method)[2]


def risk_on(day: dt.date, *, window: int | None = None) -> RiskReport:
    """The risk of the book at the close of a past business day, from the timeline."""
    return risk_of(BookArrays.load(book_state_on(day)), window=window)[2]
