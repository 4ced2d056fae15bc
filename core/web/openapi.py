"""The OpenAPI document tells the truth: every answer an operation can give is in it.

Most refusals do not come from a handler but from what every route passes: the access gate
(:mod:`core.web.access`: 401, 403, 404, 429) and validation (400 for a parameter or body
that does not match the document, 413 for a body past 1 MiB, 422 for a field a strict body
does not declare). :func:`document_answers` works out, from each route's declaration (its
permission, its tenant, its plugin, its parameters and body), which of them it can give and
documents them with the one error body the API sends (:class:`ErrorBody`); a handler adds its
own refusals with :func:`refusals`. The same pass states how each operation is authenticated
(a bearer token, or the session cookie with ``X-CSRF-Token`` for a change).

Bodies that refuse undeclared fields say so (``additionalProperties: false``,
:class:`StrictSchemaPlugin`), so a client generated from the document never sends one.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.enums import ParamType
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, Schema, SecurityScheme
from litestar.params import ParameterKwarg
from litestar.plugins.pydantic import PydanticSchemaPlugin
from litestar.typing import FieldDefinition
from pydantic import BaseModel, Field

from core.identity.sessions import COOKIE
from core.web.access import AUTHENTICATED, route_permission

__all__ = [
    "ErrorBody",
    "StrictSchemaPlugin",
    "components",
    "document_answers",
    "refusals",
]

_SAFE = {"GET", "HEAD", "OPTIONS"}

# what each refusal means, wherever it comes from; a handler's own refusals say more in its
# docstring
MEANING = {
    400: "The request does not match this document: a parameter or the body (`field` names "
    "it), malformed JSON, or JSON nested too deep.",
    401: "No valid bearer token or session (or, on a public route, no valid credential of its "
    "own such as a chat token).",
    403: "The caller lacks the permission (a session cookie without the right X-CSRF-Token "
    "is refused too).",
    404: "No such tenant, the caller holds no role in it, the tenant has not enabled this "
    "feature, or no such object (all answered alike: a stranger learns nothing).",
    409: "The request conflicts with the current state (it exists already, or is in use).",
    410: "It was there, and is no longer (used once already, or expired).",
    413: "The body is larger than 1 MiB.",
    422: "A field the body does not declare, or a value the stored data refuses (`field` "
    "names it).",
    429: "Too many requests; try again later (`Retry-After` seconds when given).",
    503: "A service this operation needs is not available.",
}


class ErrorDetail(BaseModel):
    status: int = Field(description="the HTTP status, again")
    code: str = Field(description="machine-readable: not_found, forbidden, invalid, ...")
    message: str = Field(description="for people; never repeats a personal value")
    request_id: str = Field(description="quote it to the operator of the service")
    field: str | None = Field(default=None, description="the input at fault, when one is")


class ErrorBody(BaseModel):
    """Every refusal of the API: ``{"error": {...}}`` (:mod:`core.web.errors`)."""

    error: ErrorDetail


def refusals(*statuses: int, **meanings: str) -> dict[int, ResponseSpec]:
    """The refusals a handler gives itself, for its decorator's ``responses=``; a meaning
    given as ``s404="..."`` replaces the general one."""
    return {
        status: ResponseSpec(
            ErrorBody,
            description=meanings.get(f"s{status}", MEANING[status]),
            generate_examples=False,
        )
        for status in statuses
    }


def components() -> Components:
    """The security schemes the operations name."""
    return Components(
        security_schemes={
            "bearer": SecurityScheme(
                type="http",
                scheme="bearer",
                description="An API token (`madoguchi token create`, or your account page).",
            ),
            "session": SecurityScheme(
                type="apiKey",
                name=COOKIE,
                security_scheme_in="cookie",
                description="The session of a sign-in (POST /api/v1/auth/login).",
            ),
            "csrf": SecurityScheme(
                type="apiKey",
                name="X-CSRF-Token",
                security_scheme_in="header",
                description="With a session cookie, a change also needs the csrf_token the "
                "sign-in answered with.",
            ),
        }
    )


# what pydantic states for a field and Litestar's schema of it may lack (a pattern inside
# ``X | None``, an enum given as json_schema_extra of an inner type, the items' lengths...)
_KEYWORDS = ("pattern", "enum", "const", "format", "minLength", "maxLength", "minimum", "maximum")


class StrictSchemaPlugin(PydanticSchemaPlugin):
    """Pydantic models as Litestar documents them, completed from pydantic's own JSON
    Schema: ``additionalProperties: false`` for a model that refuses undeclared fields
    (``extra="forbid"``), the keywords of its ``json_schema_extra`` (a rule across fields,
    such as ``anyOf`` of required ones), and each field's constraints Litestar left out."""

    @classmethod
    def for_pydantic_model(cls, field_definition: FieldDefinition, schema_creator: Any) -> Any:
        schema = super().for_pydantic_model(field_definition, schema_creator)
        model = field_definition.annotation
        if isinstance(model, type) and issubclass(model, BaseModel) and isinstance(schema, Schema):
            if model.model_config.get("extra") == "forbid":
                schema.additional_properties = False
            extra = model.model_config.get("json_schema_extra")
            if isinstance(extra, dict):
                for keyword, value in extra.items():
                    setattr(schema, _ALIASES.get(keyword, keyword), value)
            stated = model.model_json_schema().get("properties", {})
            for name, target in (schema.properties or {}).items():
                if name in stated and isinstance(target, Schema):
                    _complete(target, stated[name])
        return schema


