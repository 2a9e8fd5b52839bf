"""/health/ and /metrics on a fund of 10,000 positions (1,000 instruments × 10 strategies,
a year of prices), on PostgreSQL + Redis: the time of one answer (median and 99th
percentile of many) and its database queries. Run through benchmarks/run.sh."""

import io
import statistics
import time
from decimal import Decimal
from typing import Any

from bench_pipelines import book_every_instrument
from bench_risk import AS_OF, load_market
from django.core.management import call_command
from django.db import connection
from django.test import Client

from ops import health


def measure(client: Client, url: str, calls: int) -> None:
    client.get(url)  # connections opened, code paths warm
    queries: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        assert client.get(url).status_code == 200
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - started)
    times.sort()
    print(
        f"  GET {url:<9} p50 {statistics.median(times) * 1000:6.2f} ms   "
        f"p99 {times[int(calls * 0.99)] * 1000:6.2f} ms   {len(queries)} queries"
    )


def main() -> None:
    print("loading 1,000 instruments × 261 days and 10,000 positions …", flush=True)
    book_every_instrument(load_market(), 10, AS_OF, capital=Decimal("5e9"))
    call_command("setup_schedules", stdout=io.StringIO())
    health.heartbeat()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    client = Client()
    measure(client, "/health/", 1000)
    measure(client, "/metrics", 200)


if __name__ == "__main__":
    main()
