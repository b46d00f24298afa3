"""Lambda: function states, the role check at create, and event source mappings' life cycle."""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pocctl.core.arns import Arn, function_name
from pocctl.local.aws.base import Rules, World
from pocctl.local.aws.mapping_rules import (
    NOTHING_PROCESSED,
    is_queue,
    refused_settings,
    visibility_refusal,
    with_defaults,
)
from pocctl.local.aws.timing import (
    LAMBDA_CONTROL_PLANE_RATE,
    LAMBDA_INVOCATIONS,
    LAMBDA_RATE_LIMITS,
)
from pocctl.local.calls import Call
from pocctl.local.iam import RoleSnapshot
from pocctl.local.policy import Request
from pocctl.local.replies import Reply, error, json_reply

# Operations that fail while a function is Pending and, all but Invoke, while an update is
# InProgress (Lambda Developer Guide, "Lambda function states").
BLOCKED_WHILE_BUSY = frozenset(
    {
        "Invoke",
        "UpdateFunctionCode",
        "UpdateFunctionConfiguration",
        "PublishVersion",
        "PutFunctionConcurrency",
        "DeleteFunctionConcurrency",
        "PutProvisionedConcurrencyConfig",
        "PutFunctionCodeSigningConfig",
    }
)
PENDING_MESSAGE = (
    "The operation cannot be performed at this time. "
    "The function is currently in the following state: Pending"
)
ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."
# Tags: a key is 1-128 and a value 0-256 characters of letters, digits, spaces and
# _ . : / = + - @ (botocore's Lambda model, TagKey and TagValue: pattern
# ([\p{L}\p{Z}\p{N}_.:/=+\-@]*)). AWS refuses others before Lambda sees them, as a
# ValidationException naming the map and the constraint (cloud-custodian/cloud-custodian#2520,
# TagResource: "1 validation error detected: Value '{Creator=...}' at 'tags' failed to satisfy
# constraint: Map value must satisfy constraint: [...]"). moto takes any.
TAG_CHARACTERS = r"^[\w .:/=+\-@]"
TAG_KEY = re.compile(TAG_CHARACTERS + r"{1,128}$")
TAG_VALUE = re.compile(TAG_CHARACTERS + r"{0,256}$")
TAG_PATTERN = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"
# Environment variables: Lambda refuses the keys it reserves ("Defined runtime environment
# variables": reserved, "cannot be set in your function configuration"; AWS_DEFAULT_REGION is
# refused the same way: zuka-e/laravel-react-task-spa#146) and a set over 4 KB ("Lambda quotas"),
# each with InvalidParameterValueException, on CreateFunction and UpdateFunctionConfiguration
# alike (globaldothealth/list#811, cds-snc/notification-terraform#419 for the reserved keys;
# aws-samples/aws-genai-llm-chatbot#583 and github-aws-runners/terraform-aws-github-runner#3594,
# whose "String measured:" is the variables' JSON, for the size). Kept apart from pocctl's own
# list (config.py) on purpose: the emulator checks that list, it doesn't share its mistakes.
RESERVED_ENVIRONMENT = (
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "TZ",
)
ENVIRONMENT_LIMIT = 4 * 1024
ENVIRONMENT_REFUSED = "Lambda was unable to configure your environment variables because the "
SQS_NEEDS = ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
STREAM_NEEDS = ("GetRecords", "GetShardIterator", "DescribeStream", "ListStreams")
# The states in which a mapping refuses a change (Lambda API reference,
# EventSourceMappingConfiguration.State, and ResourceInUseException).
MAPPING_BUSY = frozenset({"Creating", "Updating", "Enabling", "Disabling", "Deleting"})

RoleView = Callable[[str], RoleSnapshot]  # role ARN -> the role as Lambda sees it now
Allows = Callable[[str, Request], bool]  # (role ARN, request) -> allowed as Lambda sees it


@dataclass
class FunctionTimes:
    arn: str
    pending_until: float = float("-inf")
    updating_until: float = float("-inf")
    # Lambda API reference, FunctionConfiguration: LastModified is "the date and time that the
    # function was last updated" (YYYY-MM-DDThh:mm:ss.sTZD); moto keeps its creation time.
    last_modified: str | None = None


