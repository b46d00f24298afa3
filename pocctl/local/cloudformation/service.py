"""The CloudFormation API of `pocctl local`: stacks, change sets as `aws cloudformation deploy`
uses them, their events and resources, and the templates (CloudFormation API Reference)."""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

from pocctl.local.calls import Call
from pocctl.local.cloudformation import sam, wire
from pocctl.local.cloudformation.intrinsics import attributes_asked, references
from pocctl.local.cloudformation.stacks import ChangeSet, Deployer, Stack, creation_order
from pocctl.local.cloudformation.template import Template, TemplateError, parse
from pocctl.local.cloudformation.types import PROVIDERS
from pocctl.local.replies import Reply, error

Clients = Callable[[str, str], Callable[[str], Any]]
IAM_TYPES = ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy")
S3_URL = re.compile(r"^https?://(?P<host>[^/]+)/(?P<path>.+)$")
GONE = ("DELETE_COMPLETE",)
# A stack takes an update only when it settled with what its template says (User Guide, "Stack
# status codes"); any other status answers "Stack:ARN is in STATUS state and can not be
# updated." (e.g. rails-lambda/lamby#132, a stack in ROLLBACK_COMPLETE).
UPDATABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")
# "A stack name can contain only alphanumeric characters (case sensitive) and hyphens. It must
# start with an alphabetical character and can't be longer than 128 characters." A change set
# name alike (API Reference, CreateStack StackName and CreateChangeSet ChangeSetName).
NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")
PSEUDO = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)  # CloudFormation User Guide, "Pseudo parameters reference"
# What Fn::GetAtt may ask of each type: its "Return values" (Template Reference), as AWS's
# resource provider schemas list them (cfn-lint ships them: cfnlint.schema, get_atts). A type
# missing here is not judged before it is made.
ATTRIBUTES: dict[str, frozenset[str]] = {
    "AWS::IAM::Role": frozenset({"Arn", "RoleId"}),
    "AWS::IAM::ManagedPolicy": frozenset(
        {
            "AttachmentCount",
            "CreateDate",
            "DefaultVersionId",
            "IsAttachable",
            "PermissionsBoundaryUsageCount",
            "PolicyArn",
            "PolicyId",
            "UpdateDate",
        }
    ),
    "AWS::SQS::Queue": frozenset(
        {
            "Arn",
            "ContentBasedDeduplication",
            "DeduplicationScope",
            "DelaySeconds",
            "FifoQueue",
            "FifoThroughputLimit",
            "KmsDataKeyReusePeriodSeconds",
            "KmsMasterKeyId",
            "MaximumMessageSize",
            "MessageRetentionPeriod",
            "QueueName",
            "QueueUrl",
            "ReceiveMessageWaitTimeSeconds",
            "RedrivePolicy.deadLetterTargetArn",
            "RedrivePolicy.maxReceiveCount",
            "SqsManagedSseEnabled",
            "Tags",
            "VisibilityTimeout",
        }
    ),
    "AWS::SQS::QueuePolicy": frozenset({"Id"}),
    "AWS::DynamoDB::Table": frozenset({"Arn", "StreamArn"}),
    "AWS::Lambda::Function": frozenset(
        {
            "Arn",
            "SnapStartResponse",
            "SnapStartResponse.ApplyOn",
            "SnapStartResponse.OptimizationStatus",
        }
    ),
    "AWS::Lambda::EventSourceMapping": frozenset({"EventSourceMappingArn", "Id"}),
    "AWS::Logs::LogGroup": frozenset({"Arn"}),
    "AWS::SNS::Topic": frozenset(
        {
            "ContentBasedDeduplication",
            "DeliveryStatusLogging",
            "DisplayName",
            "FifoThroughputScope",
            "FifoTopic",
            "KmsMasterKeyId",
            "MaximumMessageSize",
            "SignatureVersion",
            "Subscription",
            "Tags",
            "TopicArn",
            "TopicName",
            "TracingConfig",
        }
    ),
    "AWS::SNS::Subscription": frozenset({"Arn"}),
    "AWS::ApiGateway::RestApi": frozenset({"RestApiId", "RootResourceId"}),
    "AWS::ApiGateway::Resource": frozenset({"ResourceId"}),
    "AWS::ApiGateway::Method": frozenset(),
    "AWS::ApiGateway::Model": frozenset(),
    "AWS::ApiGateway::RequestValidator": frozenset({"RequestValidatorId"}),
    "AWS::ApiGateway::GatewayResponse": frozenset({"Id"}),
    "AWS::ApiGateway::Deployment": frozenset({"DeploymentId"}),
    "AWS::ApiGateway::Stage": frozenset(),
}


