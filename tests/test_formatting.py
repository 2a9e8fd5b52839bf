"""How a person reads the fund's numbers (core/formatting.py): a price to its instrument's
places without trailing zeros, a yield in percent; and the lists that show them."""

from decimal import Decimal as D
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from core.formatting import money, price, price_places, quota
from portfolio.models import Instrument, Price
from tests.conftest import TODAY
from tests.factories import PASSWORD


def instrument(quote_type: str, asset_class: str) -> SimpleNamespace:
    return SimpleNamespace(quote_type=quote_type, asset_class=asset_class)


@pytest.mark.parametrize(
    ("quote_type", "asset_class", "value", "shown"),
    [
        # Any other price: 2 places (a feed's 74,548.313881 → 74,548.31).
        ("price", "equity", "74548.313881", "74,548.31"),
        ("price", "equity", "104520.788900", "104,520.79"),
        ("price", "commodity", "77.500000", "77.5"),  # no trailing zero
        ("price", "equity", "102000.000000", "102,000"),
        # An exchange rate: 4 places.
        ("price", "fx", "5.636606194", "5.6366"),
        ("price", "fx", "142.92500", "142.925"),
        # A yield: 3 places, in percent (B3 quotes a DI1's rate so).
        ("yield", "rates", "14.2437", "14.244%"),
        ("yield", "rates", "10.50", "10.5%"),
    ],
)
def test_a_price_reads_to_its_instruments_places(quote_type, asset_class, value, shown):
    assert price(D(value), instrument(quote_type, asset_class)) == shown


def test_an_average_cost_has_two_places_more_and_nothing_is_a_dash():
    equity = instrument("price", "equity")
    assert price_places(equity) == 2
    assert price(D("101.44099664"), equity, extra_places=2) == "101.441"
    assert price(None, equity) == "—"


def test_money_has_separators_and_cents_and_a_quota_eight_places():
    assert money(D("10000000")) == "10,000,000.00"
    assert money(D("-1234.5")) == "-1,234.50"
    assert quota(D("1.0132835")) == "1.01328350"


def test_the_prices_list_shows_each_close_to_its_places(ibov: Instrument, di1: Instrument):
    Price.objects.create(instrument=ibov, date=TODAY, price=D("74548.313881"))
    Price.objects.create(instrument=di1, date=TODAY, price=D("14.243700"))
    user = User.objects.create_user("ops-user", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="ops"))
    client = Client()
    client.force_login(user)
    page = client.get("/admin/portfolio/price/").content.decode()
    assert '<span class="num">74,548.31</span>' in page
    assert '<span class="num">14.244%</span>' in page
    assert "74,548.313881" not in page and "14.2437" not in page
