"""SQS: a deleted queue's name cannot be used again for 60 seconds."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from pocctl.local.aws.base import Rules
from pocctl.local.calls import Call
from pocctl.local.replies import Reply, error

DELETED_RECENTLY = (
    "You must wait 60 seconds after deleting a queue before you can create another with the "
    "same name."
)


class SqsRules(Rules):
    services = ("sqs",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.deleted: dict[tuple[str, str], float] = {}  # (region, name) -> reusable from

    def before(self, call: Call) -> Reply | None:
        if call.operation == "CreateQueue":
            reusable = self.deleted.get((call.region, str(call.params.get("QueueName"))))
            if reusable is not None and self.world.clock() < reusable:
                return error(call, 400, "QueueDeletedRecently", DELETED_RECENTLY)
        return None

    def after(self, call: Call, reply: Reply) -> Reply:
        if call.operation == "DeleteQueue" and reply.ok:
            name = urlparse(str(call.params.get("QueueUrl", ""))).path.rstrip("/").split("/")[-1]
            self.deleted[(call.region, name)] = self.world.after("queue_name_reuse")
        return reply
