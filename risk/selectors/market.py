"""The market history of a book's instruments: prices and FX rates read in two queries,
levels on any grid of dates built in numpy and remembered until a price or rate changes."""

import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from contextlib import nullcontext
from functools import cached_property
from itertools import chain
from typing import Any, Protocol

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Case, FloatField, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from psycopg import Cursor

from core import memo
from portfolio.models import FxRate, Price
from portfolio.selectors import base_currency

from .. import engine

# A price or rate is carried across up to this many business days without a quote (a
# market holiday abroad); an observation up to LOOKBACK_DAYS before the window's first day
# stands for that day.
MAX_CARRY = 5
LOOKBACK_DAYS = 7


# Days from a reference date, computed by the database: no date objects to build per row.
DAY_OFFSET_SQL = {
    "postgresql": '("{table}"."date" - %s::date)',
    "sqlite": 'CAST(julianday("{table}"."date") - julianday(%s) AS INTEGER)',
}


def quotes(queryset: QuerySet[Any], key: str, value: str, since: dt.date) -> np.ndarray:
    """(key, days since `since`, value as float) per row from `since` on, as an n × 3
    float array; the key a non-negative integer.

    The ORM writes the query; it runs on a plain cursor, because Django's per-row
    converters would cost more than the database at a few hundred thousand rows.
    """
    offset = DAY_OFFSET_SQL[connection.vendor].format(table=queryset.model._meta.db_table)
    try:
        sql, params = (
            queryset.filter(date__gte=since)
            .order_by()
            .annotate(day=RawSQL(offset, (since.isoformat(),)), level=Cast(value, FloatField()))
            .values_list(key, "day", "level")
            .query.sql_with_params()
        )
    except EmptyResultSet:  # `__in` an empty list (an empty book): no query to run
        return np.empty((0, 3))
    return _fetch_floats(sql, params)


# PostgreSQL packs each row as 16 big-endian bytes: key × 2**DAY_BITS + day (int8), then the
# level (float8); days since `since` are below 2**DAY_BITS (2,870 years).
DAY_BITS = 20
_PACKED = np.dtype([("key_day", ">i8"), ("level", ">f8")])


def _fetch_floats(sql: str, params: Sequence[Any]) -> np.ndarray:
    """The rows of a query of (key, day, level) as an n × 3 float array.

    PostgreSQL sends all the rows as one binary string (`_PACKED` rows, built in one
    aggregate pass with two conversions per row; `quotes()` made the level a float), read
    straight into numpy: no Python object per row or value, and about half the database's
    time of sending each column as a float8 array. Recorded as Django's queries are."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            flat = np.fromiter(chain.from_iterable(rows), dtype=float, count=3 * len(rows))
            return flat.reshape(len(rows), 3)
        debug = getattr(cursor, "debug_sql", None)
        recorded = debug(sql, params) if debug else nullcontext()
        with recorded, Cursor(cursor.cursor.connection) as binary:
            binary.execute(
                f"SELECT count(*), string_agg(int8send(q.c0::int8 * {2**DAY_BITS} + q.c1) "
                f"|| float8send(q.c2), '') FROM ({sql}) AS q (c0, c1, c2)",
                params,
                binary=True,
            )
            fetched = binary.fetchone()
    assert fetched is not None
    count, packed = fetched
    if not count:
        return np.empty((0, 3))
    # A NULL field would make its row's string NULL, which the aggregate skips.
    assert packed is not None and len(packed) == count * _PACKED.itemsize, "a quote read NULL"
    rows = np.frombuffer(packed, dtype=_PACKED)
    key, day = np.divmod(rows["key_day"], 2**DAY_BITS)
    return np.column_stack([key.astype(float), day.astype(float), rows["level"]])


def _levels(
    observed: np.ndarray, keys: np.ndarray, day_row: np.ndarray, rows: int, max_carry: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Carried levels from `quotes()` rows: keys sorted, columns in the order of `keys`."""
    days = observed[:, 1]
    return engine.carried_levels(
        day_row[days.astype(np.intp)],
        np.searchsorted(keys, observed[:, 0]),
        observed[:, 2],
        shape=(rows, len(keys)),
        max_carry=max_carry,
        order=days,  # the latest quote wins
    )


class Columns(Protocol):
    """Instrument columns whose history is read: a book's (`BookArrays`), or a root chain's."""

    @property
    def instrument_ids(self) -> list[int]: ...  # sorted

    @property
    def column_is_yield(self) -> np.ndarray: ...

    @property
    def column_currency(self) -> np.ndarray: ...


