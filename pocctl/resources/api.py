"""The REST API: POST /order straight into SQS SendMessage, validated, deployed and throttled."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar
from urllib.parse import quote

from pocctl.core.arns import Arn
from pocctl.core.aws import aws_errors, delete, none_if_absent
from pocctl.core.context import Context, Outputs
from pocctl.core.errors import ForeignResourceError, StepError
from pocctl.core.reporting import Outcome
from pocctl.resources.base import (
    CLOUDFORMATION_STACK_TAG,
    Change,
    Leftover,
    Live,
    Missing,
    Plan,
    Step,
    arn_parts,
    destroy_ours,
    diff,
    is_ours,
    removal,
)
from pocctl.resources.cloudformation import (
    Resources,
    attribute,
    cfn_resource,
    fingerprint,
    logical_id,
    ref,
    tag_entries,
    variable,
)
from pocctl.resources.recorded import RecordDiffers, api_tags, record_differs

RESOURCE_PATH = "/order"
MODEL_NAME = "Order"
VALIDATOR_NAME = "order-body"
JSON = "application/json"
# On the stages `up` makes, with the stage's name: see `made_by_pocctl`.
STAGE_TAG = "pocctl:stage"
# On a stage `up` is removing (another took its place), so that, should DeleteStage fail, the
# stack's record is still the stage that replaced it (record.py).
REPLACED_TAG = "pocctl:replaced-by"
# The description every pocctl, older ones too, gives its deployments (CreateDeployment).
DEPLOYMENT_DESCRIPTION = "pocctl up"

ORDER_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Order",
    "type": "object",
    "required": ["item"],
    "properties": {
        "item": {"type": "string", "minLength": 1},
        "customerID": {"type": "string"},
    },
}

# $util.urlEncode: without it an order containing & + % = corrupts or splits the SQS message.
# The body is an envelope: the order's own id and the time the API took it, then the order as
# sent (the model made it a JSON object). The client gets that id: not the message id, which a
# redrive replaces (SQS Developer Guide); and in the body, not in message attributes, because
# no AWS document says a redrive keeps those, and redrive tools that copy only the body exist.
# The id is $context.extendedRequestId, which API Gateway generates and no caller can set;
# $context.requestId is taken from a client's x-amzn-RequestId header (API Gateway Developer
# Guide, "Set up CloudWatch logging for REST APIs"), and a reused id would make the writer's
# conditional put drop the order as already stored.
REQUEST_TEMPLATE = (
    "Action=SendMessage&MessageBody="
    + quote('{"orderID": "', safe="")
    + "$util.urlEncode($context.extendedRequestId)"
    + quote('", "receivedAt": ', safe="")
    + "$context.requestTimeEpoch"
    + quote(', "order": ', safe="")
    + "$util.urlEncode($input.body)"
    + quote("}", safe="")
)
ACCEPTED_TEMPLATE = '{"orderID": "$context.extendedRequestId"}'
# SQS's answer to a refused SendMessage carries its error code. Only a message SQS finds wrong is
# the client's fault (400); anything else (no such queue, access denied, KMS, throttling) is the
# service's, and the client must not be told to fix its order (502).
CLIENT_FAULTS = ("InvalidMessageContents", "InvalidParameterValue")
QUEUE_ERROR_TEMPLATE = (
    "#set($code = $input.path('$.Error.Code'))"
    + "#if("
    + " || ".join(f'$code == "{code}"' for code in CLIENT_FAULTS)
    + ")"
    + '{"message": "The queue refused the order.", "error": "$code", '
    + '"detail": "'
    + """$util.escapeJavaScript($input.path('$.Error.Message')).replaceAll("\\\\'","'")"}"""
    + "#{else}#set($context.responseOverride.status = 502)"
    + '{"message": "The order could not be queued; the fault is the service\'s, not the '
    + 'order\'s: retry later.", "error": "$code"}#end'
)
# Backend status -> (client status, body). Patterns don't overlap: API Gateway picks any match.
ERROR_RESPONSES = {
    "4\\d{2}": ("400", QUEUE_ERROR_TEMPLATE),
    "5\\d{2}": ("503", '{"message": "The order queue is unavailable; retry later."}'),
}
METHOD_RESPONSES = ("200", "400", "502", "503")
ORDER_METHOD = "POST"
AUTHORIZATION = "NONE"  # the API is public; the stage's throttle is its ceiling
ENDPOINT = {"types": ["REGIONAL"]}
VALIDATION = {"validateRequestBody": True, "validateRequestParameters": False}
# The validation message holds double quotes (["item"]): escaped, or the body is not JSON.
# escapeJavaScript also escapes ' as \', which JSON does not allow: undone (API Gateway docs).
BAD_BODY_TEMPLATE = (
    '{"message": "Invalid order: '
    + "$util.escapeJavaScript($context.error.validationErrorString)"
    + """.replaceAll("\\\\'","'")", """
    + '"expected": "a JSON object with a non-empty string item, '
    + 'e.g. {\\"item\\": \\"latex gloves\\"}"}'
)


