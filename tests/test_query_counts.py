"""Query counts of every GET list endpoint, against baselines kept in query_counts.json, and
every query filter API.md documents, shown to exist and to filter.

Counts: each endpoint is read with N rows of every kind, then with 3N; the count must not
grow, and must equal the baseline. Rewrite the baselines with

    pytest tests/test_query_counts.py --update-query-counts

The book and live risk are cached: each is measured on a cold cache (a miss, the
computation), as `tests.conftest.queries_of` does.
"""

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from ops.models import PipelineRun
from portfolio.models import (
    AuditRecord,
    BenchmarkRate,
    CapitalFlow,
    FxRate,
    Instrument,
    OfficialNav,
    PortfolioSnapshot,
    Position,
    PositionSnapshot,
    Price,
    Strategy,
    Trade,
)
from risk.models import RiskAlert, RiskLimit, RiskSnapshot, StressScenario
from tests.conftest import queries_of
from trading.models import Signal, TradeProposal

pytestmark = pytest.mark.django_db

BASELINES = Path(__file__).with_name("query_counts.json")
UPDATE_COMMAND = "pytest tests/test_query_counts.py --update-query-counts"
N = 3

# 20 weekdays, Feb 19 to Mar 15, 2024 (TODAY): no B3 holiday among them.
DAYS = [
    day
    for day in (dt.date(2024, 2, 19) + dt.timedelta(days=n) for n in range(26))
    if day.weekday() < 5
]
TODAY = DAYS[-1]
ASSET_CLASSES = ["equity", "rates", "fx", "commodity"]
ACTIONS = ["trade.book", "price.upsert", "position.close"]
ACTORS = ["alice", "bob"]
ALERT_STATUSES = ["open", "acknowledged", "resolved"]
PROPOSAL_STATUSES = ["pending", "approved", "modified", "rejected", "expired"]
PIPELINES = ["eod", "preopen"]


def noon(day: dt.date) -> dt.datetime:
    """Noon UTC (9:00 in São Paulo): the same date in either zone."""
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def symbol(k: int) -> str:
    return f"Q{k:02d}"


def strategy_code(k: int) -> str:
    """The strategy unit k's positions, trades, signals and proposals are in: units share
    them in pairs (0 and 1 in S00, 2 and 3 in S02, …)."""
    return f"S{k - k % 2:02d}"


def is_closed(k: int) -> bool:
    return k % 3 == 2