class MarketHistory:
    """The stored quotes of a book's instruments from `start` (less LOOKBACK_DAYS) to
    `end`, from which levels on any grid of dates inside that span are built.

    The levels on a grid are a function of the quotes alone: they are remembered
    (`core.memo`, under the "market" data set, whose generation a committed price or FX
    write replaces) as raw numpy bytes, keyed by the instruments with their quote types
    and currencies, the grid and the carry. A read that finds them makes no query; one that
    does not reads the quotes once, in two queries (prices, then FX rates), for all its grids.
    """

    def __init__(self, book: Columns, start: dt.date, end: dt.date):
        self.book = book
        self.since = start - dt.timedelta(days=LOOKBACK_DAYS)
        self.end = end

    @cached_property
    def foreign(self) -> list[str]:
        book = self.book
        return sorted(set(book.column_currency[~book.column_is_yield]) - {base_currency()})

    @cached_property
    def prices(self) -> np.ndarray:
        return quotes(
            Price.objects.filter(
                instrument_id__in=self.book.instrument_ids,
                date__lte=self.end,
            ),
            "instrument_id",
            "price_float",
            self.since,
        )

    @cached_property
    def rates(self) -> np.ndarray:
        if not self.foreign:
            return np.empty((0, 3))
        # Rates keyed by the currency's index in `foreign`, to share the numeric path.
        index = Case(*(When(currency=c, then=Value(i)) for i, c in enumerate(self.foreign)))
        return quotes(
            FxRate.objects.filter(currency__in=self.foreign, date__lte=self.end).annotate(
                index=index
            ),
            "index",
            "rate",
            self.since,
        )

    def levels(
        self, dates: Sequence[dt.date], *, max_carry: int = MAX_CARRY
    ) -> tuple[np.ndarray, np.ndarray]:
        """Levels (len(dates) × M) of the book's instruments on `dates`, and which columns
        are complete. Price columns are `P × X(c)`, yield columns the yield; each carried
        across up to `max_carry` dates without a quote; a quote up to LOOKBACK_DAYS before
        the first date stands for it. The caller may change the arrays: they are its own."""
        levels, complete, _ = self.history(dates, max_carry=max_carry)
        return levels, complete

    def history(
        self, dates: Sequence[dt.date], *, max_carry: int = MAX_CARRY
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`levels()` and, third, which columns are unbroken since their first quote
        (`engine.carried_levels`): the young ones a root chain may complete. Levels before
        a column's first quote are NaN."""
        assert self.since + dt.timedelta(days=LOOKBACK_DAYS) <= dates[0] and dates[-1] <= self.end
        stored = memo.remember(
            "market",
            self._key(dates, max_carry),
            lambda: _encode(*self._levels(dates, max_carry)),
        )
        levels, complete, unbroken = _decode(stored)
        return levels, complete, unbroken

    def _key(self, dates: Sequence[dt.date], max_carry: int) -> str:
        book = self.book
        digest = hashlib.blake2b(digest_size=16)
        digest.update(np.asarray(book.instrument_ids, dtype=np.int64).tobytes())
        digest.update(book.column_is_yield.tobytes())
        for text in (*book.column_currency.tolist(), base_currency(), *map(str, dates)):
            digest.update(text.encode() + b"\0")
        return f"market:history:{max_carry}:{len(dates)}:{digest.hexdigest()}"

    def _levels(
        self, dates: Sequence[dt.date], max_carry: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        book = self.book
        # Day k after `since` maps to the first grid date on or after it: a quote stands
        # for that grid date (the latest one wins) and is carried to the next ones.
        offsets = np.array([(day - self.since).days for day in dates])
        day_row = np.searchsorted(offsets, np.arange(offsets[-1] + 1))
        earliest = offsets[0] - LOOKBACK_DAYS

        def grid(
            observed: np.ndarray, keys: np.ndarray
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            inside = observed[(observed[:, 1] >= earliest) & (observed[:, 1] <= offsets[-1])]
            return _levels(inside, keys, day_row, len(dates), max_carry)

        ids = np.array(book.instrument_ids, dtype=float)  # sorted, as quotes() keys come
        levels, complete, unbroken = grid(self.prices, ids)
        if self.foreign:
            fx, fx_complete, _ = grid(self.rates, np.arange(len(self.foreign), dtype=float))
            # Price columns in a foreign currency move with P × X(c).
            priced_abroad = np.flatnonzero(
                ~book.column_is_yield & (book.column_currency != base_currency())
            )
            fx_column = np.searchsorted(self.foreign, book.column_currency[priced_abroad])
            levels[:, priced_abroad] *= fx[:, fx_column]
            complete[priced_abroad] &= fx_complete[fx_column]
            unbroken[priced_abroad] &= fx_complete[fx_column]
        return levels, complete, unbroken


def _encode(*arrays: np.ndarray) -> bytes:
    """The levels and their flags as numpy's own format (no pickle)."""
    buffer = io.BytesIO()
    for array in arrays:
        np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _decode(stored: bytes) -> list[np.ndarray]:
    buffer = io.BytesIO(stored)
    return [np.load(buffer, allow_pickle=False) for _ in range(3)]


def market_levels(
    book: Columns, dates: Sequence[dt.date], *, max_carry: int = MAX_CARRY
) -> tuple[np.ndarray, np.ndarray]:
    """Levels of the book's instruments on `dates` and which are complete (remembered, or
    two queries)."""
    return MarketHistory(book, dates[0], dates[-1]).levels(dates, max_carry=max_carry)
