"""Query filters of the risk API (django-filter): bad values answer 400."""

import datetime as dt

import django_filters as filters
from django.db.models import QuerySet
from django.db.models.functions import Coalesce

from core.filtering import DatedFilterSet

from .models import RiskAlert, RiskLimit, RiskSnapshot


class RiskSnapshotFilter(DatedFilterSet):
    class Meta:
        model = RiskSnapshot
        fields = ["start", "end"]


class RiskAlertFilter(filters.FilterSet):
    """`limit` is the page size of every list: the alert's limit is `risk_limit` (an id).
    `date`: the alerts whose breach holds that day."""

    status = filters.ChoiceFilter(choices=RiskAlert.Status.choices)
    date = filters.DateFilter(method="in_breach_on")
    risk_limit = filters.ModelChoiceFilter(field_name="limit", queryset=RiskLimit.objects.all())
    source = filters.CharFilter()

    class Meta:
        model = RiskAlert
        fields = ["status", "date", "risk_limit", "source"]

    def in_breach_on(
        self, queryset: QuerySet[RiskAlert], name: str, day: dt.date
    ) -> QuerySet[RiskAlert]:
        return queryset.alias(through=Coalesce("last_day", "date")).filter(
            date__lte=day, through__gte=day
        )
