"""The schema and the API agree on the inputs the fuzzer found them disagreeing on: each
value is checked against the schema's own component (jsonschema) and sent to the API,
and both accept it or both refuse it (400 naming the field)."""

import random
import re
from decimal import Decimal
from typing import Any

import jsonschema_rs
import pytest

from core.inputs import decimal_pattern
from portfolio.models import Position, Trade

BOOKING = {"instrument": "INDJ24", "strategy": "MACRO", "quantity": "1", "price": "101500"}


@pytest.fixture
def components(api_client_for: Any) -> dict[str, Any]:
    answer = api_client_for("viewer").get("/api/schema/", {"format": "json"})
    return answer.json()["components"]["schemas"]


def schema_accepts(components: dict[str, Any], name: str, body: dict[str, Any]) -> bool:
    schema = {**components[name], "components": {"schemas": components}}  # for its $refs
    return bool(jsonschema_rs.Draft4Validator(schema).is_valid(body))


@pytest.mark.parametrize(
    "field, value, accepted",
    [
        ("price", "", False),  # the case: "" matched the old pattern
        ("price", "-", False),
        ("price", "0", False),  # a price is positive
        ("price", "1e5", False),  # a plain decimal, no exponent
        ("price", " 101500", False),
        ("price", "0101500", False),
        ("price", "101500.123456789", False),  # 8 places at most
        ("price", "1000000001", False),  # PRICE_MAX
        ("price", True, False),
        ("price", 101500, True),  # a number (API.md: "strings or numbers")
        ("price", 101500.5, True),
        ("price", "101500.50", True),
        ("quantity", "0", False),  # a trade's quantity is never zero
        ("quantity", "-2", True),
        ("quantity", -2.5, True),
        ("note", 7, False),  # a number is not text
        ("note", "a\x00b", False),
        ("confirm", "true", False),  # a boolean is true or false, not text
    ],
)
def test_a_booking_is_accepted_by_both_or_refused_by_both(
    book: Any, components: Any, api_client_for: Any, field: str, value: Any, accepted: bool
) -> None:
    body = {**BOOKING, "confirm": True, field: value}
    assert schema_accepts(components, "PositionOpenRequest", body) is accepted
    trades = Trade.objects.count()
    answer = api_client_for("pm").post("/api/positions/", body, format="json")
    if accepted:
        assert answer.status_code == 201, answer.json()
        assert Trade.objects.count() == trades + 1
    else:
        assert answer.status_code == 400 and field in answer.json(), answer.json()
        assert Trade.objects.count() == trades


def test_an_approval_at_a_blank_price_is_refused_by_both(
    book: Any, components: Any, api_client_for: Any
) -> None:
    assert not schema_accepts(components, "ApproveRequest", {"price": ""})
    answer = api_client_for("pm").post("/api/proposals/1/approve/", {"price": ""}, format="json")
    assert answer.status_code == 400 and answer.json() == {"price": ["A valid number is required."]}


def test_a_rejection_needs_a_reason_in_words(book: Any, components: Any) -> None:
    for reason in (0, "", "   "):
        assert not schema_accepts(components, "RejectRequest", {"reason": reason}), reason


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("offset=-1", "offset"),
        ("offset=null&offset=null", "offset"),
        ("status=", "status"),
        ("strategy=MACRO&strategy=MACRO", "strategy"),
        ("instrument=", "instrument"),
    ],
)
def test_list_parameters_the_schema_refuses_are_a_400(
    book: Any, api_client_for: Any, query: str, field: str
) -> None:
    answer = api_client_for("viewer").get(f"/api/positions/?{query}")
    assert answer.status_code == 400 and field in answer.json(), answer.json()


def test_list_parameters_within_their_bounds_are_served(book: Any, api_client_for: Any) -> None:
    answer = api_client_for("viewer").get("/api/positions/?limit=1000&offset=0&status=open")
    assert answer.status_code == 200
    assert answer.json()["count"] == Position.objects.filter(closed_at__isnull=True).count()


def test_an_empty_or_repeated_query_parameter_of_a_computed_read_is_a_400(
    book: Any, api_client_for: Any
) -> None:
    viewer = api_client_for("viewer")
    for query, field in (("by=", "by"), ("confidence=0.99&confidence=0.95", "confidence")):
        answer = viewer.get(f"/api/risk/decomposition/?{query}")
        assert answer.status_code == 400 and field in answer.json(), (query, answer.json())


@pytest.mark.parametrize(
    "places, whole, bound, signed",
    [(8, 16, Decimal(10**9), False), (6, 18, Decimal(10**12), True), (12, 2, Decimal("0.1"), True)],
)
def test_the_decimal_pattern_is_the_bound_and_the_places(places, whole, bound, signed):
    """Against Decimal's own comparison, on numbers around the bound and at random."""
    pattern = re.compile(
        decimal_pattern(places=places, whole_digits=whole, bound=bound, signed=signed)
    )
    rng = random.Random(7)
    step = Decimal(10) ** -places
    texts = [f"{bound:f}", f"{bound + step:f}", f"{bound - step:f}", "0", "-1", "00", ".5", "5."]
    for _ in range(3000):
        digits = rng.randint(0, whole)
        text = str(rng.randint(0, 10**digits))
        fraction = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, places + 1)))
        texts.append(
            ("-" if rng.random() < 0.3 else "") + text + (f".{fraction}" if fraction else "")
        )
    for text in texts:
        plain = re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?", text)
        fits = bool(plain) and len(text.partition(".")[2]) <= places and abs(Decimal(text)) <= bound
        assert bool(pattern.match(text)) == (fits and (signed or not text.startswith("-"))), text
