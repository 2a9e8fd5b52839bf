"""factory_boy factories for the domain models."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User
from django.test import Client

from portfolio.models import FxRate, Instrument, Price, Strategy

# A password Django's validators accept (every path that sets one runs them).
PASSWORD = "a-test-passphrase-7Kq"


def desk(group: str) -> Client:
    """A browser logged in as a staff user of `group`, named after it (so its actor)."""
    user = User.objects.create_user(group, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(user)
    return client


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"INST{n:04d}")
    name = factory.LazyAttribute(lambda o: f"{o.symbol} instrument")
    asset_class = "equity"
    currency = "BRL"
    quote_type = "price"
    multiplier = Decimal("1")
    dv01 = Decimal("0")
    lot_size = Decimal("1")


class Di1Factory(InstrumentFactory):
    """A DI1 future as B3 settles it (`pricing = di1`): a BRL rate of the DI1 chain, one
    BRL per point of its unit price; `maturity` is required."""

    asset_class = "rates"
    quote_type = "yield"
    pricing = "di1"
    root = "DI1"


class StrategyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Strategy
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"STRAT{n:03d}")
    name = factory.LazyAttribute(lambda o: f"{o.code} strategy")
    risk_budget = Decimal("1000000")
    min_trade_fraction = Decimal("0.1")


class PriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Price

    instrument = factory.SubFactory(InstrumentFactory)
    date = dt.date(2024, 3, 15)
    price = Decimal("100")


class FxRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FxRate

    currency = "USD"
    date = dt.date(2024, 3, 15)
    rate = Decimal("5")
