"""VaR and expected shortfall of a book over the risk window."""

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError

from core.calendar import business_days_ending

from .. import engine
from .book import BookArrays
from .chain import ChainedHistory

MAX_WINDOW = 2520  # ten years of daily returns
CONFIDENCES = (0.95, 0.99)


@dataclass
class Risk:
    """The book, its scenario moves over the window used and its P&L vector S.

    `window` is the window asked for; `window_used` the returns the history gives, up to
    it (a young fund or book has fewer). Below `min_window()` there is no VaR: `figures`
    is None and `var_unavailable` says why.
    """

    book: BookArrays
    window: int
    window_used: int
    method: str
    moves: np.ndarray  # window_used × M, in the units of the book's exposures
    complete: np.ndarray  # per position: it has window_used + 1 observations

    @property
    def short_history(self) -> bool:
        return self.window_used < self.window

    @property
    def var_unavailable(self) -> str | None:
        if self.window_used >= min_window() or not len(self.book.symbols):
            return None
        return (
            f"{self.window_used} daily returns of history to {self.book.state.as_of}; VaR "
            f"needs at least {min_window()} (PMS_RISK_MIN_WINDOW)."
        )

    @cached_property
    def pnl(self) -> np.ndarray:
        return self.scenario_pnl(np.ones(len(self.book.symbols), dtype=bool))

    def scenario_pnl(self, mask: np.ndarray) -> np.ndarray:
        """S for the positions in `mask` (those lacking history contribute nothing)."""
        take = mask & self.complete
        by_column = engine.column_exposure(
            self.book.column[take], self.book.exposure[take], len(self.book.instrument_ids)
        )
        return engine.scenario_pnl(self.moves, by_column)

    @cached_property
    def figures(self) -> engine.VarResult | None:
        if self.var_unavailable:
            return None
        return engine.var_es(self.pnl, self.method, CONFIDENCES)

    def var_table(self, confidence: float, mask: np.ndarray | None = None) -> dict[str, float]:
        """{"var": …, "es": …} at `confidence`, of the positions in `mask` (default all)."""
        figures = (
            self.figures
            if mask is None or mask.all()
            else engine.var_es(self.scenario_pnl(mask), self.method, [confidence])
        )
        assert figures is not None, "var_table() needs a VaR: check var_unavailable first"
        return {
            "var": figures.var[confidence],
            "es": figures.expected_shortfall[confidence],
        }

    @property
    def missing_history(self) -> list[str]:
        return sorted(set(self.book.symbols[~self.complete].tolist()))


def default_window() -> int:
    """The risk window when none is asked for: `PMS_RISK_WINDOW`, read here only."""
    return int(settings.PMS_RISK_WINDOW)


def min_window() -> int:
    """The fewest daily returns a VaR is computed from: `PMS_RISK_MIN_WINDOW`."""
    return int(settings.PMS_RISK_MIN_WINDOW)


def validate_request(window: int, method: str) -> None:
    errors = {}
    if method not in engine.METHODS:
        errors["method"] = [f"Unknown method {method!r}: use one of {', '.join(engine.METHODS)}."]
    if not min_window() <= window <= MAX_WINDOW:
        errors["window"] = [f"The window is {min_window()} to {MAX_WINDOW} daily returns."]
    if errors:
        raise ValidationError(errors)


def risk_compute(
    *, window: int | None = None, method: str = "historical", book: BookArrays | None = None
) -> Risk:
    """The risk of a book (default: the live one) over `window` daily returns (default
    `PMS_RISK_WINDOW`) ending at its as-of date.

    The window shrinks to the history the book's instruments have (from the first date
    any of them, or a root chain a young contract borrows from, moves); an instrument
    quoted later, unless its root chain completes it (`chain.ChainedHistory`), is in
    `missing_history` and adds no scenario. A DI1's moves are revalued in full
    (`BookArrays.unit_moves`). Raises ValidationError only for an unknown method or a
    window out of bounds.
    """
    window = window or default_window()
    validate_request(window, method)
    book = book or BookArrays.load()
    dates = business_days_ending(book.state.as_of, window + 1)
    history = ChainedHistory(book, dates[0], dates[-1])
    moves, complete = history.moves(dates)
    if len(book.symbols):
        quoted = np.flatnonzero(np.isfinite(moves).any(axis=1))
        first = int(quoted[0]) if len(quoted) else len(dates) - 1
        if first:  # a young history: the longest window it fills
            dates = dates[first:]
            moves, complete = history.moves(dates)
    moves[:, ~complete] = 0.0  # no scenarios from an incomplete history
    columns = np.arange(len(book.instrument_ids))
    return Risk(
        book=book,
        window=window,
        window_used=len(dates) - 1,
        method=method,
        moves=book.unit_moves(moves, columns),
        complete=complete[book.column],
    )
