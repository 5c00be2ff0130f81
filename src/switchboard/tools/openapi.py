"""Tools imported from an OpenAPI 3.0 or 3.1 document (JSON or YAML).

Each operation with an ``operationId`` becomes one ``HttpToolSpec``: its path and query
parameters and the properties of its JSON request body are merged into one parameters
object (the body's properties go in the body); local ``$ref``s are inlined, a cycle is
refused; the base URL is ``servers[0]`` unless one is given; ``description`` (else
``summary``) describes it. Operations without an ``operationId`` are left out. Every error
is one line naming the operation. ``OpenApiImport`` is such an import as an assistant's
definition declares it: the document's file and the arguments of ``import_openapi``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from switchboard.tools.declarations import declared_spec
from switchboard.tools.spec import HttpToolSpec

METHODS = ("get", "post", "put", "patch", "delete")


def parse_openapi(text: str) -> dict[str, Any]:
    """The document in ``text`` (JSON or YAML), checked to be OpenAPI 3.0 or 3.1."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problem = str(exc).splitlines()[0]
            raise ValueError(f"the OpenAPI document is neither JSON nor YAML: {problem}") from None
    return checked_openapi(document)


def checked_openapi(document: Any) -> dict[str, Any]:
    """``document`` if it is an OpenAPI 3.0 or 3.1 document with paths, else ``ValueError``."""
    if not isinstance(document, dict):
        raise ValueError("the OpenAPI document is not an object")
    version = str(document.get("openapi", ""))
    if not re.match(r"3\.[01]\.", version + "."):
        raise ValueError(f"not an OpenAPI 3.0/3.1 document (openapi: {version or 'missing'})")
    if not isinstance(document.get("paths"), dict):
        raise ValueError("the OpenAPI document has no paths")
    return document


def import_openapi(
    document: Mapping[str, Any] | str,
    *,
    base_url: str | None = None,
    operations: Iterable[str] | None = None,
    end_user: str | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> list[HttpToolSpec]:
    """The tools of ``document``: all its operations with an id, or those ``operations``
    names; ``end_user`` names the parameter the server fills; ``defaults`` are spec
    fields for every tool (``timeout_s``, ``secret_header``...)."""
    doc = parse_openapi(document) if isinstance(document, str) else checked_openapi(document)
    base = base_url or _server_url(doc)
    found = dict(_operations(doc))
    wanted = list(found) if operations is None else list(operations)
    missing = [name for name in wanted if name not in found]
    if missing:
        raise ValueError(f"no operation {missing} in the document (it has {sorted(found)})")
    if not wanted:
        raise ValueError("no operation of the OpenAPI document has an operationId")
    specs: list[HttpToolSpec] = []
    for name in wanted:
        path, method, operation, shared = found[name]
        fields = _tool_fields(doc, name, path, method, operation, shared)
        fields["end_user"] = end_user if end_user in fields["parameters"]["properties"] else None
        spec = declared_spec({**(defaults or {}), **fields}, base)
        twin = next((w for w, s in zip(wanted, specs, strict=False) if s.name == spec.name), None)
        if twin is not None:
            raise ValueError(f"operations {twin!r} and {name!r} both become the tool {spec.name!r}")
        specs.append(spec)
    if end_user is not None and not any(spec.end_user for spec in specs):
        raise ValueError(f"no imported operation has the end-user parameter {end_user!r}")
    return specs


class OpenApiImport(BaseModel):
    """The tools of an OpenAPI document on disk, as an assistant's definition declares
    them (``[tools_openapi]``): ``import_openapi``'s arguments and the secret every call
    sends."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Path = Field(description="The document (JSON or YAML).")
    base_url: str | None = Field(
        None, description="Where its paths are called (default: the document's servers[0])."
    )
    operations: list[str] | None = Field(
        None, min_length=1, description="Only these operation ids (default: every one)."
    )
    end_user: str | None = Field(
        None, description="The parameter the server fills with the verified end user."
    )
    secret_env: str | None = Field(None, description="The variable holding the API's secret.")
    secret_header: str | None = Field(None, description="The header that sends the secret.")
    secret_prefix: str | None = Field(None, description="Put before the secret ('Bearer ').")

    def specs(self) -> list[HttpToolSpec]:
        """The document's tools; ``ValueError`` (one line) names the file and the problem."""
        try:
            text = self.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise ValueError(f"cannot read {self.file}: {reason}") from None
        secrets = ("secret_env", "secret_header", "secret_prefix")
        defaults = {key: getattr(self, key) for key in secrets if getattr(self, key) is not None}
        try:
            return import_openapi(
                text,
                base_url=self.base_url,
                operations=self.operations,
                end_user=self.end_user,
                defaults=defaults,
            )
        except ValueError as exc:
            raise ValueError(f"{self.file}: {exc}") from None


def _server_url(doc: Mapping[str, Any]) -> str:
    servers = doc.get("servers") or [{}]
    server = servers[0] if isinstance(servers, list) and isinstance(servers[0], dict) else {}
    url = str(server.get("url", ""))
    for name, variable in (server.get("variables") or {}).items():
        url = url.replace("{" + name + "}", str(variable.get("default", "")))
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"servers[0] gives no absolute URL ({url or 'none'}): pass a base_url")
    return url