def bad_body_gateway_response() -> dict[str, Any]:
    """What a body the model refuses gets (PutGatewayResponse's fields)."""
    return {
        "responseType": "BAD_REQUEST_BODY",
        "statusCode": "400",
        "responseTemplates": {JSON: BAD_BODY_TEMPLATE},
    }


def capitalised(fields: dict[str, Any]) -> dict[str, Any]:
    """API Gateway's request fields as CloudFormation names its properties: validateRequestBody
    -> ValidateRequestBody (the names inside, such as a template's content type, stay)."""
    return {name[:1].upper() + name[1:]: value for name, value in fields.items()}


def invoke_url(ctx: Context, api_id: str, stage: str | None = None) -> str:
    stage = stage or ctx.config.stage
    if ctx.config.endpoint_url:
        # moto's server (and pocctl local) serve deployed APIs under this path.
        base = ctx.config.endpoint_url.rstrip("/")
        return f"{base}/restapis/{api_id}/{stage}/_user_request_{RESOURCE_PATH}"
    host = f"{api_id}.execute-api.{ctx.region}.{ctx.dns_suffix}"
    return f"https://{host}/{stage}{RESOURCE_PATH}"


def api_description(ctx: Context) -> str:
    return f"pocctl stack {ctx.config.stack}: POST {RESOURCE_PATH} -> SQS"


def throttle(ctx: Context) -> tuple[float, int]:
    """The stage's throttle: (requests per second, burst), as API Gateway reads them back."""
    tuning = ctx.config.tuning
    return float(tuning.throttle_rate), tuning.throttle_burst


def stage_tags(ctx: Context) -> dict[str, str]:
    """The stack's tag, the stage's own name (`made_by_pocctl`) and the deploy's record."""
    return {**ctx.config.tags, STAGE_TAG: ctx.config.stage, **api_tags(ctx.config)}


