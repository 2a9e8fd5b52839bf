"""The OpenAPI schema, telling the truth about the errors too.

- Every operation documents the error answers it can give: 400 (invalid input), 401,
  403, 404, 409 (a state conflict), 415 (a body that is not JSON), 429 (throttled) and
  503 (the database unavailable), each where it applies, all JSON.
- A request body refuses unknown fields: its components say `additionalProperties: false`.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object

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


class PMSAutoSchema(AutoSchema):
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
