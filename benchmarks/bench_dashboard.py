"""The admin's fund dashboard on the 1,000-position demo (`load_demo --positions 1000`):
server time of `GET /admin/` as the PM, warm (the book, live risk and attribution read
from the cache) and with the cache bypassed, and its queries. Run through
benchmarks/run.sh."""

import statistics
import time
from io import StringIO

from common import CACHED, PASSWORD, UNCACHED, cache_bypassed
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from pms_site import cache as read_cache

POSITIONS = 1000
REPEAT = 30


def times(client: Client, repeat: int) -> list[float]:
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        page = client.get("/admin/")
        seconds.append(time.perf_counter() - start)
        assert page.status_code == 200 and b'id="kpi-nav"' in page.content, page.status_code
    return sorted(seconds)


def main() -> None:
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(f"load_demo --positions {POSITIONS} …")
    call_command("load_demo", positions=POSITIONS, password=PASSWORD, stdout=StringIO())
    client = Client()
    client.force_login(User.objects.get(username="pm"))
    client.get("/admin/")  # warms the data sets the dashboard reads

    book = read_cache.read("book")
    assert b'"cached":true' in book.content, "the book is not cached: the warm figure would lie"
    warm = times(client, REPEAT)
    with CaptureQueriesContext(connection) as queries:
        client.get("/admin/")
    with cache_bypassed():
        assert b'"cached":false' in read_cache.read("book").content
        cold = times(client, 5)
    for label, seconds in ((f"warm, {CACHED}", warm), (UNCACHED, cold)):
        p95 = seconds[int(len(seconds) * 0.95) - 1] if len(seconds) >= 20 else seconds[-1]
        print(
            f"GET /admin/ (dashboard, {POSITIONS:,} positions), {label}: "
            f"median {statistics.median(seconds) * 1000:6.1f} ms, "
            f"{'p95' if len(seconds) >= 20 else 'max'} {p95 * 1000:6.1f} ms "
            f"({len(seconds)} requests)"
        )
    print(f"queries of a warm dashboard: {len(queries)}")


if __name__ == "__main__":
    main()
