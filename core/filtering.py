"""The filter backend of every list (REST_FRAMEWORK's DEFAULT_FILTER_BACKENDS)."""

from typing import Any

from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter as the schema states it: a filter given empty (`?start=`) is a 400
    naming it, not ignored, and dates are written YYYY-MM-DD only."""

    def get_filterset(self, request: Request, queryset: Any, view: Any) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        empty = [name for name in filterset.filters if request.query_params.get(name) == ""]
        if empty:
            raise ValidationError({name: ["Give a value, or leave the filter out."] for name in empty})
        for field in filterset.form.fields.values():
            if isinstance(field, forms.DateField):
                field.input_formats = ["%Y-%m-%d"]
        return filterset
