"""Run one of the stack's functions once with an event, as the console's Test button does
(and `aws lambda invoke --log-type Tail`): its answer, and the tail of its log."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from pocctl.core.aws import error_code, error_message, is_not_found, poll, retry_on_codes
from pocctl.core.config import Names
from pocctl.core.context import Context
from pocctl.core.errors import PocctlError, StepError
from pocctl.ops.logs import LATE_LOG_WAIT_SECONDS
from pocctl.ops.smoke import DEFAULT_ORDER
from pocctl.resources.queues import queue_arn

WRITER, NOTIFIER = 1, 2

# botocore reads an answer for 60 s by default, and its retries send a timed-out Invoke again:
# a function that runs longer would run up to ten times (boto/boto3#1104). So the invocation
# gets a client of its own that waits longer than the function may run (its timeout, plus its
# start and the network) and never sends it twice.
INVOKE_MARGIN_SECONDS = 60
# Answers that mean the function did not run, so asking again runs it at most once: throttled
# (429), or Pending (409, Lambda Developer Guide, "Lambda function states").
NOT_RUN_CODES = frozenset({"TooManyRequestsException", "ResourceConflictException"})


def function_name(ctx: Context, which: int) -> str:
    n = ctx.config.names
    return n.writer_function if which == WRITER else n.notifier_function


def sample_event(ctx: Context, which: int) -> dict[str, Any]:
    """An event shaped like the real source's: for the writer, an SQS batch holding a sample
    order (Lambda Developer Guide, "Using Lambda with Amazon SQS", example event); for the
    notifier, a DynamoDB Streams INSERT of a sample row ("Using Lambda with DynamoDB")."""
    order_id = str(uuid.uuid4())
    if which == WRITER:
        now_ms = str(int(time.time() * 1000))
        # As the API queues an order (resources/api.py): its id and time, then the order.
        body = json.dumps({"orderID": order_id, "receivedAt": int(now_ms), "order": DEFAULT_ORDER})
        record: dict[str, Any] = {
            "messageId": str(uuid.uuid4()),
            "receiptHandle": "pocctl-invoke-sample",
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": now_ms,
                "SenderId": "pocctl",
                "ApproximateFirstReceiveTimestamp": now_ms,
            },
            "messageAttributes": {},
            "md5OfMessageAttributes": None,  # as SQS gives a message without attributes
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn(ctx, ctx.config.names.queue),
            "awsRegion": ctx.config.region,
        }
        return {"Records": [record]}
    received = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    row = {**DEFAULT_ORDER, "orderID": order_id, "receivedAt": received}
    image = {key: TypeSerializer().serialize(value) for key, value in row.items()}
    table = ctx.arn("dynamodb", f"table/{ctx.config.names.table}")
    record = {
        "eventID": uuid.uuid4().hex,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": ctx.config.region,
        "dynamodb": {
            "ApproximateCreationDateTime": int(time.time()),
            "Keys": {"orderID": {"S": order_id}},
            "NewImage": image,
            "SequenceNumber": str(int(time.time() * 1_000_000)),
            "SizeBytes": len(json.dumps(image)),
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": f"{table}/stream/pocctl-invoke-sample",
    }
    return {"Records": [record]}


@dataclass
class Invoked:
    function: str
    function_error: str | None  # "Unhandled" when the function raised
    response: Any
    log_tail: str
    started_ms: int = 0  # when it was invoked, in ms since the epoch (where its log starts)

    @property
    def failed_items(self) -> list[str]:
        """Records the function reported as failed (ReportBatchItemFailures)."""
        if not isinstance(self.response, dict):
            return []
        failures = self.response.get("batchItemFailures") or []
        return [str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)]

    @property
    def ok(self) -> bool:
        return self.function_error is None and not self.failed_items

    def as_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "function_error": self.function_error,
            "response": self.response,
            "batch_item_failures": self.failed_items,
            "log_tail": self.log_tail,
        }


# TCP keep-alive probes after a minute of silence, then every 15 s: the system's default idle
# time (7200 s on Linux and macOS) is longer than any Lambda call (900 s at most), so keep-alive
# with it sends nothing, while a NAT gateway drops a connection idle for 350 s (VPC User Guide,
# "NAT gateway basics": "If a connection that's using a NAT gateway is idle for 350 seconds or
# more, the connection times out").
KEEPALIVE_IDLE_SECONDS = 60
KEEPALIVE_INTERVAL_SECONDS = 15


def keepalive_socket_options() -> list[tuple[int, int, int]]:
    idle = getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None)
    interval = getattr(socket, "TCP_KEEPINTVL", None)
    options = []
    if idle is not None:
        options.append((socket.IPPROTO_TCP, idle, KEEPALIVE_IDLE_SECONDS))
    if interval is not None:
        options.append((socket.IPPROTO_TCP, interval, KEEPALIVE_INTERVAL_SECONDS))
    return options


def invoke_once_client(ctx: Context, timeout_seconds: int) -> Any:
    """A long synchronous Invoke needs the client's "timeout or keep-alive settings" (Lambda
    API reference, Invoke): a read timeout past the function's, and TCP keep-alive so that a
    NAT or firewall does not drop the connection while it is silent (AWS re:Post, "How to avoid
    network timeout issues when invoking long running Lambda functions")."""
    client = ctx.client_with(
        "lambda",
        BotoConfig(
            read_timeout=timeout_seconds + INVOKE_MARGIN_SECONDS,
            tcp_keepalive=True,
            retries={"mode": "standard", "total_max_attempts": 1},
        ),
    )
    # botocore sets SO_KEEPALIVE only; its connections take their socket options from this list
    # when they are made (lazily), so the idle time and interval are added to it here.
    options = getattr(getattr(client._endpoint, "http_session", None), "_socket_options", None)
    if isinstance(options, list):
        options.extend(o for o in keepalive_socket_options() if o not in options)
    return client


def updated_configuration(ctx: Context, function: str) -> dict[str, Any]:
    """The function's configuration once an update in progress has finished. Meanwhile Lambda
    runs the code before it ("While a function update is in progress, invocations go to the
    function's previous code and configuration": Lambda Developer Guide, "Lambda function
    states"), and the code a user has just deployed (`up --watch`) is the code to run."""
    lam = ctx.client("lambda")
    found: dict[str, Any] = {}

    def finished() -> bool:
        found.update(lam.get_function(FunctionName=function)["Configuration"])
        return found.get("LastUpdateStatus") != "InProgress"

    poll(
        ctx,
        finished,
        what=f"{function}'s update to finish",
        step="invoke",
        timeout=60,
        why="until then Lambda runs the code from before the update: in most cases a few "
        "seconds, says AWS",
    )
    return found


def invoke(ctx: Context, function: str, event: Any) -> Invoked:
    """Invoke once, synchronously, with the last 4 KB of its log (LogType Tail)."""
    started_ms = int(time.time() * 1000)
    try:
        # GetFunction: its own quota, outside Lambda's 15 control-plane requests a second.
        timeout = int(updated_configuration(ctx, function)["Timeout"])
        once = invoke_once_client(ctx, timeout)
        answer = retry_on_codes(
            ctx,
            lambda: once.invoke(
                FunctionName=function, Payload=json.dumps(event).encode(), LogType="Tail"
            ),
            NOT_RUN_CODES,
            limit_seconds=60,
        )
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise PocctlError(
                f"Function {function} does not exist in {ctx.config.region}.",
                "Is the stack deployed? Run `pocctl up` (or check --stack and --region).",
            ) from exc
        raise PocctlError(
            f"Could not invoke {function} ({error_code(exc)}): {error_message(exc)}"
        ) from exc
    payload = answer["Payload"].read()
    try:
        response = json.loads(payload) if payload else None
    except ValueError:
        response = payload.decode("utf-8", "replace")
    tail = base64.b64decode(answer.get("LogResult") or "").decode("utf-8", "replace")
    return Invoked(function, answer.get("FunctionError"), response, tail, started_ms)


FULL_LOG_WAIT_SECONDS = LATE_LOG_WAIT_SECONDS
REQUEST_ID = re.compile(r"^(?:START|END|REPORT) RequestId: (\S+)", re.MULTILINE)


def request_id(done: Invoked) -> str | None:
    """The invocation's id, from the START/END/REPORT lines its log tail ends with."""
    found = REQUEST_ID.findall(done.log_tail)
    return found[-1] if found else None


def full_log(ctx: Context, done: Invoked) -> str | None:
    """The invocation's whole log, when its tail (the last 4 KB) lost records' lines: the lines
    of its log stream from its START line to its END line (an execution environment writes one
    stream and runs one invocation at a time: Lambda Operator Guide, "How CloudWatch structures
    logs"). None if the log did not arrive within FULL_LOG_WAIT_SECONDS."""
    rid = request_id(done)
    if rid is None:
        return None
    logs = ctx.client("logs")
    group = Names.log_group(done.function)
    since = done.started_ms - 60_000  # clocks differ: the log's times are Lambda's
    marks: dict[str, dict[str, Any]] = {}

    def arrived() -> bool:
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, startTime=since, filterPattern=f'"{rid}"'
        )
        try:
            for page in pages:
                for event in page["events"]:
                    word = event["message"].split(" ", 1)[0]
                    if word in ("START", "END"):
                        marks[word] = event
        except ClientError as exc:
            if not is_not_found(exc):  # no log group yet: Lambda makes it with the first log
                raise
        return "START" in marks and "END" in marks

    try:
        poll(
            ctx,
            arrived,
            what=f"{done.function}'s whole log of this invocation",
            step="invoke",
            timeout=FULL_LOG_WAIT_SECONDS,
            why="its log tail (the last 4 KB) does not say what became of every record, and "
            "CloudWatch Logs receives a function's log a little after it ends",
        )
    except StepError:
        return None
    except ClientError as exc:
        raise PocctlError(
            f"Could not read {group} ({error_code(exc)}): {error_message(exc)}",
            "Your credentials need logs:FilterLogEvents on the function's log group.",
        ) from exc
    start, end = marks["START"], marks["END"]
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=group,
        logStreamNames=[start["logStreamName"]],
        startTime=start["timestamp"],
        endTime=end["timestamp"] + 1,
    )
    lines: list[str] = []
    inside = False
    for page in pages:
        for event in page["events"]:
            message = event["message"].rstrip("\n")
            inside = inside or event["eventId"] == start["eventId"]
            if inside:
                lines.append(message)
            if event["eventId"] == end["eventId"]:
                return "\n".join(lines) + "\n"
    return None


