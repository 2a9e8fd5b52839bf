"""The API against its own OpenAPI schema, fuzzed by schemathesis on every operation (its
examples, coverage and fuzzing phases) and along the schema's links (its stateful phase):
as a superuser, and as a viewer, on the risk tests' book. Every check schemathesis has —
no server error, statuses, content types, headers and bodies as documented, input the
schema calls invalid refused and input it calls valid accepted, methods and auth — and
nothing written by the viewer.

One allowance, said here rather than hidden: a request the schema calls valid may still be
refused (400) by a rule of the fund's state that no JSON Schema can state — a reference to
an instrument, strategy or limit that does not exist, a name already taken, a weekend or
holiday, a date after today or before the inception, a price outside the band without
`confirm`. POSITIVE_REFUSALS lists those answers; any other refusal of valid input fails.
"""

import os
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import PositiveDataAcceptanceConfig
from schemathesis.generation.modes import GenerationMode

from portfolio.models import AuditRecord, CapitalFlow, Instrument, Position, Price, Trade
from risk.models import RiskLimit, StressScenario
from trading.models import Signal, TradeProposal

load_all_checks()
ALL_CHECKS = list(CHECKS.get_all())
# See the module's docstring: what valid input may get besides an acceptance.
POSITIVE_REFUSALS = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
# Per operation and user: every operation is fuzzed in each run; more examples, and a random
# seed, with PMS_FUZZ_EXAMPLES=200 when hunting.
EXAMPLES = int(os.environ.get("PMS_FUZZ_EXAMPLES", "4"))
DERANDOMIZE = "PMS_FUZZ_EXAMPLES" not in os.environ
pytestmark = pytest.mark.slow
WRITTEN = (AuditRecord, CapitalFlow, Instrument, Position, Price, Trade, RiskLimit, Signal)


def rows() -> list[int]:
    """The rows of each model a write could change."""
    return [model.objects.count() for model in (*WRITTEN, StressScenario, TradeProposal)]


def token_of(api_client_for: Any, group: str) -> str:
    """A new token of the user of `group` (knox keeps only its digest)."""
    return api_client_for(group)._credentials["HTTP_AUTHORIZATION"].removeprefix("Token ")


@pytest.fixture
def keep_the_test_connection() -> Any:
    """As Django's test client does: the WSGI handler must not close the connection that
    holds the test's transaction (it closes connections at each request's start)."""
    signals = (request_started, request_finished)
    for signal in signals:
        signal.disconnect(close_old_connections)
    yield
    for signal in signals:
        signal.connect(close_old_connections)


@pytest.fixture
def api_schema(
    book: Any,
    api_client_for: Any,
    settings: Any,
    keep_the_test_connection: None,
) -> Any:
    settings.PMS_RISK_WINDOW = 20
    token = token_of(api_client_for, "superuser")
    loaded = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json",
        get_wsgi_application(),
        headers={"Authorization": f"Token {token}"},
    )
    loaded.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
        expected_statuses=POSITIVE_REFUSALS
    )
    if DERANDOMIZE:  # CI's bound: the coverage phase probes one method each path lacks,
        # and the edges of what the schema refuses (the fuzzing phase sends valid input)
        loaded.config.phases.coverage.unexpected_methods = {"PUT"}
        loaded.config.phases.coverage.generation.modes = [GenerationMode.NEGATIVE]
    return loaded


@pytest.fixture
def api_schema_of_the_viewer(api_schema: Any) -> Any:
    """The viewer's run is about rights (it writes nothing): the fuzzing phase only, which
    keeps CI's bound; the superuser's runs every phase."""
    api_schema.config.phases.coverage.enabled = False
    return api_schema


schema = schemathesis.pytest.from_fixture("api_schema")
viewer_schema = schemathesis.pytest.from_fixture("api_schema_of_the_viewer")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_as_a_superuser(case: Any, api_client_for: Any) -> None:
    token = token_of(api_client_for, "superuser")
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=ALL_CHECKS)


@viewer_schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_as_a_viewer_writes_nothing(case: Any, api_client_for: Any) -> None:
    token = token_of(api_client_for, "viewer")
    writes = case.method.upper() not in ("GET", "HEAD", "OPTIONS")
    before = rows() if writes else []  # counted for the writes only, which compare them
    response = case.call_and_validate(
        headers={"Authorization": f"Token {token}"}, checks=ALL_CHECKS
    )
    if writes:
        # A viewer's write is refused (403), or refused earlier as malformed (400, 404,
        # 405, 415, 429); never accepted. A stress (it writes nothing) and a login may answer.
        allowed = {400, 403, 404, 405, 415, 429}
        if case.path in ("/api/risk/stress/", "/api/auth/token/"):
            allowed.add(200)
        assert response.status_code in allowed, (case.path, response.status_code)
        assert rows() == before


def run_the_links(api_schema: Any, token: str, *, after_each: Any = None) -> None:
    """schemathesis's stateful phase: chains of calls along the schema's links (a created
    position to its detail and its close, a proposal to its decisions, a limit to its
    PATCH and DELETE…), every check on every answer."""
    headers = {"Authorization": f"Token {token}"}

    class Links(api_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(
                response, checks=ALL_CHECKS, headers=headers, recorder=self.recorder
            )
            if after_each:
                after_each(case, response)

    Links.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=5,
            deadline=None,
            derandomize=DERANDOMIZE,
            suppress_health_check=list(HealthCheck),
        )
    )


def test_the_links_as_a_superuser(api_schema: Any, api_client_for: Any) -> None:
    run_the_links(api_schema, token_of(api_client_for, "superuser"))


def test_the_links_as_a_viewer_write_nothing(api_schema: Any, api_client_for: Any) -> None:
    before = rows()

    def refused_if_a_write(case: Any, response: Any) -> None:
        if case.method.upper() not in ("GET", "HEAD", "OPTIONS"):
            assert response.status_code in {400, 403, 404, 405, 415, 429} or case.path in (
                "/api/risk/stress/",
                "/api/auth/token/",
            ), (case.path, response.status_code)

    run_the_links(api_schema, token_of(api_client_for, "viewer"), after_each=refused_if_a_write)
    assert rows() == before
