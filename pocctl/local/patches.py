"""The few moto internals pocctl local changes, checked before anything starts.

moto is pinned to one version (pyproject's `local` extra). If a newer moto moved what we patch,
`check()` says so plainly instead of the emulator silently misbehaving.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

PINNED_MOTO = "5.2.5"


class EmulatorUnavailable(Exception):
    pass


_applied = False
_lock = threading.Lock()


def _property_names(cls: type, name: str) -> tuple[str, ...]:
    getter = getattr(vars(cls).get(name), "fget", None)
    return tuple(getter.__code__.co_names) if getter is not None else ()


def _targets() -> dict[str, Any]:
    try:
        from moto.awslambda.models import LambdaBackend, LambdaFunction
        from moto.dynamodb.models.table import StreamShard, Table
        from moto.moto_api._internal.models import moto_api_backend
        from moto.sns.models import Subscription
        from moto.sqs.models import Message, Queue, SQSBackend
    except ImportError as exc:
        raise EmulatorUnavailable(
            f"pocctl local needs moto's server: {exc}. "
            "Install it with `pip install 'pocctl[local]'`."
        ) from exc
    return {
        "LambdaBackend.create_event_source_mapping": getattr(
            LambdaBackend, "create_event_source_mapping", None
        ),
        # read_function() reads the uploaded zip from the attribute this method sets.
        "LambdaFunction._set_function_code (code_bytes)": "code_bytes"
        in LambdaFunction._set_function_code.__code__.co_names,
        "Queue.lambda_event_source_mappings": "lambda_event_source_mappings"
        in Queue.__init__.__code__.co_names,
        "Table.lambda_event_source_mappings": "lambda_event_source_mappings"
        in Table.__init__.__code__.co_names,
        "StreamShard.add": getattr(StreamShard, "add", None),
        "Subscription.publish": getattr(Subscription, "publish", None),
        "moto_api_backend.reset": getattr(moto_api_backend, "reset", None),
        "SQSBackend.is_message_valid_based_on_retention_period": getattr(
            SQSBackend, "is_message_valid_based_on_retention_period", None
        ),
        # Stored as queue.message_retention_period, like every BASE_ATTRIBUTES entry.
        "Message.visible (visible_at)": "visible_at" in _property_names(Message, "visible"),
        "Message.delayed (delayed_until)": "delayed_until" in _property_names(Message, "delayed"),
        "Queue.message_retention_period": "MessageRetentionPeriod"
        in getattr(Queue, "BASE_ATTRIBUTES", ()),
    }


def check() -> None:
    """Fail clearly if moto is not the version whose internals we patch."""
    try:
        installed = version("moto")
    except Exception as exc:
        raise EmulatorUnavailable(
            "pocctl local needs moto: install it with `pip install 'pocctl[local]'`."
        ) from exc
    missing = [name for name, found in _targets().items() if not found]
    if missing:
        raise EmulatorUnavailable(
            f"moto {installed} lacks what pocctl local patches ({', '.join(missing)}). "
            f"Install the pinned version: pip install 'moto[server]=={PINNED_MOTO}'."
        )


MailSink = Callable[[dict[str, Any]], None]
# Every running emulator's outbox; the patch is process-wide, the outboxes are not.
MAIL_SINKS: list[MailSink] = []


def apply() -> None:
    """Stop moto's own Lambda triggers (we poll like Lambda does) and catch email deliveries."""
    global _applied
    with _lock:
        if _applied:
            return
        check()
        from moto.awslambda.models import LambdaBackend
        from moto.dynamodb.models import dynamodb_backends
        from moto.sns.models import Subscription
        from moto.sqs.models import Message, SQSBackend, sqs_backends

        create_mapping = LambdaBackend.create_event_source_mapping

        def create_without_trigger(self: Any, spec: dict[str, Any]) -> Any:
            # moto would invoke synchronously inside SendMessage/PutItem, ignore retries and
            # keep firing after the mapping is deleted. Unregister; our pollers do the work.
            esm = create_mapping(self, spec)
            for queue in sqs_backends[self.account_id][self.region_name].queues.values():
                queue.lambda_event_source_mappings.pop(esm.function_arn, None)
            for table in dynamodb_backends[self.account_id][self.region_name].tables.values():
                table.lambda_event_source_mappings.pop(esm.function_arn, None)
            return esm

        publish = Subscription.publish

        def publish_or_mail(self: Any, message: str, message_id: str, **kwargs: Any) -> Any:
            if self.protocol in ("email", "email-json"):
                mail = {
                    "to": self.endpoint,
                    "topic": self.topic.arn,
                    "subject": kwargs.get("subject"),
                    "message": message,
                    "message_id": message_id,
                }
                for sink in list(MAIL_SINKS):
                    sink(mail)
                return None
            return publish(self, message, message_id, **kwargs)

        def within_retention(self: Any, queue_name: str, message: Any) -> bool:
            # moto reads every queue attribute here, counting all messages each time: a receive
            # cost grew with the backlog (quadratic under load). Same rule, one attribute.
            retention = int(self.get_queue(queue_name).message_retention_period)
            return bool(retention + message.sent_timestamp / 1000 > time.time())

        # Queue attributes ask every message these, through several datetime conversions each;
        # under load that dominated the emulator's CPU. Same comparisons, on time.time().
        def visible(self: Any) -> bool:
            return bool(time.time() * 1000 > self.visible_at)

        def delayed(self: Any) -> bool:
            return bool(time.time() * 1000 < self.delayed_until)

        LambdaBackend.create_event_source_mapping = create_without_trigger  # type: ignore[method-assign]
        Subscription.publish = publish_or_mail  # type: ignore[method-assign,assignment]
        Message.visible = property(visible)  # type: ignore[method-assign,assignment]
        Message.delayed = property(delayed)  # type: ignore[method-assign,assignment]
        SQSBackend.is_message_valid_based_on_retention_period = within_retention  # type: ignore[method-assign]
        _applied = True