_ALIASES = Schema.field_aliases()


def _complete(target: Schema, stated: dict[str, Any]) -> None:
    """Copy into ``target`` the constraints of ``stated`` (pydantic's schema of the same
    field) it lacks; for ``X | None`` those of ``X``, an enum with null added."""
    branches = stated.get("anyOf", [stated])
    nullable = any(b.get("type") == "null" for b in branches)
    given = [b for b in branches if b.get("type") != "null"]
    if len(given) != 1:
        return
    (kind,) = given
    for keyword in _KEYWORDS:
        attribute = _ALIASES.get(keyword, keyword)
        if keyword in kind and getattr(target, attribute, None) is None:
            value = kind[keyword]
            if keyword == "enum" and nullable:
                value = [*value, None]
            setattr(target, attribute, value)
    items = kind.get("items")
    if isinstance(items, dict) and isinstance(target.items, Schema):
        _complete(target.items, items)


def _can_fail_validation(field: FieldDefinition) -> bool:
    """Whether a declared parameter can be refused by validation (a plain text in the path
    cannot)."""
    kwarg = field.kwarg_definition
    if not isinstance(kwarg, ParameterKwarg):
        return False
    return not (
        kwarg.param_type == ParamType.PATH and field.annotation is str and not kwarg.is_constrained
    )


def _refusals(handler: HTTPRouteHandler, path: str) -> set[int]:
    """What the gate and validation can answer for this route, besides its own refusals."""
    permission = route_permission(handler)
    parameters = handler.parsed_fn_signature.parameters
    has_tenant = "{tenant" in path
    answers: set[int] = set()
    if any(_can_fail_validation(field) for field in parameters.values()):
        answers.add(400)
    if "data" in parameters:
        answers |= {400, 413}
        body = parameters["data"].annotation
        strict = isinstance(body, type) and issubclass(body, BaseModel)
        if strict and body.model_config.get("extra") == "forbid":
            answers.add(422)
    if permission is None:
        if has_tenant:
            answers.add(404)
        if isinstance(handler.opt.get("per_client_per_minute"), int):
            answers.add(429)
    else:
        answers.add(401)
        if permission != AUTHENTICATED or not handler.http_methods <= _SAFE:
            answers.add(403)
        if has_tenant:
            answers.add(404)
    if handler.opt.get("plugin") is not None:
        answers.add(404)
    return answers


def _security(handler: HTTPRouteHandler) -> list[dict[str, list[str]]]:
    if route_permission(handler) is None:
        return []
    if handler.http_methods <= _SAFE:
        return [{"bearer": []}, {"session": []}]
    return [{"bearer": []}, {"session": [], "csrf": []}]


def document_answers(app: Litestar) -> None:
    """Give every documented operation the refusals it can answer with and its security
    (before the document is first built, which Litestar does on the first request for it).
    Each handler here is the app's own copy, so new values are assigned, never shared ones
    changed."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler) or not handler.resolve_include_in_schema():
                continue
            if handler.handler_name == "options_handler":
                continue
            own = dict(handler.responses or {})
            for status in sorted(_refusals(handler, route.path) - set(own)):
                own |= refusals(status)
            handler.responses = own
            handler.security = _security(handler)