# The shapes Lambda's event source mappings send (Lambda Developer Guide, "Using Lambda with
# Amazon SQS" and "Using Lambda with DynamoDB", example events; Powertools' parser schemas,
# SqsRecordSchema and DynamoDBStreamSchema, make the same fields required): only what the
# handlers read is checked, so an event copied from a real invocation always passes.
STREAM_EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")


# AttributeValue (DynamoDB API reference): exactly one of these keys; in JSON, as a Lambda event
# carries it, B is a base64 string and BS a list of them (boto3's TypeDeserializer wants bytes
# there, so it cannot judge an event's values).
ATTRIBUTE_TYPES = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def _is_base64(value: Any) -> bool:
    return isinstance(value, str) and BASE64.fullmatch(value) is not None


def _attribute_value_problem(where: str, value: Any) -> str | None:
    """Why `value` is not a DynamoDB attribute value as JSON carries it, or None."""
    keys = list(value) if isinstance(value, dict) else []
    if len(keys) != 1 or keys[0] not in ATTRIBUTE_TYPES:
        example = json.dumps({"S": value if isinstance(value, str) else "mop"})
        return (
            f"{where} is {json.dumps(value, default=str)[:60]}, not a DynamoDB attribute value "
            f"(such as {example})"
        )
    kind, inner = keys[0], value[keys[0]]
    items = inner if isinstance(inner, list) else []
    well_typed = {
        "S": isinstance(inner, str),
        "N": isinstance(inner, str),
        "B": _is_base64(inner),
        "SS": isinstance(inner, list) and all(isinstance(i, str) for i in items),
        "NS": isinstance(inner, list) and all(isinstance(i, str) for i in items),
        "BS": isinstance(inner, list) and all(_is_base64(i) for i in items),
        "M": isinstance(inner, dict),
        "L": isinstance(inner, list),
        "NULL": inner is True,
        "BOOL": isinstance(inner, bool),
    }[kind]
    if not well_typed:
        wanted = {
            "S": "a string",
            "N": "a number as a string",
            "B": "a base64 string",
            "SS": "a list of strings",
            "NS": "a list of numbers as strings",
            "BS": "a list of base64 strings",
            "M": "an object of attribute values",
            "L": "a list of attribute values",
            "NULL": "true",
            "BOOL": "true or false",
        }[kind]
        return f"{where}.{kind} is {json.dumps(inner, default=str)[:60]}, not {wanted}"
    if kind == "M":
        return _attribute_values_problem(f"{where}.M", inner, keyed=False)
    if kind == "L":
        for index, item in enumerate(inner):
            problem = _attribute_value_problem(f"{where}.L[{index}]", item)
            if problem:
                return problem
    return None


