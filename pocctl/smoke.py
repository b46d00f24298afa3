"""`pocctl test-order`: prove every hop of the pipeline with one real order.

POST the order to the deployed API, wait for its row in DynamoDB, and wait for the notification on
a temporary SQS queue subscribed to the topic (raw delivery, a queue policy allowing only that
topic). The temporary queue and subscription are removed whatever happens. When a hop fails, the
result says what was found: mapping state, messages waiting in a dead-letter queue, the function's
last error.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from pocctl.aws import is_not_found
from pocctl.context import Context, Waiting
from pocctl.errors import PocctlError
from pocctl.logs import last_error
from pocctl.reporting import Why
from pocctl.resources.base import is_ours
from pocctl.resources.mappings import WORKING, function_mappings
from pocctl.resources.queues import depth, queue_arn, queue_url
from pocctl.resources.topic import email_subscriptions
from pocctl.stack import read_outputs

DEFAULT_ORDER = {"item": "latex gloves", "customerID": "12345"}
HTTP_TIMEOUT = 15.0


@dataclass
class Hop:
    name: str
    ok: bool
    seconds: float | None = None
    detail: str = ""


@dataclass
class SmokeResult:
    order: dict[str, Any]
    order_id: str | None = None
    hops: list[Hop] = field(default_factory=list)
    email_subscriptions: dict[str, str] = field(default_factory=dict)
    subject: str | None = None  # of the notification, as email subscribers get it
    interrupted: str | None = None  # the hop being waited for when Ctrl-C came

    @property
    def ok(self) -> bool:
        return len(self.hops) == 3 and all(h.ok for h in self.hops)

    @property
    def failed_hop(self) -> Hop | None:
        return next((h for h in self.hops if not h.ok), None)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


Post = Callable[[str, bytes], tuple[int, str]]


def http_post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        raise PocctlError(
            f"Could not reach the order endpoint {url}: {exc}",
            "Is the stack deployed (pocctl outputs), and is `pocctl local` still running?",
        ) from exc


@contextmanager
def temporary_inbox(ctx: Context, topic_arn: str) -> Iterator[str]:
    """A queue subscribed to the topic for the length of the test; always removed."""
    sqs, sns = ctx.client("sqs"), ctx.client("sns")
    name = f"{inbox_prefix(ctx)}{uuid.uuid4().hex[:8]}"
    arn = queue_arn(ctx, name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyThisStacksTopic",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    url = sqs.create_queue(
        QueueName=name,
        Attributes={"Policy": json.dumps(policy), "MessageRetentionPeriod": "600"},
        tags=ctx.config.tags,
    )["QueueUrl"]
    subscription = None
    try:
        subscription = sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            # Not raw: SNS's envelope carries the Subject, which test-order shows.
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        until_usable(ctx, url)
        yield url
    finally:
        if subscription:
            with suppress(ClientError):
                sns.unsubscribe(SubscriptionArn=subscription)
        with suppress(ClientError):
            sqs.delete_queue(QueueUrl=url)


PROBE = "pocctl test-order: is this inbox usable yet?"
INBOX_USABLE_WITHIN = 30.0


def until_usable(ctx: Context, url: str) -> None:
    """Return once the new inbox takes and gives back a message of ours, so that the order is
    posted only when its notification can land. SQS: "After you create a queue, you must wait at
    least one second after the queue is created to be able to use the queue" (API reference,
    CreateQueue). What a queue too new answers is not published: a refused send is tried again,
    and a probe accepted but lost is sent again."""
    sqs = ctx.client("sqs")
    deadline = ctx.clock() + INBOX_USABLE_WITHIN
    usable = Why(
        "test-order's temporary queue to take messages",
        "a new SQS queue can be used about a second after it is created",
        1.0,
    )
    waiting, pause = ctx.waiting(usable), 0.05
    while True:
        try:
            sqs.send_message(QueueUrl=url, MessageBody=PROBE)
            received = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            received = []
        probes = [m for m in received if m["Body"] == PROBE]
        for message in probes:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if probes:
            return
        if ctx.clock() >= deadline:
            raise PocctlError(
                "test-order's temporary queue could not be used within "
                f"{INBOX_USABLE_WITHIN:.0f}s.",
                "Run `pocctl test-order` again.",
            )
        waiting.pause(pause)
        pause = min(pause * 1.5, 0.25)


def inbox_prefix(ctx: Context) -> str:
    return f"{ctx.config.stack}-test-order-"


def remove_leftover_inboxes(ctx: Context) -> list[str]:
    """Temporary test-order queues a killed `test-order` could not remove (for `down`). A queue
    deleted in the last 60 s may still be listed and answer (SQS API reference, DeleteQueue):
    deleting it again is harmless, and `down` counts it as being deleted."""
    sqs = ctx.client("sqs")
    urls = sqs.list_queues(QueueNamePrefix=inbox_prefix(ctx)).get("QueueUrls", [])
    ours = []
    for url in urls:
        try:
            tags = sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}
        except ClientError as exc:
            if is_not_found(exc):
                continue
            raise
        if is_ours(ctx, tags):
            ours.append(url.rsplit("/", 1)[-1])
    return remove_inboxes(ctx, ours)


def remove_inboxes(ctx: Context, names: list[str]) -> list[str]:
    """Delete the named test-order queues of the stack; the names of those deleted."""
    sqs = ctx.client("sqs")
    removed = []
    for name in names:
        if not name.startswith(inbox_prefix(ctx)):
            continue
        url = queue_url(ctx, name)
        if url is not None:
            with suppress(ClientError):
                sqs.delete_queue(QueueUrl=url)
                removed.append(name)
    return removed


# A hop that has not passed within this long is asked whether it still can, then this often:
# a healthy pipeline passes each hop well within a second, and the look costs AWS calls.
BLOCKED_FIRST = 1.0
BLOCKED_EVERY = 2.0
HOPS = ("accepted", "stored", "notified")


class TestOrderInterrupted(KeyboardInterrupt):
    """Ctrl-C during test-order, with what it had seen: the hops that passed, and which one it
    was waiting for (`result.interrupted`). Its temporary inbox is removed by then."""

    def __init__(self, result: SmokeResult) -> None:
        super().__init__()
        self.result = result


def wait_for(
    ctx: Context,
    check: Callable[[], bool],
    deadline: float,
    pause: float = 0.02,
    *,
    waiting: Waiting | None = None,
    blocked: Callable[[], str | None] = lambda: None,
) -> bool | str:
    """Check until true (True), past the deadline (False), or until `blocked` says why the
    check can no longer come true (that reason), which is asked after BLOCKED_FIRST seconds,
    then every BLOCKED_EVERY. The pauses start short and grow to a quarter of a second: a hop's
    time is measured to within its last pause, so that is kept small where the pipeline is
    fast."""
    waiting = waiting or ctx.waiting()
    look_at = ctx.clock() + BLOCKED_FIRST
    while True:
        if check():
            return True
        now = ctx.clock()
        if now >= deadline:
            return False
        if now >= look_at:
            reason = blocked()
            if reason is not None:
                return reason
            look_at = now + BLOCKED_EVERY
        waiting.pause(pause)
        pause = min(pause * 1.5, 0.25)


def run_test_order(
    ctx: Context,
    order: dict[str, Any] | None = None,
    *,
    timeout: float = 60.0,
    post: Post = http_post,
    on_hop: Callable[[Hop], None] = lambda hop: None,
) -> SmokeResult:
    """One order through every hop; `on_hop` is told each hop as it passes (or fails). A hop
    that can no longer pass (its mapping disabled, the order dead-lettered) fails at once.
    Ctrl-C raises TestOrderInterrupted with the hops so far."""
    result = SmokeResult(dict(order or DEFAULT_ORDER))
    try:
        return _run(ctx, result, timeout, post, on_hop)
    except KeyboardInterrupt as exc:
        if isinstance(exc, TestOrderInterrupted):
            raise
        passed = {hop.name for hop in result.hops}
        result.interrupted = next((name for name in HOPS if name not in passed), None)
        raise TestOrderInterrupted(result) from None


def _run(
    ctx: Context,
    result: SmokeResult,
    timeout: float,
    post: Post,
    on_hop: Callable[[Hop], None],
) -> SmokeResult:
    def passed(hop: Hop) -> None:
        result.hops.append(hop)
        on_hop(hop)

    order = result.order
    outputs = read_outputs(ctx)
    if outputs["order_url"] is None:
        raise PocctlError(
            f"Stack {ctx.config.stack} is not deployed in {ctx.config.region} (no API found).",
            "Run `pocctl up` first, or check --stack and --region.",
        )
    clock = ctx.clock
    n = ctx.config.names
    result.email_subscriptions = email_states(ctx)
    with temporary_inbox(ctx, outputs["topic_arn"]) as inbox:
        dead_before = count(ctx, n.dead_letter_queue)
        failed_before = count(ctx, n.stream_failure_queue)
        started = clock()
        deadline = started + timeout
        status, body = post(outputs["order_url"], json.dumps(order).encode("utf-8"))
        order_id = accepted_id(status, body)
        if order_id is None:
            passed(Hop("accepted", False, clock() - started, f"HTTP {status}: {body}"))
            return result
        result.order_id = order_id
        passed(Hop("accepted", True, clock() - started, f"order {order_id}"))

        table = ctx.client("dynamodb")
        key = {"orderID": {"S": order_id}}
        stored = wait_for(
            ctx,
            lambda: (
                "Item" in table.get_item(TableName=outputs["table"], Key=key, ConsistentRead=True)
            ),
            deadline,
            waiting=ctx.waiting(
                Why(
                    "the order to be stored",
                    f"{n.writer_function} takes it from {n.queue} into {outputs['table']}",
                    limit=timeout,
                ),
                began=started,
            ),
            blocked=lambda: hop_blocked(
                ctx,
                n.writer_function,
                f"the order stays in {n.queue}",
                n.dead_letter_queue,
                dead_before,
                "new message(s) in the dead-letter queue",
            ),
        )
        if stored is not True:
            detail = diagnose_storage(ctx) if stored is False else stored
            passed(Hop("stored", False, None, detail))
            return result
        passed(Hop("stored", True, clock() - started, f"row {order_id} in {outputs['table']}"))

        sqs = ctx.client("sqs")

        subjects: list[str] = []

        def notified() -> bool:
            messages = sqs.receive_message(
                QueueUrl=inbox, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            for message in messages:
                envelope = notification(message["Body"])
                if order_id in str(envelope.get("Message", "")):
                    subjects.append(str(envelope.get("Subject") or "(no subject)"))
            return bool(subjects)

        delivered = wait_for(
            ctx,
            notified,
            deadline,
            pause=0.0,
            waiting=ctx.waiting(
                Why(
                    "the order's notification",
                    f"the table's stream runs {n.notifier_function}, which publishes to {n.topic}",
                    limit=timeout,
                ),
                began=started,
            ),
            blocked=lambda: hop_blocked(
                ctx,
                n.notifier_function,
                "the stored order is not notified",
                n.stream_failure_queue,
                failed_before,
                f"new failed batch(es) of {n.notifier_function} in",
            ),
        )
        if delivered is True:
            result.subject = subjects[0]
            passed(Hop("notified", True, clock() - started, f"published: {subjects[0]!r}"))
        else:
            detail = diagnose_notification(ctx) if delivered is False else delivered
            passed(Hop("notified", False, None, detail))
    return result


# -- whether a hop can still pass --------------------------------------------------------------

# Mapping states in which Lambda does not read the source (Lambda API reference,
# EventSourceMappingConfiguration.State: Creating, Enabling, Enabled, Disabling, Disabled,
# Updating, Deleting).
NOT_POLLING = frozenset({"Disabling", "Disabled", "Deleting"})


def mapping_stopped(ctx: Context, function: str) -> str | None:
    """Why no mapping will run `function`, or None if one may (or it can't be told)."""
    try:
        mappings = function_mappings(ctx, function)
    except ClientError:
        return None
    if mappings and not all(m.get("State") in NOT_POLLING for m in mappings):
        return None
    return mapping_state(ctx, function)


def count(ctx: Context, queue: str) -> int | None:
    """The queue's messages (SQS's counts are approximate); None if it can't be read."""
    try:
        return queue_depth(ctx, queue) or 0
    except ClientError:
        return None


def grew(ctx: Context, queue: str, before: int | None) -> int:
    """How many messages the queue gained since it held `before`."""
    now = count(ctx, queue)
    return 0 if now is None or before is None else max(now - before, 0)


def hop_blocked(
    ctx: Context, function: str, stuck: str, failures: str, before: int | None, landed: str
) -> str | None:
    """Why a hop cannot pass: no mapping runs `function` (then `stuck` says where the order
    stays), or `failures` (where `function`'s failures land) gained `landed` since the order was
    posted (then with the function's last error); None while it may still pass."""
    stopped = mapping_stopped(ctx, function)
    if stopped is not None:
        return f"stopped early: {stopped}, so {stuck}"
    grown = grew(ctx, failures, before)
    if not grown:
        return None
    found = f"stopped early: {grown} {landed} {failures} since the order was posted"
    error = last_error(ctx, function)
    return found + (f"; last error in {function}'s log: {error}" if error else "")


def notification(body: str) -> dict[str, Any]:
    """SNS's envelope around a message delivered to a queue (not raw)."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return {"Message": body}
    return envelope if isinstance(envelope, dict) else {"Message": body}


def accepted_id(status: int, body: str) -> str | None:
    if status != 200:
        return None
    try:
        found = json.loads(body).get("orderID")
    except (json.JSONDecodeError, AttributeError):
        return None
    return found if isinstance(found, str) and found else None


def email_states(ctx: Context) -> dict[str, str]:
    try:
        return email_subscriptions(ctx, ctx.config.names.topic)
    except ClientError:  # not being able to list them must not fail the test itself
        return {}


# -- what to say when a hop fails --------------------------------------------------------------


def mapping_state(ctx: Context, function: str) -> str:
    try:
        states = [m.get("State", "?") for m in function_mappings(ctx, function)]
    except ClientError as exc:
        return f"{function}: {exc.response['Error']['Code']}"
    if not states:
        return f"no event source mapping invokes {function}"
    return f"mapping to {function} is {', '.join(states)}"


def queue_depth(ctx: Context, name: str) -> int | None:
    found = depth(ctx, name)
    return None if found is None else found.total


def diagnose_storage(ctx: Context) -> str:
    n = ctx.config.names
    found = [mapping_state(ctx, n.writer_function)]
    waiting, dead = queue_depth(ctx, n.queue), queue_depth(ctx, n.dead_letter_queue)
    if waiting:
        found.append(f"{waiting} message(s) still in {n.queue}")
    if dead:
        found.append(f"{dead} message(s) in the dead-letter queue {n.dead_letter_queue}")
    error = last_error(ctx, n.writer_function)
    if error:
        found.append(f"last error in {n.writer_function}'s log: {error}")
    return "not in the table in time; " + "; ".join(found)


def diagnose_notification(ctx: Context) -> str:
    n = ctx.config.names
    found = [mapping_state(ctx, n.notifier_function)]
    dead = queue_depth(ctx, n.stream_failure_queue)
    if dead:
        found.append(f"{dead} failed batch(es) in {n.stream_failure_queue}")
    error = last_error(ctx, n.notifier_function)
    if error:
        found.append(f"last error in {n.notifier_function}'s log: {error}")
    return "no notification in time; " + "; ".join(found)


WRITER_BUG = (
    "Lambda-1 fails on orders: `pocctl logs --function 1` shows why, `pocctl invoke 1` runs it "
    "once with a sample order. Deploy the fix with `pocctl up`, then `pocctl redrive` sends the "
    "dead-lettered orders back."
)
NOTIFIER_BUG = (
    "Lambda-2 fails on stored orders: `pocctl logs --function 2` shows why, `pocctl invoke 2` "
    "runs it once with a sample row; deploy the fix with `pocctl up`."
)
REPAIR = "`pocctl status` names what is missing or drifted; `pocctl up` repairs it."


def failure_hint(ctx: Context, result: SmokeResult) -> str:
    """What to do about the hop that failed: what the API rejected, a bug in a function's code,
    or a stack to repair. Only `pocctl up`'s kind of problem gets `pocctl up`."""
    hop = result.failed_hop
    if hop is None:
        return ""
    n = ctx.config.names
    if hop.name == "accepted":
        status = hop.detail.split(":", 1)[0].removeprefix("HTTP ")
        if status == "400":
            return (
                "The API rejected this order (HTTP 400): its answer above says what. Nothing "
                "needs repairing; try another order (--item, --customer)."
            )
        if status == "429":
            return (
                "The stage throttle refused it: more requests than --rate-limit allows came in "
                "at once. Try again in a moment, or raise --rate-limit with `pocctl up`."
            )
        return REPAIR  # no such stage or route (403), a role or queue the API can't use (5xx)
    function, bug = (
        (n.writer_function, WRITER_BUG)
        if hop.name == "stored"
        else (n.notifier_function, NOTIFIER_BUG)
    )
    try:
        stopped = not any(m.get("State") in WORKING for m in function_mappings(ctx, function))
        failing = last_error(ctx, function) is not None
    except ClientError:
        return REPAIR
    if stopped:
        return REPAIR
    if failing:
        return bug
    return (
        f"Nothing failed yet: {function} may still be working on it. See `pocctl logs "
        f"--function {1 if hop.name == 'stored' else 2}`, or try again with a longer --timeout."
    )
