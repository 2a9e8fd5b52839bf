"""Business days on the fund's exchange calendar (default B3, `PMS_CALENDAR`)."""

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.utils import timezone


@cache
def _holidays(market: str, year: int) -> holidays.HolidayBase:
    return holidays.financial_holidays(market, years=year)


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
