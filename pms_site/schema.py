"""The OpenAPI schema, telling the truth about the errors too.

- Every operation documents the error answers it can give: 400 (invalid input), 401,
  403, 404, 409 (a state conflict), 415 (a body that is not JSON), 429 (throttled) and
  503 (the database unavailable), each where it applies, all JSON.
- A request body refuses unknown fields: its components say `additionalProperties: false`.
"""

from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
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
    ("/positions/{id}/roll/", "POST"),
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


def _json_number(number: Decimal | int | float) -> int | float:
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
        pattern = (
            str(getattr(refused[0].regex, "pattern", refused[0].regex))
            .replace(r"\A", "^")
            .replace(r"\Z", "$")
        )
        schema["not"] = {"pattern": pattern}
    return schema


class PMSAutoSchema(AutoSchema):
    def _map_basic_serializer(self, serializer: Any, direction: Any) -> Any:
        result = super()._map_basic_serializer(serializer, direction)
        if direction != "request":
            return result
        fields = serializer.fields if hasattr(serializer, "fields") else serializer().fields
        for name in [name for name in result.get("properties", {}) if fields[name].read_only]:
            del result["properties"][name]  # answered, never taken (a flow's quota)
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


class TokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Token <token>` (knox's tokens, `pms_site.authentication`)."""

    target_class = "pms_site.authentication.CachedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> Any:
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Token"
        )


def strict_query_parameters(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: a query parameter is never empty (a 400, not ignored): a
    free-text one is a non-empty text without NUL, and "" leaves a choice's enum."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "query" and "" in schema.get("enum", []):
                    schema["enum"] = [value for value in schema["enum"] if value != ""]
                free = not {"enum", "format", "pattern"} & set(schema)
                if parameter.get("in") == "query" and schema.get("type") == "string" and free:
                    schema["pattern"] = "^[^\\u0000]+$"
    return result


# OpenAPI links of the main resources: where an answer's id leads (a client's next calls,
# and the chains schemathesis's stateful phase follows). (operation, status) → links, each
# (name, target operation, path parameters, request body).
FIRST = "$response.body#/results/0"
Link = tuple[str, str, dict[str, str], dict[str, str] | None]


def _each(names: tuple[str, ...], parameter: str, expression: str) -> list[Link]:
    return [(name.title().replace("_", ""), name, {parameter: expression}, None) for name in names]


POSITION = ("positions_retrieve", "positions_close_create")
PROPOSAL = (
    "proposals_retrieve",
    "proposals_approve_create",
    "proposals_modify_approve_create",
    "proposals_reject_create",
)
LIMIT = ("risk_limits_retrieve", "risk_limits_partial_update", "risk_limits_destroy")
ALERT = ("risk_alerts_retrieve", "risk_alerts_acknowledge_create")
SCENARIO = ("risk_scenarios_retrieve", "risk_scenarios_partial_update", "risk_scenarios_destroy")
INSTRUMENT = ("instruments_retrieve", "instruments_partial_update")
STRATEGY = ("strategies_retrieve", "strategies_partial_update")
STRESS: Link = ("StressScenario", "risk_stress_create", {}, {"scenario": "$response.body#/id"})
LINKS: dict[tuple[str, str], list[Link]] = {
    ("positions_create", "201"): _each(POSITION, "id", "$response.body#/id"),
    ("positions_list", "200"): _each(POSITION, "id", f"{FIRST}/id"),
    ("positions_close_create", "200"): _each(POSITION[:1], "id", "$response.body#/id"),
    ("proposals_list", "200"): _each(PROPOSAL, "id", f"{FIRST}/id"),
    ("proposals_generate_create", "200"): _each(PROPOSAL, "id", "$response.body#/proposals/0/id"),
    ("proposals_approve_create", "200"): [
        *_each(PROPOSAL[:1], "id", "$response.body#/proposal/id"),
        *_each(POSITION, "id", "$response.body#/position/id"),
        *_each(("trades_retrieve",), "id", "$response.body#/trade/id"),
    ],
    ("proposals_reject_create", "200"): _each(PROPOSAL[:1], "id", "$response.body#/proposal/id"),
    ("risk_limits_create", "201"): _each(LIMIT, "id", "$response.body#/id"),
    ("risk_limits_list", "200"): _each(LIMIT, "id", f"{FIRST}/id"),
    ("risk_alerts_list", "200"): _each(ALERT, "id", f"{FIRST}/id"),
    ("risk_alerts_acknowledge_create", "200"): _each(ALERT[:1], "id", "$response.body#/id"),
    ("risk_scenarios_create", "201"): [*_each(SCENARIO, "id", "$response.body#/id"), STRESS],
    ("risk_scenarios_list", "200"): _each(SCENARIO, "id", f"{FIRST}/id"),
    ("instruments_create", "201"): _each(INSTRUMENT, "symbol", "$response.body#/symbol"),
    ("instruments_list", "200"): _each(INSTRUMENT, "symbol", f"{FIRST}/symbol"),
    ("strategies_create", "201"): _each(STRATEGY, "code", "$response.body#/code"),
    ("strategies_list", "200"): _each(STRATEGY, "code", f"{FIRST}/code"),
    ("pipelines_run_create", "202"): _each(
        ("pipelines_runs_retrieve",), "id", "$response.body#/run_id"
    ),
    ("pipelines_runs_list", "200"): _each(("pipelines_runs_retrieve",), "id", f"{FIRST}/id"),
    ("morning_pack_generate_create", "201"): _each(
        ("morning_pack_retrieve", "morning_pack_html_retrieve"), "day", "$response.body#/date"
    ),
    ("morning_pack_latest_retrieve", "200"): _each(
        ("morning_pack_retrieve", "morning_pack_html_retrieve"), "day", "$response.body#/date"
    ),
    ("risk_snapshots_list", "200"): _each(("risk_snapshots_retrieve",), "date", f"{FIRST}/date"),
    ("trades_list", "200"): _each(("trades_retrieve",), "id", f"{FIRST}/id"),
    ("audit_list", "200"): _each(("audit_retrieve",), "id", f"{FIRST}/id"),
    ("position_snapshots_list", "200"): _each(
        ("position_snapshots_retrieve",), "id", f"{FIRST}/id"
    ),
}


def declare_links(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: the LINKS, on the answers they start from."""
    operations = {
        operation["operationId"]: operation
        for path in result.get("paths", {}).values()
        for operation in path.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    for (source, status), links in LINKS.items():
        answer = operations[source]["responses"][status]
        for name, target, parameters, body in links:
            assert target in operations, f"LINKS: no operation {target}"
            link: dict[str, Any] = {"operationId": target}
            if parameters:
                link["parameters"] = parameters
            if body:
                link["requestBody"] = body
            answer.setdefault("links", {})[name] = link
    return result


def rows_not_empty(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: a list of rows posted (prices, FX, rates, signals, official
    NAVs) has at least one, as the API requires."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody", {}) if isinstance(operation, dict) else {}
            for content in body.get("content", {}).values():
                if content.get("schema", {}).get("type") == "array":
                    content["schema"]["minItems"] = 1
    return result