class Refused(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class CloudFormation:
    def __init__(self, account: str, clients: Clients, deployer: Deployer) -> None:
        self.account = account
        self.clients = clients
        self.deployer = deployer
        self.stacks: list[Stack] = []
        self.change_sets: list[ChangeSet] = []
        self.lock = threading.Lock()

    def handle(self, call: Call) -> Reply:
        operation = call.operation
        form = {k: str(v) for k, v in call.params.items()}
        params = wire.read(operation, form)
        method = getattr(self, f"op_{operation}", None)
        if method is None:
            return error(
                call,
                400,
                "ValidationError",
                f"pocctl local does not emulate CloudFormation's {operation}",
            )
        try:
            refuse_unemulated(params)
            result = method(call, params)
        except Refused as refused:
            return error(call, refused.status, refused.code, refused.message)
        except TemplateError as exc:
            return error(call, 400, "ValidationError", str(exc))
        body = wire.answer(operation, result or {})
        return Reply(200, body, [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])

    # -- finding -------------------------------------------------------------------------
    def find(self, region: str, name_or_id: str, *, deleted: bool = False) -> Stack:
        """A stack by name (live ones only) or by id (deleted ones too, as AWS answers)."""
        with self.lock:
            for stack in reversed(self.stacks):
                if stack.region != region:
                    continue
                if stack.id == name_or_id or (
                    stack.name == name_or_id and (deleted or stack.status not in GONE)
                ):
                    return stack
        raise Refused("ValidationError", f"Stack with id {name_or_id} does not exist")

    def find_change_set(self, region: str, name: str, stack_name: str | None) -> ChangeSet:
        with self.lock:
            for change_set in reversed(self.change_sets):
                if change_set.stack.region != region:
                    continue
                if change_set.id == name or (
                    change_set.name == name
                    and stack_name in (change_set.stack.name, change_set.stack.id)
                ):
                    return change_set
        raise Refused("ChangeSetNotFound", f"ChangeSet [{name}] does not exist", 404)

    # -- making a stack's template ready -------------------------------------------------
    def template_body(self, call: Call, params: dict[str, Any]) -> str:
        if params.get("TemplateBody"):
            return str(params["TemplateBody"])
        url = str(params.get("TemplateURL", ""))
        found = S3_URL.match(url)
        if not found:
            raise Refused("ValidationError", "Either TemplateBody or TemplateURL must be specified")
        host, path = found["host"], found["path"]
        bucket, _, key = path.partition("/")
        if ".s3" in host and not host.startswith("s3"):
            bucket, key = host.split(".s3", 1)[0], path
        s3 = self.clients(call.access_key, call.region)("s3")
        try:
            return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())
        except Exception as exc:
            raise Refused(
                "ValidationError", f"TemplateURL must be a supported URL: {url} ({exc})"
            ) from exc

    def new_stack(
        self,
        call: Call,
        params: dict[str, Any],
        *,
        direct: bool,
        previous: dict[str, Any] | None = None,
    ) -> Stack:
        name = str(params["StackName"])
        body = self.template_body(call, params)
        template = parse(body)
        stack_id = (
            f"arn:aws:cloudformation:{call.region}:{self.account}:stack/{name}/{uuid.uuid4()}"
        )
        given = {
            p["ParameterKey"]: (previous or {}).get(p["ParameterKey"], "")
            if p.get("UsePreviousValue")
            else p.get("ParameterValue", "")
            for p in params.get("Parameters", [])
        }
        capabilities = list(params.get("Capabilities", []))
        if sam.transforms(template):
            # "If your stack template contains one or more macros, and you choose to create a
            # stack directly from the processed template, without first reviewing the resulting
            # changes in a change set, you must acknowledge this capability. This includes the
            # AWS::Include and AWS::Serverless transforms" (API Reference, CreateStack,
            # Capabilities, CAPABILITY_AUTO_EXPAND).
            if direct and "CAPABILITY_AUTO_EXPAND" not in capabilities:
                raise Refused(
                    "InsufficientCapabilitiesException",
                    "Requires capabilities : [CAPABILITY_AUTO_EXPAND]",
                )
            pseudo = {
                "AWS::Region": call.region,
                "AWS::AccountId": self.account,
                "AWS::StackName": name,
                "AWS::StackId": stack_id,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
            }
            iam = self.clients(call.access_key, call.region)("iam")
            template = sam.expand(copy.deepcopy(template), given, pseudo, iam)
        parameters = parameter_values(template, given)
        check(template, capabilities)
        return Stack(
            name=name,
            id=stack_id,
            region=call.region,
            account=self.account,
            template=template,
            original=body,
            parameters=parameters,
            tags=list(params.get("Tags", [])),
            capabilities=capabilities,
            description=str(template.get("Description", "")),
        )

    def existing(self, region: str, name: str, *, reviewing: bool) -> Stack | None:
        """The live stack of that name, which only a CREATE change set may take over, and only
        while it is REVIEW_IN_PROGRESS: CreateStack refuses any name a stack that is not
        DELETE_COMPLETE holds (API Reference, CreateStack, AlreadyExistsException)."""
        try:
            found = self.find(region, name)
        except Refused:
            return None
        if reviewing and found.status == "REVIEW_IN_PROGRESS":
            return found
        raise Refused("AlreadyExistsException", f"Stack [{name}] already exists")

    # -- operations ----------------------------------------------------------------------
    def op_CreateStack(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        valid_name(str(params["StackName"]), "stackName")
        self.existing(call.region, str(params["StackName"]), reviewing=False)
        stack = self.new_stack(call, params, direct=True)
        with self.lock:
            self.stacks.append(stack)
        self.deployer.create(stack, call.access_key)
        return {"StackId": stack.id}

    def op_CreateChangeSet(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        kind = params.get("ChangeSetType", "UPDATE")
        name = str(params["StackName"])
        valid_name(str(params["ChangeSetName"]), "changeSetName")
        if kind == "UPDATE":
            current = self.updatable(call.region, name)
            proposed = self.new_stack(call, params, direct=False, previous=current.parameters)
            if proposed.template != current.template or proposed.parameters != current.parameters:
                raise Refused(
                    "ValidationError",
                    "pocctl local does not emulate stack updates: delete the stack and "
                    "deploy it again",
                )
            change_set = ChangeSet(
                str(params["ChangeSetName"]),
                self._change_set_id(call, params),
                current,
                kind,
                status="FAILED",
                execution="UNAVAILABLE",
                reason="The submitted information didn't contain changes. Submit different "
                "information to create a change set.",
            )
        else:
            valid_name(name, "stackName")
            reviewed = self.existing(call.region, name, reviewing=True)
            proposed = self.new_stack(call, params, direct=False)
            if reviewed is None:
                stack = proposed
                stack.event(
                    stack.name,
                    "AWS::CloudFormation::Stack",
                    "REVIEW_IN_PROGRESS",
                    "User Initiated",
                    stack.id,
                )
                with self.lock:
                    self.stacks.append(stack)
            else:  # the stack under review keeps its id; this change set carries its template
                stack = reviewed
                proposed.id = stack.id
            change_set = ChangeSet(
                str(params["ChangeSetName"]),
                self._change_set_id(call, params),
                stack,
                kind,
                description=str(params.get("Description", "")),
                proposed=proposed,
            )
        with self.lock:
            self.change_sets.append(change_set)
        return {"Id": change_set.id, "StackId": change_set.stack.id}

    def updatable(self, region: str, name: str) -> Stack:
        current = self.find(region, name)
        if current.status == "REVIEW_IN_PROGRESS":
            # A stack made by a CREATE change set and not yet executed "does not exist" for an
            # update (boto/boto3#2327; awscli's `deploy` then sends a CREATE change set).
            raise Refused("ValidationError", f"Stack [{current.name}] does not exist")
        if current.status not in UPDATABLE:
            raise Refused(
                "ValidationError",
                f"Stack:{current.id} is in {current.status} state and can not be updated.",
            )
        return current

    def _change_set_id(self, call: Call, params: dict[str, Any]) -> str:
        return (
            f"arn:aws:cloudformation:{call.region}:{self.account}:changeSet/"
            f"{params['ChangeSetName']}/{uuid.uuid4()}"
        )

    def op_DescribeChangeSet(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        change_set = self.find_change_set(
            call.region, str(params["ChangeSetName"]), params.get("StackName")
        )
        stack = change_set.stack
        plan = change_set.proposed or stack
        changes = []
        if change_set.kind == "CREATE" and change_set.status == "CREATE_COMPLETE":
            changes = [
                {
                    "Type": "Resource",
                    "ResourceChange": {
                        "Action": "Add",
                        "LogicalResourceId": logical_id,
                        "ResourceType": plan.template["Resources"][logical_id]["Type"],
                        "Scope": [],
                        "Details": [],
                    },
                }
                for logical_id in creation_order(plan.template)
            ]
        return {
            "ChangeSetName": change_set.name,
            "ChangeSetId": change_set.id,
            "StackId": stack.id,
            "StackName": stack.name,
            "Description": change_set.description or None,
            "Parameters": parameter_list(plan),
            "CreationTime": change_set.created,
            "ExecutionStatus": change_set.execution,
            "Status": change_set.status,
            "StatusReason": change_set.reason or None,
            "Capabilities": plan.capabilities,
            "Tags": plan.tags,
            "Changes": changes,
        }

    def op_ExecuteChangeSet(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        change_set = self.find_change_set(
            call.region, str(params["ChangeSetName"]), params.get("StackName")
        )
        if change_set.execution != "AVAILABLE":
            raise Refused(
                "InvalidChangeSetStatus",
                f"ChangeSet [{change_set.id}] cannot be executed in its current execution "
                f"status of [{change_set.execution}]",
            )
        if change_set.stack.status != "REVIEW_IN_PROGRESS":  # another change set ran first
            raise Refused(
                "InvalidChangeSetStatus",
                f"ChangeSet [{change_set.id}] cannot be executed in its current status of "
                f"[{change_set.stack.status}]",
            )
        change_set.execution = "EXECUTE_COMPLETE"
        if change_set.proposed is not None:
            change_set.stack.take(change_set.proposed)
        self.deployer.create(change_set.stack, call.access_key)
        return {}

    def op_DeleteChangeSet(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        change_set = self.find_change_set(
            call.region, str(params["ChangeSetName"]), params.get("StackName")
        )
        with self.lock:
            self.change_sets.remove(change_set)
            if change_set.stack.status == "REVIEW_IN_PROGRESS":
                self.stacks.remove(change_set.stack)
        return {}

    def op_DescribeStacks(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("StackName"):
            stacks = [self.find(call.region, str(params["StackName"]))]
        else:
            with self.lock:
                stacks = [
                    s for s in self.stacks if s.region == call.region and s.status not in GONE
                ]
        return {"Stacks": [describe(stack) for stack in stacks]}

    def op_ListStacks(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        wanted = set(params.get("StackStatusFilter", []))
        with self.lock:
            stacks = [s for s in self.stacks if s.region == call.region]
        return {
            "StackSummaries": [
                {
                    "StackId": s.id,
                    "StackName": s.name,
                    "CreationTime": s.created,
                    "StackStatus": s.status,
                    "StackStatusReason": s.reason or None,
                    "TemplateDescription": s.description or None,
                }
                for s in stacks
                if not wanted or s.status in wanted
            ]
        }

    def op_DescribeStackEvents(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        stack = self.find(call.region, str(params["StackName"]), deleted=True)
        with stack.lock:
            events = list(reversed(stack.events))  # newest first, as AWS lists them
        return {"StackEvents": events}

    def _resources(self, stack: Stack) -> list[dict[str, Any]]:
        return [
            {
                "StackName": stack.name,
                "StackId": stack.id,
                "LogicalResourceId": r.logical_id,
                "PhysicalResourceId": r.made.physical_id if r.made else None,
                "ResourceType": r.type,
                "Timestamp": r.updated,
                "LastUpdatedTimestamp": r.updated,
                "ResourceStatus": r.status,
                "ResourceStatusReason": r.reason or None,
            }
            for r in list(stack.resources.values())
        ]

    def op_DescribeStackResources(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        stack = self.find(call.region, str(params["StackName"]), deleted=True)
        wanted = params.get("LogicalResourceId")
        found = [
            r for r in self._resources(stack) if not wanted or r["LogicalResourceId"] == wanted
        ]
        return {"StackResources": found}

    def op_DescribeStackResource(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        stack = self.find(call.region, str(params["StackName"]), deleted=True)
        for resource in self._resources(stack):
            if resource["LogicalResourceId"] == params["LogicalResourceId"]:
                return {"StackResourceDetail": resource}
        raise Refused(
            "ValidationError",
            f"Resource {params['LogicalResourceId']} does not exist for stack {stack.name}",
        )

    def op_ListStackResources(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        stack = self.find(call.region, str(params["StackName"]), deleted=True)
        return {"StackResourceSummaries": self._resources(stack)}

    def op_GetTemplate(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        stack = self.find(call.region, str(params["StackName"]), deleted=True)
        processed = params.get("TemplateStage") == "Processed"
        body = json.dumps(stack.template, indent=2) if processed else stack.original
        return {"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}

    def op_ValidateTemplate(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        template = parse(self.template_body(call, params))
        needed = iam_capability(template)
        return {
            "Parameters": [
                {
                    "ParameterKey": key,
                    "DefaultValue": value.get("Default"),
                    "NoEcho": bool(value.get("NoEcho", False)),
                    "Description": value.get("Description"),
                }
                for key, value in (template.get("Parameters") or {}).items()
            ],
            "Description": template.get("Description"),
            "Capabilities": [needed] if needed else [],
            "CapabilitiesReason": capabilities_reason(template) if needed else None,
            "DeclaredTransforms": sam.transforms(template),
        }

    def op_GetTemplateSummary(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("StackName"):
            template = parse(self.find(call.region, str(params["StackName"])).original)
        else:
            template = parse(self.template_body(call, params))
        kinds = sorted({str(body.get("Type")) for body in template["Resources"].values()})
        return {
            "Parameters": [
                {
                    "ParameterKey": key,
                    "DefaultValue": value.get("Default"),
                    "ParameterType": value.get("Type", "String"),
                    "NoEcho": bool(value.get("NoEcho", False)),
                    "Description": value.get("Description"),
                }
                for key, value in (template.get("Parameters") or {}).items()
            ],
            "Description": template.get("Description"),
            "Capabilities": [needed] if (needed := iam_capability(template)) else [],
            "ResourceTypes": kinds,
            "Version": template.get("AWSTemplateFormatVersion"),
            "DeclaredTransforms": sam.transforms(template),
        }

    def op_DeleteStack(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        try:
            stack = self.find(call.region, str(params["StackName"]))
        except Refused:
            return {}  # deleting a stack that does not exist succeeds (API Reference, DeleteStack)
        if stack.status == "DELETE_IN_PROGRESS":
            return {}
        if stack.status == "REVIEW_IN_PROGRESS":
            stack.set_status("DELETE_COMPLETE")
            return {}
        self.deployer.delete(stack, call.access_key)
        return {}


def refuse_unemulated(params: dict[str, Any]) -> None:
    """What a request asks that pocctl local does not act out is refused, not ignored: a
    service role (RoleARN, API Reference, CreateStack), keeping a failed stack as it is
    (DisableRollback, OnFailure DO_NOTHING or DELETE) and retaining resources on a delete
    (DeleteStack, RetainResources)."""
    asked = []
    if params.get("RoleARN"):
        asked.append("RoleARN (it acts with the caller's credentials)")
    if params.get("DisableRollback"):
        asked.append("DisableRollback (a failed create always rolls back)")
    if params.get("OnFailure", "ROLLBACK") != "ROLLBACK":
        asked.append(f"OnFailure {params['OnFailure']} (a failed create always rolls back)")
    if params.get("RetainResources"):
        asked.append("RetainResources (use DeletionPolicy: Retain in the template)")
    if asked:
        raise Refused(
            "ValidationError",
            f"pocctl local does not emulate {', '.join(asked)}: leave it out",
        )


def valid_name(name: str, field: str) -> None:
    if not NAME.fullmatch(name):
        raise Refused(
            "ValidationError",
            f"1 validation error detected: Value '{name}' at '{field}' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]* "
            "and have length less than or equal to 128",
        )


def parameter_values(template: Template, given: dict[str, str]) -> dict[str, Any]:
    declared = template.get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise Refused("ValidationError", f"Parameters: {unknown} do not exist in the template")
    values: dict[str, Any] = {}
    missing = []
    for key, spec in declared.items():
        if key in given:
            value: Any = given[key]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            missing.append(key)
            continue
        if str(spec.get("Type", "String")).startswith(("CommaDelimitedList", "List<")):
            value = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
        elif isinstance(value, int | float):
            value = str(value)
        values[key] = value
    if missing:
        raise Refused("ValidationError", f"Parameters: {missing} must have values")
    return values


def check(template: Template, capabilities: list[str]) -> None:
    """What CloudFormation refuses before it makes anything."""
    resources = template["Resources"]
    unknown = sorted({body.get("Type", "") for body in resources.values()} - set(PROVIDERS))
    if unknown:
        raise Refused(
            "ValidationError", f"pocctl local does not emulate the resource types {unknown}"
        )
    creation_order(template)
    check_references(template)
    check_policies(resources)
    needed = iam_capability(template)
    if needed == "CAPABILITY_NAMED_IAM" and needed not in capabilities:
        raise Refused(
            "InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]"
        )
    if needed and not {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} & set(capabilities):
        raise Refused(
            "InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]"
        )


def capabilities_reason(template: Template) -> str:
    kinds = sorted({body.get("Type") for body in template["Resources"].values()} & set(IAM_TYPES))
    return f"The following resource(s) require capabilities: [{', '.join(kinds)}]"


def iam_capability(template: Template) -> str | None:
    """ "If you have IAM resources, you can specify either capability. If you have IAM resources
    with custom names, you must specify CAPABILITY_NAMED_IAM. If you don't specify either of
    these capabilities, CloudFormation returns an InsufficientCapabilities error" (API
    Reference, CreateStack, Capabilities); ValidateTemplate names the one needed."""
    resources = template["Resources"].values()
    iam = [body for body in resources if body.get("Type") in IAM_TYPES]
    if any({"RoleName", "ManagedPolicyName"} & set(body.get("Properties") or {}) for body in iam):
        return "CAPABILITY_NAMED_IAM"
    return "CAPABILITY_IAM" if iam else None


def check_policies(resources: dict[str, Any]) -> None:
    """DeletionPolicy is Delete, Retain, RetainExceptOnCreate or Snapshot (Template Reference,
    "DeletionPolicy attribute"); a snapshot is not acted out here, so it is refused rather than
    the resource deleted without one. UpdateReplacePolicy only acts on updates, which are not
    emulated."""
    for logical_id, body in resources.items():
        policy = body.get("DeletionPolicy", "Delete")
        if policy == "Snapshot":
            raise Refused(
                "ValidationError",
                f"pocctl local does not emulate DeletionPolicy Snapshot ({logical_id}): use "
                "Retain, RetainExceptOnCreate or Delete",
            )
        if policy not in ("Delete", "Retain", "RetainExceptOnCreate"):
            raise TemplateError(
                f"Template format error: Unrecognized DeletionPolicy {policy} for resource "
                f"{logical_id}"
            )


def check_references(template: Template) -> None:
    """Every Ref, Fn::GetAtt and Fn::Sub names something the template declares, and every
    attribute asked for is one its type returns: CloudFormation refuses the template before it
    makes anything (User Guide, "Ref" and "Fn::GetAtt"; the messages as AWS words them)."""
    resources = template["Resources"]
    known = set(resources) | set(template.get("Parameters") or {}) | PSEUDO
    for block in ("Conditions", "Resources", "Outputs"):
        body = template.get(block)
        for logical_id, attribute in sorted(attributes_asked(body or {})):
            if logical_id not in resources:
                raise TemplateError(
                    "Template error: instance of Fn::GetAtt references undefined resource "
                    f"{logical_id}"
                )
            offered = ATTRIBUTES.get(str(resources[logical_id].get("Type")))
            if offered is not None and attribute not in offered:
                raise TemplateError(
                    f"Template error: resource {logical_id} does not support attribute type "
                    f"{attribute} in Fn::GetAtt"
                )
        unresolved = sorted(references(body or {}) - known)
        if unresolved:
            raise TemplateError(
                f"Template format error: Unresolved resource dependencies {unresolved} in the "
                f"{block} block of the template"
            )


def parameter_list(stack: Stack) -> list[dict[str, str]]:
    return [
        {"ParameterKey": key, "ParameterValue": ",".join(v) if isinstance(v, list) else str(v)}
        for key, v in stack.parameters.items()
    ]


def describe(stack: Stack) -> dict[str, Any]:
    return {
        "StackId": stack.id,
        "StackName": stack.name,
        "Description": stack.description or None,
        "Parameters": parameter_list(stack),
        "CreationTime": stack.created,
        "StackStatus": stack.status,
        "StackStatusReason": stack.reason or None,
        "Capabilities": stack.capabilities,
        "Outputs": stack.outputs,
        "Tags": stack.tags,
        "DisableRollback": False,
        "NotificationARNs": [],
        # LastUpdatedTime: "The time the stack was last updated. This field will only be
        # returned if the stack has been updated at least once" (API Reference, Stack); updates
        # are not emulated, so never.
    }
