"""SQS: a deleted queue's name cannot be used again for 60 seconds, and meanwhile the queue may
still answer: "When you delete a queue, the deletion process takes up to 60 seconds. Requests
you send involving that queue during the 60 seconds might succeed. For example, a SendMessage
request might succeed, but after 60 seconds the queue and the message you sent no longer exist."
(SQS API reference, DeleteQueue). "Might" leaves the answer open, so `deleted_queue_answers` picks
one: "all" (the default, the harsh end: every request about the queue succeeds as before the
delete, reads answer what the queue was; moto deletes it when the 60 s are over), "url" (only
GetQueueUrl still answers) or "none" (gone at once). Only CreateQueue is certain: it refuses the
name for those 60 seconds (QueueDeletedRecently). Whether SQS refuses the name before comparing
a request's attributes and tags with the queue being deleted (QueueNameExists when they differ),
or after, no source says: `name_reuse_checked` acts out either ("first", the default, or
"after_attributes")."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlparse

from pocctl.core.arns import Arn
from pocctl.local.aws.base import Rules, World
from pocctl.local.aws.message_moves import OPERATIONS as MOVE_OPERATIONS
from pocctl.local.aws.message_moves import MessageMoves
from pocctl.local.aws.sqs_attributes import AttributeChanges
from pocctl.local.aws.sqs_sizes import BATCH_LIMIT, size_refusal
from pocctl.local.calls import Call
from pocctl.local.replies import Reply, error, json_reply

DELETED_RECENTLY = (
    "You must wait 60 seconds after deleting a queue before you can create another with the "
    "same name."
)
ANSWERS = ("all", "url", "none")
NAME_REUSE_CHECKED = ("first", "after_attributes")
# What uses a queue (timing.py, queue_new: refused until the queue is a second old).
DATA_PLANE = frozenset(
    {
        "SendMessage",
        "SendMessageBatch",
        "ReceiveMessage",
        "DeleteMessage",
        "DeleteMessageBatch",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
        "PurgeQueue",
    }
)
NOT_YET = "The specified queue does not exist."
QUEUE_URL = re.compile(r"<QueueUrl>([^<]*)</QueueUrl>")
# CreateQueue of an existing queue with other tags is refused, not a re-tagging (moto replaces
# the tags): Bogdanp/dramatiq_sqs#13, awslabs/amazon-sqs-java-temporary-queues-client#70.
OTHER_TAGS = "A queue already exists with the same name and different tags."


class SqsRules(Rules):
    services = ("sqs",)

    def __init__(self, world: World, base_url: Callable[[], str]) -> None:
        super().__init__(world)
        self.base_url = base_url
        self.deleted: dict[tuple[str, str], float] = {}  # (region, name) -> reusable from
        # Deleted queues moto still holds, answering as before, until their 60 s are over.
        self.deleting: dict[tuple[str, str], float] = {}
        self.deleted_queue_answers = "all"
        self.name_reuse_checked = "first"
        self.usable_from: dict[tuple[str, str], float] = {}  # (region, name) -> when
        self.listed_from: dict[tuple[str, str], float] = {}  # ListQueues shows it (queue_listed)
        self._creating: set[int] = set()  # CreateQueue calls making a queue that wasn't there
        self.moves = MessageMoves(world, base_url)
        self.attributes = AttributeChanges(world)

    def _deleted_recently(self, call: Call, name: str) -> bool:
        reusable = self.deleted.get((call.region, name))
        return reusable is not None and self.world.clock() < reusable

    def tick(self) -> None:
        """Queues whose 60 s are over are gone (moto deletes them now)."""
        from moto.sqs.models import sqs_backends

        now = self.world.clock()
        with self.world.lock:
            due = [key for key, until in self.deleting.items() if now >= until]
            for key in due:
                del self.deleting[key]
        for region, name in due:
            queue = sqs_backends[self.world.account][region].queues.pop(name, None)
            if queue is not None:
                self.on_removed(region, queue.queue_arn, dict(queue.tags or {}))
        self.attributes.tick()

    def usable(self, region: str, name: str) -> bool:
        """Whether the queue is old enough to be used (timing.py, queue_new)."""
        usable_from = self.usable_from.get((region, name))
        return usable_from is None or self.world.clock() >= usable_from

    def usable_arn(self, arn: str) -> bool:
        queue = Arn.of(arn)
        return queue is None or self.usable(queue.region, queue.name)

    def before(self, call: Call) -> Reply | None:
        from moto.sqs.models import sqs_backends

        self.tick()
        if call.operation in MOVE_OPERATIONS:  # moto has no dead-letter queue redrive
            return self.moves.handle(call)
        name = str(call.params.get("QueueName"))
        queues = sqs_backends[self.world.account][call.region].queues
        if (
            call.operation == "CreateQueue"
            and self._deleted_recently(call, name)
            and not self._compared_first(call, name in queues)
        ):
            return error(call, 400, "QueueDeletedRecently", DELETED_RECENTLY)
        if call.operation == "CreateQueue" and name not in queues:
            self._creating.add(id(call))
        tags = call.params.get("tags")
        if (
            call.operation == "CreateQueue"
            and name in queues
            and tags is not None
            and dict(tags) != dict(queues[name].tags or {})
        ):
            return error(call, 400, "QueueNameExists", OTHER_TAGS)
        if (
            call.operation in DATA_PLANE
            and not call.internal
            and not self.usable(call.region, queue_name(call))
        ):
            return error(call, 400, "QueueDoesNotExist", NOT_YET)
        if call.operation in ("SendMessage", "SendMessageBatch"):
            queue = queues.get(queue_name(call))
            if queue is not None:
                maximum = int(getattr(queue, "maximum_message_size", BATCH_LIMIT))
                refused = size_refusal(call, maximum)
                if refused is not None:
                    return refused
        if (
            call.operation == "GetQueueUrl"
            and self.deleted_queue_answers == "url"
            and self._deleted_recently(call, name)
        ):
            owner = call.params.get("QueueOwnerAWSAccountId") or self.world.account
            url = f"{self.base_url()}/{owner}/{name}"
            return json_reply(200, {"QueueUrl": url}, "application/x-amz-json-1.0")
        if call.operation == "DeleteQueue" and self.deleted_queue_answers == "all":
            return self._delete_later(call)
        self.attributes.before(call, (call.region, queue_name(call) or name))
        return None

    def _compared_first(self, call: Call, held: bool) -> bool:
        """The request's attributes and tags are compared with the queue being deleted (still
        held) before its name is refused: moto compares, `after` refuses the name."""
        asks = bool(call.params.get("Attributes") or call.params.get("tags"))
        return self.name_reuse_checked == "after_attributes" and held and asks

    def _delete_later(self, call: Call) -> Reply | None:
        """DeleteQueue that leaves the queue in moto, answering, until its 60 s are over."""
        from moto.sqs.models import sqs_backends

        name = queue_name(call)
        key = (call.region, name)
        with self.world.lock:
            if key not in self.deleting:
                if name not in sqs_backends[self.world.account][call.region].queues:
                    return None  # moto says it does not exist
                self.deleting[key] = self.world.after("queue_deleting", name)
                self.deleted[key] = self.world.after("queue_name_reuse", name)
        if call.protocol == "json":
            return json_reply(200, {}, "application/x-amz-json-1.0")
        body = (
            b"<DeleteQueueResponse><ResponseMetadata><RequestId>pocctl-local</RequestId>"
            b"</ResponseMetadata></DeleteQueueResponse>"
        )
        return Reply(200, body, [("Content-Type", "text/xml")]).with_body(body)

    def after(self, call: Call, reply: Reply) -> Reply:
        named = queue_name(call) or str(call.params.get("QueueName"))
        reply = self.attributes.after(call, (call.region, named), reply)
        name = str(call.params.get("QueueName"))
        if call.operation == "CreateQueue" and reply.ok and self._deleted_recently(call, name):
            return error(call, 400, "QueueDeletedRecently", DELETED_RECENTLY)
        if call.operation == "CreateQueue" and id(call) in self._creating:
            self._creating.discard(id(call))
            if reply.ok:
                key = (call.region, str(call.params.get("QueueName")))
                self.usable_from[key] = self.world.after("queue_new", key[1])
                self.listed_from[key] = self.world.after("queue_listed", key[1])
        if call.operation == "DeleteQueue" and reply.ok:
            name = queue_name(call)
            self.deleted[(call.region, name)] = self.world.after("queue_name_reuse", name)
        if call.operation == "ListQueues" and reply.ok and not call.internal:
            return self._not_listed_yet(call, reply)
        return reply

    def _not_listed_yet(self, call: Call, reply: Reply) -> Reply:
        """ListQueues without the queues too new to be listed (timing.py, queue_listed)."""
        now = self.world.clock()
        hidden = {n for (r, n), t in self.listed_from.items() if r == call.region and now < t}
        if not hidden:
            return reply
        if call.protocol == "json":
            document = reply.json() or {}
            urls = [u for u in document.get("QueueUrls", []) if u.rsplit("/", 1)[-1] not in hidden]
            document["QueueUrls"] = urls
            if not urls:
                del document["QueueUrls"]  # SQS leaves it out when there is none
            return reply.with_json(document)
        body = QUEUE_URL.sub(
            lambda m: "" if m.group(1).rsplit("/", 1)[-1] in hidden else m.group(0),
            reply.body.decode(),
        )
        return reply.with_body(body.encode())


def queue_name(call: Call) -> str:
    return urlparse(str(call.params.get("QueueUrl", ""))).path.rstrip("/").split("/")[-1]
