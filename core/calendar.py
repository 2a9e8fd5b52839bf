"""Business days on the fund's exchange calendar (default B3, `PMS_CALENDAR`)."""

import datetime as dt
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import numpy as np
from django.conf import settings
from django.utils import timezone


@cache
def _holidays(market: str, year: int) -> holidays.HolidayBase:
    return holidays.financial_holidays(market, years=year)


# The national (ANBIMA) calendar, by which B3 counts a DI1's business days to maturity: the
# exchange's (BVMF) holidays but the days only the exchange closes, Christmas Eve and the
# year's last weekday, when the interbank market works. `holidays` has no ANBIMA calendar
# of its own; the rule gives pyield's ANBIMA list exactly, 2001–2078 (tests/test_di1.py).
@cache
def _anbima_holidays(year: int) -> tuple[np.datetime64, ...]:
    exchange = holidays.financial_holidays("BVMF", years=year)
    last_weekday = np.busday_offset(f"{year + 1}-01-01", -1, roll="forward")
    exchange_only = {dt.date(year, 12, 24), dt.date(year, 12, 31), last_weekday.item()}
    return tuple(np.datetime64(d, "D") for d in sorted(exchange) if d not in exchange_only)


@cache
def _anbima_calendar(first_year: int, last_year: int) -> np.busdaycalendar:
    days = [d for year in range(first_year, last_year + 1) for d in _anbima_holidays(year)]
    return np.busdaycalendar(holidays=days)


def anbima_days(start: Any, end: Any) -> Any:
    """The national (ANBIMA) business days from `start` (included) to `end` (excluded):
    how B3 counts a DI1's days to maturity. Dates or numpy arrays of them (vectorized);
    0 when `end` is not after `start`."""
    first = np.min(np.asarray(start, dtype="datetime64[D]")).astype(object).year
    last = np.max(np.asarray(end, dtype="datetime64[D]")).astype(object).year
    calendar = _anbima_calendar(min(first, last), max(first, last))
    counted = np.busday_count(
        np.asarray(start, dtype="datetime64[D]"),
        np.asarray(end, dtype="datetime64[D]"),
        busdaycal=calendar,
    )
    return np.maximum(counted, 0)


def anbima_days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """The national business days from `start` (included) to `end` (excluded): the days the
    CDI accrues on between two closes."""
    if end <= start:
        return []
    calendar = _anbima_calendar(start.year, end.year)
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D"))
    return [d.item() for d in days[np.is_busday(days, busdaycal=calendar)]]


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _holidays(settings.PMS_CALENDAR, day.year)


def previous_business_day(day: dt.date) -> dt.date:
    """The last business day strictly before `day`."""
    day -= dt.timedelta(days=1)
    while not is_business_day(day):
        day -= dt.timedelta(days=1)
    return day


def next_business_day(day: dt.date) -> dt.date:
    """The first business day strictly after `day`."""
    day += dt.timedelta(days=1)
    while not is_business_day(day):
        day += dt.timedelta(days=1)
    return day


def on_or_after(day: dt.date) -> dt.date:
    """`day` if it is a business day, else the next one (a flow on a holiday counts then)."""
    return day if is_business_day(day) else next_business_day(day)


def on_or_before(day: dt.date) -> dt.date:
    """`day` if it is a business day, else the last one before it."""
    return day if is_business_day(day) else previous_business_day(day)


def business_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Business days from `start` to `end`, both included."""
    days = []
    day = start
    while day <= end:
        if is_business_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def business_days_ending(end: dt.date, count: int) -> list[dt.date]:
    """The last `count` business days on or before `end`, oldest first."""
    days: list[dt.date] = []
    day = end
    while len(days) < count:
        if is_business_day(day):
            days.append(day)
        day -= dt.timedelta(days=1)
    return days[::-1]


def fund_time_zone() -> ZoneInfo:
    """São Paulo's: the fund's business dates, and the times pages show (labelled BRT)."""
    return ZoneInfo(settings.TIME_ZONE)


def today() -> dt.date:
    """Today in the fund's time zone (São Paulo), whatever time zone is active."""
    return timezone.localdate(timezone=fund_time_zone())


def utc_iso(moment: dt.datetime) -> str:
    """A moment as the API shows it: UTC, ISO 8601, with `Z`."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
