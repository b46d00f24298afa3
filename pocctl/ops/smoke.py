"""`pocctl test-order`: prove every hop of the pipeline with one real order.

POST the order to the deployed API, wait for its row in DynamoDB, and wait for the notification on
a temporary SQS queue subscribed to the topic (raw delivery, a queue policy allowing only that
topic). The temporary queue and subscription are removed whatever happens. When a hop fails, the
result says what was found: mapping state, messages waiting in a dead-letter queue, the function's
last error.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from pocctl.core.aws import is_not_found, poll
from pocctl.core.context import Context
from pocctl.core.errors import PocctlError, StepError
from pocctl.core.reporting import Why
from pocctl.core.retry import Again, Policy, keep_trying
from pocctl.ops.logs import LATE_LOG_WAIT_SECONDS
from pocctl.ops.order_profile import for_stack, keep, measure_order, with_init_of
from pocctl.pipeline.stack import read_outputs
from pocctl.resources.base import is_ours
from pocctl.resources.iam import role_age_now
from pocctl.resources.logs import last_error
from pocctl.resources.mappings import WORKING, function_mappings
from pocctl.resources.queues import being_deleted, depth, queue_arn, queue_url
from pocctl.resources.topic import email_subscriptions

DEFAULT_ORDER = {"item": "latex gloves", "customerID": "12345"}
HTTP_TIMEOUT = 15.0


@dataclass
class Hop:
    name: str
    ok: bool
    seconds: float | None = None
    detail: str = ""
    # Why it failed before the timeout: "mapping" (no mapping runs its function), "failed"
    # (its function gave up on this order); None otherwise.
    stopped_early: str | None = None


@dataclass
class SmokeResult:
    order: dict[str, Any]
    order_id: str | None = None
    hops: list[Hop] = field(default_factory=list)
    email_subscriptions: dict[str, str] = field(default_factory=dict)
    subject: str | None = None  # of the notification, as email subscribers get it
    interrupted: str | None = None  # the hop being waited for when Ctrl-C came
    # What test-order made and removed again ("queue", "subscription"), and what it could not
    # remove (then `pocctl down` does).
    removed: list[str] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)
    # When the order was posted (ms since the epoch, as log events are stamped): only errors
    # logged since then are this order's.
    posted_ms: int | None = None
    # What the order cost in billed units (`--measure`), for `pocctl cost`.
    profile: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return len(self.hops) == 3 and all(h.ok for h in self.hops)

    @property
    def failed_hop(self) -> Hop | None:
        return next((h for h in self.hops if not h.ok), None)

    def as_json(self) -> dict[str, Any]:
        document = asdict(self)
        del document["posted_ms"]
        if self.profile is None:
            del document["profile"]
        return {"ok": self.ok, **document}


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
def temporary_inbox(
    ctx: Context, topic_arn: str, result: SmokeResult | None = None
) -> Iterator[str]:
    """A queue subscribed to the topic for the length of the test; always removed, even when
    Ctrl-C came before AWS answered the call that made it (then it is found by its name and
    endpoint). What was removed, or could not be, goes into `result`."""
    result = result or SmokeResult({})
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
    made: list[str] = []
    subscription: list[str] = []
    try:
        made.append("queue")  # before the call: Ctrl-C may come after AWS made it
        url = sqs.create_queue(
            QueueName=name,
            Attributes={"Policy": json.dumps(policy), "MessageRetentionPeriod": "600"},
            tags=ctx.config.tags,
        )["QueueUrl"]
        made.append("subscription")
        subscription.append(
            sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=arn,
                # Not raw: SNS's envelope carries the Subject, which test-order shows.
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
        )
        until_usable(ctx, url)
        yield url
    finally:
        removals = {
            "subscription": lambda: unsubscribe_inbox(ctx, topic_arn, arn, subscription),
            "queue": lambda: delete_inbox(ctx, name),
        }
        interrupted = False
        for what in [w for w in removals if w in made]:
            removed, interrupted_now = shielded(removals[what])
            interrupted |= interrupted_now
            if removed is not None:  # None: it was never made
                (result.removed if removed else result.left_behind).append(what)
        if interrupted:
            raise KeyboardInterrupt


# A Ctrl-C during the removal of the temporary inbox is taken as "finish, then stop": each
# removal is tried again this many times before it is given up (and left to `pocctl down`).
REMOVAL_ATTEMPTS = 3


def shielded(remove: Callable[[], bool | None]) -> tuple[bool | None, bool]:
    """Run a removal to its end through Ctrl-C: (what it returned, whether a Ctrl-C came
    meanwhile)."""
    interrupted = False
    for _ in range(REMOVAL_ATTEMPTS):
        try:
            return remove(), interrupted
        except KeyboardInterrupt:
            interrupted = True
    return False, interrupted


def unsubscribe_inbox(ctx: Context, topic_arn: str, endpoint: str, known: list[str]) -> bool | None:
    """Remove the inbox's subscription: by its ARN, or found by its endpoint when Ctrl-C came
    before SNS answered Subscribe. True: removed; None: there was none; False: it stays."""
    sns = ctx.client("sns")
    try:
        arns = known or [
            s["SubscriptionArn"]
            for page in sns.get_paginator("list_subscriptions_by_topic").paginate(
                TopicArn=topic_arn
            )
            for s in page["Subscriptions"]
            if s.get("Endpoint") == endpoint and s["SubscriptionArn"].startswith("arn:")
        ]
        for arn in arns:
            sns.unsubscribe(SubscriptionArn=arn)
    except ClientError as exc:
        return None if is_not_found(exc) else False
    return True if arns else None


def delete_inbox(ctx: Context, name: str) -> bool | None:
    """Delete the inbox by its name (its URL is not known when Ctrl-C came before SQS answered
    CreateQueue). True: deleted; None: there was none; False: it stays."""
    try:
        url = queue_url(ctx, name)
        if url is None:
            return None
        ctx.client("sqs").delete_queue(QueueUrl=url)
    except ClientError as exc:
        return None if is_not_found(exc) else False
    return True


PROBE = "pocctl test-order: is this inbox usable yet?"
INBOX_USABLE_WITHIN = 30.0
INBOX_PROBES = Policy(0.05, 1.5, 0.25, within=INBOX_USABLE_WITHIN)


def until_usable(ctx: Context, url: str) -> None:
    """Return once the new inbox takes and gives back a message of ours, so that the order is
    posted only when its notification can land. SQS: "After you create a queue, you must wait at
    least one second after the queue is created to be able to use the queue" (API reference,
    CreateQueue). What a queue too new answers is not published: a refused send is tried again,
    and a probe accepted but lost is sent again."""
    sqs = ctx.client("sqs")
    usable = Why(
        "test-order's temporary queue to take messages",
        "a new SQS queue can be used about a second after it is created",
        1.0,
    )

    def took_probe() -> bool | Again:
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
        return True if probes else Again()

    def unusable(_: Again) -> bool:
        raise PocctlError(
            f"test-order's temporary queue could not be used within {INBOX_USABLE_WITHIN:.0f}s.",
            "Run `pocctl test-order` again.",
        )

    keep_trying(ctx, took_probe, INBOX_PROBES, gave_up=unusable, why=usable)


def inbox_prefix(ctx: Context) -> str:
    return f"{ctx.config.stack}-test-order-"


def remove_leftover_inboxes(ctx: Context) -> tuple[list[str], list[str]]:
    """Temporary test-order queues a killed `test-order` could not remove (for `down`): those it
    removed, and those already being deleted. A queue deleted in the last 60 s (by the
    test-order that made it, moments ago) may still be listed and answer (SQS API reference,
    DeleteQueue): CreateQueue tells it apart (`being_deleted`), and it is not removed again."""
    sqs = ctx.client("sqs")
    urls = sqs.list_queues(QueueNamePrefix=inbox_prefix(ctx)).get("QueueUrls", [])
    ours: list[str] = []
    going: list[str] = []
    for url in urls:
        try:
            tags = sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}
        except ClientError as exc:
            if is_not_found(exc):
                continue
            raise
        if is_ours(ctx, tags):
            name = url.rsplit("/", 1)[-1]
            (going if being_deleted(ctx, name) else ours).append(name)
    return remove_inboxes(ctx, ours), going


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


# Why a hop cannot pass: ("mapping" or "failed", what was found).
Stop = tuple[str, str]


def wait_for(
    ctx: Context,
    check: Callable[[], bool],
    deadline: float,
    pause: float = 0.02,
    *,
    why: Why | None = None,
    began: float | None = None,
    blocked: Callable[[], Stop | None] = lambda: None,
) -> bool | Stop:
    """Check until true (True), past the deadline (False), or until `blocked` says why the
    check can no longer come true (that reason), which is asked after BLOCKED_FIRST seconds,
    then every BLOCKED_EVERY. The pauses start short and grow to a quarter of a second: a hop's
    time is measured to within its last pause, so that is kept small where the pipeline is
    fast. `why` and `began` are the wait's, as users are told (Context.waiting)."""
    look_at = ctx.clock() + BLOCKED_FIRST

    def attempt() -> bool | Stop | Again:
        nonlocal look_at
        if check():
            return True
        now = ctx.clock()
        if look_at <= now < deadline:
            reason = blocked()
            if reason is not None:
                return reason
            look_at = now + BLOCKED_EVERY
        return Again()

    def too_late(_: Again) -> bool | Stop:
        return False

    policy = Policy(pause, 1.5, 0.25, within=deadline - ctx.clock())
    return keep_trying(ctx, attempt, policy, gave_up=too_late, why=why, began=began)


