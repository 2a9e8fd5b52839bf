"""The CDI series (API.md `/api/benchmark-rates/`): upsert, list, bounds, the CSV import."""

import datetime as dt
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from portfolio.models import AuditRecord, BenchmarkRate

pytestmark = pytest.mark.django_db

THU, FRI = "2024-03-14", "2024-03-15"


def test_upsert_lists_and_audits(api_client_for):
    ops, viewer = api_client_for("ops"), api_client_for("viewer")
    rows = [{"benchmark": "CDI", "date": THU, "rate": "0.000415"}, {"date": FRI, "rate": "0.0004"}]
    assert ops.post("/api/benchmark-rates/", rows, format="json").json() == {
        "created": 2,
        "updated": 0,
    }
    again = ops.post("/api/benchmark-rates/", [{"date": FRI, "rate": "0.00041"}], format="json")
    assert again.json() == {"created": 0, "updated": 1}
    listed = viewer.get("/api/benchmark-rates/?benchmark=CDI&start=2024-03-15").json()["results"]
    assert listed == [{"benchmark": "CDI", "date": FRI, "rate": "0.000410000000"}]
    assert AuditRecord.objects.filter(action="benchmark_rates.upsert").count() == 2
    assert viewer.post("/api/benchmark-rates/", rows, format="json").status_code == 403


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"date": FRI, "rate": "13.65"}, "rate"),  # an annual percent, not a daily fraction
        ({"date": FRI, "rate": "-0.2"}, "rate"),
        ({"benchmark": "SELIC", "date": FRI, "rate": "0.0004"}, "benchmark"),
        ({"date": "2024-03-16x", "rate": "0.0004"}, "date"),
        ({"date": "1989-12-29", "rate": "0.0004"}, "date"),
        ({"date": "2024-03-18", "rate": "0.0004"}, "date"),  # after today (2024-03-15)
        ({"date": FRI}, "rate"),
    ],
)
def test_bad_rows_are_400_naming_the_field_and_write_nothing(api_client_for, row, field):
    ops = api_client_for("ops")
    good = {"date": THU, "rate": "0.0004"}
    answer = ops.post("/api/benchmark-rates/", [good, row], format="json")
    assert answer.status_code == 400
    assert field in answer.json()["1"], answer.json()
    assert not BenchmarkRate.objects.exists()


def test_the_same_day_twice_in_a_batch_is_refused(api_client_for):
    rows = [{"date": FRI, "rate": "0.0004"}, {"benchmark": "CDI", "date": FRI, "rate": "0.0005"}]
    answer = api_client_for("ops").post("/api/benchmark-rates/", rows, format="json")
    assert answer.status_code == 400 and "benchmark" in answer.json()["1"]
    assert not BenchmarkRate.objects.exists()


def test_import_benchmark_rates(tmp_path):
    path = tmp_path / "cdi.csv"
    path.write_text("date,rate\n2024-03-14,0.00041\n2024-03-15,0.000415\n")
    out = StringIO()
    call_command("import_benchmark_rates", str(path), stdout=out)
    assert "2 created, 0 updated" in out.getvalue()
    assert BenchmarkRate.objects.get(date=dt.date(2024, 3, 15)).rate == D("0.000415")
    path.write_text("benchmark,date,rate\nCDI,2024-03-15,0.0004\nCDI,2024-03-14,13.65\n")
    with pytest.raises(CommandError, match="line 3: rate"):
        call_command("import_benchmark_rates", str(path), stdout=StringIO())
    assert BenchmarkRate.objects.get(date=dt.date(2024, 3, 15)).rate == D("0.000415")