@dataclass
class MappingTimes:
    function: str  # function name
    region: str
    # When Creating ends: drawn once, at CreateEventSourceMapping (the timing may change later).
    creating_until: float
    deleting_until: float | None = None
    changing: str = ""  # Updating, Enabling or Disabling, until changed_at
    changed_at: float = float("-inf")


@dataclass
class Window:
    """At most `count` requests in any window of the quota's seconds (AWS states these quotas
    per second and publishes no burst: a second's worth, then none until the oldest is a second
    old)."""

    count: int
    accepted: deque[float] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, now: float, seconds: float) -> bool:
        with self.lock:
            while self.accepted and self.accepted[0] <= now - seconds:
                self.accepted.popleft()
            if len(self.accepted) >= self.count:
                return False
            self.accepted.append(now)
            return True


def mapping_key(mapping: dict[str, Any]) -> str:
    """What names a mapping across runs, for its waits' draws (its UUID is new each time, and a
    stream's ARN holds the moment the stream was made): its function and its source."""
    source = str(mapping.get("EventSourceArn", "")).split("/stream/")[0]
    return f"{function_name(str(mapping.get('FunctionArn', '')))}<-{source}"


class LambdaRules(Rules):
    services = ("lambda",)

    def __init__(
        self,
        world: World,
        role_view: RoleView,
        allows: Allows,
        principal_of: Callable[[str], str | None] = lambda access_key: None,
    ) -> None:
        super().__init__(world)
        self.role_view = role_view
        self.allows = allows
        self.principal_of = principal_of  # access key -> the IAM user or role that signed
        self.functions: dict[tuple[str, str], FunctionTimes] = {}
        self.mappings: dict[str, MappingTimes] = {}
        # While a function is Pending, "any invocations or other API actions that operate on
        # the function will fail" (Lambda Developer Guide, "Lambda function states"), and a
        # deployment tool had to wait because "a pending state ... prevents attaching event
        # sources" (spinnaker-plugins/aws-lambda-deployment-plugin-spinnaker#82). The docs
        # don't name CreateEventSourceMapping: refused here, and tests switch this off to
        # act out the other answer (accepted; the mapping polls once the function is Active).
        self.refuse_mappings_while_pending = True
        # Its wording is not documented either: tests put another here.
        self.pending_mapping_message = PENDING_MESSAGE
        self.on_update: list[Callable[[str, str], None]] = []  # (region, name): before an update
        self._windows: dict[tuple[str, str], Window] = {}
        # mapping UUID -> the change an update starts, from its check until it is applied:
        # checking a mapping is not busy and claiming it is one step under _claims, or two
        # concurrent updates could both be accepted.
        self._changes: dict[str, str] = {}
        self._claims = threading.Lock()
        self._results: dict[str, str] = {}  # stream mapping UUID -> its LastProcessingResult
        self.throttled: list[str] = []  # the operations refused for the quota, in order

    # -- what callers may ask ----------------------------------------------------------------
    def processed(self, uuid: str, result: str) -> None:
        """A stream mapping's poller handed the function a batch: its LastProcessingResult."""
        self._results[uuid] = result

    def _with_result(self, mapping: dict[str, Any]) -> None:
        """Stream mappings answer LastProcessingResult in Get, List, Update and Delete too
        ("No records processed" until a batch went through: the recordings named in
        mapping_rules, and test_lambda_api.snapshot.json's delete response)."""
        if not is_queue(str(mapping.get("EventSourceArn", ""))):
            mapping["LastProcessingResult"] = self._results.get(
                str(mapping.get("UUID")), NOTHING_PROCESSED
            )

    def mapping_function(self, region: str, uuid: str) -> str | None:
        """The ARN of the function a mapping is for (None: no such mapping)."""
        try:
            found = self.world.client("lambda", region).get_event_source_mapping(UUID=uuid)
        except Exception:
            return None
        arn = found.get("FunctionArn")
        return str(arn) if arn else None

    def function_state(self, region: str, name: str) -> tuple[str, str]:
        """(State, LastUpdateStatus) as AWS reports them now."""
        now = self.world.clock()
        times = self.functions.get((region, name))
        if times is None:
            return "Active", "Successful"
        if now < times.pending_until:
            return "Pending", "InProgress"
        if now < times.updating_until:
            return "Active", "InProgress"
        return "Active", "Successful"

    def mapping_state(self, uuid: str, moto_state: str) -> str:
        times = self.mappings.get(uuid)
        if times is None:
            return moto_state
        if times.deleting_until is not None:
            return "Deleting"
        if self.world.clock() < self.enabled_at(uuid, times):
            return "Creating"
        if self.world.clock() < times.changed_at:
            return times.changing
        return moto_state

    def enabled_at(self, uuid: str, times: MappingTimes | None = None) -> float:
        """Polling starts once the mapping is created and its function can be invoked."""
        times = times or self.mappings.get(uuid)
        if times is None:
            return float("-inf")
        ready = times.creating_until
        for (_, name), fn in list(self.functions.items()):  # CreateFunction may add meanwhile
            if name == times.function:
                ready = max(ready, fn.pending_until)
        return ready

    def _throttled(self, call: Call) -> bool:
        if call.internal or not self.world.timing.enabled or call.operation in LAMBDA_INVOCATIONS:
            return False
        bucket = call.operation if call.operation in LAMBDA_RATE_LIMITS else "*"
        count, seconds = LAMBDA_RATE_LIMITS.get(call.operation, LAMBDA_CONTROL_PLANE_RATE)
        with self.world.lock:
            window = self._windows.setdefault((call.region, bucket), Window(count))
        if window.take(self.world.clock(), seconds * self.world.timing.scale):
            return False
        self.throttled.append(call.operation)
        return True

    # -- before moto -------------------------------------------------------------------------
    def before(self, call: Call) -> Reply | None:
        if self._throttled(call):
            return error(call, 429, "TooManyRequestsException", "Rate exceeded")
        if call.operation in ("CreateFunction", "TagResource"):
            refused = _bad_tags(call)
            if refused is not None:
                return refused
        if call.operation in ("CreateFunction", "UpdateFunctionConfiguration"):
            refused = _bad_environment(call)
            if refused is not None:
                return refused
            role = call.params.get("Role")
            if role and not call.internal and not self._assumable(str(role)):
                return error(call, 400, "InvalidParameterValueException", ROLE_NOT_ASSUMABLE)
        if call.operation in BLOCKED_WHILE_BUSY and not call.internal:
            busy = self._busy(call)
            if busy is not None:
                return busy
        if call.operation == "CreateEventSourceMapping" and not call.internal:
            return self._check_new_mapping(call)
        if call.operation == "UpdateEventSourceMapping" and not call.internal:
            return self._check_mapping_update(call)
        if call.operation == "DeleteEventSourceMapping":
            return self._start_deleting(call)
        if call.operation in ("UpdateFunctionCode", "UpdateFunctionConfiguration"):
            name = function_name(str(call.params.get("FunctionName", "")))
            for listener in self.on_update:
                listener(call.region, name)
        return None

    def _assumable(self, role_arn: str) -> bool:
        return self.role_view(role_arn).trusts("lambda.amazonaws.com")

    def _busy(self, call: Call) -> Reply | None:
        name = function_name(str(call.params.get("FunctionName", "")))
        state, update = self.function_state(call.region, name)
        times = self.functions.get((call.region, name))
        if state == "Pending":
            return error(call, 409, "ResourceConflictException", PENDING_MESSAGE)
        # "While a function update is in progress, invocations go to the function's previous
        # code and configuration" (Lambda Developer Guide, "Lambda function states", function
        # states during updates; Invoke fails only "during function creation"): the version
        # before the update runs meanwhile (Emulator.serving).
        if update == "InProgress" and times is not None and call.operation != "Invoke":
            return error(
                call,
                409,
                "ResourceConflictException",
                "The operation cannot be performed at this time. "
                f"An update is in progress for resource: {times.arn}",
            )
        return None

    def _check_new_mapping(self, call: Call) -> Reply | None:
        refused = refused_settings(call)
        if refused is not None:
            return refused
        if self.refuse_mappings_while_pending:
            name = function_name(str(call.params.get("FunctionName", "")))
            if self.function_state(call.region, name)[0] == "Pending":
                message = self.pending_mapping_message
                return error(call, 409, "ResourceConflictException", message)
        source = str(call.params.get("EventSourceArn", ""))
        lam = self.world.client("lambda", call.region)
        try:
            config = lam.get_function_configuration(FunctionName=call.params["FunctionName"])
        except Exception:
            return None  # moto answers "function not found" itself
        existing = lam.list_event_source_mappings(
            FunctionName=config["FunctionName"], EventSourceArn=source
        )["EventSourceMappings"]
        kind = "SQS" if is_queue(source) else "DynamoDB"
        if existing:
            return error(
                call,
                409,
                "ResourceConflictException",
                f'An event source mapping with {kind} arn (" {source} ") and function '
                f'(" {config["FunctionName"]} ") already exists. Please update or delete the '
                f"existing mapping with UUID {existing[0]['UUID']}",
            )
        role = config["Role"]
        if kind == "SQS":
            for operation in SQS_NEEDS:
                if not self.allows(role, Request(f"sqs:{operation}", (source,))):
                    return error(
                        call,
                        400,
                        "InvalidParameterValueException",
                        "The provided execution role does not have permissions to call "
                        f"{operation} on SQS",
                    )
        elif "/stream/" in source:
            for operation in STREAM_NEEDS:
                resource = "*" if operation == "ListStreams" else source
                if not self.allows(role, Request(f"dynamodb:{operation}", (resource,))):
                    return error(
                        call,
                        400,
                        "InvalidParameterValueException",
                        f"Cannot access stream {source}. Please ensure the role can perform the "
                        "GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions "
                        "on your stream in IAM.",
                    )
        if kind == "SQS":
            return self._check_visibility(call, source, int(config.get("Timeout") or 3))
        return None

    def _check_visibility(self, call: Call, source: str, function_timeout: int) -> Reply | None:
        sqs = self.world.client("sqs", call.region)
        queue = Arn.parse(source)
        account, name = queue.account, queue.name
        try:
            url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["VisibilityTimeout"]
            )["Attributes"]
        except Exception:
            return None  # no such queue: moto answers for it
        return visibility_refusal(call, int(attributes["VisibilityTimeout"]), function_timeout)

    def _busy_mapping(
        self, call: Call, mapping: dict[str, Any], busy: frozenset[str]
    ) -> Reply | None:
        """ResourceInUseException for a mapping in one of the `busy` states (Lambda API
        reference, ResourceInUseException: "you tried to update an event source mapping in the
        CREATING state, or you tried to delete an event source mapping currently UPDATING").
        AWS publishes no wording: this one names the state."""
        state = self.mapping_state(mapping["UUID"], str(mapping.get("State", "")))
        if state not in busy:
            return None
        return error(
            call,
            400,
            "ResourceInUseException",
            f"Cannot modify the event source mapping {mapping['UUID']} while it is {state}. "
            "Please try again later.",
        )

    def _check_mapping_update(self, call: Call) -> Reply | None:
        uuid = str(call.params.get("UUID", ""))
        try:
            mapping = self.world.client("lambda", call.region).get_event_source_mapping(UUID=uuid)
        except Exception:
            return None  # moto answers "not found" itself
        refused = refused_settings(call, mapping)
        enabled, wanted = mapping.get("State") == "Enabled", call.params.get("Enabled")
        change = "Updating"
        if isinstance(wanted, bool) and wanted != enabled:
            change = "Enabling" if wanted else "Disabling"
        with self._claims:
            in_flight = self._changes.get(uuid)
            if in_flight is not None:  # another update, accepted, not yet applied
                return self._busy_mapping(call, {**mapping, "State": in_flight}, MAPPING_BUSY)
            busy = self._busy_mapping(call, mapping, MAPPING_BUSY)
            if busy is not None or refused is not None:
                return busy or refused
            self._changes[uuid] = change
        return None

    def _start_deleting(self, call: Call) -> Reply | None:
        uuid = str(call.params.get("UUID", ""))
        lam = self.world.client("lambda", call.region)
        try:
            mapping = lam.get_event_source_mapping(UUID=uuid)
        except Exception:
            return None  # moto answers "not found" itself
        mapping.pop("ResponseMetadata", None)
        if not call.internal:
            with self._claims:
                in_flight = self._changes.get(uuid)
                seen = {**mapping, "State": in_flight} if in_flight else mapping
                refused = self._busy_mapping(call, seen, MAPPING_BUSY - {"Deleting"})
            if refused is not None:
                return refused
        with self.world.lock:
            times = self.mappings.setdefault(
                uuid,
                MappingTimes(function_name(mapping["FunctionArn"]), call.region, float("-inf")),
            )
            if times.deleting_until is None:
                times.deleting_until = self.world.after("mapping_deleting", mapping_key(mapping))
        with_defaults(mapping)
        self._with_result(mapping)
        mapping["State"] = "Deleting"
        return json_reply(202, mapping)

    # -- after moto --------------------------------------------------------------------------
    def after(self, call: Call, reply: Reply) -> Reply:
        if call.operation == "UpdateEventSourceMapping" and not reply.ok:
            with self._claims:  # refused by moto, or it failed: the mapping is not changing
                self._changes.pop(str(call.params.get("UUID", "")), None)
        if not reply.ok:
            return reply
        document = reply.json()
        if not isinstance(document, dict):
            return reply
        if call.operation == "CreateFunction":
            key = (call.region, document["FunctionName"])
            self.functions[key] = FunctionTimes(
                document["FunctionArn"],
                pending_until=self.world.after("function_pending", document["FunctionName"]),
            )
        elif call.operation in ("UpdateFunctionCode", "UpdateFunctionConfiguration"):
            times = self.functions.setdefault(
                (call.region, document["FunctionName"]), FunctionTimes(document["FunctionArn"])
            )
            times.updating_until = self.world.after("function_updating", document["FunctionName"])
            now = datetime.now(UTC)
            times.last_modified = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now:%f}"[:3] + "+0000"
        elif call.operation == "GetFunction":
            self._hide_tags(call, document)
        elif call.operation == "DeleteFunction":
            name = function_name(str(call.params.get("FunctionName", "")))
            self.functions.pop((call.region, name), None)
        elif call.operation == "CreateEventSourceMapping":
            self.mappings[document["UUID"]] = MappingTimes(
                function_name(document["FunctionArn"]),
                call.region,
                self.world.after("mapping_creating", mapping_key(document)),
            )
        elif call.operation == "UpdateEventSourceMapping":
            self._start_changing(call, document)
        self._amend(call.region, document)
        return reply.with_json(document)

    def _hide_tags(self, call: Call, document: dict[str, Any]) -> None:
        """GetFunction returns Tags only to a caller explicitly allowed lambda:ListTags on the
        function, and otherwise TagsError (botocore's Lambda model, GetFunctionResponse.Tags;
        Lambda Developer Guide, "Permissions required for working with tags"; in force since
        July 2024: awslabs/aws-deployment-framework#748, DataBiosphere/azul#6387). The error's
        wording is not documented: worded as IAM words a denial."""
        principal = self.principal_of(call.access_key)
        arn = document.get("Configuration", {}).get("FunctionArn")
        if principal is None or arn is None or "Tags" not in document:
            return  # the emulator's own keys stand for an administrator
        if self.allows(principal, Request("lambda:ListTags", (arn,))):
            return
        del document["Tags"]
        document["TagsError"] = {
            "ErrorCode": "AccessDeniedException",
            "Message": f"User: {principal} is not authorized to perform: lambda:ListTags on "
            f"resource: {arn} because no identity-based policy allows the lambda:ListTags action",
        }

    def _amend(self, region: str, document: dict[str, Any]) -> None:
        """Write the states AWS would report into a function or mapping document."""
        for config in _function_configs(document):
            state, update = self.function_state(region, config.get("FunctionName", ""))
            config["State"], config["LastUpdateStatus"] = state, update
            times = self.functions.get((region, config.get("FunctionName", "")))
            if times is not None and times.last_modified is not None:
                config["LastModified"] = times.last_modified
            if state == "Pending":
                config["StateReason"] = "The function is being created."
                config["StateReasonCode"] = "Creating"
            else:
                config.pop("StateReason", None)
                config.pop("StateReasonCode", None)
        for mapping in _mappings(document):
            with_defaults(mapping)
            self._with_result(mapping)
            mapping["State"] = self.mapping_state(mapping["UUID"], mapping.get("State", ""))

    def _start_changing(self, call: Call, document: dict[str, Any]) -> None:
        uuid = document["UUID"]
        with self._claims, self.world.lock:
            change = self._changes.pop(uuid, "Updating")
            times = self.mappings.setdefault(
                uuid,
                MappingTimes(function_name(document["FunctionArn"]), call.region, float("-inf")),
            )
            times.changing = change
            times.changed_at = self.world.after("mapping_updating", mapping_key(document))

    def tick(self) -> None:
        now = self.world.clock()
        with self.world.lock:
            due = [
                u
                for u, t in self.mappings.items()
                if t.deleting_until is not None and t.deleting_until <= now
            ]
            finished = [(uuid, self.mappings.pop(uuid).region) for uuid in due]
        for uuid, region in finished:
            delete_mapping(self.world.account, region, uuid)