def apis_named(ctx: Context, api_name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in ctx.client("apigateway").get_paginator("get_rest_apis").paginate():
        found += [a for a in page["items"] if a["name"] == api_name]
    return found


def find_api(ctx: Context, api_name: str) -> dict[str, Any] | None:
    """This stack's API: found by name, confirmed by tag."""
    return next((a for a in apis_named(ctx, api_name) if is_ours(ctx, a.get("tags") or {})), None)


def stage_arn(ctx: Context, api_id: str, stage: str) -> str:
    path = f"/restapis/{api_id}/stages/{stage}"
    return str(Arn(ctx.partition, "apigateway", ctx.region, "", path))


def made_by_pocctl(ctx: Context, stage: dict[str, Any]) -> bool:
    """A stage `up` made for this stack: tagged with the stack and with its own name. A REST
    API's tags are inherited by its stages for access control (API Gateway Developer Guide, "Tag
    inheritance in the Amazon API Gateway V1 API"); whether GetStages then lists them is not
    said, so the stack's tag alone could be the API's: the stage's own name, which no API
    carries, tells a stage `up` tagged from one made by hand."""
    tags = stage.get("tags") or {}
    return is_ours(ctx, tags) and tags.get(STAGE_TAG) == stage["stageName"]


def stage_throttle(stage: dict[str, Any]) -> str:
    """How a stage's requests are throttled, in words. A stage made by hand has no throttle of its
    own unless one was set: then only the account's applies, by default 10,000 requests/s per
    Region across all its APIs (API Gateway Developer Guide, "Throttle requests to your REST
    APIs for better throughput in API Gateway": account-level throttling per Region)."""
    settings = (stage.get("methodSettings") or {}).get("*/*", {})
    rate, burst = settings.get("throttlingRateLimit"), settings.get("throttlingBurstLimit")
    if rate is None:
        return (
            "with no throttle of its own (only the account's applies: by default 10,000 "
            "requests/s per Region, shared by all its APIs)"
        )
    return f"throttled at {rate:g} requests/s (burst {burst})"


@dataclass
class StageMakers:
    """Which of an API's stages `up` made (`made`), and, of those an older pocctl may have made,
    the ones that share pocctl's deployment with others (`shared`: name -> the others)."""

    made: set[str] = field(default_factory=set)
    shared: dict[str, list[str]] = field(default_factory=dict)


def stage_makers(ctx: Context, api_id: str, stages: list[dict[str, Any]]) -> StageMakers:
    """The stages of the stack's API that `up` made: tagged as such, or, on a stack whose stages
    no `up` has tagged yet (made by a pocctl older than the tags), one whose deployment `up` made
    (its description) that no other stage shares: CreateDeployment with a stage name gives the
    stage a deployment of its own, so of stages sharing one, all but one were made with
    CreateStage, by hand, and which one is not said: none is removed. (A stage made by hand at
    an older deployment of pocctl's that no stage uses any more can't be told from one an older
    pocctl made.)"""
    makers = StageMakers({s["stageName"] for s in stages if made_by_pocctl(ctx, s)})
    if any(STAGE_TAG in (s.get("tags") or {}) for s in stages):
        return makers
    ag = ctx.client("apigateway")
    using: dict[str, list[str]] = {}
    for stage in stages:
        using.setdefault(stage.get("deploymentId") or "", []).append(stage["stageName"])
    for deployment_id, names in using.items():
        if not deployment_id:
            continue
        deployment = none_if_absent(
            partial(ag.get_deployment, restApiId=api_id, deploymentId=deployment_id)
        )
        if (deployment or {}).get("description") != DEPLOYMENT_DESCRIPTION:
            continue
        if len(names) == 1:
            makers.made.add(names[0])
        else:
            makers.shared.update({name: [n for n in names if n != name] for name in names})
    return makers


def delete_stage_command(ctx: Context, api_id: str, stage: str) -> str:
    command = f"aws apigateway delete-stage --rest-api-id {api_id} --stage-name {stage}"
    return removal(ctx, command)


def api_leftover(ctx: Context, api_id: str) -> Leftover:
    command = f"aws apigateway delete-rest-api --rest-api-id {api_id}"
    return Leftover(ApiStep.kind, api_id, removal(ctx, command))


@dataclass
class ApiState:
    api_id: str
    root_id: str | None = None
    resource_id: str | None = None
    method: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    validator_id: str | None = None
    bad_body_template: str | None = None
    stage: dict[str, Any] | None = None
    other_stages: list[dict[str, Any]] = field(default_factory=list)
    makers: StageMakers = field(default_factory=lambda: StageMakers())


@dataclass(frozen=True)
class DefinitionDiffers(Change):
    """A piece of the API's definition: changing it needs a new deployment."""

    what: str

    def __str__(self) -> str:
        return self.what


@dataclass(frozen=True)
class StageUntagged(Change):
    """The stack's stage lacks the tags that mark it as made by `up` (made by a pocctl older than
    them, or `up` stopped between CreateDeployment and TagResource). Like a missing record, not
    drift: the stage serves as it should; `up` tags it."""

    drift = False
    stage: str

    def __str__(self) -> str:
        return f"stage {self.stage}: not tagged as this stack's"


@dataclass(frozen=True)
class OldStage(Change):
    """A stage `up` made for this stack under another stage name: a second public door to the
    API, with the throttle it was given then. Removed once the stack's stage serves."""

    stage: str
    url: str
    current: str

    def __str__(self) -> str:
        return (
            f"stage {self.stage} still answers at {self.url}: a second public door; "
            f"`pocctl up --stage {self.current}` removes it once stage {self.current} serves"
        )


@dataclass(eq=False, kw_only=True)
class ApiStep(Step[ApiState]):
    kind: ClassVar[str] = "REST API"
    arns: ClassVar[tuple[str, str] | None] = ("apigateway", "/restapis/")
    api_name: str
    queue_name: str
    role_name: str
    key: str
    depends_on: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.api_name

    def cloudformation_tags(self, ctx: Context) -> dict[str, str] | None:
        """The API's tags, or those of a stage of it that carries CloudFormation's stack tag
        (CloudFormation tags both, `managed_by`): a stage alone holds the stack back."""
        ag = ctx.client("apigateway")
        with aws_errors(self.key, "GetStages"):
            api = find_api(ctx, self.api_name)
            if api is None:
                return None
            tags: dict[str, str] = api.get("tags") or {}
            if CLOUDFORMATION_STACK_TAG in tags:
                return tags
            stages = none_if_absent(lambda: ag.get_stages(restApiId=api["id"])["item"]) or []
        staged = (s.get("tags") or {} for s in stages)
        return next((t for t in staged if CLOUDFORMATION_STACK_TAG in t), tags)

    # -- what should be there -------------------------------------------------------------
    def desired_integration(self, ctx: Context) -> dict[str, Any]:
        region = ctx.region
        return {
            "type": "AWS",
            "httpMethod": "POST",
            "uri": (
                f"arn:{ctx.partition}:apigateway:{region}:sqs:path/"
                f"{ctx.account_id}/{self.queue_name}"
            ),
            "credentials": ctx.arn("iam", f"role/{self.role_name}", regional=False),
            "requestParameters": {
                "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
            },
            "requestTemplates": {JSON: REQUEST_TEMPLATE},
            "passthroughBehavior": "NEVER",
        }

    @staticmethod
    def desired_integration_responses() -> dict[str, tuple[str, str]]:
        """Client status -> (selection pattern, template)."""
        responses = {"200": ("", ACCEPTED_TEMPLATE)}
        for pattern, (status, template) in ERROR_RESPONSES.items():
            responses[status] = (pattern, template)
        return responses

    # -- reading ---------------------------------------------------------------------------
    def _read(self, ctx: Context, api_id: str) -> ApiState:
        ag = ctx.client("apigateway")

        resources, models, validators, bad_body, stages = ctx.together(
            lambda: ag.get_resources(restApiId=api_id, embed=["methods"], limit=500)["items"],
            lambda: ag.get_models(restApiId=api_id)["items"],
            lambda: ag.get_request_validators(restApiId=api_id)["items"],
            lambda: none_if_absent(
                lambda: ag.get_gateway_response(
                    restApiId=api_id, responseType=bad_body_gateway_response()["responseType"]
                )
            ),
            lambda: ag.get_stages(restApiId=api_id)["item"],
        )
        state = ApiState(api_id, makers=stage_makers(ctx, api_id, stages))
        for stage in stages:
            if stage["stageName"] == ctx.config.stage:
                state.stage = stage
            else:
                state.other_stages.append(stage)
        for resource in resources:
            if resource["path"] == "/":
                state.root_id = resource["id"]
            if resource["path"] == RESOURCE_PATH:
                state.resource_id = resource["id"]
                state.method = resource.get("resourceMethods", {}).get(ORDER_METHOD)
        state.model = next((m for m in models if m["name"] == MODEL_NAME), None)
        state.validator_id = next(
            (
                v["id"]
                for v in validators
                if v["name"] == VALIDATOR_NAME and v.get("validateRequestBody")
            ),
            None,
        )
        if bad_body is not None:
            state.bad_body_template = (bad_body.get("responseTemplates") or {}).get(JSON)
        return state

    def _method_differences(self, ctx: Context, state: ApiState) -> list[str]:
        method = state.method
        if method is None:
            return [f"POST {RESOURCE_PATH} missing"]
        changes = []
        if method.get("authorizationType") != AUTHORIZATION:
            changes.append("method authorization differs")
        if method.get("requestValidatorId") != state.validator_id or state.validator_id is None:
            changes.append("request validator not attached")
        if method.get("requestModels") != {JSON: MODEL_NAME}:
            changes.append("request model not attached")
        integration = method.get("methodIntegration") or {}
        for name, wanted in self.desired_integration(ctx).items():
            if integration.get(name) != wanted:
                changes.append(f"integration {name} differs")
        current = {
            status: (r.get("selectionPattern") or "", (r.get("responseTemplates") or {}).get(JSON))
            for status, r in (integration.get("integrationResponses") or {}).items()
        }
        if current != self.desired_integration_responses():
            changes.append("integration responses differ")
        if set(method.get("methodResponses") or {}) != set(METHOD_RESPONSES):
            changes.append("method responses differ")
        return changes

    def _stage_differences(
        self, ctx: Context, state: ApiState, *, tags: bool = True
    ) -> list[Change]:
        if state.stage is None:
            return [Missing(f"stage {ctx.config.stage} missing")]
        settings = (state.stage.get("methodSettings") or {}).get("*/*", {})
        now = (settings.get("throttlingRateLimit"), settings.get("throttlingBurstLimit"))
        want = throttle(ctx)
        ours = not tags or made_by_pocctl(ctx, state.stage)
        untagged = [] if ours else [StageUntagged(ctx.config.stage)]
        return diff("throttling (rate, burst)", now, want) + untagged

    def _old_stages(self, ctx: Context, state: ApiState) -> list[Change]:
        """The stack's stages under another name: each a second open door to remove."""
        return [
            OldStage(
                s["stageName"], invoke_url(ctx, state.api_id, s["stageName"]), ctx.config.stage
            )
            for s in state.other_stages
            if s["stageName"] in state.makers.made
        ]

    def foreign_stages(
        self, ctx: Context, api_id: str, stages: list[dict[str, Any]], makers: StageMakers
    ) -> list[str]:
        """Stages of the API that `up` did not make (someone's own, in the console), or may not
        have: left as they are, and named, since each is one more door to the pipeline."""
        notes = []
        for s in stages:
            name = s["stageName"]
            if name == ctx.config.stage or name in makers.made:
                continue
            others = makers.shared.get(name)
            maker = (
                "was not made by pocctl"
                if others is None
                else f"shares pocctl's deployment with stage {', '.join(others)}, and which of "
                "them an older pocctl made AWS doesn't say"
            )
            notes.append(
                f"stage {name} of {self.title} {maker}, so it is left as it is; it still takes "
                f"orders at {invoke_url(ctx, api_id, name)}, {stage_throttle(s)}. If it should "
                f"not, remove it: `{delete_stage_command(ctx, api_id, name)}`"
            )
        return notes

    def plan(self, ctx: Context) -> Plan[ApiState]:
        with aws_errors(self.key, "GetRestApis"):
            named = apis_named(ctx, self.api_name)
            api = next((a for a in named if is_ours(ctx, a.get("tags") or {})), None)
            if api is None and named:
                raise ForeignResourceError(self.kind, self.api_name, ctx.config.stack)
            if api is None:
                return Plan.create()
            state = self._read(ctx, api["id"])
        definition = []
        if state.model is None or json.loads(state.model["schema"]) != ORDER_SCHEMA:
            definition.append(f"model {MODEL_NAME} missing or different")
        if state.validator_id is None:
            definition.append(f"request validator {VALIDATOR_NAME} missing")
        if state.bad_body_template != BAD_BODY_TEMPLATE:
            definition.append("bad-request response missing or different")
        definition += self._method_differences(ctx, state)
        changes: list[Change] = [DefinitionDiffers(what) for what in definition]
        changes += self._stage_differences(ctx, state) + self._old_stages(ctx, state)
        for note in self.foreign_stages(ctx, state.api_id, state.other_stages, state.makers):
            ctx.reporter.note(note)
        if state.stage is not None:
            tags = state.stage.get("tags") or {}
            # A stage `up` began to replace, then came back to, is recorded again too.
            found = {} if REPLACED_TAG in tags else tags
            changes += record_differs(found, api_tags(ctx.config))
        return Plan.from_changes(changes, state)

    # -- writing ---------------------------------------------------------------------------
    def outputs(self, ctx: Context, state: ApiState) -> Outputs:
        return Outputs(api_id=state.api_id, order_url=invoke_url(ctx, state.api_id))

    def apply(self, ctx: Context, plan: Plan[ApiState]) -> ApiState:
        ag = ctx.client("apigateway")
        state = plan.current
        # A new API, or a changed definition: write it, then deploy it.
        definition_changed = state is None or plan.has(DefinitionDiffers)
        if state is None:
            with aws_errors(self.key, "CreateRestApi"):
                api = ag.create_rest_api(
                    name=self.api_name,
                    description=api_description(ctx),
                    endpointConfiguration=ENDPOINT,
                    tags=ctx.config.tags,
                )
            state = ApiState(api["id"], root_id=api.get("rootResourceId"))
        api_id = state.api_id
        if definition_changed:
            self._write_definition(ctx, state)
        deployed = definition_changed or state.stage is None
        if deployed:
            try:
                with aws_errors(self.key, "CreateDeployment"):
                    ag.create_deployment(
                        restApiId=api_id,
                        stageName=ctx.config.stage,
                        description=DEPLOYMENT_DESCRIPTION,
                    )
            except StepError as exc:
                # The API reference allows hyphens in a stage name; AWS's own refusal names
                # none (see pocctl/local/aws/apigateway.py, STAGE_NAME). Another `up` with the
                # same name would fail the same way: say what to change.
                if exc.code == "BadRequestException" and "Stage name" in exc.detail:
                    exc.hint = (
                        f"API Gateway refused the stage name {ctx.config.stage!r}: choose one of "
                        "letters, digits and underscores (--stage, POCCTL_STAGE or stage in "
                        "pocctl.toml)."
                    )
                raise
            state.stage = None  # a new stage starts without our throttling
        if state.stage is None or self._stage_differences(ctx, state, tags=False):
            rate, burst = throttle(ctx)
            with aws_errors(self.key, "UpdateStage"):
                ag.update_stage(
                    restApiId=api_id,
                    stageName=ctx.config.stage,
                    patchOperations=[
                        {
                            "op": "replace",
                            "path": "/*/*/throttling/rateLimit",
                            "value": str(rate),
                        },
                        {
                            "op": "replace",
                            "path": "/*/*/throttling/burstLimit",
                            "value": str(burst),
                        },
                    ],
                )
        # After any deployment too: moto makes the stage anew (dropping its tags and throttle),
        # AWS updates it; tagging again is right either way.
        if deployed or plan.has(StageUntagged) or plan.has(RecordDiffers):
            arn = stage_arn(ctx, api_id, ctx.config.stage)
            with aws_errors(self.key, "TagResource"):
                ag.tag_resource(resourceArn=arn, tags=stage_tags(ctx))
            if REPLACED_TAG in ((state.stage or {}).get("tags") or {}):
                with aws_errors(self.key, "UntagResource"):
                    ag.untag_resource(resourceArn=arn, tagKeys=[REPLACED_TAG])
        # Only now that the stack's stage serves, with its throttle: the old door closes.
        for old in plan.of(OldStage):
            with aws_errors(self.key, "TagResource"):
                ag.tag_resource(
                    resourceArn=stage_arn(ctx, api_id, old.stage),
                    tags={**ctx.config.tags, STAGE_TAG: old.stage, REPLACED_TAG: ctx.config.stage},
                )
            delete(
                ctx,
                self.key,
                "DeleteStage",
                partial(ag.delete_stage, restApiId=api_id, stageName=old.stage),
            )
            ctx.reporter.note(
                f"removed stage {old.stage}: the API now answers only at {invoke_url(ctx, api_id)}"
            )
        return state

    def _write_definition(self, ctx: Context, state: ApiState) -> None:
        """One change at a time: API Gateway refuses overlapping changes to one REST API with
        ConflictException (hashicorp/terraform-provider-aws#16439)."""
        ag = ctx.client("apigateway")
        api_id = state.api_id
        schema = json.dumps(ORDER_SCHEMA)

        def model() -> None:
            with aws_errors(self.key, "CreateModel"):
                if state.model is None:
                    ag.create_model(
                        restApiId=api_id, name=MODEL_NAME, contentType=JSON, schema=schema
                    )
                elif json.loads(state.model["schema"]) != ORDER_SCHEMA:
                    ag.update_model(
                        restApiId=api_id,
                        modelName=MODEL_NAME,
                        patchOperations=[{"op": "replace", "path": "/schema", "value": schema}],
                    )

        def validator() -> None:
            if state.validator_id is None:
                with aws_errors(self.key, "CreateRequestValidator"):
                    state.validator_id = ag.create_request_validator(
                        restApiId=api_id,
                        name=VALIDATOR_NAME,
                        **VALIDATION,
                    )["id"]

        def bad_body_response() -> None:
            with aws_errors(self.key, "PutGatewayResponse"):
                ag.put_gateway_response(restApiId=api_id, **bad_body_gateway_response())

        def resource() -> None:
            if state.resource_id is None:
                with aws_errors(self.key, "CreateResource"):
                    root = state.root_id
                    if root is None:
                        resources = ag.get_resources(restApiId=api_id)["items"]
                        root = next(r["id"] for r in resources if r["path"] == "/")
                    state.resource_id = ag.create_resource(
                        restApiId=api_id, parentId=root, pathPart=RESOURCE_PATH.strip("/")
                    )["id"]
            elif state.method is not None:
                with aws_errors(self.key, "DeleteMethod"):
                    ag.delete_method(
                        restApiId=api_id, resourceId=state.resource_id, httpMethod=ORDER_METHOD
                    )

        for write in (model, validator, bad_body_response, resource):
            write()
        assert state.resource_id is not None and state.validator_id is not None
        self._put_method(ctx, api_id, state.resource_id, state.validator_id)

    def _put_method(self, ctx: Context, api_id: str, resource_id: str, validator_id: str) -> None:
        ag = ctx.client("apigateway")
        where = {"restApiId": api_id, "resourceId": resource_id, "httpMethod": ORDER_METHOD}
        with aws_errors(self.key, "PutMethod"):
            ag.put_method(
                **where,
                authorizationType=AUTHORIZATION,
                requestValidatorId=validator_id,
                requestModels={JSON: MODEL_NAME},
            )
        integration = self.desired_integration(ctx)
        backend_method = integration.pop("httpMethod")  # read back as httpMethod, written as this
        responses = self.desired_integration_responses()

        def put_integration() -> None:
            with aws_errors(self.key, "PutIntegration"):
                ag.put_integration(**where, integrationHttpMethod=backend_method, **integration)

        def method_response(status: str) -> Callable[[], None]:
            def put() -> None:
                with aws_errors(self.key, "PutMethodResponse"):
                    ag.put_method_response(**where, statusCode=status)

            return put

        def integration_response(status: str) -> Callable[[], None]:
            pattern, template = responses[status]

            def put() -> None:
                with aws_errors(self.key, "PutIntegrationResponse"):
                    ag.put_integration_response(
                        **where,
                        statusCode=status,
                        selectionPattern=pattern,
                        responseTemplates={JSON: template},
                    )

            return put

        # An integration response needs both its method response and the integration.
        put_integration()
        for status in METHOD_RESPONSES:
            method_response(status)()
        for status in responses:
            integration_response(status)()

    def template_outputs(self, ctx: Context) -> Outputs:
        """What the template hands on: the API's id and the order URL, for the Outputs."""
        api = ref(self.key)
        return Outputs(api_id=api, order_url=invoke_url(ctx, api))

    def template(self, ctx: Context) -> Resources:
        """The API as `apply` writes it: the REST API, its model, validator, bad-request
        response, /order resource and POST method (integration, method and integration
        responses), a deployment, and the stage with its throttle and record."""
        api = ref(self.key)
        integration = self.desired_integration(ctx)
        integration["integrationHttpMethod"] = integration.pop("httpMethod")
        integration_properties = capitalised(integration)
        integration_properties["IntegrationResponses"] = [
            {"StatusCode": status, "ResponseTemplates": {JSON: template}}
            | ({"SelectionPattern": pattern} if pattern else {})
            for status, (pattern, template) in self.desired_integration_responses().items()
        ]
        rate, burst = throttle(ctx)
        parts: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
            "": (
                "AWS::ApiGateway::RestApi",
                {
                    "Name": self.api_name,
                    "Description": api_description(ctx),
                    "EndpointConfiguration": capitalised(ENDPOINT),
                    "Tags": tag_entries(ctx.config.tags),
                },
                (),
            ),
            "model": (
                "AWS::ApiGateway::Model",
                {"RestApiId": api, "Name": MODEL_NAME, "ContentType": JSON, "Schema": ORDER_SCHEMA},
                (),
            ),
            "validator": (
                "AWS::ApiGateway::RequestValidator",
                {"RestApiId": api, "Name": VALIDATOR_NAME, **capitalised(VALIDATION)},
                (),
            ),
            "bad-body": (
                "AWS::ApiGateway::GatewayResponse",
                {"RestApiId": api, **capitalised(bad_body_gateway_response())},
                (),
            ),
            "resource": (
                "AWS::ApiGateway::Resource",
                {
                    "RestApiId": api,
                    "ParentId": attribute(self.key, "RootResourceId"),
                    "PathPart": RESOURCE_PATH.strip("/"),
                },
                (),
            ),
            "method": (
                "AWS::ApiGateway::Method",
                {
                    "RestApiId": api,
                    "ResourceId": ref(self.key, "resource"),
                    "HttpMethod": ORDER_METHOD,
                    "AuthorizationType": AUTHORIZATION,
                    "RequestValidatorId": ref(self.key, "validator"),
                    "RequestModels": {JSON: MODEL_NAME},
                    "Integration": integration_properties,
                    "MethodResponses": [{"StatusCode": status} for status in METHOD_RESPONSES],
                },
                # The model is named, not referenced, and the role only in an ARN.
                (logical_id(self.key, "model"),),
            ),
        }
        # A deployment is immutable: CloudFormation makes a new one only for a new logical id
        # (AWS CDK, aws_apigateway.Deployment: "changes will not be reflected unless a new
        # deployment resource is created"; SAM suffixes a hash the same way). Its id carries a
        # hash of what it serves, so a stack update with a changed API goes live, as `up` does.
        deployment = logical_id(self.key, "deployment") + fingerprint(
            [
                cfn_resource(*parts[p])
                for p in ("model", "validator", "bad-body", "resource", "method")
            ]
        )
        resources = {
            logical_id(self.key, part): cfn_resource(kind, properties, after)
            for part, (kind, properties, after) in parts.items()
        }
        # It takes the API as it is when made: after the method and the response.
        resources[deployment] = cfn_resource(
            "AWS::ApiGateway::Deployment",
            {"RestApiId": api, "Description": DEPLOYMENT_DESCRIPTION},
            (logical_id(self.key, "method"), logical_id(self.key, "bad-body")),
        )
        resources[logical_id(self.key, "stage")] = cfn_resource(
            "AWS::ApiGateway::Stage",
            {
                "RestApiId": api,
                "DeploymentId": variable(deployment),
                "StageName": ctx.config.stage,
                "MethodSettings": [
                    {
                        "ResourcePath": "/*",
                        "HttpMethod": "*",
                        "ThrottlingRateLimit": rate,
                        "ThrottlingBurstLimit": burst,
                    }
                ],
                "Tags": tag_entries(stage_tags(ctx)),
            },
        )
        return resources

    def live(self, ctx: Context) -> Live:
        """The stage's throttle: the ceiling on what a leaked URL can cost."""
        api = find_api(ctx, self.api_name)
        if api is None:
            return Live()
        stages = ctx.client("apigateway").get_stages(restApiId=api["id"])["item"]
        stage: dict[str, Any] = next((s for s in stages if s["stageName"] == ctx.config.stage), {})
        makers = stage_makers(ctx, api["id"], stages)
        live = Live(warnings=self.foreign_stages(ctx, api["id"], stages, makers))
        settings = (stage.get("methodSettings") or {}).get("*/*", {})
        rate, burst = settings.get("throttlingRateLimit"), settings.get("throttlingBurstLimit")
        if rate is not None:
            live.detail = f" (public, {rate:g} requests/s, burst {burst})"
            live.facts["throttle"] = {"rate_limit": rate, "burst_limit": burst}
        return live

    @classmethod
    def leftovers(cls, ctx: Context, steps: Sequence[Any]) -> list[Leftover]:
        """By name and tag: some emulators' tagging APIs don't list REST APIs."""
        return [
            api_leftover(ctx, api["id"])
            for step in steps
            for api in apis_named(ctx, step.api_name)
            if is_ours(ctx, api.get("tags") or {})
        ]

    @classmethod
    def leftover_at(cls, ctx: Context, arn: str) -> Leftover | None:
        api_id = arn_parts(arn)[1].split("/")[2]
        ag = ctx.client("apigateway")
        if none_if_absent(lambda: ag.get_rest_api(restApiId=api_id)) is None:
            return None
        return api_leftover(ctx, api_id)

    def destroy(self, ctx: Context) -> Outcome:
        def ours(named: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [a for a in named if is_ours(ctx, a.get("tags") or {})]

        def remove(named: list[dict[str, Any]]) -> Outcome:
            for api in ours(named):
                delete(
                    ctx,
                    self.key,
                    "DeleteRestApi",
                    partial(ctx.client("apigateway").delete_rest_api, restApiId=api["id"]),
                )
            return Outcome.DELETED

        return destroy_ours(
            ctx,
            self,
            "GetRestApis",
            lambda: apis_named(ctx, self.api_name) or None,
            lambda named: bool(ours(named)),
            remove,
        )
