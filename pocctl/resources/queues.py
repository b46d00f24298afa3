"""SQS queues: the order queue (with its dead-letter queue) and the stream's failure queue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from pocctl.core.aws import (
    aws_errors,
    delete,
    error_code,
    is_not_found,
    none_if_absent,
    retry_on_codes,
)
from pocctl.core.context import Context
from pocctl.core.errors import ForeignResourceError
from pocctl.core.reporting import Outcome, Why
from pocctl.resources.base import (
    Differs,
    Leftover,
    Live,
    Missing,
    Plan,
    Step,
    arn_parts,
    destroy_ours,
    is_ours,
    removal,
    require_ours,
)
from pocctl.resources.cloudformation import Resources, cfn_resource, logical_id, tag_entries

FOURTEEN_DAYS = str(14 * 24 * 3600)
# After a delete, SQS refuses the same name for 60 s; botocore does not retry this.
NAME_REUSE_CODES = frozenset(
    {"AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently"}
)
# CreateQueue of an existing queue with other attributes or tags (the query code, and the JSON
# protocol's name for it).
NAME_EXISTS_CODES = frozenset({"QueueAlreadyExists", "QueueNameExists"})
NAME_REUSE_SECONDS = 60.0


def name_reuse(name: str) -> Why:
    """The wait `up` says while SQS refuses the name of a queue deleted moments ago: "you must
    wait at least 60 seconds before creating a queue with the same name" (SQS API reference,
    DeleteQueue). When it was deleted is not known here, so the time left is at most that."""
    return Why(
        f"{name}'s name",
        f"SQS keeps a deleted queue's name for {NAME_REUSE_SECONDS:.0f} s (QueueDeletedRecently)",
        NAME_REUSE_SECONDS,
    )


# CreatedTimestamp is "the time when the queue was created in seconds (epoch time)" (SQS API
# reference, GetQueueAttributes): whole seconds, and the clocks compared may differ a little.
CLOCK_SKEW_SECONDS = 5.0

Attributes = Callable[[Context], dict[str, str]]


def same_attribute(name: str, current: str | None, desired: str) -> bool:
    if current is None:
        return False
    if name == "RedrivePolicy":
        now, want = json.loads(current), json.loads(desired)
        return bool(
            now.get("deadLetterTargetArn") == want["deadLetterTargetArn"]
            and int(now.get("maxReceiveCount", 0)) == int(want["maxReceiveCount"])
        )
    return current == desired


def queue_url(ctx: Context, queue_name: str) -> str | None:
    try:
        url: str = ctx.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]
        return url
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise


def queue_arn(ctx: Context, queue_name: str) -> str:
    return ctx.arn("sqs", queue_name)


@dataclass(frozen=True)
class Depth:
    waiting: int
    in_flight: int

    @property
    def total(self) -> int:
        return self.waiting + self.in_flight


def depth(ctx: Context, name: str) -> Depth | None:
    """How many messages the queue holds; None when there is no such queue."""
    url = queue_url(ctx, name)
    if url is None:
        return None
    attributes = ctx.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return Depth(
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def being_deleted(ctx: Context, name: str, *, take_back: bool = True) -> bool:
    """Whether a queue that every read says exists is one deleted in the last 60 seconds.

    Such a queue may still answer: "Requests you send involving that queue during the 60
    seconds might succeed" (SQS API reference, DeleteQueue). Only CreateQueue can't be stale: it
    refuses the name of a queue deleted in the last 60 s (QueueDeletedRecently). It is sent with
    the name alone: QueueNameExists comes "only if the request includes attributes whose values
    differ from those of the existing queue" (SQS API reference, CreateQueue, Errors), so a
    queue that exists answers its URL, changing nothing (localstack/localstack#6117: checked
    against AWS), whatever its attributes, tags or dead-letter queue (with the stack's
    attributes, a DLQ deleted by hand made it fail: serverless/serverless#5215, and a
    RedrivePolicy spaced otherwise than AWS's made it QueueNameExists: JustSaying#208). The
    description's "exact names and values of all the queue's attributes" could be read as
    refusing a name-only request too: QueueNameExists also means the queue exists. Any other
    error (denied, throttled): the reads are trusted. `take_back=False`: a queue the
    CreateQueue made is left as it is (and the name counts as taken)."""
    sqs = ctx.client("sqs")
    before = time.time()
    try:
        with ctx.confirming():
            made = sqs.create_queue(QueueName=name)
    except ClientError as exc:
        return error_code(exc) in NAME_REUSE_CODES
    if not take_back:
        return False
    # What the CreateQueue may have made is read from AWS, not from answers a pass shares
    # (core/shared_reads.py): they may be of the queue being deleted, and its tags.
    with ctx.shared_reads.fresh():
        return _taken_back(ctx, made["QueueUrl"], _made_after(made, before, time.time()))


def _made_after(response: dict[str, Any], before: float, after: float) -> float:
    """The moment (AWS's clock when its Date header tells it) just before a request was sent,
    less some skew: a queue created at or after it may be the request's."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    sent = before
    if date:
        with suppress(TypeError, ValueError):
            sent = parsedate_to_datetime(date).timestamp() - (after - before)
    return sent - CLOCK_SKEW_SECONDS


def _taken_back(ctx: Context, url: str, made_after: float) -> bool:
    """Whether CreateQueue just made the queue: its 60 s ended between the reads and the
    CreateQueue, which made a new queue. A read must change nothing (`status`, `up --dry-run`,
    `ls`, the sweep), so it is deleted again, and the queue is being deleted, as the reads
    began. Only a queue the confirmation provably made is deleted: one with no tags at all,
    created at or after the moment the CreateQueue was sent; anything else (a queue whose tag
    someone removed, one made by hand) is trusted as the reads found it and left alone."""
    sqs = ctx.client("sqs")
    try:
        if sqs.list_queue_tags(QueueUrl=url).get("Tags"):
            return False  # the stack's queue (the usual answer, in one read), or someone's
        created = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["CreatedTimestamp"])[
            "Attributes"
        ].get("CreatedTimestamp")
    except ClientError:
        return False  # trust the reads
    if created is None or float(created) < made_after:
        return False
    # A delete is a change, whatever the reason: counted as mutating.
    with suppress(ClientError):
        sqs.delete_queue(QueueUrl=url)
    return True


@dataclass(frozen=True)
class QueueState:
    url: str
    wrong: dict[str, str]  # the attributes to set, with their wanted values


@dataclass(eq=False, kw_only=True)
class QueueStep(Step[QueueState]):
    kind: ClassVar[str] = "SQS queue"
    arns: ClassVar[tuple[str, str] | None] = ("sqs", "")

    key: str
    queue_name: str
    attributes: Attributes
    depends_on: tuple[str, ...] = ()
    purpose: str = ""  # what it holds, when its name doesn't say: "dead letters"
    # For a queue that should stay empty, the problem `status` reports when it isn't, with
    # {count} and {name} filled in.
    problem_if_not_empty: str | None = None
    hint_if_not_empty: str = ""  # and what to do about it
    # Why messages are here, when it isn't empty (the consumer's last logged error).
    explain: Callable[[Context], str | None] | None = None

    @property
    def name(self) -> str:
        return self.queue_name

    def _tags(self, ctx: Context, url: str) -> dict[str, str]:
        tags: dict[str, str] = ctx.client("sqs").list_queue_tags(QueueUrl=url).get("Tags", {})
        return tags

    def live(self, ctx: Context) -> Live:
        found = none_if_absent(lambda: depth(ctx, self.queue_name))
        if found is None:
            return Live()
        purpose = f" ({self.purpose})" if self.purpose else ""
        live = Live(
            detail=f"{purpose}: {found.waiting} waiting, {found.in_flight} in flight",
            facts={"waiting": found.waiting, "in_flight": found.in_flight},
        )
        if found.total and self.problem_if_not_empty:
            problem = self.problem_if_not_empty.format(count=found.total, name=self.queue_name)
            reason = self.explain(ctx) if self.explain is not None else None
            if reason:
                live.lines.append((f"last error: {reason}", False))
                live.facts["last_error"] = reason
                problem += f"; last error: {reason}"
            live.problems.append(problem)
            live.hints += [self.hint_if_not_empty] * bool(self.hint_if_not_empty)
        return live

    def plan(self, ctx: Context) -> Plan[QueueState]:
        sqs = ctx.client("sqs")
        with aws_errors(self.key, "GetQueueUrl"):
            url = queue_url(ctx, self.queue_name)
            if url is None:
                return Plan.create()
            try:
                tags, current = ctx.together(
                    lambda: self._tags(ctx, url),
                    lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                        "Attributes"
                    ],
                )
            except ClientError as exc:
                if not is_not_found(exc):
                    raise
                # Deleted moments ago: its URL still answers for up to 60 s, nothing else does.
                return Plan.create(
                    Missing("deleted moments ago: will create it once SQS allows the name")
                )
            require_ours(ctx, self, tags)
        if being_deleted(ctx, self.queue_name):
            return Plan.create(
                Missing("being deleted: will create it once SQS allows the name again")
            )
        desired = self.attributes(ctx)
        wrong = {k: v for k, v in desired.items() if not same_attribute(k, current.get(k), v)}
        changes = [Differs(k, current.get(k), v) for k, v in wrong.items()]
        return Plan.from_changes(changes, QueueState(url, wrong))

    def apply(self, ctx: Context, plan: Plan[QueueState]) -> None:
        sqs = ctx.client("sqs")
        if plan.current is None:
            desired = self.attributes(ctx)

            def create() -> None:
                try:
                    sqs.create_queue(
                        QueueName=self.queue_name, Attributes=desired, tags=ctx.config.tags
                    )
                except ClientError as exc:
                    # Whether SQS compares attributes with a queue deleted in the last 60 s
                    # before refusing its name is not documented: then QueueNameExists may be
                    # that queue. A queue made meanwhile by someone else is left alone.
                    if error_code(exc) in NAME_EXISTS_CODES and self._ours_being_deleted(ctx):
                        error = {"Code": "QueueDeletedRecently", "Message": str(exc)}
                        raise ClientError({"Error": error}, "CreateQueue") from exc
                    raise

            with aws_errors(self.key, "CreateQueue"):
                retry_on_codes(ctx, create, NAME_REUSE_CODES, 75, name_reuse(self.queue_name))
            return
        with aws_errors(self.key, "SetQueueAttributes"):
            sqs.set_queue_attributes(QueueUrl=plan.current.url, Attributes=plan.current.wrong)

    def _ours_being_deleted(self, ctx: Context) -> bool:
        """After QueueNameExists: whether the queue of that name is the stack's, being deleted.
        One without the stack's tag is foreign (never deleted nor replaced)."""
        url = queue_url(ctx, self.queue_name)
        if url is None:
            return True  # gone since: the name is being freed
        tags = none_if_absent(lambda: self._tags(ctx, url))
        if tags is None:
            return True  # deleted moments ago: only its URL still answers
        if is_ours(ctx, tags):
            return being_deleted(ctx, self.queue_name)
        # Untagged and being deleted: a queue a confirmation made and took back. Anything else
        # is someone's, never deleted from here.
        if not tags and being_deleted(ctx, self.queue_name, take_back=False):
            return True
        raise ForeignResourceError(self.kind, self.name, ctx.config.stack)

    @classmethod
    def leftover_at(cls, ctx: Context, arn: str) -> Leftover | None:
        name = arn_parts(arn)[1]
        url = queue_url(ctx, name)
        if url is None:
            return None
        found = none_if_absent(lambda: ctx.client("sqs").list_queue_tags(QueueUrl=url))
        if found is None:
            return None  # deleted moments ago: only its URL still answers
        if not is_ours(ctx, found.get("Tags") or {}):
            return None  # someone took it over (removed the tag): not the stack's to remove
        command = removal(ctx, f"aws sqs delete-queue --queue-url {url}")
        return Leftover(cls.kind, name, command, being_deleted(ctx, name))

    def destroy(self, ctx: Context) -> Outcome:
        def read() -> tuple[str, dict[str, str]] | None:
            url = queue_url(ctx, self.queue_name)
            if url is None:
                return None
            # None: deleted moments ago; its URL still answers
            tags = none_if_absent(lambda: self._tags(ctx, url))
            return None if tags is None else (url, tags)

        def remove(found: tuple[str, dict[str, str]]) -> Outcome:
            if being_deleted(ctx, self.queue_name):
                return Outcome.ABSENT  # a `down` moments ago deleted it; it still answers
            url = found[0]
            delete(
                ctx, self.key, "DeleteQueue", lambda: ctx.client("sqs").delete_queue(QueueUrl=url)
            )
            return Outcome.DELETED

        return destroy_ours(
            ctx, self, "GetQueueUrl", read, lambda found: is_ours(ctx, found[1]), remove
        )

    def template(self, ctx: Context) -> Resources:
        """The queue in CloudFormation, with the attributes CreateQueue is given, as the typed
        properties AWS::SQS::Queue names the same (RedrivePolicy as JSON)."""
        properties: dict[str, Any] = {"QueueName": self.queue_name}
        for name, value in self.attributes(ctx).items():
            properties[name] = queue_property(value)
        properties["Tags"] = tag_entries(ctx.config.tags)
        return {logical_id(self.key): cfn_resource("AWS::SQS::Queue", properties)}


def queue_property(value: str) -> Any:
    """An SQS attribute's string as AWS::SQS::Queue types it: numbers, booleans, JSON."""
    if value.isdigit():
        return int(value)
    if value in ("true", "false"):
        return value == "true"
    if value.startswith("{"):
        return json.loads(value)
    return value
