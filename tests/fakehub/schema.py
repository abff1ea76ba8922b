"""GitHub's REST description: checking calls against it, and shaping responses to it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from npm_material import rest_description_path
from openapi_core import OpenAPI
from openapi_core.configurations import Config
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

# openapi-core matches servers; every call is checked as if made to GitHub itself.
GITHUB_API = "https://api.github.com"
PLACEHOLDER_DATE = "2026-01-01T00:00:00Z"


@cache
def description() -> dict[str, Any]:
    return json.loads(rest_description_path().read_text())


@cache
def checker() -> OpenAPI:
    # The description is GitHub's own: checking it again costs seconds for nothing.
    return OpenAPI.from_dict(description(), config=Config(spec_validator_cls=None))


@dataclass
class Call:
    """A request as openapi-core reads it, routed to `path_pattern` by the server."""

    method: str
    path: str
    path_pattern: str
    body: bytes | None
    content_type: str
    path_arguments: dict[str, str]
    query: list[tuple[str, str]]
    headers: dict[str, str]
    host_url: str = GITHUB_API
    parameters: RequestParameters = field(init=False)

    def __post_init__(self) -> None:
        self.parameters = RequestParameters(
            path=self.path_arguments,
            query=ImmutableMultiDict(self.query),
            header=Headers(self.headers),
            cookie=ImmutableMultiDict(),
        )


@dataclass
class Answer:
    """A response as openapi-core reads it."""

    status_code: int
    data: bytes
    headers: dict[str, str]
    content_type: str = "application/json; charset=utf-8"


def request_errors(call: Call) -> list[str]:
    """Why GitHub's description rejects `call`; empty when it accepts it."""
    try:
        checker().validate_request(call)
    except Exception as error:  # openapi-core raises one class per kind of fault
        return _reasons(error)
    return []


def response_errors(call: Call, answer: Answer) -> list[str]:
    try:
        checker().validate_response(call, answer)
    except Exception as error:
        return _reasons(error)
    return []


def _reasons(error: BaseException) -> list[str]:
    # The useful detail (which field, which rule) sits in the chained errors.
    reasons = [str(error)]
    cause = error.__cause__
    for detail in getattr(cause, "schema_errors", None) or []:
        location = "/".join(str(part) for part in detail.absolute_path)
        reasons.append(f"{location or '(root)'}: {detail.message}")
    return reasons


def response_schema(method: str, pattern: str, status: int) -> dict[str, Any] | None:
    operation = description()["paths"][pattern][method.lower()]
    response = _resolve(operation["responses"].get(str(status), {}))
    media = response.get("content", {}).get("application/json", {})
    return media.get("schema")


def shape(schema: dict[str, Any] | None, value: Any) -> Any:
    """`value` with every property `schema` requires and `value` lacks filled in.

    Handlers give the fields that carry meaning; the rest get placeholders of the
    right type, so a response is as complete as GitHub's without spelling out the
    eighty fields of a repository by hand.
    """
    if schema is None or value is None:
        return value
    schema = _flatten(_resolve(schema))
    if "oneOf" in schema or "anyOf" in schema:
        return shape(_choose(schema, value), value)
    if isinstance(value, list) and "items" in schema:
        return [shape(schema["items"], item) for item in value]
    if isinstance(value, dict):
        # The value is an object, so even a nullable schema's placeholder is one.
        filled = _placeholder({**schema, "nullable": False}) or {}
        properties = schema.get("properties", {})
        for key, item in value.items():
            filled[key] = shape(properties.get(key), item)
        return filled
    return value


def _placeholder(schema: dict[str, Any], depth: int = 0) -> Any:
    schema = _flatten(_resolve(schema))
    options = schema.get("oneOf") or schema.get("anyOf")
    if options:
        return _placeholder(options[0], depth)
    if schema.get("nullable") or depth > 12:
        return None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        return {
            key: _placeholder(properties.get(key, {}), depth + 1) for key in required
        }
    if kind == "array":
        return []
    if kind == "string":
        return _placeholder_string(schema)
    if kind in ("integer", "number"):
        return max(0, schema.get("minimum", 0))
    return False


def _placeholder_string(schema: dict[str, Any]) -> str:
    format = schema.get("format")
    if format == "date-time":
        return PLACEHOLDER_DATE
    if format == "uri":
        return GITHUB_API
    if format == "email":
        return "octocat@example.com"
    return "x" * schema.get("minLength", 0)


def _choose(schema: dict[str, Any], value: Any) -> dict[str, Any]:
    """The one of `schema`'s alternatives `value` fits best: the one its
    discriminator names, else by its type, then its keys."""
    discriminator = schema.get("discriminator", {})
    named = isinstance(value, dict) and value.get(discriminator.get("propertyName"))
    if named in discriminator.get("mapping", {}):
        return _flatten(_resolve({"$ref": discriminator["mapping"][named]}))
    options = [
        _flatten(_resolve(each)) for each in schema.get("oneOf") or schema["anyOf"]
    ]
    wanted = {dict: "object", list: "array", str: "string", bool: "boolean"}
    kind = wanted.get(type(value))
    typed = [each for each in options if each.get("type", "object") == kind] or options
    if not isinstance(value, dict):
        return typed[0]
    return max(
        typed, key=lambda each: len(value.keys() & each.get("properties", {}).keys())
    )


def _flatten(schema: dict[str, Any]) -> dict[str, Any]:
    """An allOf schema as one object schema, its parts' properties combined."""
    if "allOf" not in schema:
        return schema
    combined: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for part in schema["allOf"]:
        part = _flatten(_resolve(part))
        combined["properties"].update(part.get("properties", {}))
        combined["required"].extend(part.get("required", []))
    return combined


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = description()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node
