"""The OpenAPI schema, telling the truth about the errors too.

- Every operation documents the error answers it can give: 400 (invalid input), 401,
  403, 404, 409 (a state conflict), 415 (a body that is not JSON), 429 (throttled) and
  503 (the database unavailable), each where it applies, all JSON.
- A request body refuses unknown fields: its components say `additionalProperties: false`.
"""

from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from core.inputs import ZERO_DECIMAL_PATTERN
from core.serializers import StrictDecimalField

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "description": "{field: [messages]}, {row index: {field: [messages]}} or {detail}.",
}
# Operations (path suffix, method) whose object's state can refuse them.
CONFLICTS = (
    ("/approve/", "POST"),
    ("/modify-approve/", "POST"),
    ("/reject/", "POST"),
    ("/acknowledge/", "POST"),
    ("/book/mark-to-market/", "POST"),
    ("/positions/{id}/close/", "POST"),
    ("/run/", "POST"),
    ("/risk/limits/{id}/", "DELETE"),
)


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# Text the API takes: no NUL character (DRF refuses it), and, where blank is refused after
# trimming the spaces, one character that is not a space.
NO_NUL = "^[^\\u0000]*$"
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"
META = ("description", "default", "nullable", "title", "example", "writeOnly")


def _json_number(number: Decimal | int) -> int | float:
    value = Decimal(number)
    return int(value) if value == value.to_integral_value() else float(value)


def request_decimal(field: StrictDecimalField, schema: dict[str, Any]) -> dict[str, Any]:
    """A decimal in a request: a string in the field's pattern, or a JSON number within its
    bounds and places (API.md: "accept strings or numbers")."""
    step = Decimal(10) ** -(field.decimal_places or 0)
    top = Decimal(10) ** (field.max_whole_digits or 0) - step
    low = field.min_value if field.min_value is not None else -top
    high = field.max_value if field.max_value is not None else top
    text: dict[str, Any] = {"type": "string", "format": "decimal", "pattern": field.text_pattern}
    number: dict[str, Any] = {
        "type": "number",
        "minimum": _json_number(low),
        "maximum": _json_number(high),
        "multipleOf": _json_number(step),
    }
    if field.nonzero:
        text["not"] = {"pattern": ZERO_DECIMAL_PATTERN}
        if low == 0:
            number["exclusiveMinimum"] = True
        elif low < 0:
            number["not"] = {"enum": [0]}
    return {"oneOf": [text, number], **{k: schema[k] for k in META if k in schema}}


def request_text(field: serializers.CharField, schema: dict[str, Any]) -> dict[str, Any]:
    """Text in a request: as DRF takes it (no NUL, not blank once trimmed unless allowed;
    an inverse-match validator is a `not`)."""
    if "pattern" not in schema:
        blank_refused = not field.allow_blank and field.trim_whitespace
        schema["pattern"] = NOT_BLANK if blank_refused else NO_NUL
    refused = [v for v in field.validators if isinstance(v, RegexValidator) and v.inverse_match]
    if refused:
        pattern = refused[0].regex.pattern.replace(r"\A", "^").replace(r"\Z", "$")
        schema["not"] = {"pattern": pattern}
    return schema


class PMSAutoSchema(AutoSchema):
    def _map_basic_serializer(self, serializer: Any, direction: Any) -> Any:
        result = super()._map_basic_serializer(serializer, direction)
        if direction != "request":
            return result
        fields = serializer.fields if hasattr(serializer, "fields") else serializer().fields
        for name, schema in result.get("properties", {}).items():
            field = fields[name]
            if isinstance(field, StrictDecimalField):
                result["properties"][name] = request_decimal(field, schema)
            elif isinstance(field, serializers.CharField) and schema.get("type") == "string":
                result["properties"][name] = request_text(field, schema)
        return result

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors: dict[str, Any] = {}
        takes_input = self.method in ("POST", "PUT", "PATCH") or self._get_parameters()
        if takes_input:
            errors["400"] = _json("Invalid input, unknown fields included.", FIELD_ERRORS)
        if self.method in ("POST", "PUT", "PATCH"):
            errors["415"] = _json("The body is not JSON (nor a form).", DETAIL)
        if self.get_auth():
            errors["401"] = _json("No credentials, or wrong ones.", DETAIL)
            errors["403"] = _json("The user's groups do not allow this.", DETAIL)
        if "{" in self.path or self.path.endswith("/morning-pack/latest/"):
            errors["404"] = _json("No such object.", DETAIL)
        if any(self.path.endswith(end) and self.method == method for end, method in CONFLICTS):
            errors["409"] = _json("The object's state does not allow it.", DETAIL)
        if self.path.endswith("/auth/token/"):
            errors["429"] = _json("Too many attempts: wait Retry-After seconds.", DETAIL)
        errors["503"] = _json("The database is unavailable: retry after Retry-After.", DETAIL)
        return {
            **responses,
            **{code: body for code, body in errors.items() if code not in responses},
        }


def refuse_unknown_fields(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: request components (and their patched forms) are closed."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result


def strict_query_parameters(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: a free-text query parameter is a non-empty text without NUL, as
    the filters take it (an empty one is a 400, not ignored)."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                free = not {"enum", "format", "pattern"} & set(schema)
                if parameter.get("in") == "query" and schema.get("type") == "string" and free:
                    schema["pattern"] = "^[^\\u0000]+$"
    return result