def _operations(doc: Mapping[str, Any]) -> Iterable[tuple[str, tuple[str, str, dict, list]]]:
    for path, item in doc["paths"].items():
        if isinstance(item, dict) and "$ref" in item:
            item = _target(doc, item["$ref"])
        if not isinstance(item, dict):
            raise ValueError(f"paths.{path} is not an object")
        for method in METHODS:
            operation = item.get(method)
            if isinstance(operation, dict) and operation.get("operationId"):
                shared = item.get("parameters", [])
                yield str(operation["operationId"]), (path, method, operation, shared)


def _tool_fields(
    doc: Mapping[str, Any], name: str, path: str, method: str, operation: dict, shared: list
) -> dict[str, Any]:
    where = f"operation {name}"
    properties: dict[str, Any] = {}
    required: list[str] = []
    parameters = {
        (p["name"], p["in"]): p
        for p in _parameters(doc, shared + operation.get("parameters", []), where)
    }
    for (param, place), declared in parameters.items():
        if place not in ("path", "query"):
            if declared.get("required"):
                raise ValueError(f"{where}: required {place} parameter {param!r} is unsupported")
            continue
        schema = _resolved(doc, declared.get("schema", {}), [])
        if declared.get("description") and "description" not in schema:
            schema = {**schema, "description": declared["description"]}
        properties[param] = schema
        if place == "path" or declared.get("required"):
            required.append(param)
    body = _body(doc, operation, where)
    if body is not None:
        clash = set(properties) & set(body.get("properties", {}))
        if clash:
            raise ValueError(f"{where}: body properties {sorted(clash)} clash with parameters")
        properties.update(body.get("properties", {}))
        required += [r for r in body.get("required", []) if r not in required]
    fields: dict[str, Any] = {
        "name": re.sub(r"[^A-Za-z0-9_]", "_", name)[:64],
        "description": operation.get("description") or operation.get("summary") or name,
        "method": method.upper(),
        "path": path,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }
    if body is not None:
        fields["body"] = list(body.get("properties", {}))
    return fields


def _parameters(doc: Mapping[str, Any], declared: list, where: str) -> list[dict[str, Any]]:
    parameters = [_resolved(doc, p, []) for p in declared]
    for parameter in parameters:
        if not isinstance(parameter, dict) or "name" not in parameter or "in" not in parameter:
            raise ValueError(f"{where}: a parameter without a name or 'in'")
    return parameters


def _body(doc: Mapping[str, Any], operation: dict, where: str) -> dict[str, Any] | None:
    if "requestBody" not in operation:
        return None
    content = _resolved(doc, operation["requestBody"], []).get("content", {})
    media = next((m for m in content if m == "application/json" or m.endswith("+json")), None)
    if media is None:
        raise ValueError(f"{where}: only a JSON request body is supported, not {sorted(content)}")
    schema = _resolved(doc, content[media].get("schema", {}), [])
    if schema.get("type", "object") != "object":
        raise ValueError(f"{where}: the request body must be a JSON object")
    return schema


def _resolved(doc: Mapping[str, Any], node: Any, trail: list[str]) -> Any:
    """``node`` with every local ``$ref`` inlined; ``ValueError`` for a cycle."""
    if isinstance(node, list):
        return [_resolved(doc, item, trail) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in trail:
            raise ValueError(f"$ref cycle: {' -> '.join([*trail, ref])}")
        return _resolved(doc, _target(doc, ref), [*trail, ref])
    return {key: _resolved(doc, value, trail) for key, value in node.items()}


def _target(doc: Mapping[str, Any], ref: Any) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise ValueError(f"$ref {ref!r}: only references inside the document are supported")
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise ValueError(f"$ref {ref!r} points at nothing")
        node = node[part]
    return node
