"""Shared set-up of the benchmark scripts: Django on the benchmark database, a timer, and
timed GETs of the cached endpoints that check, on every answer, where it came from."""

import argparse
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pms_site.settings")
os.environ.setdefault("DEBUG", "1")  # the development settings, as run.sh sets them
import django

django.setup()

from django.test import override_settings  # noqa: E402 — after django.setup()
from rest_framework.test import APIClient  # noqa: E402

from core.calendar import anbima_days  # noqa: E402
from demo.fund import first_business_day  # noqa: E402
from pms_site import cache as read_cache  # noqa: E402
from portfolio import di1, services  # noqa: E402
from portfolio.models import BenchmarkRate, Instrument, Position, Price  # noqa: E402

NO_CACHE = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
PASSWORD = "a-bench-passphrase-7Kq"  # Django's validators accept it
UNCACHED = "uncached: cache bypassed, cached: false"
CACHED = "cached: true"


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Median wall time of `repeat` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextmanager
def cache_bypassed() -> Iterator[None]:
    """Requests inside answer with the cache bypassed: Django's cache is a DummyCache (it
    stores nothing, finds nothing), so `pms_site.cache` finds no generation and answers
    straight from the database with `"cached": false`, neither reading nor storing a
    payload. The breaker's state is forgotten on the way in and out (it belongs to the
    cache it saw). The real cache is left as it was: what it held is still there after."""
    with override_settings(CACHES=NO_CACHE):
        read_cache.reset()
        try:
            yield
        finally:
            read_cache.reset()


@dataclass(frozen=True)
class Timings:
    seconds: list[float]  # sorted
    answer: dict[str, Any]  # the last answer's JSON

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def max_ms(self) -> float:
        return self.seconds[-1] * 1000


def time_get(client: APIClient, url: str, repeat: int, *, cached: bool) -> Timings:
    """Wall times of `repeat` GETs of `url` after one untimed GET (a warm-up, and for
    `cached` the request that stores the payload). `cached=False`: every request with the
    cache bypassed (`cache_bypassed`); `cached=True`: through the real cache. Every timed
    answer must be a 200 whose `cached` is `cached` (asserted after its timing)."""
    times = []
    with ExitStack() as stack:
        if not cached:
            stack.enter_context(cache_bypassed())
        assert client.get(url).status_code == 200
        answer: dict[str, Any] = {}
        for _ in range(repeat):
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, (url, response.status_code)
            answer = response.json()
            assert answer["cached"] is cached, (url, answer["cached"], "expected", cached)
            assert (answer["cache_age_seconds"] is None) is not cached, answer["cache_age_seconds"]
    return Timings(sorted(times), answer)


def wait_for(port: int, seconds: float = 20) -> None:
    """Until something listens on 127.0.0.1:`port` (RuntimeError after `seconds`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def gunicorn(
    port: int, app: str, env: dict[str, str], *, pythonpath: str = "", log_level: str = "error"
) -> subprocess.Popen[bytes]:
    """The production server (pms_site/gunicorn.conf.py, two workers) serving `app` on
    loopback, started and listening."""
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(root / "pms_site" / "gunicorn.conf.py"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            *(["--pythonpath", pythonpath] if pythonpath else []),
            "--log-level",
            log_level,
            app,
        ],
        env={**os.environ, **env},
        cwd=root,
    )
    wait_for(port)
    return process


def di1_option() -> int:
    """`--di1 N` on the command line, or BENCH_DI1=N in the environment (how run.sh passes
    it: `BENCH_DI1=200 benchmarks/run.sh risk`): the DI1 futures of the comparison with
    linear instruments only; 0 (the default) runs the benchmark as before."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--di1", type=int, default=int(os.environ.get("BENCH_DI1") or 0))
    count = parser.parse_args().di1
    assert count >= 0, "--di1 is a count of DI1 futures"
    return count


def quarterly_maturities(as_of: dt.date, years: tuple[int, int] = (1, 10)) -> list[dt.date]:
    """The first national business days of January, April, July and October from
    `years[0]` to `years[1]` years after `as_of`: DI1 maturities along the curve."""
    first, last = (as_of.replace(year=as_of.year + n) for n in years)
    return [
        day
        for year in range(first.year, last.year + 1)
        for month in (1, 4, 7, 10)
        if first <= (day := first_business_day(year, month)) <= last
    ]


def di1_futures(count: int, days: list[dt.date], seed: int = 3) -> list[Instrument]:
    """`count` DI1 futures (pricing di1, root DI1, BRL, quoted in yield) maturing on the
    quarterly dates from 1 to 10 years after the last of `days`, each with a close on every
    one of `days` (rates around 10–14%: the longer the higher, plus a random walk of about
    6 bp a day), and the CDI (about 0.04% a day) on every one of `days`."""
    maturities = quarterly_maturities(days[-1])
    tenor = [k % len(maturities) for k in range(count)]
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0, 0.06, (len(days), count)), axis=0)
    rates = np.clip(10 + 4 * np.array(tenor) / len(maturities) + walk, 5, 25)
    to_maturity = anbima_days(days[-1], np.array([maturities[t] for t in tenor]))
    futures = Instrument.objects.bulk_create(
        Instrument(
            symbol=f"DI1_{k:04d}",
            name=f"DI1 {maturities[tenor[k]]:%b/%Y} ({k})",
            asset_class="rates",
            currency="BRL",
            quote_type="yield",
            pricing="di1",
            maturity=maturities[tenor[k]],
            root="DI1",
            multiplier=Decimal("100000"),  # the notional at maturity
            # The linear engine's DV01 (a DI1's is its PU's): one contract's at the last day.
            dv01=di1.dv01_per_contract(
                Decimal(f"{rates[-1, k]:.3f}"), int(to_maturity[k])
            ).quantize(Decimal("0.0001")),
        )
        for k in range(count)
    )
    Price.objects.bulk_create(
        (
            Price(instrument=future, date=day, price=Decimal(f"{rates[i, k]:.3f}"))
            for k, future in enumerate(futures)
            for i, day in enumerate(days)
        ),
        batch_size=10_000,
    )
    BenchmarkRate.objects.bulk_create(
        (
            BenchmarkRate(benchmark="CDI", date=day, rate=Decimal(f"{0.0004 + 1e-5 * (i % 5):.8f}"))
            for i, day in enumerate(days)
        ),
        ignore_conflicts=True,
    )
    # What the services that load closes and the CDI keep on each close for the marks.
    services.di1_accruals_keep(instrument_ids=[f.pk for f in futures], since=days[0])
    return futures


def with_di1(instruments: list[Instrument], futures: list[Instrument]) -> list[Instrument]:
    """`instruments` with every k-th one (k = len/len(futures)) replaced by a DI1 future:
    the same book, `len(futures)` of its instruments DI1."""
    step = len(instruments) // len(futures)
    mixed = list(instruments)
    for k, future in enumerate(futures):
        mixed[k * step] = future
    return mixed


def di1_open_positions() -> int:
    """The open positions on a DI1 future."""
    return Position.objects.filter(closed_at__isnull=True, instrument__pricing="di1").count()