def run_test_order(
    ctx: Context,
    order: dict[str, Any] | None = None,
    *,
    timeout: float = 60.0,
    post: Post = http_post,
    on_hop: Callable[[Hop], None] = lambda hop: None,
    measure: bool = False,
) -> SmokeResult:
    """One order through every hop; `on_hop` is told each hop as it passes (or fails). A hop
    that can no longer pass (its mapping disabled, the order dead-lettered) fails at once.
    With `measure`, an order that passed is measured (`order_profile.measure_order`) and its
    profile kept for `pocctl cost`. Ctrl-C raises TestOrderInterrupted with the hops so far."""
    result = SmokeResult(dict(order or DEFAULT_ORDER))
    try:
        _run(ctx, result, timeout, post, on_hop)
        if measure and result.ok and result.order_id and result.posted_ms is not None:
            result.profile = measured(ctx, result.order_id, result.posted_ms)
        return result
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
    with temporary_inbox(ctx, outputs["topic_arn"], result) as inbox:
        started = clock()
        deadline = started + timeout
        # Log events and the stream's failure records are stamped by AWS's clock: a second
        # earlier, in case this machine's clock is ahead.
        result.posted_ms = int((time.time() - CLOCK_SLACK) * 1000)
        since = result.posted_ms
        posted = json.dumps(order).encode("utf-8")
        status, body = post(outputs["order_url"], posted)
        if refused_by_sqs(status, body) and (youth := api_role_youth_left(ctx)) > 0:
            until = min(deadline - clock(), youth)
            status, body = post_while_refused(ctx, post, outputs["order_url"], posted, until)
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
            why=Why(
                "the order to be stored",
                f"{n.writer_function} takes it from {n.queue} into {outputs['table']}",
                limit=timeout,
            ),
            began=started,
            blocked=lambda: storage_blocked(ctx, order_id, since),
        )
        if stored is False:
            passed(Hop("stored", False, None, diagnose_storage(ctx, since)))
            return result
        if stored is not True:
            passed(Hop("stored", False, None, stored[1], stopped_early=stored[0]))
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
            why=Why(
                "the order's notification",
                f"the table's stream runs {n.notifier_function}, which publishes to {n.topic}",
                limit=timeout,
            ),
            began=started,
            blocked=lambda: notification_blocked(ctx, since),
        )
        if delivered is True:
            result.subject = subjects[0]
            passed(Hop("notified", True, clock() - started, f"published: {subjects[0]!r}"))
        elif delivered is False:
            passed(Hop("notified", False, None, diagnose_notification(ctx, since)))
        else:
            passed(Hop("notified", False, None, delivered[1], stopped_early=delivered[0]))
    return result


