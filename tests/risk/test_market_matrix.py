"""The market matrix a risk read is computed from, remembered until a price or FX rate
changes: a read that finds it makes no query of the quotes, gives the figures of a read
that computes it, and a committed price or FX write — or an uncommitted one, inside its
own transaction — is seen by the next read."""

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core import memo
from portfolio import services as book_services
from risk import selectors
from tests.conftest import TODAY
from tests.fixtures.risk_book import DAYS, es, ind
from tests.shown import shown_risk

QUOTES = ("portfolio_price", "portfolio_fxrate")


def quote_queries(read: Any) -> tuple[int, Any]:
    """(queries of the quote tables, answer) of one call."""
    with CaptureQueriesContext(connection) as queries:
        answer = read()
    return sum(any(t in q["sql"] for t in QUOTES) for q in queries), answer


def test_a_read_that_finds_the_matrix_reads_no_quote(book: Any) -> None:
    cold, first = quote_queries(lambda: shown_risk(window=20))
    warm, second = quote_queries(lambda: shown_risk(window=20))
    assert cold >= 2  # prices, FX rates
    assert warm == 0
    assert second == first


def test_the_matrix_gives_the_figures_computed_without_it(book: Any, monkeypatch: Any) -> None:
    shown_risk(window=20)  # remembered
    remembered = shown_risk(window=20, method="parametric")
    decomposed = selectors.decomposition(by="position", window=20)
    monkeypatch.setattr(memo, "store", memo._compute)  # every read computes
    assert shown_risk(window=20, method="parametric") == remembered
    assert selectors.decomposition(by="position", window=20) == decomposed


def test_a_price_or_rate_written_is_in_the_next_read(book: Any) -> None:
    before = shown_risk(window=20)
    book_services.prices_upsert(
        rows=[{"instrument": "ESH4", "date": DAYS[10], "price": es(10) - 400}], actor="t"
    )
    moved, after_price = quote_queries(lambda: shown_risk(window=20))
    assert moved >= 2 and after_price["var"] != before["var"]
    book_services.fx_rates_upsert(
        rows=[{"currency": "USD", "date": DAYS[5], "rate": Decimal("4.00")}], actor="t"
    )
    moved, after_rate = quote_queries(lambda: shown_risk(window=20))
    assert moved >= 2 and after_rate["var"] != after_price["var"]


def test_other_writes_keep_the_matrix(book: Any) -> None:
    shown_risk(window=20)
    book_services.trades_book(  # the same instruments: the same matrix
        requests=[book_services.TradeRequest("INDJ24", "MACRO", Decimal("3"), ind(20), TODAY)],
        actor="t",
        source="api",
    )
    book_services.mark_to_market(as_of=TODAY, actor="t")
    queries, report = quote_queries(lambda: shown_risk(window=20))
    assert queries == 0
    assert report["exposures"]["gross"] != "0.00"


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_writes_a_price_reads_its_own_market(book: Any) -> None:
    before = shown_risk(window=20)  # remembered, committed data
    with transaction.atomic():
        book_services.prices_upsert(
            rows=[{"instrument": "ESH4", "date": DAYS[10], "price": es(10) - 400}], actor="t"
        )
        queries, inside = quote_queries(lambda: shown_risk(window=20))
        assert queries >= 2 and inside["var"] != before["var"]
    after = shown_risk(window=20)
    assert after["var"] == inside["var"]
