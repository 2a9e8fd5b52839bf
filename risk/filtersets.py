"""Query filters of the risk API (django-filter): bad values answer 400."""

import django_filters as filters

from .models import RiskAlert, RiskLimit, RiskSnapshot


class RiskSnapshotFilter(filters.FilterSet):
    start = filters.DateFilter(field_name="date", lookup_expr="gte")
    end = filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = RiskSnapshot
        fields = ["start", "end"]


class RiskAlertFilter(filters.FilterSet):
    """`limit` is the page size of every list: the alert's limit is `risk_limit` (an id)."""

    status = filters.ChoiceFilter(choices=RiskAlert.Status.choices)
    date = filters.DateFilter()
    risk_limit = filters.ModelChoiceFilter(field_name="limit", queryset=RiskLimit.objects.all())
    source = filters.CharFilter()

    class Meta:
        model = RiskAlert
        fields = ["status", "date", "risk_limit", "source"]
