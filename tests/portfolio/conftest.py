"""API clients of the book's tests, one per group that uses the book's endpoints."""

import pytest


@pytest.fixture
def ops(api_client_for):
    return api_client_for("ops")


@pytest.fixture
def pm(api_client_for):
    return api_client_for("pm")


@pytest.fixture
def viewer(api_client_for):
    return api_client_for("viewer")
