"""Which AWS operation an HTTP request is, read with botocore's own service models.

The emulator judges every call the way AWS would (IAM, states, limits), so it must know what a
request is for any client: boto3, the AWS CLI, the console's shapes. botocore's models say, for
every operation of every service, how it travels: an `X-Amz-Target` header (JSON protocols), an
`Action` form field (query protocols), a method and URI template (REST protocols), or a
`/service/.../operation/...` path (RPC v2). Nothing here lists the calls pocctl happens to make.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.session

from pocctl.core.telemetry import READ_PREFIXES

AUTH = re.compile(r"Credential=(?P<key>[^/]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/")
RPC_V2_PATH = re.compile(r"^/service/[^/]+/operation/(?P<operation>[A-Za-z0-9]+)$")
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_lock = threading.Lock()


# The header the emulator's CloudFormation marks its calls with (`Call.by_cloudformation`).
CLOUDFORMATION_HEADER = "x-pocctl-cloudformation"


@dataclass
class Call:
    """One AWS API request as the emulator sees it."""

    service: str  # botocore's service name: "sqs", "dynamodbstreams", "lambda", ...
    operation: str  # "SendMessage", "CreateFunction", ...
    params: dict[str, Any]
    region: str
    access_key: str
    protocol: str
    method: str = "POST"
    path: str = "/"
    # Set for the emulator's own requests (pollers' bookkeeping, API reads): no latency, limits.
    internal: bool = False
    uri_params: dict[str, str] = field(default_factory=dict)
    # Set for the emulator's CloudFormation acting for a stack: it may set aws:cloudformation:*
    # tags, which users may not (aws/reserved_tags.py).
    by_cloudformation: bool = False

    @property
    def mutating(self) -> bool:
        return not self.operation.startswith(READ_PREFIXES)


@cache
def _session() -> Any:
    return botocore.session.get_session()


@cache
def service_model(name: str) -> Any:
    with _lock:
        return _session().get_service_model(name)


# Services whose signing name is not their botocore name (loading every model to find out costs
# seconds). Any other service is looked up under its signing name.
SIGNING_ALIASES = {
    "dynamodb": ["dynamodb", "dynamodbstreams"],
    "tagging": ["resourcegroupstaggingapi"],
    "monitoring": ["cloudwatch"],
    "email": ["ses", "sesv2"],
    "states": ["stepfunctions"],
    "apigateway": ["apigateway", "apigatewayv2"],
}


def _candidates(signing_name: str) -> list[str]:
    available = set(_available())
    return [n for n in SIGNING_ALIASES.get(signing_name, [signing_name]) if n in available]


@cache
def _available() -> tuple[str, ...]:
    return tuple(_session().get_available_services())


@cache
def _rest_routes(name: str) -> list[tuple[str, re.Pattern[str], int, str]]:
    """(method, path pattern, literal length, operation) for a REST service, most specific first."""
    model = service_model(name)
    routes = []
    for operation in model.operation_names:
        http = model.operation_model(operation).http
        uri = http.get("requestUri", "/").split("?", 1)[0]
        pattern, literal = "", 0
        for part in re.split(r"(\{[^}]+\})", uri):
            if part.startswith("{"):
                label = part[1:-1]
                greedy = label.endswith("+")
                group = re.sub(r"\W", "_", label.rstrip("+"))
                pattern += f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)"
            else:
                pattern += re.escape(part)
                literal += len(part)
        routes.append(
            (http.get("method", "POST"), re.compile(f"^{pattern}/?$"), literal, operation)
        )
    routes.sort(key=lambda route: -route[2])
    return routes


def _query_uri_operation(name: str, method: str, path: str, query: str) -> str | None:
    """REST operations that share a path and differ by a literal query (`?tagging`)."""
    model = service_model(name)
    for operation in model.operation_names:
        http = model.operation_model(operation).http
        uri = http.get("requestUri", "")
        if "?" in uri and http.get("method") == method:
            base, literal = uri.split("?", 1)
            if literal.split("=")[0] in query and re.sub(r"\{[^}]+\}", "x", base) == re.sub(
                r"[^/]+", "x", path
            ):
                return str(operation)
    return None


def _rest(name: str, method: str, path: str, query: str) -> tuple[str, dict[str, str]] | None:
    found = _query_uri_operation(name, method, path, query) if query else None
    for route_method, pattern, _, operation in _rest_routes(name):
        if route_method != method:
            continue
        match = pattern.match(path)
        if match:
            uri_params = {k: unquote(v) for k, v in match.groupdict().items()}
            return found or operation, uri_params
    return None


def _params_from_uri(
    model: Any, operation: str, uri_params: dict[str, str], query: str
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    shape = model.operation_model(operation).input_shape
    members = shape.members if shape is not None else {}
    query_values = parse_qs(query)
    for member, member_shape in members.items():
        where = member_shape.serialization.get("location")
        wire = member_shape.serialization.get("name", member)
        if where == "uri":
            key = re.sub(r"\W", "_", wire)
            if key in uri_params:
                params[member] = uri_params[key]
        elif where == "querystring" and wire in query_values:
            values = query_values[wire]
            params[member] = values if member_shape.type_name == "list" else values[0]
    return params


def parse(headers: dict[str, str], method: str, path: str, query: str, body: bytes) -> Call | None:
    """The call a signed request makes, or None when it is not a signed AWS API request."""
    auth = AUTH.search(headers.get("authorization", ""))
    if auth is None:
        return None
    target = headers.get("x-amz-target", "")
    params: dict[str, Any] = {}
    for name in _candidates(auth["service"]):
        model = service_model(name)
        protocol = model.protocol
        operation: str | None = None
        uri_params: dict[str, str] = {}
        if target:
            prefix, _, op = target.rpartition(".")
            if model.metadata.get("targetPrefix") != prefix:
                continue
            operation = op
            protocol = "json"  # a service that also speaks RPC v2 CBOR, spoken to in JSON
            try:
                params = json.loads(body or b"{}")
            except json.JSONDecodeError:
                params = {}
        elif RPC_V2_PATH.match(path):
            operation = RPC_V2_PATH.match(path)["operation"]  # type: ignore[index]
            params = {}  # CBOR bodies are not decoded: no judgement here needs them
        elif protocol in ("query", "ec2"):
            form = parse_qs(body.decode("utf-8", "replace")) if body else parse_qs(query)
            operation = (form.get("Action") or [""])[0] or None
            params = {k: v[0] for k, v in form.items()}
        elif protocol.startswith("rest"):
            routed = _rest(name, method, path, query)
            if routed is None:
                continue
            operation, uri_params = routed
            params = _params_from_uri(model, operation, uri_params, query)
            if body and protocol == "rest-json":
                try:
                    loaded = json.loads(body)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    loaded = None
                if isinstance(loaded, dict):
                    params = {**loaded, **params}
        if operation and operation in model.operation_names:
            return Call(
                service=name,
                operation=operation,
                params=params,
                region=auth["region"],
                access_key=auth["key"],
                protocol=protocol,
                method=method,
                path=path,
                uri_params=uri_params,
            )
    return None
