"""The fund's NAV over five years: its timeline built with its accounts (terms, the CDI of
every day, flows in amount and in units) for 20 positions, then `GET /api/nav/` over the
five years, a page of 100 days and the largest page (1,000 days), through the API with a
token. Run through benchmarks/run.sh."""

import datetime as dt
import time
from decimal import Decimal
from functools import partial
from itertools import pairwise

import numpy as np
from common import timed
from django.contrib.auth.models import User
from django.db import connection
from knox.models import AuthToken
from rest_framework.test import APIClient

from core.calendar import business_days_ending
from portfolio import services
from portfolio.models import BenchmarkRate, Instrument, PortfolioSnapshot, Price, Strategy

AS_OF = dt.date(2024, 12, 2)
YEARS = 5
INSTRUMENTS = 20


def load_fund(days: list[dt.date]) -> None:
    """20 instruments on a random walk, one position each, the terms from the start, a
    CDI of 0.045% a day, a subscription in amount at launch, one in units and a
    redemption later."""
    rng = np.random.default_rng(7)
    instruments = Instrument.objects.bulk_create(
        Instrument(symbol=f"N{n:02d}", name=f"N{n}", asset_class="equity", currency="BRL")
        for n in range(INSTRUMENTS)
    )
    paths = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (len(days), INSTRUMENTS)), axis=0))
    Price.objects.bulk_create(
        Price(instrument=instrument, date=day, price=Decimal(f"{paths[k, n]:.4f}"))
        for n, instrument in enumerate(instruments)
        for k, day in enumerate(days)
    )
    BenchmarkRate.objects.bulk_create(
        BenchmarkRate(date=day, rate=Decimal("0.00045")) for day in days
    )
    Strategy.objects.create(code="MACRO", name="Macro", risk_budget=Decimal("1e6"))
    services.fund_terms_change(
        effective_from=days[0],
        actor="bench",
        management_fee=Decimal("0.02"),
        performance_fee=Decimal("0.20"),
    )
    services.capital_flow_create(date=days[0], amount=Decimal("1e8"), actor="bench")
    services.capital_flow_create(date=days[500], units=Decimal("1e7"), actor="bench")
    services.capital_flow_create(date=days[900], amount=Decimal("-2e7"), actor="bench")
    services.trades_book(
        requests=[
            services.TradeRequest(
                i.symbol, "MACRO", Decimal(100 * (n + 1)), Decimal(f"{paths[0, n]:.4f}"), days[0]
            )
            for n, i in enumerate(instruments)
        ],
        actor="bench",
        source="api",
    )


def main() -> None:
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    days = business_days_ending(AS_OF, YEARS * 252)
    load_fund(days)
    started = time.perf_counter()
    services.snapshots_build(start=days[0], end=days[-1], actor="bench")
    print(
        f"timeline of {len(days):,} days with its accounts: {time.perf_counter() - started:.1f} s"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    user = User.objects.create_superuser("bench", password="bench-password-1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    span = f"start={days[0]}&end={days[-1]}"
    for limit in (100, 1000):
        url = f"/api/nav/?{span}&limit={limit}"
        body = client.get(url).json()
        assert body["count"] == len(days) == PortfolioSnapshot.objects.count(), body["count"]
        rows = body["results"]
        assert len(rows) == limit and all(row["quota"] and row["units"] for row in rows)
        for before, row in pairwise(rows):  # NAV_t = NAV_t−1 + flow + pnl
            assert Decimal(row["nav"]) == Decimal(before["nav"]) + Decimal(row["flow"]) + Decimal(
                row["pnl"]
            )
        seconds = timed(partial(client.get, url), repeat=11)
        print(
            f"GET /api/nav/ over {YEARS} years ({len(days):,} days), a page of {limit:,}: "
            f"{seconds * 1000:6.1f} ms (median of 11; target ≤ 50 ms)"
        )


if __name__ == "__main__":
    main()