def _attribute_values_problem(where: str, image: Any, *, keyed: bool = True) -> str | None:
    if not isinstance(image, dict):
        return f"{where} is not an object of DynamoDB attribute values"
    for name, value in image.items():
        problem = _attribute_value_problem(f"{where}.{name}", value)
        if problem:
            return problem
    if keyed and "orderID" not in image:
        return f'{where} has no "orderID" (the orders table\'s key), such as {{"S": "o-1"}}'
    return None


def _record_problem(which: int, where: str, record: Any) -> str | None:
    if not isinstance(record, dict):
        return f"{where} is not an object"
    if which == WRITER:
        for field in ("messageId", "body"):
            if not isinstance(record.get(field), str):
                return f'{where} has no string "{field}" (an SQS record carries it)'
        return None
    name = record.get("eventName")
    if name not in STREAM_EVENT_NAMES:
        return (
            f"{where}.eventName is {json.dumps(name)}, not one of {', '.join(STREAM_EVENT_NAMES)}"
        )
    stream = record.get("dynamodb")
    if not isinstance(stream, dict):
        return f'{where} has no "dynamodb" object (a DynamoDB Streams record carries it)'
    if not isinstance(stream.get("SequenceNumber"), str):
        return f'{where}.dynamodb has no string "SequenceNumber" (each stream record carries one)'
    if "Keys" not in stream:
        return f'{where}.dynamodb has no "Keys" (each stream record carries its item\'s key)'
    problem = _attribute_values_problem(f"{where}.dynamodb.Keys", stream["Keys"])
    if problem is None and name == "INSERT":
        if "NewImage" not in stream:
            return f'{where}.dynamodb has no "NewImage" (the new row an INSERT notifies)'
        problem = _attribute_values_problem(f"{where}.dynamodb.NewImage", stream["NewImage"])
    return problem


