"""CloudWatch Logs: a function's lines reach its log group a while after Lambda writes them
(timing.py, lambda_logs). Lambda's writes are the PutLogEvents to `/aws/lambda/...` groups; until
their moment, FilterLogEvents and GetLogEvents leave them out. The emulator's own reads see
them at once."""

from __future__ import annotations

from typing import Any

from pocctl.local.aws.base import Rules, World
from pocctl.local.calls import Call
from pocctl.local.replies import Reply

LAMBDA_GROUPS = "/aws/lambda/"
READS = ("FilterLogEvents", "GetLogEvents")


class LogsRules(Rules):
    services = ("logs",)

    def __init__(self, world: World) -> None:
        super().__init__(world)
        # (group, stream, timestamp) -> when the lines Lambda put with that time can be read
        self.shown_from: dict[tuple[str, str, int], float] = {}

    def settled_at(self) -> float:
        """When the last lines Lambda has written so far can be read (-inf: none on its way)."""
        with self.world.lock:
            return max(self.shown_from.values(), default=float("-inf"))

    def after(self, call: Call, reply: Reply) -> Reply:
        if not reply.ok:
            return reply
        group = str(call.params.get("logGroupName") or call.params.get("logGroupIdentifier"))
        if call.operation == "PutLogEvents" and group.startswith(LAMBDA_GROUPS):
            self._arriving(group, str(call.params.get("logStreamName")), call.params)
        elif call.operation in READS and not call.internal:
            return self._without_lines_on_their_way(call, group, reply)
        return reply

    def _arriving(self, group: str, stream: str, params: dict[str, Any]) -> None:
        shown = self.world.after("lambda_logs", group)  # one moment for the whole batch
        now = self.world.clock()
        with self.world.lock:
            for key in [k for k, t in self.shown_from.items() if t <= now]:
                del self.shown_from[key]
            for event in params.get("logEvents") or []:
                key = (group, stream, int(event.get("timestamp", 0)))
                self.shown_from[key] = max(shown, self.shown_from.get(key, shown))

    def _without_lines_on_their_way(self, call: Call, group: str, reply: Reply) -> Reply:
        now = self.world.clock()
        with self.world.lock:
            hidden = {k for k, t in self.shown_from.items() if k[0] == group and now < t}
        if not hidden:
            return reply
        document = reply.json() or {}
        stream = str(call.params.get("logStreamName"))
        document["events"] = [
            event
            for event in document.get("events", [])
            if (group, str(event.get("logStreamName", stream)), int(event.get("timestamp", 0)))
            not in hidden
        ]
        return reply.with_json(document)
