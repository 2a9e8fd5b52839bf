"""What only PostgreSQL shows: two acknowledges of one alert at once take effect once."""

from decimal import Decimal
from typing import Any

import pytest

from portfolio.models import AuditRecord
from risk.models import RiskAlert, RiskLimit
from tests.concurrency import statuses_at_once
from tests.conftest import TODAY

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("clients", [2, 4])
@pytest.mark.django_db(transaction=True)
def test_concurrent_acknowledges_take_effect_once(api_client_for: Any, clients: int) -> None:
    """The risk officer and the PM press "acknowledge" at once: the alert is read again
    under its lock, so one answers 200 and the others 409; one audit record, one note."""
    limit = RiskLimit.objects.create(name="DV01", metric="dv01", limit=Decimal("2000"))
    alert = RiskAlert.objects.create(
        limit=limit, date=TODAY, last_day=TODAY, value=Decimal("2500"), utilization=Decimal("1.25")
    )
    people = [api_client_for("risk" if i % 2 else "pm") for i in range(clients)]
    statuses = statuses_at_once(
        people,
        lambda i, client: client.post(
            f"/api/risk/alerts/{alert.pk}/acknowledge/", {"note": f"note {i}"}, format="json"
        ),
    )
    assert sorted(statuses) == [200] + [409] * (clients - 1)
    [record] = AuditRecord.objects.filter(action="riskalert.acknowledge")
    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.note == record.note
    assert alert.acknowledged_by == record.actor
