"""Query filters of the trade workflow API (django-filter): bad values answer 400."""

import django_filters as filters

from core.filtering import DatedFilterSet

from .models import Signal, TradeProposal


class SignalFilter(DatedFilterSet):
    instrument = filters.CharFilter(field_name="instrument__symbol")
    strategy = filters.CharFilter(field_name="strategy__code")

    class Meta:
        model = Signal
        fields = ["instrument", "strategy", "start", "end"]


class TradeProposalFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=TradeProposal.Status.choices)
    date = filters.DateFilter()
    instrument = filters.CharFilter(field_name="instrument__symbol")
    strategy = filters.CharFilter(field_name="strategy__code")

    class Meta:
        model = TradeProposal
        fields = ["status", "date", "instrument", "strategy"]
