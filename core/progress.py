"""Progress of a long command over a range of business days."""

import datetime as dt
from collections.abc import Callable
from io import TextIOBase

Progress = Callable[[dt.date, int, int], None]


def monthly(out: TextIOBase) -> Progress:
    """A progress callback `(day, done, total)` writing a line on the first day of each
    month and on the last day: "  2024-03-01 … 41/250 days"."""
    months: set[tuple[int, int]] = set()

    def report(day: dt.date, done: int, total: int) -> None:
        if (day.year, day.month) not in months or done == total:
            months.add((day.year, day.month))
            out.write(f"  {day} … {done}/{total} days\n")
            out.flush()

    return report
