"""Tools from HTTP APIs: an endpoint with a JSON-schema for its arguments, declared by hand
(``declarations``, TOML) or imported from an OpenAPI 3 document (``openapi``), called with
a timeout, retries for reads, one circuit breaker per host, a response size cap, an
allow-list of hosts, and the verified end user filled in by the server (``http``).

    spec          HttpToolSpec: one tool's declaration, validated
    schema        the JSON-schema subset the arguments are checked against
    declarations  load_tool_file: tools declared in TOML
    openapi       import_openapi, OpenApiImport: tools from an OpenAPI document
    http          HttpTool.call -> ToolOutcome (failures are outcomes, never exceptions)
    registry      ToolRegistry: an assistant's tools, built once, sharing one client
"""

from switchboard.tools.declarations import load_tool_file, tool_specs
from switchboard.tools.http import HttpTool, RetryTiming, ToolFailure, ToolOutcome
from switchboard.tools.openapi import OpenApiImport, import_openapi, parse_openapi
from switchboard.tools.registry import ToolRegistry, secret_problem
from switchboard.tools.schema import check_schema, schema_errors
from switchboard.tools.spec import HttpMethod, HttpToolSpec

__all__ = [
    "HttpMethod",
    "HttpTool",
    "HttpToolSpec",
    "OpenApiImport",
    "RetryTiming",
    "ToolFailure",
    "ToolOutcome",
    "ToolRegistry",
    "check_schema",
    "import_openapi",
    "load_tool_file",
    "parse_openapi",
    "schema_errors",
    "secret_problem",
    "tool_specs",
]