CLOCK_SLACK = 1.0


def measured(ctx: Context, order_id: str, since_ms: int) -> dict[str, Any] | None:
    """The order's profile, kept for `pocctl cost` on this stack (None: its lines came late)."""
    config = ctx.config
    local = config.endpoint_url is not None and LOCAL_ENDPOINT.match(config.endpoint_url)
    where = "pocctl local" if local else f"AWS {config.region}"
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    profile = measure_order(ctx, order_id, since_ms, read_outputs(ctx)["table"], where, when)
    if profile is None:
        return None
    profile = with_init_of(profile, for_stack(config.region, config.stack))
    keep(config.region, config.stack, profile)
    return profile.as_json()


LOCAL_ENDPOINT = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?/?$")


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


def storage_blocked(ctx: Context, order_id: str, since_ms: int) -> Stop | None:
    """Why the order cannot be stored: no mapping runs the writer, or the order itself is in
    the dead-letter queue (another message there is not this order's business)."""
    n = ctx.config.names
    stopped = mapping_stopped(ctx, n.writer_function)
    if stopped is not None:
        return "mapping", f"stopped early: {stopped}, so the order stays in {n.queue}"
    if not holds_order(ctx, n.dead_letter_queue, order_id):
        return None
    found = f"stopped early: the order is in the dead-letter queue {n.dead_letter_queue}"
    error = error_on_its_way(ctx, n.writer_function, since_ms)
    return "failed", found + (f"; last error in {n.writer_function}'s log: {error}" * bool(error))


