"""Query filters of the portfolio API (django-filter): bad values answer 400."""

import django_filters as filters
from django.db.models import QuerySet

from core.filtering import DatedFilterSet

from .models import (
    AuditRecord,
    BenchmarkRate,
    CapitalFlow,
    FxRate,
    OfficialNav,
    PortfolioSnapshot,
    Position,
    PositionSnapshot,
    Price,
    Trade,
)


class PriceFilter(DatedFilterSet):
    instrument = filters.CharFilter(field_name="instrument__symbol")

    class Meta:
        model = Price
        fields = ["instrument", "start", "end"]


class FxRateFilter(DatedFilterSet):
    currency = filters.CharFilter()

    class Meta:
        model = FxRate
        fields = ["currency", "start", "end"]


class BenchmarkRateFilter(DatedFilterSet):
    benchmark = filters.ChoiceFilter(choices=BenchmarkRate.Benchmark.choices)

    class Meta:
        model = BenchmarkRate
        fields = ["benchmark", "start", "end"]


class CapitalFlowFilter(DatedFilterSet):
    class Meta:
        model = CapitalFlow
        fields = ["start", "end"]


class OfficialNavFilter(DatedFilterSet):
    class Meta:
        model = OfficialNav
        fields = ["start", "end"]


class PositionFilter(filters.FilterSet):
    status = filters.ChoiceFilter(
        choices=[(Position.OPEN, "open"), (Position.CLOSED, "closed")], method="filter_status"
    )
    strategy = filters.CharFilter(field_name="strategy__code")
    instrument = filters.CharFilter(field_name="instrument__symbol")

    class Meta:
        model = Position
        fields = ["status", "strategy", "instrument"]

    def filter_status(
        self, queryset: QuerySet[Position], name: str, value: str
    ) -> QuerySet[Position]:
        return queryset.filter(closed_at__isnull=value == Position.OPEN)


class TradeFilter(filters.FilterSet):
    instrument = filters.CharFilter(field_name="instrument__symbol")
    strategy = filters.CharFilter(field_name="strategy__code")
    start = filters.DateFilter(field_name="trade_date", lookup_expr="gte")
    end = filters.DateFilter(field_name="trade_date", lookup_expr="lte")

    class Meta:
        model = Trade
        fields = ["instrument", "strategy", "start", "end"]


class AuditRecordFilter(filters.FilterSet):
    action = filters.CharFilter()
    actor = filters.CharFilter()
    object_type = filters.CharFilter()
    object_id = filters.CharFilter()
    start = filters.DateFilter(field_name="at", lookup_expr="date__gte", label="From (date)")
    end = filters.DateFilter(field_name="at", lookup_expr="date__lte", label="To (date)")

    class Meta:
        model = AuditRecord
        fields = ["action", "actor", "object_type", "object_id", "start", "end"]


class PortfolioSnapshotFilter(DatedFilterSet):
    class Meta:
        model = PortfolioSnapshot
        fields = ["start", "end"]


class PositionSnapshotFilter(PortfolioSnapshotFilter):
    date = filters.DateFilter()
    strategy = filters.CharFilter(field_name="strategy__code")
    instrument = filters.CharFilter(field_name="instrument__symbol")

    class Meta:
        model = PositionSnapshot
        fields = ["date", "start", "end", "strategy", "instrument"]
