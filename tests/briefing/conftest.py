"""The attribution fixture fund (see tests/attribution/conftest.py), with its snapshots
built, a risk snapshot, an open alert, a pending proposal and a CDI of 0.04% a day from
March 1: a pack with known figures."""

import datetime as dt
from decimal import Decimal

import pytest

from core.calendar import business_days
from portfolio import services
from portfolio.models import BenchmarkRate, Instrument, Strategy
from risk.models import RiskAlert, RiskLimit, RiskSnapshot
from tests.attribution.conftest import D0, D3, fund  # noqa: F401 — the fixture, reused
from trading.models import Signal, TradeProposal

PACK_DATE = dt.date(2024, 3, 18)  # Monday: the pack reads Friday D3's close
CDI = Decimal("0.0004")


@pytest.fixture
def briefed(fund: None) -> None:  # noqa: F811
    services.snapshots_build(start=D0, end=D3, actor="test")
    BenchmarkRate.objects.bulk_create(
        BenchmarkRate(date=day, rate=CDI) for day in business_days(dt.date(2024, 3, 1), D3)
    )
    gross = RiskLimit.objects.create(name="Gross", metric="gross_leverage", limit=Decimal("0.2"))
    RiskSnapshot.objects.create(
        date=D3,
        nav=Decimal("11065200.00"),
        window=250,
        var_95=Decimal("41000.00"),
        var_99=Decimal("58000.00"),
        es_95=Decimal("52000.00"),
        es_99=Decimal("66000.00"),
        exposures={},
        dv01_by_currency={},
        limits=[
            {
                "id": gross.pk,
                "name": "Gross",
                "metric": "gross_leverage",
                "scope": "fund",
                "limit": "0.200000",
                "value": "0.208104",
                "utilization": "1.040520",
                "status": "breach",
            }
        ],
    )
    RiskAlert.objects.create(
        limit=gross, date=D3, value=Decimal("0.208104"), utilization=Decimal("1.040520")
    )
    spx, macro = Instrument.objects.get(symbol="ESH4"), Strategy.objects.get(code="MACRO")
    signal = Signal.objects.create(instrument=spx, strategy=macro, date=D3, score=Decimal("-0.4"))
    limit_row = {"name": "Gross", "status": "breach", "limit": "0.2", "value": "0.3"}
    TradeProposal.objects.create(
        date=D3,
        instrument=spx,
        strategy=macro,
        signal=signal,
        quantity=Decimal("-3"),
        score=Decimal("-0.4"),
        rationale={},
        what_if={
            "var_95_before": "41000.00",
            "var_95_after": "45500.00",
            "limits_before": [{**limit_row, "status": "ok"}],
            "limits_after": [limit_row],
        },
    )
