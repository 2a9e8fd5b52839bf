"""The filter backend of every list (REST_FRAMEWORK's DEFAULT_FILTER_BACKENDS)."""

from typing import Any

import django_filters as filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request


def query_values_problem(values: list[str]) -> str | None:
    """Why a query parameter's values are not one value (None if they are): the schema
    gives each parameter once, and an empty one is not left out silently."""
    if len(values) > 1:
        return "Give the parameter once."
    if values == [""]:
        return "Give a value, or leave the parameter out."
    return None


def filter_value_problem(kind: Any, values: list[str]) -> str | None:
    """Why a filter's values are not one value of its type (None if they are)."""
    problem = query_values_problem(values)
    if problem:
        return problem
    if values and isinstance(kind, filters.BooleanFilter) and values[0] not in ("true", "false"):
        return "true or false."
    return None


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter as the schema states it: a filter given empty (`?start=`), twice, or
    a boolean other than true or false is a 400 naming it, not ignored, and dates are
    written YYYY-MM-DD only."""

    def get_filterset(self, request: Request, queryset: Any, view: Any) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        problems = {
            name: [problem]
            for name, kind in filterset.filters.items()
            if (problem := filter_value_problem(kind, request.query_params.getlist(name)))
        }
        if problems:
            raise ValidationError(problems)
        for field in filterset.form.fields.values():
            if isinstance(field, forms.DateField):
                field.input_formats = ["%Y-%m-%d"]
        return filterset


class DatedFilterSet(filters.FilterSet):
    """`?start=&end=`: the rows whose `date` is within them, both ends included."""

    start = filters.DateFilter(field_name="date", lookup_expr="gte")
    end = filters.DateFilter(field_name="date", lookup_expr="lte")