def error_on_its_way(ctx: Context, function: str, since_ms: int) -> str | None:
    """The newest error `function` logged since `since_ms`, when it has certainly failed: its
    lines reach CloudWatch Logs a while after it ran (timing.py's lambda_logs), so they are
    waited for as `pocctl invoke` waits for a whole log, then given up on."""
    found: str | None = None

    def arrived() -> bool:
        nonlocal found
        found = last_error(ctx, function, since_ms)
        return found is not None

    with suppress(StepError):
        poll(
            ctx,
            arrived,
            what=f"{function}'s error in its log",
            step="test-order",
            timeout=LATE_LOG_WAIT_SECONDS,
            why="CloudWatch Logs receives a function's log a little after it ran",
        )
    return found


def notification_blocked(ctx: Context, since_ms: int) -> Stop | None:
    """Why the stored order cannot be notified: no mapping runs the notifier, or the notifier
    gave up on a batch of records since the order was posted and logged an error since."""
    n = ctx.config.names
    stopped = mapping_stopped(ctx, n.notifier_function)
    if stopped is not None:
        return "mapping", f"stopped early: {stopped}, so the stored order is not notified"
    if not failed_batch_since(ctx, n.stream_failure_queue, since_ms):
        return None
    error = last_error(ctx, n.notifier_function, since_ms)
    if error is None:
        return None
    return "failed", (
        f"stopped early: {n.notifier_function} gave up on stream records since the order was "
        f"posted (in {n.stream_failure_queue}); last error in its log: {error}"
    )


def peek(ctx: Context, queue: str) -> list[str]:
    """Bodies of up to 10 messages of a dead-letter queue, hidden from no one: ReceiveMessage's
    VisibilityTimeout is how long "the received messages are hidden from subsequent retrieve
    requests" (SQS API reference), 0 reserves nothing (aws/aws-sdk-java#705). A sample: a short
    poll asks a subset of SQS's servers (SQS Developer Guide, "Short and long polling"), so a
    look every few seconds comes across a newly dead-lettered message soon enough."""
    sqs = ctx.client("sqs")
    try:
        url = queue_url(ctx, queue)
        if url is None:
            return []
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
        ).get("Messages", [])
    except ClientError:
        return []
    return [str(m.get("Body", "")) for m in messages]


def holds_order(ctx: Context, queue: str, order_id: str) -> bool:
    """Whether the dead-letter queue holds this order: the API's envelope carries its id
    (resources/api.py, REQUEST_TEMPLATE)."""
    for body in peek(ctx, queue):
        with suppress(ValueError, AttributeError):
            if json.loads(body).get("orderID") == order_id:
                return True
    return False


def failed_batch_since(ctx: Context, queue: str, since_ms: int) -> bool:
    """Whether the stream's failure queue holds a record of a batch given up since `since_ms`.
    The record names the batch by shard and sequence numbers, not by its rows (Lambda
    Developer Guide, "Retain discarded records for a DynamoDB event source": an invocation
    record with DDBStreamBatchInfo); which sequence number the order got is not known without
    reading the stream, so the record's time stands in, with the notifier's error since."""
    for body in peek(ctx, queue):
        with suppress(ValueError, AttributeError, TypeError):
            stamp = datetime.fromisoformat(json.loads(body)["timestamp"])
            if stamp.timestamp() * 1000 >= since_ms:
                return True
    return False


