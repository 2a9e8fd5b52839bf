"""Pagination for every list: `?limit=&offset=` with a bounded page size. A limit or an
offset that is not a whole number within its bounds is a 400 naming it, as the schema
states (DRF would fall back to its default without a word)."""

import re
from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

WHOLE_NUMBER = re.compile(r"-?[0-9]{1,19}")
OFFSET_MAX = 10**9  # far past any list the fund keeps; a bigger one would overflow SQL


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000

    def bounds(self) -> dict[str, tuple[int, int]]:
        return {
            self.limit_query_param: (1, self.max_limit),
            self.offset_query_param: (0, OFFSET_MAX),
        }

    def _parsed(self, request: Request, name: str, default: int) -> int:
        text = request.query_params.get(name)
        if text is None:
            return default
        low, high = self.bounds()[name]
        if not WHOLE_NUMBER.fullmatch(text) or not low <= int(text) <= high:
            raise ValidationError({name: [f"A whole number from {low} to {high}."]})
        return int(text)

    def get_limit(self, request: Request) -> int:
        return self._parsed(request, self.limit_query_param, self.default_limit)

    def get_offset(self, request: Request) -> int:
        return self._parsed(request, self.offset_query_param, 0)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            low, high = self.bounds()[parameter["name"]]
            parameter["schema"].update(minimum=low, maximum=high)
        return parameters
