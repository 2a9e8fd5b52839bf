"""Writes of market data and capital: prices, FX rates and flows, checked row by row and
written all or nothing."""

import bisect
import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import OuterRef, Q, Subquery

from core import inputs
from core.bulk import bulk_update_rows
from core.errors import RowErrors
from core.rows import (
    RowErrorMap,
    earliest_dates,
    reject_dates_outside,
    reject_duplicates,
    reject_out_of_bounds,
    reject_weekends,
    resolve_references,
    rows_upsert,
)
from core.signals import data_changed

from ..models import BenchmarkRate, FxRate, Instrument, Price
from ..selectors import Di1Index, base_currency, latest_prices
from .audit import audit_record
from .marking import positions_remark


def reject_outliers(
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[Any],
    value: str,
    series: dict[Any, dict[dt.date, Decimal]],
    quote_types: Mapping[Any, str],
    errors: RowErrorMap,
) -> None:
    """A value further than PMS_PRICE_BAND from the previous one of its series (the latest
    before its date, stored or in the same batch) needs `confirm`. `keys[i]` is row i's
    series (None: not checked); `series` holds the stored values around the batch's dates.
    Rows already in `errors` are neither checked nor counted as a previous value."""
    checked = [i for i, key in enumerate(keys) if key is not None and i not in errors]
    for i in checked:  # the batch replaces what is stored for its dates
        series[keys[i]][rows[i]["date"]] = rows[i][value]
    days = {key: sorted(values) for key, values in series.items()}  # once, not per row
    for i in checked:
        row, key = rows[i], keys[i]
        at = bisect.bisect_left(days[key], row["date"])  # the values before its date
        if row.get("confirm") or not at:
            continue
        previous = series[key][days[key][at - 1]]
        problem = inputs.band_problem(quote_types[key], row[value], previous)
        if problem:
            errors.setdefault(i, {})[value] = [f"{problem}: confirm it if it is right."]


def reject_outlier_prices(
    rows: Sequence[Mapping[str, Any]], ids: Mapping[str, int], errors: RowErrorMap
) -> None:
    """A close further than PMS_PRICE_BAND from the previous close of its instrument needs
    `confirm` (`reject_outliers`): the rows without errors are checked. Three queries."""
    keys = [ids.get(row["instrument"]) for row in rows]
    known = [row for i, row in enumerate(rows) if keys[i] is not None and i not in errors]
    if not known:
        return
    wanted = {ids[row["instrument"]] for row in known}
    first, last = min(row["date"] for row in known), max(row["date"] for row in known)
    quote_type = dict(Instrument.objects.filter(pk__in=wanted).values_list("pk", "quote_type"))
    series: dict[Any, dict[dt.date, Decimal]] = {pk: {} for pk in wanted}
    for pk, (day, price) in latest_prices(first - dt.timedelta(days=1), wanted).items():
        series[pk][day] = price
    for pk, day, price in Price.objects.filter(
        instrument_id__in=wanted, date__range=(first, last)
    ).values_list("instrument_id", "date", "price"):
        series[pk][day] = price
    reject_outliers(rows, keys, "price", series, quote_type, errors)


def reject_outlier_rates(rows: Sequence[Mapping[str, Any]], errors: RowErrorMap) -> None:
    """An FX rate further than PMS_PRICE_BAND (relative, as a price) from the previous rate
    of its currency needs `confirm` (`reject_outliers`). Two queries."""
    keys = [row["currency"] if i not in errors else None for i, row in enumerate(rows)]
    known = [row for i, row in enumerate(rows) if keys[i] is not None]
    if not known:
        return
    wanted = {row["currency"] for row in known}
    first, last = min(row["date"] for row in known), max(row["date"] for row in known)
    before = FxRate.objects.filter(currency=OuterRef("currency"), date__lt=first)
    latest = before.order_by("-date").values("date")[:1]
    stored = FxRate.objects.filter(currency__in=wanted).filter(
        Q(date__range=(first, last)) | Q(date=Subquery(latest))
    )
    series: dict[Any, dict[dt.date, Decimal]] = {currency: {} for currency in wanted}
    for currency, day, rate in stored.values_list("currency", "date", "rate"):
        series[currency][day] = rate
    reject_outliers(rows, keys, "rate", series, dict.fromkeys(wanted, "price"), errors)


def prices_check(rows: Sequence[Mapping[str, Any]]) -> dict[Any, int]:
    """The rules of closes (RowErrors by row): a known instrument, a date the fund accepts,
    a positive price within bounds, each (instrument, date) once, and a close outside
    PMS_PRICE_BAND of the previous one confirmed. The instruments' ids by symbol."""
    errors: RowErrorMap = {}
    ids = resolve_references(rows, "instrument", Instrument, "symbol", errors)
    reject_dates_outside(rows, errors)
    reject_weekends(rows, errors)
    reject_out_of_bounds(rows, "price", inputs.PRICE_MAX, errors)
    reject_duplicates(rows, ("instrument", "date"), errors)
    reject_outlier_prices(rows, ids, errors)  # on the rows without other errors
    if errors:
        raise RowErrors(errors)
    return ids


