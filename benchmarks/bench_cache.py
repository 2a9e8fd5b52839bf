"""GET /api/book/ over real HTTP (gunicorn on loopback, wrk as the load): a 1,000-position
book uncached, cached, and the floor (a bare Django view returning the same bytes from
Redis). Run through benchmarks/run.sh; needs wrk (Debian package) and Redis."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from bench_risk import POSITIONS, load_book, load_market
from bench_urls import FLOOR_KEY
from common import PASSWORD, gunicorn
from django.contrib.auth.models import User
from django.core.cache import cache
from knox.models import AuthToken

from pms_site.cache import render
from portfolio.api.serializers import BookSerializer
from portfolio.selectors import live_book

HERE = Path(__file__).resolve().parent
PORT = 8765
SECONDS, CONNECTIONS = 10, 16


def serve(uncached: bool) -> subprocess.Popen[bytes]:
    env = {
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "BENCH_UNCACHED": "1" if uncached else "0",
        "LOG_LEVEL": "WARNING",
    }
    return gunicorn(
        PORT, "bench_wsgi:application", env, pythonpath=f"{HERE},{HERE.parent}", log_level="warning"
    )


def headers(token: str) -> list[str]:
    # As behind the TLS proxy of production (DEBUG=0 redirects plain HTTP to HTTPS).
    return ["-H", f"Authorization: Token {token}", "-H", "X-Forwarded-Proto: https"]


def check(path: str, token: str, expected: bytes, cached: bool) -> None:
    """One request after the warm-up: 200, the book's bytes (the cache fields aside), and
    `cached` as the label says (the uncached server bypasses the cache)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}{path}",
        headers={"Authorization": f"Token {token}", "X-Forwarded-Proto": "https"},
    )
    with urllib.request.urlopen(request) as answer:
        raw = answer.read()
    assert book_of(raw) == book_of(expected), f"{path} does not answer the book"
    assert json.loads(raw)["cached"] is cached, f"{path}: cached is not {cached}"


def book_of(raw: bytes) -> dict[str, object]:
    answer = json.loads(raw)
    return {k: v for k, v in answer.items() if k not in ("cached", "cache_age_seconds")}


UNITS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30}


def load(path: str, token: str, size: int) -> tuple[float, str, str]:
    """wrk's requests per second, p50 and p99; every answer must carry `size` bytes."""
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{SECONDS}s",
            "--latency",
            *headers(token),
            f"http://127.0.0.1:{PORT}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:  # wrk does not count 3xx: see check()
        raise RuntimeError(f"errors from {path}:\n{out}")
    done = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)(\w+) read", out)
    assert done, out
    # wrk rounds what it read to two decimals (4.69GB): at most that much more was read.
    per_answer = (float(done.group(2)) + 0.005) * UNITS[done.group(3)] / int(done.group(1))
    if per_answer < size:  # a redirect or an error page, not the book
        raise RuntimeError(f"{path} answered {per_answer:.0f} bytes on average:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    return rps, p50, p99


def main() -> None:
    if not os.environ.get("REDIS_URL"):
        sys.exit("bench_cache needs REDIS_URL (benchmarks/run.sh sets it).")
    if shutil.which("wrk") is None:
        sys.exit("bench_cache needs wrk, the HTTP load generator: apt-get install wrk")
    print(f"loading {POSITIONS:,} positions …", flush=True)
    instruments = load_market(100)
    load_book(instruments, strategies=10)
    user = User.objects.create_superuser("bench", password=PASSWORD)
    token = AuthToken.objects.create(user=user)[1]
    # The answer as the cached endpoint sends it: the book's JSON and its cache fields.
    body = render(BookSerializer(live_book()).data) + b',"cached":true,"cache_age_seconds":0.0}'
    cache.clear()
    cache.set(FLOOR_KEY, body, timeout=None)  # the same bytes the book answers
    print(f"book: {len(body):,} bytes; wrk -t2 -c{CONNECTIONS} -d{SECONDS}s; gunicorn, 2 workers")
    results = {}
    for name, no_cache, path in (
        ("uncached", True, "/api/book/"),
        ("cached", False, "/api/book/"),
        ("floor", False, "/floor/"),
    ):
        server = serve(no_cache)
        try:
            subprocess.run(  # warm up: workers loaded, token known, payload cached
                [
                    "wrk",
                    "-t1",
                    "-c2",
                    "-d2s",
                    *headers(token),  # as the load: over the proxy's HTTPS, else a redirect
                    f"http://127.0.0.1:{PORT}{path}",
                ],
                capture_output=True,
                check=True,
            )
            check(path, token, body, cached=not no_cache)
            results[name] = load(path, token, len(body))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait()
        rps, p50, p99 = results[name]
        print(f"  {name:<9} {rps:9.1f} req/s   p50 {p50:>8}   p99 {p99:>8}", flush=True)
    cached, uncached, floor = (results[n][0] for n in ("cached", "uncached", "floor"))
    print(
        f"cached / uncached throughput: {cached / uncached:.1f}× (target ≥ 10×); "
        f"floor / cached: {floor / cached:.2f}× (target ≤ 1.2×)"
    )


if __name__ == "__main__":
    main()
