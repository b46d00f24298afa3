"""Deployed REST APIs, executed as API Gateway would for what pocctl's API uses.

Stage, resource and method lookup, stage throttling, the request validator and JSON-schema model,
the integration's request template, an AWS integration to SQS made with the integration's role,
and the integration responses chosen by selection pattern. What pocctl's API doesn't use (Lambda
proxy, HTTP integrations, authorizers) answers 501 with a message naming it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from botocore.exceptions import ClientError

from pocctl.local.vtl import TemplateError, render

USER_REQUEST = re.compile(
    r"^/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/_user_request_(?P<path>/.*)?$"
)
SQS_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:(?P<region>[^:]+):sqs:path/(?P<account>\d+)/(?P<queue>.+)$"
)
CACHE_SECONDS = 1.0
DEFAULT_GATEWAY_RESPONSES = {
    "BAD_REQUEST_BODY": ("400", '{"message": "Invalid request body"}'),
    "UNSUPPORTED_MEDIA_TYPE": ("415", '{"message": "Unsupported Media Type"}'),
    "MISSING_AUTHENTICATION_TOKEN": ("403", '{"message": "Missing Authentication Token"}'),
    "THROTTLED": ("429", '{"message": "Too Many Requests"}'),
    "INTEGRATION_FAILURE": ("500", '{"message": "Internal server error"}'),
    # "Execution failed due to configuration error", such as a role API Gateway cannot assume
    # (API Gateway Developer Guide, "Gateway response types": API_CONFIGURATION_ERROR, 500).
    "API_CONFIGURATION_ERROR": ("500", '{"message": "Internal server error"}'),
}

ClientFor = Callable[[str, str], Any]  # (service, region) -> client
RoleClientFor = Callable[[str, str, str], Any]  # (service, region, role ARN) -> client
Assumable = Callable[[str, str], bool]  # (role ARN, service) -> may the service assume it now


@dataclass
class Response:
    status: int
    body: str


@dataclass
class Definition:
    resources: list[dict[str, Any]]
    validators: dict[str, dict[str, Any]]
    models: dict[str, dict[str, Any]]
    gateway_responses: dict[str, dict[str, Any]]


@dataclass
class ApiConfig:
    region: str
    stage: dict[str, Any]
    resources: list[dict[str, Any]]
    validators: dict[str, dict[str, Any]]
    models: dict[str, dict[str, Any]]
    gateway_responses: dict[str, dict[str, Any]]


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class ApiGateway:
    def __init__(
        self,
        client: ClientFor,
        client_as: RoleClientFor,
        regions: set[str],
        assumable: Assumable = lambda role, service: True,
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.client = client
        self.client_as = client_as
        self.assumable = assumable
        self.log = log  # what API Gateway's execution log would say
        self.regions = regions
        self._cache: dict[tuple[str, str], tuple[float, ApiConfig | None]] = {}
        self._buckets: dict[tuple[str, str, float, int], TokenBucket] = {}
        self._deployments: dict[tuple[str, str], Definition] = {}
        self._lock = threading.Lock()
        # Told of each answer of a deployed stage (region, API id, stage, status, latency ms).
        self.on_answered: Callable[[str, str, str, int, float], None] = lambda *answer: None

    # -- configuration: the deployment the stage points at ---------------------------------
    def deployed(self, region: str, api_id: str, deployment_id: str) -> None:
        """CreateDeployment snapshots the API's definition: the stage serves that snapshot, not
        later edits, until it points at a newer deployment (API Gateway Developer Guide,
        "Deploying a REST API": changes take effect only once deployed)."""
        ag = self.client("apigateway", region)
        snapshot = Definition(
            resources=ag.get_resources(restApiId=api_id, embed=["methods"], limit=500)["items"],
            validators={v["id"]: v for v in ag.get_request_validators(restApiId=api_id)["items"]},
            models={m["name"]: m for m in ag.get_models(restApiId=api_id)["items"]},
            gateway_responses={
                g["responseType"]: g for g in ag.get_gateway_responses(restApiId=api_id)["items"]
            },
        )
        with self._lock:
            self._deployments[(api_id, deployment_id)] = snapshot
            self._cache.clear()

    def config(self, api_id: str, stage: str) -> ApiConfig | None:
        key = (api_id, stage)
        with self._lock:
            cached = self._cache.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        found = self._read(api_id, stage)
        with self._lock:
            self._cache[key] = (time.monotonic() + CACHE_SECONDS, found)
        return found

    def _read(self, api_id: str, stage: str) -> ApiConfig | None:
        for region in sorted(self.regions):
            ag = self.client("apigateway", region)
            try:
                stage_info = ag.get_stage(restApiId=api_id, stageName=stage)
            except ClientError:
                continue
            with self._lock:
                snapshot = self._deployments.get((api_id, stage_info.get("deploymentId", "")))
            if snapshot is None:
                return None  # a stage whose deployment we never saw answers nothing
            return ApiConfig(region=region, stage=stage_info, **vars(snapshot))
        return None

    # -- one request ---------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        started = time.monotonic()
        response = self._answer(method, path, headers, body)
        match = USER_REQUEST.match(path)
        config = self.config(match["api"], match["stage"]) if match else None
        if match and config is not None:
            latency = (time.monotonic() - started) * 1000
            self.on_answered(config.region, match["api"], match["stage"], response.status, latency)
        return response

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        match = USER_REQUEST.match(path)
        assert match is not None
        config = self.config(match["api"], match["stage"])
        if config is None:
            # A stage that isn't there (deleted, or never made) is a path the API doesn't have:
            # 403 "Missing Authentication Token" (AWS re:Post knowledge center,
            # "api-gateway-authentication-token-errors": "a method or resource that does not
            # exist"). A deleted stage's config is cached here up to CACHE_SECONDS.
            return gateway_response(None, "MISSING_AUTHENTICATION_TOKEN", {})
        resource_path = match["path"] or "/"
        resource = next((r for r in config.resources if r["path"] == resource_path), None)
        methods = (resource or {}).get("resourceMethods") or {}
        spec = methods.get(method) or methods.get("ANY")
        if spec is None:
            return gateway_response(config, "MISSING_AUTHENTICATION_TOKEN", {})
        if not self._admit(match["api"], match["stage"], config):
            return gateway_response(config, "THROTTLED", {})
        text = body.decode("utf-8", "replace")
        content_type = (headers.get("content-type") or "application/json").split(";")[0].strip()
        context = {
            **request_ids(headers),
            "apiId": match["api"],
            "stage": match["stage"],
            "httpMethod": method,
            "resourcePath": resource_path,
            "path": f"/{match['stage']}{resource_path}",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("user-agent", "")},
            "requestTimeEpoch": int(time.time() * 1000),
        }
        params = {"path": {}, "querystring": {}, "header": dict(headers)}
        invalid = self._validate(config, spec, content_type, text)
        if invalid is not None:
            return gateway_response(config, "BAD_REQUEST_BODY", {"validationErrorString": invalid})
        integration = spec.get("methodIntegration") or {}
        templates = integration.get("requestTemplates") or {}
        if content_type in templates:
            try:
                request_body = render(templates[content_type], text, context, params)
            except TemplateError as exc:
                return Response(500, json.dumps({"message": f"pocctl local: {exc}"}))
        elif integration.get("passthroughBehavior") == "NEVER" or (
            templates and integration.get("passthroughBehavior") == "WHEN_NO_TEMPLATES"
        ):
            return gateway_response(config, "UNSUPPORTED_MEDIA_TYPE", {})
        else:
            request_body = text
        role = integration.get("credentials")
        if role and not self.assumable(role, "apigateway.amazonaws.com"):
            # A role whose trust policy does not name apigateway.amazonaws.com, or that IAM has
            # not yet shown API Gateway (new, or its trust just changed): the request fails
            # before the integration runs, so no integration response maps it. The client gets
            # 500 "Internal server error" (Miserlou/Zappa#479; terraform-aws-modules/
            # terraform-aws-apigateway-v2#87, "API Gateway doesn't have permissions to assume
            # the IAM role configured on the integration"): the gateway response
            # API_CONFIGURATION_ERROR, 500 by default (API Gateway Developer Guide, "Gateway
            # response types"). The execution log reads as below (public execution logs:
            # "Execution failed due to configuration error: API Gateway does not have
            # permission to assume the provided role arn:aws:iam::...").
            self.log(
                f"API Gateway {match['api']}/{match['stage']} {method} {resource_path}: "
                "Execution failed due to configuration error: API Gateway does not have "
                f"permission to assume the provided role {role}"
            )
            return gateway_response(config, "API_CONFIGURATION_ERROR", {})
        status, backend_body = self._integrate(config, integration, request_body)
        return self._respond(integration, status, backend_body, context)

    def _admit(self, api_id: str, stage: str, config: ApiConfig) -> bool:
        settings = (config.stage.get("methodSettings") or {}).get("*/*") or {}
        rate = settings.get("throttlingRateLimit")
        burst = settings.get("throttlingBurstLimit")
        if rate is None or burst is None:
            return True
        key = (api_id, stage, float(rate), int(burst))
        with self._lock:
            bucket = self._buckets.setdefault(key, TokenBucket(float(rate), int(burst)))
        return bucket.take()

    def _validate(
        self, config: ApiConfig, spec: dict[str, Any], content_type: str, text: str
    ) -> str | None:
        validator = config.validators.get(spec.get("requestValidatorId") or "")
        if not validator or not validator.get("validateRequestBody"):
            return None
        model_name = (spec.get("requestModels") or {}).get(content_type)
        model = config.models.get(model_name or "")
        if model is None:
            return None
        import jsonschema

        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            return f"[Invalid JSON in request body: {exc.msg}]"
        schema = json.loads(model["schema"])
        errors = sorted(
            jsonschema.Draft4Validator(schema).iter_errors(document), key=lambda e: list(e.path)
        )
        if not errors:
            return None
        # As AWS writes it, double quotes included: a template that embeds it must escape it.
        return "[" + ", ".join(describe(e) for e in errors) + "]"

    def _integrate(
        self, config: ApiConfig, integration: dict[str, Any], request_body: str
    ) -> tuple[int, str]:
        kind, uri = integration.get("type"), integration.get("uri") or ""
        target = SQS_URI.match(uri)
        if kind != "AWS" or target is None:
            return 501, json.dumps(
                {"message": f"pocctl local runs AWS integrations to SQS only, not {kind} {uri}"}
            )
        form = parse_qs(request_body, keep_blank_values=True)
        action = (form.get("Action") or [""])[0]
        if action != "SendMessage":
            return 400, sqs_error("InvalidAction", f"The action {action!r} is not valid here")
        header = (integration.get("requestParameters") or {}).get(
            "integration.request.header.Content-Type", ""
        )
        if "application/x-www-form-urlencoded" not in header:
            return 400, sqs_error("InvalidParameterValue", "request is not form-urlencoded")
        role = integration.get("credentials")
        if not role:
            return 403, sqs_error("AccessDenied", "the integration has no credentials role")
        try:
            sqs = self.client_as("sqs", target["region"], role)
            # As API Gateway does: the queue by its path, no GetQueueUrl (the role may not have it).
            url = f"{sqs.meta.endpoint_url}/{target['account']}/{target['queue']}"
            attributes = message_attributes(form)
            if isinstance(attributes, str):
                return 400, sqs_error("InvalidParameterValue", attributes)
            sent = sqs.send_message(
                QueueUrl=url,
                MessageBody=(form.get("MessageBody") or [""])[0],
                **({"MessageAttributes": attributes} if attributes else {}),
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
            return status, sqs_error(error.get("Code", "Error"), error.get("Message", str(exc)))
        return 200, json.dumps(
            {
                "SendMessageResponse": {
                    "SendMessageResult": {
                        "MessageId": sent["MessageId"],
                        "MD5OfMessageBody": sent.get("MD5OfMessageBody"),
                    },
                    "ResponseMetadata": {"RequestId": sent["ResponseMetadata"].get("RequestId")},
                }
            }
        )

    def _respond(
        self, integration: dict[str, Any], status: int, backend_body: str, context: dict[str, Any]
    ) -> Response:
        responses = integration.get("integrationResponses") or {}
        chosen = None
        for candidate in responses.values():
            pattern = candidate.get("selectionPattern")
            if pattern and re.fullmatch(pattern, str(status)):
                chosen = candidate
                break
        if chosen is None:
            chosen = next((r for r in responses.values() if not r.get("selectionPattern")), None)
        if chosen is None:
            return Response(500, '{"message": "Internal server error"}')
        template = (chosen.get("responseTemplates") or {}).get("application/json")
        # A template may set $context.responseOverride.status (API Gateway Developer Guide,
        # "Override your API's request and response parameters and status codes").
        context = {**context, "responseOverride": {"status": None, "header": {}}}
        try:
            rendered = backend_body if template is None else render(template, backend_body, context)
        except TemplateError as exc:
            return Response(500, json.dumps({"message": f"pocctl local: {exc}"}))
        override = context["responseOverride"].get("status")
        return Response(int(override or chosen["statusCode"]), rendered)


def request_ids(headers: dict[str, str]) -> dict[str, str]:
    """$context.requestId and $context.extendedRequestId. API Gateway Developer Guide, "Set up
    CloudWatch logging for REST APIs": requestId is "the value in the x-amzn-RequestId header.
    Clients can override the value in the x-amzn-RequestId header"; extendedRequestId "is a
    unique ID that API Gateway generates ... An API caller can't provide or override" it. Its
    form is AWS's ("XxxXXXxx=", re:Post "collect API Gateway extended request IDs"): base64,
    so it may hold + / =."""
    return {
        "requestId": headers.get("x-amzn-requestid") or str(uuid.uuid4()),
        "extendedRequestId": base64.b64encode(os.urandom(11)).decode(),
    }


ATTRIBUTE_NAME = re.compile(r"^MessageAttribute\.(\d+)\.Name$")


def message_attributes(form: dict[str, list[str]]) -> dict[str, dict[str, Any]] | str:
    """SendMessage's message attributes in its query form (SQS API reference, SendMessage):
    MessageAttribute.N.Name, .N.Value.DataType, .N.Value.StringValue or .N.Value.BinaryValue.
    A string when one is incomplete: SQS refuses the message (InvalidParameterValue)."""
    found: dict[str, dict[str, Any]] = {}
    for key, values in form.items():
        number = ATTRIBUTE_NAME.match(key)
        if number is None:
            continue
        name, prefix = values[0], f"MessageAttribute.{number[1]}.Value."
        value: dict[str, Any] = {"DataType": (form.get(prefix + "DataType") or [""])[0]}
        if prefix + "StringValue" in form:
            value["StringValue"] = form[prefix + "StringValue"][0]
        if prefix + "BinaryValue" in form:
            value["BinaryValue"] = base64.b64decode(form[prefix + "BinaryValue"][0])
        if not value["DataType"] or len(value) < 2:
            return f"The message attribute '{name}' must contain a type and a value."
        found[name] = value
    return found


def describe(error: Any) -> str:
    """In the words of API Gateway's validator (json-schema-validator's messages)."""
    if error.validator == "required":
        missing = sorted(set(error.validator_value) - set(error.instance or {}))
        return f"object has missing required properties ({json.dumps(missing)})"
    where = "/" + "/".join(str(p) for p in error.path)
    return f"instance {where}: {error.message}"


def sqs_error(code: str, message: str) -> str:
    return json.dumps({"Error": {"Code": code, "Message": message, "Type": "Sender"}})


def gateway_response(config: ApiConfig | None, kind: str, error: dict[str, Any]) -> Response:
    status, template = DEFAULT_GATEWAY_RESPONSES[kind]
    custom = (config.gateway_responses.get(kind) if config else None) or {}
    status = custom.get("statusCode") or status
    template = (custom.get("responseTemplates") or {}).get("application/json") or template
    try:
        body = render(template, "", {"error": error})
    except TemplateError:
        body = template
    return Response(int(status), body)
