"""SQS applies a changed queue attribute a while after SetQueueAttributes answers: "When you
change a queue's attributes, the change can take up to 60 seconds for most of the attributes to
propagate throughout the Amazon SQS system" (SQS API reference, SetQueueAttributes; timing.py,
queue_attributes). Acted out where the pipeline meets it: the VisibilityTimeout a receive
gives messages, and the RedrivePolicy that moves them to the dead-letter queue, stay as they
were until then. What GetQueueAttributes answers meanwhile is not documented: here the new
value, at once (only the behaviour lags)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pocctl.local.aws.base import World
from pocctl.local.calls import Call
from pocctl.local.replies import Reply, escape_xml

LAGGING = ("VisibilityTimeout", "RedrivePolicy")
QueueKey = tuple[str, str]  # (region, name)


@dataclass
class Pending:
    value: str
    due: float


class AttributeChanges:
    def __init__(self, world: World) -> None:
        self.world = world
        self.pending: dict[QueueKey, dict[str, Pending]] = {}
        self._before: dict[int, dict[str, Any]] = {}  # SetQueueAttributes call -> moto's state
        self._compared: dict[int, tuple[Any, dict[str, Any]]] = {}  # CreateQueue call -> state

    def _queue(self, key: QueueKey) -> Any:
        from moto.sqs.models import sqs_backends

        return sqs_backends[self.world.account][key[0]].queues.get(key[1])

    def tick(self) -> None:
        """Changes whose moment has come take effect."""
        now = self.world.clock()
        with self.world.lock:
            for key, changes in list(self.pending.items()):
                queue = self._queue(key)
                for name, change in list(changes.items()):
                    if now < change.due:
                        continue
                    del changes[name]
                    if queue is not None:
                        apply(queue, name, change.value)
                if not changes:
                    del self.pending[key]

    def settled_at(self) -> float:
        """When the last change made so far takes effect (-inf: none is on its way)."""
        with self.world.lock:
            dues = [p.due for changes in self.pending.values() for p in changes.values()]
        return max(dues, default=float("-inf"))

    def before(self, call: Call, key: QueueKey) -> None:
        if call.operation == "CreateQueue":
            self._as_set_for_comparison(call, key)
            return
        if call.operation != "SetQueueAttributes" or call.internal:
            return
        queue = self._queue(key)
        if queue is not None:
            self._before[id(call)] = snapshot(queue)

    def _as_set_for_comparison(self, call: Call, key: QueueKey) -> None:
        """CreateQueue of an existing queue compares the request with the queue's attributes as
        they were set (what GetQueueAttributes answers), not with the behaviour still lagging:
        moto compares with its queue object, so it holds the set values during the call."""
        queue = self._queue(key)
        with self.world.lock:
            changes = {name: p.value for name, p in self.pending.get(key, {}).items()}
        if queue is None or not changes:
            return
        self._compared[id(call)] = (queue, snapshot(queue))
        for name, value in changes.items():
            apply(queue, name, value)

    def after(self, call: Call, key: QueueKey, reply: Reply) -> Reply:
        compared = self._compared.pop(id(call), None)
        if compared is not None:
            with self.world.lock:
                still = set(self.pending.get(key, {}))
            restore(compared[0], compared[1], still)
        if call.operation == "SetQueueAttributes":
            was = self._before.pop(id(call), None)
            if reply.ok and was is not None:
                self._delay(call, key, was)
        elif call.operation == "GetQueueAttributes" and reply.ok:
            return self._as_set(key, reply)
        return reply

    def _delay(self, call: Call, key: QueueKey, was: dict[str, Any]) -> None:
        """moto has applied the change: the lagging attributes go back to what they were, and
        come due at one moment drawn for this change."""
        asked = dict(call.params.get("Attributes") or {})
        changed = [name for name in LAGGING if name in asked]
        queue = self._queue(key)
        if not changed or queue is None:
            return
        due = self.world.after("queue_attributes", key[-1])
        with self.world.lock:
            for name in changed:
                self.pending.setdefault(key, {})[name] = Pending(str(asked[name]), due)
            if "VisibilityTimeout" in changed:
                queue.visibility_timeout = was["visibility_timeout"]
            if "RedrivePolicy" in changed:
                queue.redrive_policy = was["redrive_policy"]
                queue.dead_letter_queue = was["dead_letter_queue"]

    def _as_set(self, key: QueueKey, reply: Reply) -> Reply:
        with self.world.lock:
            changes = {name: p.value for name, p in self.pending.get(key, {}).items()}
        if not changes:
            return reply
        document = reply.json()
        if isinstance(document, dict):
            attributes = document.get("Attributes") or {}
            for name, value in changes.items():
                if name in attributes:
                    attributes[name] = value
            return reply.with_json(document)
        body = reply.body.decode()
        for name, value in changes.items():
            pattern = re.compile(rf"(<Name>{name}</Name>\s*<Value>)[^<]*(</Value>)")
            body = pattern.sub(lambda m: m.group(1) + escape_xml(value) + m.group(2), body)  # noqa: B023
        return reply.with_body(body.encode())


def snapshot(queue: Any) -> dict[str, Any]:
    return {
        "visibility_timeout": queue.visibility_timeout,
        "redrive_policy": queue.redrive_policy,
        "dead_letter_queue": queue.dead_letter_queue,
    }


def restore(queue: Any, was: dict[str, Any], names: set[str]) -> None:
    """Put back what is still lagging (a change that came due meanwhile stays applied)."""
    if "VisibilityTimeout" in names:
        queue.visibility_timeout = was["visibility_timeout"]
    if "RedrivePolicy" in names:
        queue.redrive_policy = was["redrive_policy"]
        queue.dead_letter_queue = was["dead_letter_queue"]


def apply(queue: Any, name: str, value: str) -> None:
    if name == "VisibilityTimeout":
        queue.visibility_timeout = int(value)
    elif name == "RedrivePolicy":
        try:
            queue._setup_dlq(value)
        except Exception:  # its dead-letter queue is gone meanwhile: the policy names it still
            queue.redrive_policy = json.loads(value) if value else None
            queue.dead_letter_queue = None
