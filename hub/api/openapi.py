"""The OpenAPI document says what the API answers: one error schema on every route, strict request objects, int64.

Litestar generates the document from the handlers; this module adds what it cannot see: the error statuses a route
answers through :func:`hub.api.errors.handle_exception` (with :class:`~hub.api.errors.ErrorBody`, the struct that
handler returns), ``additionalProperties: false`` for request structs that refuse unknown fields, and ``int64`` on
integers (ids are PostgreSQL bigints).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request

# Litestar's struct schema plugin is private API: it is used here only, and tests/api/test_openapi.py pins what
# the subclass relies on (the component it returns is the one the document references).
from litestar._openapi.schema_generation.plugins import StructSchemaPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import OpenAPIType, Schema

from hub.api.errors import ErrorBody
from hub.api.links import LINKS, Link, add_links

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

__all__ = [
    "ERROR_MEANINGS",
    "DocumentJson",
    "StrictStructSchemaPlugin",
    "document_errors",
    "error_responses",
    "finish_document",
    "render_plugins",
    "route_errors",
]

#: What each error status means on this API (the response description in the document).
ERROR_MEANINGS = {
    400: "The request could not be parsed (a body that is not JSON, a Twilio callback without a required field)",
    401: "Missing or wrong API key",
    403: "Not allowed (a webhook whose X-Twilio-Signature does not match)",
    404: "No such resource",
    409: "Conflicts with the resource's current state",
    413: "Request body too large",
    422: "Refused: `detail` says why and `field` names the request field at fault",
    429: "Too many requests (Twilio's answer, passed on)",
    502: "Twilio failed or could not be reached",
    503: "A backing service (database or Redis) is unavailable; retry later",
}

#: Handler arguments that are not client input (no 422 from them).
_NOT_INPUT = frozenset({"self", "request", "state", "scope", "socket", "headers", "cookies", "query", "body"})


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The ``responses=`` of a route handler for these error statuses, each with the one error body."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody,
            description=ERROR_MEANINGS.get(status, HTTPStatus(status).phrase),
            generate_examples=False,
        )
        for status in sorted(statuses)
    }


def route_errors(*, guarded: bool, has_body: bool, has_input: bool, has_path_params: bool, store: bool) -> set[int]:
    """The error statuses any route answers, from what it takes (pure); a route adds its own (404, 409...)."""
    statuses: set[int] = set()
    if guarded:
        statuses.add(401)
    if has_body:
        statuses.add(413)
    if has_body or has_input:
        statuses |= {400, 422}  # unparsable / parsed but refused
    if has_path_params:
        statuses.add(404)  # a path that names nothing (or does not match the parameter's type)
    if store:
        statuses.add(503)
    return statuses


def _facts(handler: HTTPRouteHandler) -> dict[str, bool]:
    params = set(handler.parsed_fn_signature.parameters) - set(handler.resolve_dependencies()) - _NOT_INPUT
    return {
        # The routers behind api_key_guard declare the bearer scheme; the guard answers 401 without the key.
        "guarded": bool(handler.resolve_security()),
        "has_body": "data" in params,
        "has_input": bool(params - {"data"}),
        "has_path_params": any("{" in path for path in handler.paths),
        "store": handler.opt.get("store", True) is not False,
    }


def _http_handlers(app: Litestar) -> Iterable[HTTPRouteHandler]:
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler) and handler.resolve_include_in_schema():
                yield handler


def document_errors(app: Litestar) -> None:
    """Give every documented route its error responses: the common ones it can answer plus those it declares."""
    for handler in _http_handlers(app):
        common = error_responses(*route_errors(**_facts(handler)))
        handler.responses = {**common, **(handler.responses or {})}


def _int64(schema: Any) -> None:
    if isinstance(schema, Schema):
        if schema.type == OpenAPIType.INTEGER and schema.format is None:
            schema.format = "int64"  # type: ignore[assignment]
        for inner in schema.one_of or ():
            _int64(inner)


class StrictStructSchemaPlugin(StructSchemaPlugin):
    """msgspec structs as Litestar documents them, plus ``additionalProperties: false`` where the struct forbids
    unknown fields and ``format: int64`` on integer fields."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        struct: type[msgspec.Struct] = field_definition.type_
        if struct.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        for prop in (schema.properties or {}).values():
            _int64(prop)
        return schema


def _without_null(schema: Any) -> Any:
    """``X | None`` as Litestar writes it (``oneOf: [X, null]``) without the null."""
    if isinstance(schema, dict) and isinstance(schema.get("oneOf"), list):
        rest = [s for s in schema["oneOf"] if s != {"type": "null"}]
        if len(rest) == 1:
            return {**{k: v for k, v in schema.items() if k != "oneOf"}, **rest[0]}
    return schema


def finish_document(document: dict[str, Any], links: tuple[Link, ...] = LINKS) -> dict[str, Any]:
    """What Litestar's generated document gets wrong about this API, put right (pure, on the JSON form).

    - A query parameter is a string on the wire, never JSON ``null``: absent is ``required: false``.
    - A request body the handler takes as optional (``RunCreate | None``) may be left out: ``required: false``.
    - Which answer feeds which request: ``links``, by default those of :mod:`hub.api.links`.
    """
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    parameter["schema"] = _without_null(parameter.get("schema"))
            body = operation.get("requestBody")
            if body:
                for media in body.get("content", {}).values():
                    if {"type": "null"} in media.get("schema", {}).get("oneOf", []):
                        body["required"] = False
    return add_links(document, links)


class DocumentJson(JsonRenderPlugin):
    """``/schema/openapi.json``: Litestar's document with :func:`finish_document` applied (once)."""

    def __init__(self) -> None:
        super().__init__()
        self._finished: dict[int, bytes] = {}

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        key = id(openapi_schema)  # one document per app, built once by Litestar
        if key not in self._finished:
            self._finished[key] = self.render_json(request, finish_document(copy.deepcopy(openapi_schema)))
        return self._finished[key]


def render_plugins() -> list[Any]:
    """``/schema``: the finished JSON document and a Swagger UI over it (the YAML form would not be finished)."""
    return [DocumentJson(), SwaggerRenderPlugin(path="/")]