def event_problem(which: int, event: Any) -> str | None:
    """What keeps a user's event from being one the function's real source could send."""
    source = "an SQS batch" if which == WRITER else "a DynamoDB Streams batch"
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        return f'the event is not {source}: it needs a "Records" list'
    for index, record in enumerate(event["Records"]):
        problem = _record_problem(which, f"Records[{index}]", record)
        if problem:
            return problem
    return None


@dataclass(frozen=True)
class RecordOutcome:
    """What became of one record of the event, from the function's answer and log."""

    record: str  # its id in the event: the SQS messageId, or the stream's SequenceNumber
    order_id: str | None
    outcome: str  # stored, notified, skipped, failed, or unknown (its log says nothing)
    why: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    def as_json(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "order_id": self.order_id,
            "outcome": self.outcome,
            "why": self.why,
        }

    def __str__(self) -> str:
        order = f" (order {self.order_id})" if self.order_id else ""
        return f"{self.record}{order}: {self.outcome}" + (f", {self.why}" if self.why else "")


def logged_events(tail: str) -> list[dict[str, Any]]:
    """The handlers' structured log lines ({"event": ...}) in a log tail."""
    found = []
    for line in tail.splitlines():
        start = line.find("{")
        if start < 0:
            continue
        try:
            document = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(document, dict) and isinstance(document.get("event"), str):
            found.append(document)
    return found


