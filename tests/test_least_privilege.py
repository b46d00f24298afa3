"""Least privilege, offline: each role has every permission its path uses, and no more.

Each granted action is taken away in turn and the pipeline must break where that action is used.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pocctl.core.context import Context
from pocctl.core.reporting import Outcome, RecordingReporter
from pocctl.local.emulator import Emulator
from pocctl.ops.smoke import SmokeResult, run_test_order
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps, read_outputs

from .cases import heavy_case
from .emulated import TIMING, until_mapping_is, up_local


class Log(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)

    def mentions(self, text: str, who: str) -> bool:
        """A line with `text` about `who` (a stack's role): the log is the module's, and another
        case's line must not count."""
        return any(text in line and who in line for line in list(self))


@pytest.fixture(scope="module")
def log() -> Log:
    return Log()


@pytest.fixture(scope="module")
def emulator(log: Log) -> Iterator[Emulator]:
    with Emulator(port=0, log=log, timing=TIMING) as running:
        yield running


up = up_local


def take_away(emulator: Emulator, ctx: Context, role: str, policy: str, action: str) -> None:
    iam = ctx.client("iam")
    document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    kept = []
    for statement in document["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        remaining = [a for a in actions if a != action]
        if remaining:
            kept.append({**statement, "Action": remaining})
    assert kept != document["Statement"], f"{action} was not granted"
    document["Statement"] = kept
    if kept:
        iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=json.dumps(document))
    else:  # IAM refuses an empty policy: the action was its only grant
        iam.delete_role_policy(RoleName=role, PolicyName=policy)
    # Until the change has propagated, and a long poll authorized before it has ended.
    emulator.settled()


# How long test-order waits where a hop is expected to fail: long enough for the hops before it
# (the order is accepted at once; stored in under a second here, three times that under load).
UNTIL_FAILED = {"stored": 1.5, "notified": 3.0}


def smoke(ctx: Context, timeout: float = UNTIL_FAILED["notified"]) -> SmokeResult:
    return run_test_order(context_of(ctx), timeout=timeout)


def context_of(ctx: Context) -> Context:
    return Context(ctx.config, RecordingReporter(), session=ctx.session)


def log_lines(ctx: Context, function: str) -> list[str]:
    events = ctx.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    return [e["message"] for e in events]


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def test_the_stack_works_with_exactly_its_own_permissions(emulator: Emulator, log: Log) -> None:
    ctx = up(emulator, "lp-all")
    assert smoke(ctx, timeout=20).ok
    # Nothing the functions, pollers or API did was denied. (`up`'s own calls refused while a
    # new role propagates, and retried, are not the roles' doing.)
    denied = [line for line in log if "lp-all-" in line and " refused: " not in line]
    assert denied == []


WRITER_POLICY = ("Lambda-1-Role", "order-writer")
NOTIFIER_POLICY = ("Lambda-2-Role", "order-notifier")


def restart_mapping(emulator: Emulator, ctx: Context, function: str) -> None:
    """Disable and enable again: Lambda checks a mapping's permissions when it starts."""
    lam = ctx.client("lambda")
    (mapping,) = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    emulator.reconciled()  # its poller stopped

    # Lambda refuses an update while the mapping is still Disabling (ResourceInUseException):
    # wait for Disabled on the emulator's clock first (a loaded machine got there late).
    until_mapping_is(lam, mapping["UUID"], "Disabled")
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    emulator.reconciled()  # a new one started


@pytest.mark.parametrize(
    ("case", "role", "action", "hop", "checked_at_start"),
    [
        ("rcv", WRITER_POLICY, "sqs:ReceiveMessage", "stored", False),
        # The default run takes one hop of each kind: the others are heavy cases (tests/cases.py).
        heavy_case("gqa", WRITER_POLICY, "sqs:GetQueueAttributes", "stored", True),
        heavy_case("put", WRITER_POLICY, "dynamodb:PutItem", "stored", False),
        heavy_case("dsc", NOTIFIER_POLICY, "dynamodb:DescribeStream", "notified", True),
        heavy_case("lst", NOTIFIER_POLICY, "dynamodb:ListStreams", "notified", True),
        ("gsi", NOTIFIER_POLICY, "dynamodb:GetShardIterator", "notified", True),
        heavy_case("grc", NOTIFIER_POLICY, "dynamodb:GetRecords", "notified", False),
        heavy_case("pub", NOTIFIER_POLICY, "sns:Publish", "notified", False),
    ],
)
def test_taking_a_permission_away_breaks_its_hop(
    emulator: Emulator,
    log: Log,
    case: str,
    role: tuple[str, str],
    action: str,
    hop: str,
    checked_at_start: bool,
) -> None:
    stack = f"lp-{case}"
    ctx = up(emulator, stack)
    take_away(emulator, ctx, f"{stack}-{role[0]}", role[1], action)
    if checked_at_start:
        restart_mapping(emulator, ctx, f"{stack}-{'Lambda-1' if hop == 'stored' else 'Lambda-2'}")
    result = smoke(ctx, UNTIL_FAILED[hop])
    assert result.failed_hop is not None and result.failed_hop.name == hop, result
    denied = f"is not authorized to perform: {action}"

    def named() -> bool:
        # A function's lines reach CloudWatch Logs after its invocation ends, which may be
        # after the hop's wait gave up on the order.
        in_function_log = any(denied in line for line in log_lines(ctx, f"{stack}-Lambda-1"))
        in_function_log |= any(denied in line for line in log_lines(ctx, f"{stack}-Lambda-2"))
        return in_function_log or log.mentions(denied, f"{stack}-")

    assert eventually(named), f"no AccessDenied for {action}"


@pytest.mark.slow  # heavy (tests/cases.py)
def test_without_sns_publish_test_order_names_the_hop_and_the_denial_and_up_repairs_it(
    emulator: Emulator,
) -> None:
    ctx = up(emulator, "lp-repair")
    take_away(emulator, ctx, "lp-repair-Lambda-2-Role", "order-notifier", "sns:Publish")
    failed = smoke(ctx)
    assert failed.failed_hop is not None and failed.failed_hop.name == "notified"
    # Said from the failure record as soon as it lands (an early stop), or from the log at the
    # timeout: either way the function and its denial.
    assert "lp-repair-Lambda-2" in failed.failed_hop.detail
    assert "AuthorizationError" in failed.failed_hop.detail
    assert "not authorized to perform: sns:Publish" in failed.failed_hop.detail

    repair = context_of(ctx)
    report = Engine(repair, build_steps(repair.config)).up()
    assert {r.step for r in report.results if r.outcome is Outcome.UPDATED} == {"notifier-role"}
    assert smoke(ctx, timeout=20).ok  # `up` returned once IAM could have applied the repair


def test_without_delete_message_orders_are_stored_but_come_back(
    emulator: Emulator, log: Log
) -> None:
    ctx = up(emulator, "lp-del")
    take_away(emulator, ctx, "lp-del-Lambda-1-Role", "order-writer", "sqs:DeleteMessage")
    status, _ = post(read_outputs(ctx)["order_url"], b'{"item": "sticky"}')
    assert status == 200
    assert eventually(
        lambda: log.mentions("not authorized to perform: sqs:DeleteMessage", "lp-del-Lambda-1-Role")
    )
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName="lp-del-Queue")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 1