def notification(body: str) -> dict[str, Any]:
    """SNS's envelope around a message delivered to a queue (not raw)."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return {"Message": body}
    return envelope if isinstance(envelope, dict) else {"Message": body}


# A role reaches each service within seconds, sometimes a minute or two after it is made (IAM
# User Guide, troubleshooting, eventual consistency: AWS publishes no bound): SQS may still
# refuse API Gateway's integration role after `up`'s own wait. The API then answers 502 with
# SQS's AccessDenied (only a 4xx from SQS is mapped so: resources/api.py), and the order was not
# queued, so posting it again cannot store it twice. terraform-provider-aws waits at most 2
# minutes from the change ("propagationTimeout = 2 * time.Minute": internal/service/iam/wait.go),
# and so does this: a refusal later than that is taken as real.
IAM_PROPAGATION_BOUND = 120.0
REPOST = Policy(first=0.5, growth=1.5, cap=2.0)


def refused_by_sqs(status: int, body: str) -> bool:
    """The API's answer when SQS refused its integration role (pocctl's integration response),
    or when API Gateway could not yet assume that role: 500 "Internal server error" before the
    integration ran (terraform-aws-modules/terraform-aws-apigateway-v2#87), so nothing was queued
    and posting again cannot store the order twice."""
    if status == 500:
        try:
            return bool(json.loads(body) == {"message": "Internal server error"})
        except json.JSONDecodeError:
            return False
    if status != 502:
        return False
    try:
        return bool(json.loads(body).get("error") == "AccessDenied")
    except (json.JSONDecodeError, AttributeError):
        return False


def api_role_youth_left(ctx: Context) -> float:
    """How much longer (seconds) IAM may still be showing the API's integration role to SQS:
    IAM_PROPAGATION_BOUND less the role's age. 0 when it is older, or unknown."""
    age = role_age_now(ctx, ctx.config.names.api_role)
    return 0.0 if age is None else max(IAM_PROPAGATION_BOUND - age, 0.0)


def post_while_refused(
    ctx: Context, post: Post, url: str, data: bytes, until: float
) -> tuple[int, str]:
    """Post again while SQS refuses the young integration role, for `until` seconds at most;
    the last answer."""
    last: tuple[int, str] = (502, "")

    def attempt() -> tuple[int, str] | Again:
        nonlocal last
        last = post(url, data)
        return Again() if refused_by_sqs(*last) else last

    why = Why(
        "IAM to let API Gateway's new role send to the queue",
        "SQS refused it: IAM shows a new role to each service within seconds, sometimes minutes",
    )
    policy = replace(REPOST, within=until)
    return keep_trying(ctx, attempt, policy, gave_up=lambda _: last, why=why)


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


def diagnose_storage(ctx: Context, since_ms: int | None) -> str:
    n = ctx.config.names
    found = [mapping_state(ctx, n.writer_function)]
    waiting, dead = queue_depth(ctx, n.queue), queue_depth(ctx, n.dead_letter_queue)
    if waiting:
        found.append(f"{waiting} message(s) still in {n.queue}")
    if dead:
        found.append(f"{dead} message(s) in the dead-letter queue {n.dead_letter_queue}")
    error = last_error(ctx, n.writer_function, since_ms)
    if error:
        found.append(f"last error in {n.writer_function}'s log: {error}")
    return "not in the table in time; " + "; ".join(found)


def diagnose_notification(ctx: Context, since_ms: int | None) -> str:
    n = ctx.config.names
    found = [mapping_state(ctx, n.notifier_function)]
    dead = queue_depth(ctx, n.stream_failure_queue)
    if dead:
        found.append(f"{dead} failed batch(es) in {n.stream_failure_queue}")
    error = last_error(ctx, n.notifier_function, since_ms)
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
    or a stack to repair. Only `pocctl up`'s kind of problem gets `pocctl up`; only errors of
    this run count, and a hop stopped early is never "still working"."""
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
    if hop.stopped_early == "mapping":
        return REPAIR
    if hop.stopped_early == "failed":
        return bug
    try:
        stopped = not any(m.get("State") in WORKING for m in function_mappings(ctx, function))
        failing = last_error(ctx, function, result.posted_ms) is not None
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
