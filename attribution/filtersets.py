"""Query filters of the performance API (django-filter): bad values answer 400."""

import django_filters as filters

from .models import PortfolioSnapshot, PositionSnapshot


class PortfolioSnapshotFilter(filters.FilterSet):
    start = filters.DateFilter(field_name="date", lookup_expr="gte")
    end = filters.DateFilter(field_name="date", lookup_expr="lte")

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