@transaction.atomic
def prices_upsert(*, rows: Sequence[Mapping[str, Any]], actor: str) -> tuple[int, int]:
    """Upsert closes per (instrument, date). Rows: {instrument: symbol, date, price > 0,
    confirm?}; a close outside PMS_PRICE_BAND of the previous one needs `confirm`.

    Every row is checked before anything is written; one bad row rejects the batch.
    """
    ids = prices_check(rows)
    created, updated = rows_upsert(
        Price,
        ("instrument_id", "date"),
        "price",
        [
            {"instrument_id": ids[r["instrument"]], "date": r["date"], "price": r["price"]}
            for r in rows
        ],
    )
    data_changed.send(sender=Price)
    earliest = earliest_dates(rows, "instrument")
    di1_accruals_keep(
        instrument_ids=[ids[symbol] for symbol in earliest], since=min(earliest.values())
    )
    positions_remark(earliest={ids[symbol]: day for symbol, day in earliest.items()}, actor=actor)
    audit_record(
        actor=actor,
        action="prices.upsert",
        after={"created": created, "updated": updated, "instruments": sorted(ids)},
    )
    return created, updated


def fx_rates_check(rows: Sequence[Mapping[str, Any]], *, band: bool = False) -> None:
    """The rules of FX rates (RowErrors by row): a currency other than the base, a date
    the fund accepts, a positive rate within bounds, each (currency, date) once. With
    `band` (the CSV imports, which can confirm), a rate further than PMS_PRICE_BAND from
    the previous one needs the row's `confirm`."""
    errors: RowErrorMap = {}
    for index, row in enumerate(rows):
        if row["currency"] == base_currency():
            errors.setdefault(index, {})["currency"] = [
                f"{row['currency']} is the base currency; its rate is always 1."
            ]
        elif not re.fullmatch(inputs.CURRENCY_PATTERN, row["currency"]):
            errors.setdefault(index, {})["currency"] = ["A three-letter ISO code, e.g. USD."]
    reject_dates_outside(rows, errors)
    reject_weekends(rows, errors)
    reject_out_of_bounds(rows, "rate", inputs.FX_RATE_MAX, errors)
    reject_duplicates(rows, ("currency", "date"), errors)
    if band:
        reject_outlier_rates(rows, errors)  # on the rows without other errors
    if errors:
        raise RowErrors(errors)


@transaction.atomic
def fx_rates_upsert(
    *, rows: Sequence[Mapping[str, Any]], actor: str, band: bool = False
) -> tuple[int, int]:
    """Upsert FX rates per (currency, date). Rows: {currency, date, rate > 0, confirm?}
    (base per unit); with `band`, a rate outside PMS_PRICE_BAND of the previous one
    needs `confirm` (`fx_rates_check`)."""
    fx_rates_check(rows, band=band)
    created, updated = rows_upsert(
        FxRate,
        ("currency", "date"),
        "rate",
        [{"currency": r["currency"], "date": r["date"], "rate": r["rate"]} for r in rows],
    )
    data_changed.send(sender=FxRate)
    earliest = earliest_dates(rows, "currency")
    instruments = Instrument.objects.filter(currency__in=earliest).values_list("pk", "currency")
    positions_remark(earliest={pk: earliest[currency] for pk, currency in instruments}, actor=actor)
    audit_record(
        actor=actor,
        action="fx_rates.upsert",
        after={
            "created": created,
            "updated": updated,
            "currencies": sorted({r["currency"] for r in rows}),
        },
    )
    return created, updated


def benchmark_rates_check(rows: Sequence[Mapping[str, Any]]) -> None:
    """The rules of benchmark rates (RowErrors by row): a known benchmark, a date the
    fund accepts, a daily rate within ±BENCHMARK_RATE_MAX (an annual percent such as 13.65
    is refused), each (benchmark, date) once."""
    errors: RowErrorMap = {}
    for index, row in enumerate(rows):
        if row["benchmark"] not in BenchmarkRate.Benchmark.values:
            errors.setdefault(index, {})["benchmark"] = [
                f"Unknown benchmark {row['benchmark']!r}: use "
                f"{', '.join(BenchmarkRate.Benchmark.values)}."
            ]
        problem = inputs.benchmark_rate_problem(row["rate"])
        if problem:
            errors.setdefault(index, {})["rate"] = [problem]
    reject_dates_outside(rows, errors)
    reject_duplicates(rows, ("benchmark", "date"), errors)
    if errors:
        raise RowErrors(errors)