@pytest.mark.parametrize(
    ("function", "action"),
    [
        ("Lambda-1", "logs:CreateLogStream"),
        heavy_case("Lambda-1", "logs:PutLogEvents"),
        heavy_case("Lambda-2", "logs:CreateLogStream"),
        heavy_case("Lambda-2", "logs:PutLogEvents"),
    ],
)
def test_without_log_permissions_the_function_writes_no_logs(
    emulator: Emulator, log: Log, action: str, function: str
) -> None:
    stack = f"lp-{function[-1]}{action[5:8].lower()}"
    ctx = up(emulator, stack)
    policy = "order-writer" if function == "Lambda-1" else "order-notifier"
    take_away(emulator, ctx, f"{stack}-{function}-Role", policy, action)
    assert smoke(ctx, timeout=20).ok  # the pipeline itself still works
    # The function's log lines are sent after it returns: the denial may come after the order.
    denied = f"is not authorized to perform: {action}"
    assert eventually(lambda: log.mentions(denied, f"{stack}-{function}-Role"))
    emulator.settled()  # lines written would have reached CloudWatch Logs by now
    assert log_lines(ctx, f"{stack}-{function}") == []


def test_without_send_message_a_failed_stream_batch_cannot_reach_the_failure_queue(
    emulator: Emulator, log: Log
) -> None:
    ctx = up(emulator, "lp-dlq")
    take_away(emulator, ctx, "lp-dlq-Lambda-2-Role", "order-notifier", "sqs:SendMessage")
    ctx.client("lambda").update_function_configuration(
        FunctionName="lp-dlq-Lambda-2",
        Environment={"Variables": {"TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:missing"}},
    )
    post(read_outputs(ctx)["order_url"], b'{"item": "lost notification"}')
    assert eventually(
        lambda: log.mentions("could not send failed records to", "lp-dlq-Stream-"), 20
    )
    assert log.mentions("not authorized to perform: sqs:SendMessage", "lp-dlq-Lambda-2-Role")


def test_the_api_without_send_message_refuses_orders_instead_of_accepting_them(
    emulator: Emulator,
) -> None:
    ctx = up(emulator, "lp-api")
    take_away(emulator, ctx, "lp-api-APIGateway-SQS-Role", "api-to-queue", "sqs:SendMessage")
    status, answer = post(read_outputs(ctx)["order_url"], b'{"item": "mop"}')
    assert status == 502
    assert answer == {
        "message": "The order could not be queued; the fault is the service's, not the order's: "
        "retry later.",
        "error": "AccessDenied",
    }


def post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
