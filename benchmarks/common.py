"""Shared set-up of the benchmark scripts: Django on the benchmark database, a timer, and
timed GETs of the cached endpoints that check, on every answer, where it came from."""

import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pms_site.settings")
os.environ.setdefault("DEBUG", "1")  # the development settings, as run.sh sets them
import django

django.setup()

from django.test import override_settings  # noqa: E402 — after django.setup()
from rest_framework.test import APIClient  # noqa: E402

from pms_site import cache as read_cache  # noqa: E402

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