@transaction.atomic
def benchmark_rates_upsert(*, rows: Sequence[Mapping[str, Any]], actor: str) -> tuple[int, int]:
    """Upsert daily benchmark rates per (benchmark, date). Rows: {benchmark, date, rate}."""
    benchmark_rates_check(rows)
    created, updated = rows_upsert(
        BenchmarkRate,
        ("benchmark", "date"),
        "rate",
        [{"benchmark": r["benchmark"], "date": r["date"], "rate": r["rate"]} for r in rows],
    )
    data_changed.send(sender=BenchmarkRate)
    cdi = [r["date"] for r in rows if r["benchmark"] == "CDI"]
    if cdi:  # DI1 settlements correct the previous PU by the CDI: their accruals move
        di1 = Instrument.objects.filter(pricing=Instrument.Pricing.DI1).values_list("pk", flat=True)
        di1_accruals_keep(instrument_ids=list(di1), since=min(cdi))
        positions_remark(earliest=dict.fromkeys(di1, min(cdi)), actor=actor)
    audit_record(
        actor=actor,
        action="benchmark_rates.upsert",
        after={
            "created": created,
            "updated": updated,
            "benchmarks": sorted({r["benchmark"] for r in rows}),
        },
    )
    return created, updated


# --- One row at a time, as the admin writes them: through the batch services ----------------


@dataclass(frozen=True)
class MarketSeries:
    """One series of market data written a row at a time (the admin's add and change
    forms) through its batch check and upsert, so that a single row meets the batch's
    rules, audit and re-marking.

    A series is keyed by `key` (what a value is of: an instrument, a currency, a benchmark)
    and the date, and holds `value`. A key that is another table's row (a close's
    instrument) goes into the batch by its `natural` key (the symbol); `confirmable`
    series carry the `confirm` that accepts an outlier."""

    model: type[models.Model]
    key: str
    value: str
    check_rows: Callable[[Sequence[Mapping[str, Any]]], Any]
    upsert_rows: Callable[..., tuple[int, int]]
    natural: str | None = None
    confirmable: bool = False

    def row(self, stored: Any, changes: Mapping[str, Any]) -> dict[str, Any]:
        """The batch row of `stored` (None for a new one) with `changes` applied."""
        given = {
            name: changes.get(name, getattr(stored, name) if stored else None)
            for name in (self.key, "date", self.value)
        }
        if self.natural:
            reference = given[self.key]
            given[self.key] = getattr(reference, self.natural) if reference else ""
        if self.confirmable:
            given["confirm"] = bool(changes.get("confirm"))
        return given

    def check(self, *, instance: Any, changes: Mapping[str, Any]) -> None:
        """The batch's rules on one row, its errors by field (a ValidationError)."""
        try:
            self.check_rows([self.row(instance, changes)])
        except RowErrors as error:
            raise ValidationError(error.errors[0]) from None

    def save(self, *, actor: str, **fields: Any) -> Any:
        """A new row, upserted by the batch service; the row as stored."""
        return self._upserted(self.row(None, fields), actor)

    def update(self, stored: Any, /, *, actor: str, **changes: Any) -> Any:
        """A change to a stored row (its value; its key stays), upserted by the batch service."""
        return self._upserted(self.row(stored, changes), actor)

    def _upserted(self, row: dict[str, Any], actor: str) -> Any:
        self.upsert_rows(rows=[row], actor=actor)
        key = f"{self.key}__{self.natural}" if self.natural else self.key
        return self.model._default_manager.get(**{key: row[self.key], "date": row["date"]})


PRICES = MarketSeries(
    Price, "instrument", "price", prices_check, prices_upsert, natural="symbol", confirmable=True
)
FX_RATES = MarketSeries(FxRate, "currency", "rate", fx_rates_check, fx_rates_upsert)
BENCHMARK_RATES = MarketSeries(
    BenchmarkRate, "benchmark", "rate", benchmark_rates_check, benchmark_rates_upsert
)


def di1_accruals_keep(*, instrument_ids: Sequence[int], since: dt.date) -> int:
    """Store on the closes of these instruments dated from `since` on, of those that are
    DI1s, the CDI corrections accrued before each (`Price.accrual`), from their history
    and the CDI as they are now: what a mark reads instead of the history. Run by every
    write of closes or of the CDI, in its transaction. Returns the closes written."""
    terms = {
        i.pk: i.terms
        for i in Instrument.objects.filter(pk__in=instrument_ids, pricing=Instrument.Pricing.DI1)
    }
    if not terms:
        return 0
    index = Di1Index(terms)
    rows = Price.objects.filter(instrument_id__in=list(terms), date__gte=since)
    accruals = [
        (pk, index.accrued_before(instrument_id, day))
        for pk, instrument_id, day in rows.values_list("pk", "instrument_id", "date")
    ]
    return bulk_update_rows(Price, ("accrual",), accruals)
