"""A book's scenario moves over a window, its young contracts completed from their root
chain (DESIGN.md "Dated instruments and DI1 futures").

A contract listed after the window began (its own history whole since its first quote, but
short) borrows, for each date it has no move of its own, the move of an older contract of
its root: the same root and quote type, maturing before it (for contracts without a
maturity: first quoted before it). Of those, the nearest one wins on each date: the latest
maturity before its own (the latest first quote), and the next one where that has no move
that day. Moves are returns for price-quoted contracts and bp changes for rate-quoted
ones, so a borrowed move is the curve's move next to it. A contract the chain cannot
complete stays in `missing_history`.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from portfolio.models import Instrument
from portfolio.selectors import base_currency

from .. import engine
from .book import BookArrays, labels
from .market import MarketHistory


@dataclass(frozen=True)
class RootChain:
    """Every contract of some roots, as instrument columns (sorted by id)."""

    instrument_ids: list[int]
    column_is_yield: np.ndarray
    column_currency: np.ndarray
    root: np.ndarray
    maturity: np.ndarray  # as a day number (date.toordinal()); −1 when none

    @classmethod
    def load(cls, roots: Sequence[str]) -> "RootChain":
        rows = list(
            Instrument.objects.filter(root__in=roots)
            .order_by("pk")
            .values_list("pk", "quote_type", "currency", "root", "maturity")
        )
        return cls(
            instrument_ids=[row[0] for row in rows],
            column_is_yield=np.array([row[1] == "yield" for row in rows], dtype=bool),
            column_currency=labels(row[2] or base_currency() for row in rows),
            root=labels(row[3] for row in rows),
            maturity=np.array([-1 if row[4] is None else row[4].toordinal() for row in rows]),
        )

    def donors(self, instrument_id: int, first_quoted: np.ndarray) -> np.ndarray:
        """The chain's columns an instrument borrows from, the nearest first."""
        me = self.instrument_ids.index(instrument_id)
        same = (self.root == self.root[me]) & (self.column_is_yield == self.column_is_yield[me])
        maturity = self.maturity
        if maturity[me] >= 0:
            older = np.flatnonzero(same & (maturity >= 0) & (maturity < maturity[me]))
            return older[np.argsort(-maturity[older], kind="stable")]
        older = np.flatnonzero(same & (first_quoted < first_quoted[me]))
        return older[np.argsort(-first_quoted[older], kind="stable")]


class ChainedHistory:
    """The market history of a book from `start` to `end`, and of the root chains of its
    young contracts when it has any (read then: two queries more)."""

    def __init__(self, book: BookArrays, start: dt.date, end: dt.date):
        self.book = book
        self.start, self.end = start, end
        self.own = MarketHistory(book, start, end)

    @cached_property
    def chain_history(self) -> tuple[RootChain, MarketHistory]:
        roots = sorted(set(self.book.terms.root.tolist()) - {""})
        chain = RootChain.load(roots)
        return chain, MarketHistory(chain, self.start, self.end)

    def moves(self, dates: Sequence[dt.date]) -> tuple[np.ndarray, np.ndarray]:
        """(W × M bp or return moves on `dates`, NaN where a column has none; which columns
        are complete, the young ones counted when their chain completes them)."""
        book = self.book
        levels, complete, unbroken = self.own.history(dates)
        moves = engine.instrument_moves(levels, book.column_is_yield)
        # Young: quoted today, whole since its first quote, and in a chain.
        young = np.flatnonzero(
            ~complete & unbroken & np.isfinite(levels[-1]) & (book.terms.root != "")
        )
        if not len(young):
            return moves, complete
        chain, history = self.chain_history
        chain_levels, _, _ = history.history(dates)
        chain_moves = engine.instrument_moves(chain_levels, chain.column_is_yield)
        quoted = np.isfinite(chain_levels)
        first_quoted = np.where(quoted.any(axis=0), np.argmax(quoted, axis=0), len(dates))
        for column in young:  # a loop over young contracts, each vectorized over the dates
            donors = chain.donors(book.instrument_ids[column], first_quoted)
            moves[:, column] = engine.borrowed_moves(moves[:, column], chain_moves[:, donors])
            complete[column] = bool(np.isfinite(moves[:, column]).all())
        return moves, complete