def seed(first: int, count: int) -> None:
    """`count` units of data, numbered from `first` (seed them in order): each unit is an
    instrument and a strategy with their prices, two FX rates (unit 0 adds USD's of every
    day), a CDI rate, a capital flow, a position with its trades and snapshots, a fund and a risk
    snapshot of one date, an official NAV of that date, a limit with an alert, a scenario, a
    signal with its proposal, audit records and a pipeline run. Bulk writes: no cache
    invalidation, a handful of queries."""
    units = range(first, first + count)
    instruments = Instrument.objects.bulk_create(
        Instrument(
            symbol=symbol(k),
            name=f"Instrument {k}",
            asset_class=ASSET_CLASSES[k % 4],
            currency="USD" if k % 2 else "BRL",
            quote_type="price",
            multiplier=Decimal(50 if k % 2 else 1),
        )
        for k in units
    )
    Strategy.objects.bulk_create(
        Strategy(code=f"S{k:02d}", name=f"Strategy {k}", risk_budget=Decimal(100000)) for k in units
    )
    instrument = {symbol(k): i for k, i in zip(units, instruments, strict=True)}
    strategy = {s.code: s for s in Strategy.objects.all()}
    Price.objects.bulk_create(
        Price(instrument=instrument[symbol(k)], date=day, price=Decimal(100 + k + (7 * i) % 5))
        for k in units
        for i, day in enumerate(DAYS)
    )
    FxRate.objects.bulk_create(
        [FxRate(currency="USD", date=day, rate=Decimal(5)) for day in DAYS if first == 0]
        + [
            FxRate(currency=f"X{chr(65 + k // 26)}{chr(65 + k % 26)}", date=day, rate=Decimal(2))
            for k in units
            for day in DAYS[-2:]
        ]
    )
    BenchmarkRate.objects.bulk_create(
        BenchmarkRate(date=DAYS[k], rate=Decimal("0.0004") + k * Decimal("0.000001")) for k in units
    )
    CapitalFlow.objects.bulk_create(
        CapitalFlow(
            date=DAYS[k % len(DAYS)],
            amount=Decimal(10_000_000 if k == 0 else 100_000 * k),
            note=f"flow {k}",
        )
        for k in units
    )
    opened = {k: DAYS[10 + k % 5] for k in units}
    positions = Position.objects.bulk_create(
        Position(
            instrument=instrument[symbol(k)],
            strategy=strategy[strategy_code(k)],
            quantity=Decimal(0 if is_closed(k) else (-10 if k % 2 else 10)),
            avg_cost=Decimal(100),
            last_price=Decimal(101),
            price_date=DAYS[-2] if is_closed(k) else TODAY,
            fx_rate=Decimal(5 if k % 2 else 1),
            notional_base=Decimal(0 if is_closed(k) else 1010 * (k + 1)),
            market_value_base=Decimal(0),
            unrealized_pnl_base=Decimal(0 if is_closed(k) else 10),
            realized_pnl_base=Decimal(5 if is_closed(k) else 0),
            daily_pnl_base=Decimal(1),
            pnl_date=DAYS[-2] if is_closed(k) else TODAY,
            opened_at=opened[k],
            closed_at=DAYS[-2] if is_closed(k) else None,
        )
        for k in units
    )
    position = dict(zip(units, positions, strict=True))

    def trade(k: int, day: dt.date, quantity: int) -> Trade:
        return Trade(
            instrument=instrument[symbol(k)],
            strategy=strategy[strategy_code(k)],
            position=position[k],
            trade_date=day,
            quantity=Decimal(quantity),
            price=Decimal(100),
            fx_rate=Decimal(5 if k % 2 else 1),
            booked_by="test",
        )

    openings = Trade.objects.bulk_create(trade(k, opened[k], 10) for k in units)
    Trade.objects.bulk_create(trade(k, DAYS[-2], -10) for k in units if is_closed(k))
    PositionSnapshot.objects.bulk_create(
        PositionSnapshot(
            date=day,
            instrument=instrument[symbol(k)],
            strategy=strategy[strategy_code(k)],
            position=position[k],
            quantity=Decimal(10),
            avg_cost=Decimal(100),
            price=Decimal(101),
            price_date=day,
            fx_rate=Decimal(1),
        )
        for k in units
        for day in DAYS[-3:]
    )
    PortfolioSnapshot.objects.bulk_create(
        PortfolioSnapshot(
            date=DAYS[k],
            nav=Decimal(10_000_000 + k),
            pnl=Decimal(k),
            daily_return=Decimal("0.0001"),
            positions=k,
        )
        for k in units
    )
    OfficialNav.objects.bulk_create(
        OfficialNav(
            date=DAYS[k],
            nav=Decimal(10_000_000 + k * (k % 2)),  # the odd units' days break
            quota=Decimal(1),
            units=Decimal(10_000_000),
        )
        for k in units
    )
    RiskSnapshot.objects.bulk_create(
        RiskSnapshot(
            date=DAYS[k],
            nav=Decimal(10_000_000 + k),
            window=250,
            exposures={},
            dv01_by_currency={},
            limits=[],
        )
        for k in units
    )
    limits = RiskLimit.objects.bulk_create(
        RiskLimit(
            name=f"L{k:02d}",
            metric=["dv01", "gross_leverage", "var_95", "daily_loss"][k % 4],
            limit=Decimal(1000),
            is_active=k % 4 != 3,
        )
        for k in units
    )
    RiskAlert.objects.bulk_create(
        RiskAlert(
            limit=limit,
            date=DAYS[-1 - k % 3],
            status=ALERT_STATUSES[k % 3],
            value=Decimal(2000),
            utilization=Decimal(2),
        )
        for k, limit in zip(units, limits, strict=True)
    )
    StressScenario.objects.bulk_create(
        StressScenario(
            name=f"SC{k:02d}",
            shocks=[{"target_type": "asset_class", "target": "equity", "shock": "-0.1"}],
        )
        for k in units
    )
    signals = Signal.objects.bulk_create(
        Signal(
            instrument=instrument[symbol(k)],
            strategy=strategy[strategy_code(k)],
            date=DAYS[-1 - k % 2],
            score=Decimal("0.5"),
        )
        for k in units
    )
    TradeProposal.objects.bulk_create(
        TradeProposal(
            date=signal.date,
            instrument=signal.instrument,
            strategy=signal.strategy,
            signal=signal,
            quantity=Decimal(10),
            score=signal.score,
            rationale={},
            what_if={},
            status=PROPOSAL_STATUSES[k % 5],
            trade=opening if PROPOSAL_STATUSES[k % 5] in ("approved", "modified") else None,
        )
        for k, signal, opening in zip(units, signals, openings, strict=True)
    )
    AuditRecord.objects.bulk_create(
        AuditRecord(
            at=noon(DAYS[k]) + dt.timedelta(minutes=minute),
            actor=ACTORS[(k + minute) % 2],
            action=ACTIONS[(k + minute) % 3],
            object_type="Instrument",
            object_id=symbol(k),
        )
        for k in units
        for minute in (0, 1)
    )
    PipelineRun.objects.bulk_create(
        PipelineRun(
            pipeline=PIPELINES[k % 2],
            business_date=DAYS[-1 - k // 2],
            status="succeeded" if k % 3 else "failed",
            steps=[
                {"name": "prices", "status": "succeeded", "attempts": 1},
                {"name": "mark", "status": "succeeded", "attempts": 1},
            ],
            trigger="schedule",
            requested_by="scheduler",
            requested_at=noon(DAYS[-1 - k // 2]) + dt.timedelta(minutes=k % 2),
        )
        for k in units
    )


@pytest.fixture
def viewer(api_client_for: Callable[[str | None], APIClient], settings: Any) -> APIClient:
    """A reader whose token this process trusts for the whole test: no token lookup in a
    measured request, however long the test takes."""
    settings.PMS_AUTH_CACHE_SECONDS = 3600
    return api_client_for("viewer")


# --- Query counts ------------------------------------------------------------------------

# Every GET list of the API (and the book and live risk, computed on a cold cache).
ENDPOINTS = [
    "/api/instruments/",
    "/api/strategies/",
    "/api/prices/",
    "/api/fx-rates/",
    "/api/benchmark-rates/",
    "/api/capital-flows/",
    "/api/positions/",
    "/api/trades/",
    "/api/audit/",
    "/api/nav/",
    "/api/nav/reconciliation/",
    "/api/official-nav/",
    "/api/position-snapshots/",
    "/api/book/",
    "/api/risk/live/",
    "/api/risk/snapshots/",
    "/api/risk/limits/",
    "/api/risk/alerts/",
    "/api/risk/scenarios/",
    "/api/signals/",
    "/api/proposals/",
    "/api/pipelines/runs/",
]


def key_of(path: str) -> str:
    return f"GET {path}"


def read_baselines() -> dict[str, int]:
    if not BASELINES.exists():
        return {}
    baselines: dict[str, int] = json.loads(BASELINES.read_text())
    return baselines


def write_baseline(key: str, count: int) -> None:
    """Record one count; entries of endpoints no longer measured are dropped."""
    known = {key_of(path) for path in ENDPOINTS}
    baselines = {k: v for k, v in read_baselines().items() if k in known}
    baselines[key] = count
    BASELINES.write_text(json.dumps(baselines, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def update_query_counts(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-query-counts"))


@pytest.mark.parametrize("path", ENDPOINTS)
def test_query_count(path: str, viewer: APIClient, update_query_counts: bool) -> None:
    def measure() -> tuple[int, int]:
        """(queries, rows answered: of the page, the book's positions, or the strategies
        live risk breaks the exposures down by)."""
        count, answer = queries_of(viewer, path)
        assert answer.status_code == 200, answer.content[:500]
        body = answer.json()
        if "cached" in body:  # the book and live risk: measured computing, not from the cache
            assert body["cached"] is False
        if path == "/api/risk/live/":
            return count, len(body["exposures"]["by_strategy"])
        return count, len(body["results"] if "results" in body else body["positions"])

    seed(0, N)
    few, few_rows = measure()
    seed(N, 2 * N)
    many, many_rows = measure()
    assert many_rows > few_rows > 0, "more rows must be read the second time"
    assert many == few, (
        f"GET {path}: {few} queries with {N} units of data ({few_rows} rows), "
        f"{many} with {3 * N} ({many_rows} rows)"
    )
    key = key_of(path)
    if update_query_counts:
        write_baseline(key, many)
        return
    baselines = read_baselines()
    assert key in baselines, (
        f"No baseline for {key!r} in {BASELINES.name} (it makes {many} queries): "
        f"run `{UPDATE_COMMAND}`"
    )
    assert many == baselines[key], (
        f"{key} makes {many} queries, its baseline is {baselines[key]}: fix the regression, "
        f"or if the change is meant, run `{UPDATE_COMMAND}`"
    )


def test_baselines_are_exactly_the_endpoints_measured(update_query_counts: bool) -> None:
    if update_query_counts:
        pytest.skip("the baselines are being rewritten")
    baselines = read_baselines()
    assert sorted(baselines) == sorted(key_of(path) for path in ENDPOINTS), (
        f"{BASELINES.name} lists other endpoints than those measured: run `{UPDATE_COMMAND}`"
    )
    assert list(baselines) == sorted(baselines), f"{BASELINES.name}: keys not sorted"


# --- Filters -----------------------------------------------------------------------------

Row = dict[str, Any]
START, END = DAYS[12], DAYS[13]


def on_or_after(field: str, day: dt.date) -> Callable[[Row], bool]:
    return lambda row: dt.date.fromisoformat(row[field][:10]) >= day


def on_or_before(field: str, day: dt.date) -> Callable[[Row], bool]:
    return lambda row: dt.date.fromisoformat(row[field][:10]) <= day


def equals(field: str, value: str) -> Callable[[Row], bool]:
    return lambda row: row[field] == value


# Each filter API.md documents, one case per documented value: (path, parameter, value,
# which rows it selects, what identifies a row). Audit times are at noon UTC, so their
# date is the same in UTC and in São Paulo.
by_id: Callable[[Row], Any] = lambda row: row["id"]  # noqa: E731
by_date: Callable[[Row], Any] = lambda row: row["date"]  # noqa: E731
FILTERS: list[tuple[str, str, str, Callable[[Row], bool], Callable[[Row], Any]]] = [
    *[
        ("/api/prices/", "instrument", symbol(1), equals("instrument", symbol(1)), by_date),
        ("/api/prices/", "start", str(START), on_or_after("date", START), by_date),
        ("/api/prices/", "end", str(END), on_or_before("date", END), by_date),
    ],
    *[
        ("/api/positions/", "status", status, equals("status", status), by_id)
        for status in ("open", "closed")
    ],
    ("/api/positions/", "strategy", "S02", equals("strategy", "S02"), by_id),
    ("/api/positions/", "instrument", symbol(1), equals("instrument", symbol(1)), by_id),
    ("/api/trades/", "instrument", symbol(2), equals("instrument", symbol(2)), by_id),
    ("/api/trades/", "strategy", "S02", equals("strategy", "S02"), by_id),
    ("/api/trades/", "start", str(START), on_or_after("trade_date", START), by_id),
    ("/api/trades/", "end", str(END), on_or_before("trade_date", END), by_id),
    *[
        ("/api/proposals/", "status", status, equals("status", status), by_id)
        for status in PROPOSAL_STATUSES
    ],
    ("/api/proposals/", "date", str(TODAY), equals("date", str(TODAY)), by_id),
    ("/api/audit/", "action", ACTIONS[1], equals("action", ACTIONS[1]), by_id),
    ("/api/audit/", "actor", ACTORS[1], equals("actor", ACTORS[1]), by_id),
    ("/api/audit/", "start", str(DAYS[4]), on_or_after("at", DAYS[4]), by_id),
    ("/api/audit/", "end", str(DAYS[4]), on_or_before("at", DAYS[4]), by_id),
    ("/api/risk/snapshots/", "start", str(DAYS[4]), on_or_after("date", DAYS[4]), by_date),
    ("/api/risk/snapshots/", "end", str(DAYS[4]), on_or_before("date", DAYS[4]), by_date),
    *[
        ("/api/risk/alerts/", "status", status, equals("status", status), by_id)
        for status in ALERT_STATUSES
    ],
    ("/api/nav/", "start", str(DAYS[4]), on_or_after("date", DAYS[4]), by_date),
    ("/api/nav/", "end", str(DAYS[4]), on_or_before("date", DAYS[4]), by_date),
    *[
        (path, "start", str(DAYS[4]), on_or_after("date", DAYS[4]), by_date)
        for path in ("/api/nav/reconciliation/", "/api/official-nav/")
    ],
    *[
        (path, "end", str(DAYS[4]), on_or_before("date", DAYS[4]), by_date)
        for path in ("/api/nav/reconciliation/", "/api/official-nav/")
    ],
    *[
        ("/api/pipelines/runs/", "pipeline", name, equals("pipeline", name), by_id)
        for name in PIPELINES
    ],
]

_schema: dict[str, Any] = {}


def schema_parameters(client: APIClient, path: str) -> set[str]:
    """The query parameters the OpenAPI schema documents for GET `path`."""
    if not _schema:
        answer = client.get("/api/schema/", {"format": "json"})
        assert answer.status_code == 200
        _schema.update(answer.json())
    operation = _schema["paths"][path]["get"]
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}


def rows_of(client: APIClient, path: str, params: dict[str, str]) -> list[Row]:
    answer = client.get(path, {**params, "limit": "1000"})
    assert answer.status_code == 200, (path, params, answer.content[:500])
    body = answer.json()
    assert body["next"] is None and body["count"] == len(body["results"])
    results: list[Row] = body["results"]
    return results


@pytest.mark.parametrize(
    ("path", "parameter", "value", "selects", "key"),
    FILTERS,
    ids=[f"{path}?{parameter}={value}" for path, parameter, value, _, _ in FILTERS],
)
def test_documented_filter(
    path: str,
    parameter: str,
    value: str,
    selects: Callable[[Row], bool],
    key: Callable[[Row], Any],
    viewer: APIClient,
) -> None:
    assert parameter in schema_parameters(viewer, path), (
        f"GET {path}: ?{parameter}= is documented in API.md but not in the schema"
    )
    seed(0, 3 * N)
    everything = rows_of(viewer, path, {})
    expected = [key(row) for row in everything if selects(row)]
    assert 0 < len(expected) < len(everything), "the data must make this a strict subset"
    filtered = [key(row) for row in rows_of(viewer, path, {parameter: value})]
    assert filtered == expected, f"GET {path}?{parameter}={value}"