def _writer_order_id(record: dict[str, Any]) -> str:
    """As the writer keys a row: the envelope's orderID, else the message id."""
    try:
        body = json.loads(record["body"])
    except ValueError:
        body = None
    if isinstance(body, dict) and set(body) == {"orderID", "receivedAt", "order"}:
        return str(body["orderID"])
    return str(record["messageId"])


def _notifier_order_id(record: dict[str, Any]) -> str | None:
    image = record["dynamodb"].get("NewImage") or record["dynamodb"].get("Keys") or {}
    try:
        return str(TypeDeserializer().deserialize(image["orderID"]))
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError, IndexError):
        return None


def _about(events: list[dict[str, Any]], order_id: str | None, *names: str) -> dict[str, Any]:
    for found in events:
        ids = found.get("orderIDs") or [found.get("orderID")]
        if found["event"] in names and order_id is not None and order_id in map(str, ids):
            return found
    return {}


NOT_LOGGED = "its log says nothing of it (see `pocctl logs --function {which}`)"


def outcomes(which: int, event: Any, done: Invoked, log: str | None = None) -> list[RecordOutcome]:
    """Each record's fate: from the function's error or batchItemFailures, then its log (its
    tail, or `log`, the whole log). Call only with an event `event_problem` accepts."""
    events = logged_events(done.log_tail if log is None else log)
    failed = set(done.failed_items)
    raised = ""
    if done.function_error is not None:
        answer = done.response if isinstance(done.response, dict) else {}
        raised = f"the function raised {answer.get('errorType', done.function_error)}"
        raised += f": {answer['errorMessage']}" if answer.get("errorMessage") else ""
    found: list[RecordOutcome] = []
    for record in event["Records"]:
        order: str | None
        if which == WRITER:
            key, order = record["messageId"], _writer_order_id(record)
        else:
            key, order = record["dynamodb"]["SequenceNumber"], _notifier_order_id(record)
        if raised:
            found.append(RecordOutcome(key, order, "failed", raised))
        elif which != WRITER and record["eventName"] != "INSERT":
            why = f"a {record['eventName']} record: only INSERT records (new orders) notify"
            found.append(RecordOutcome(key, order, "skipped", why))
        elif key in failed:
            logged = _about(events, order, "order_failed", "notify_failed", "notified_check_failed")
            why = str(logged.get("error") or "reported in batchItemFailures")
            found.append(RecordOutcome(key, order, "failed", why + ": its source retries it"))
        elif which == WRITER:
            if _about(events, order, "order_stored"):
                found.append(RecordOutcome(key, order, "stored"))
            elif _about(events, order, "order_already_stored"):
                found.append(RecordOutcome(key, order, "skipped", "already stored, not twice"))
            else:
                found.append(RecordOutcome(key, order, "unknown", NOT_LOGGED.format(which=1)))
        else:
            unrenderable = [
                e
                for e in events
                if e["event"] == "order_unrenderable" and e.get("sequenceNumber") == key
            ]
            if unrenderable:
                why = f"not notified: it could not be rendered ({unrenderable[0].get('error')})"
                found.append(RecordOutcome(key, order, "failed", why))
            elif _about(events, order, "order_notified"):
                found.append(RecordOutcome(key, order, "notified"))
            elif _about(events, order, "order_already_notified"):
                why = "already notified (its row carries notifiedAt)"
                found.append(RecordOutcome(key, order, "skipped", why))
            else:
                found.append(RecordOutcome(key, order, "unknown", NOT_LOGGED.format(which=2)))
    return found