def _bad_tags(call: Call) -> Reply | None:
    tags = {str(k): str(v) for k, v in (call.params.get("Tags") or {}).items()}
    for part, pattern, low, high in (("key", TAG_KEY, 1, 128), ("value", TAG_VALUE, 0, 256)):
        if all(pattern.match(k if part == "key" else v) for k, v in tags.items()):
            continue
        shown = "{" + ", ".join(f"{k}={v}" for k, v in tags.items()) + "}"
        return error(
            call,
            400,
            "ValidationException",
            f"1 validation error detected: Value '{shown}' at 'tags' failed to satisfy "
            f"constraint: Map {part} must satisfy constraint: [Member must have length less "
            f"than or equal to {high}, Member must have length greater than or equal to {low}, "
            f"Member must satisfy regular expression pattern: {TAG_PATTERN}]",
        )
    return None


def _bad_environment(call: Call) -> Reply | None:
    variables = (call.params.get("Environment") or {}).get("Variables")
    if not isinstance(variables, dict):
        return None
    reserved = [key for key in variables if key in RESERVED_ENVIRONMENT]
    if reserved:
        return error(
            call,
            400,
            "InvalidParameterValueException",
            ENVIRONMENT_REFUSED + "environment variables you have provided contains reserved "
            "keys that are currently not supported for modification. Reserved keys used in this "
            f"request: {', '.join(reserved)}",
        )
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > ENVIRONMENT_LIMIT:
        return error(
            call,
            400,
            "InvalidParameterValueException",
            ENVIRONMENT_REFUSED + "environment variables you have provided exceeded the 4KB "
            f"limit. String measured: {measured}",
        )
    return None


def _function_configs(document: dict[str, Any]) -> list[dict[str, Any]]:
    if "Configuration" in document:
        return [document["Configuration"]]
    if "Functions" in document:
        return list(document["Functions"])
    return [document] if "FunctionArn" in document and "Runtime" in document else []


def _mappings(document: dict[str, Any]) -> list[dict[str, Any]]:
    if "EventSourceMappings" in document:
        return list(document["EventSourceMappings"])
    return [document] if "UUID" in document and "EventSourceArn" in document else []


def delete_mapping(account: str, region: str, uuid: str) -> None:
    """The mapping's deletion has finished: remove it from moto (in-process)."""
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends[account][region]
    if backend.get_event_source_mapping(uuid) is not None:
        backend.delete_event_source_mapping(uuid)
