"""GET /api/book/ under a bounded load (16 clients, 30 s, gunicorn with 2 workers on
loopback) while Redis is killed at 10 s and started again at 20 s: every answer's status,
and the latency of each phase. The target: no answer but 2xx, and a p99 during the
outage at most 5 × the p99 before it. Run through benchmarks/run.sh; uses a Redis of its
own (port 6392), which it kills. BENCH_POSITIONS sets the book's size (default 40, the
demo fund's; 1,000 shows what a large book costs without its cache)."""

import http.client
import os
import signal
import statistics
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

from bench_risk import load_book, load_market
from common import PASSWORD, gunicorn, wait_for
from django.contrib.auth.models import User
from knox.models import AuthToken

from portfolio.services import capital_flow_create

HERE = Path(__file__).resolve().parent
PORT, REDIS_PORT = 8766, 6392
CLIENTS, SECONDS, KILL_AT, BACK_AT = 16, 30.0, 10.0, 20.0
POSITIONS = int(os.environ.get("BENCH_POSITIONS", "40"))


def start_redis() -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    wait_for(REDIS_PORT)
    return process


def serve() -> subprocess.Popen[bytes]:
    env = {
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "PMS_METRICS_TOKEN": "bench",
        "LOG_LEVEL": "ERROR",
    }
    return gunicorn(PORT, "pms_site.wsgi", env)


def client(token: str, stop: float, samples: list[tuple[float, float, int, bool]]) -> None:
    headers = {"Authorization": f"Token {token}", "X-Forwarded-Proto": "https"}
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    while (now := time.monotonic()) < stop:
        try:
            connection.request("GET", "/api/book/", headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            status = answer.status
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            body, status = b"", 599
        samples.append(
            (
                now,
                time.monotonic() - now,
                status,
                body.endswith(b"}") and b'"cached":true' in body[-60:],
            )
        )


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else float("nan")


def main() -> None:
    print(f"loading a book of {POSITIONS:,} positions …", flush=True)
    instruments = load_market(min(POSITIONS, 100))
    load_book(instruments, strategies=max(POSITIONS // 100, 1), positions=POSITIONS)
    capital_flow_create(
        date=instruments[0].prices.latest("date").date, amount=Decimal("1e9"), actor="bench"
    )
    user = User.objects.create_superuser("bench", password=PASSWORD)
    token = AuthToken.objects.create(user=user)[1]
    redis, server = start_redis(), serve()
    try:
        started = time.monotonic()
        samples: list[tuple[float, float, int, bool]] = []
        threads = [
            threading.Thread(target=client, args=(token, started + SECONDS, samples))
            for _ in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(KILL_AT)
        redis.kill()
        redis.wait()
        print(f"  {time.monotonic() - started:5.1f} s: Redis killed", flush=True)
        time.sleep(BACK_AT - KILL_AT)
        restarting = time.monotonic()  # Redis answers again from a moment after this
        redis = start_redis()
        print(f"  {time.monotonic() - started:5.1f} s: Redis back", flush=True)
        for thread in threads:
            thread.join()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
        redis.kill()
        redis.wait()
    phases = {"before": (0, KILL_AT), "outage": (KILL_AT, BACK_AT), "after": (BACK_AT, SECONDS)}
    print(
        f"GET /api/book/, {POSITIONS:,} positions, {CLIENTS} clients × {SECONDS:.0f} s, "
        "gunicorn 2 workers; Redis killed at 10 s, back at 20 s:"
    )
    p99 = {}
    for name, (start, end) in phases.items():
        rows = [s for s in samples if start <= s[0] - started < end]
        latencies = [s[1] for s in rows]
        bad = sum(1 for s in rows if not 200 <= s[2] < 300)
        cached = sum(1 for s in rows if s[3])
        p99[name] = p(latencies, 99)
        share = cached / max(len(rows), 1)
        print(
            f"  {name:<7} {len(rows):6,} requests, {bad} non-2xx, {share:4.0%} cached: true; "
            f"p50 {p(latencies, 50):7.1f} ms, p99 {p99[name]:7.1f} ms"
        )
    back = restarting - started
    during = [s for s in samples if s[0] - started > KILL_AT + 1 and s[0] + s[1] - started < back]
    assert during and not any(s[3] for s in during), (
        "answers completed while Redis was down must not say cached: true"
    )
    non_2xx = sum(1 for s in samples if not 200 <= s[2] < 300)
    ratio = p99["outage"] / p99["before"]
    verdict = "met" if non_2xx == 0 and ratio <= 5 else "NOT met"
    print(f"  non-2xx {non_2xx}; p99 outage / before = {ratio:.1f}× (target ≤ 5×): {verdict}")


if __name__ == "__main__":
    main()
