"""SQS: a deleted queue's name cannot be used again for 60 seconds, and meanwhile the queue may
still answer: "When you delete a queue, the deletion process takes up to 60 seconds. Requests
you send involving that queue during the 60 seconds might succeed." (SQS API reference,
DeleteQueue). Here GetQueueUrl keeps answering for those 60 seconds (the harsh end of "might");
anything else about the queue says it does not exist."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlparse

from pocctl.local.aws.base import Rules, World
from pocctl.local.aws.message_moves import OPERATIONS as MOVE_OPERATIONS
from pocctl.local.aws.message_moves import MessageMoves
from pocctl.local.calls import Call
from pocctl.local.replies import Reply, error, json_reply

DELETED_RECENTLY = (
    "You must wait 60 seconds after deleting a queue before you can create another with the "
    "same name."
)


class SqsRules(Rules):
    services = ("sqs",)

    def __init__(self, world: World, base_url: Callable[[], str]) -> None:
        super().__init__(world)
        self.base_url = base_url
        self.deleted: dict[tuple[str, str], float] = {}  # (region, name) -> reusable from
        self.moves = MessageMoves(world, base_url)

    def _deleted_recently(self, call: Call, name: str) -> bool:
        reusable = self.deleted.get((call.region, name))
        return reusable is not None and self.world.clock() < reusable

    def before(self, call: Call) -> Reply | None:
        if call.operation in MOVE_OPERATIONS:  # moto has no dead-letter queue redrive
            return self.moves.handle(call)
        name = str(call.params.get("QueueName"))
        if call.operation == "CreateQueue" and self._deleted_recently(call, name):
            return error(call, 400, "QueueDeletedRecently", DELETED_RECENTLY)
        if call.operation == "GetQueueUrl" and self._deleted_recently(call, name):
            owner = call.params.get("QueueOwnerAWSAccountId") or self.world.account
            url = f"{self.base_url()}/{owner}/{name}"
            return json_reply(200, {"QueueUrl": url}, "application/x-amz-json-1.0")
        return None

    def after(self, call: Call, reply: Reply) -> Reply:
        if call.operation == "DeleteQueue" and reply.ok:
            name = urlparse(str(call.params.get("QueueUrl", ""))).path.rstrip("/").split("/")[-1]
            self.deleted[(call.region, name)] = self.world.after("queue_name_reuse")
        return reply
