"""The few moto internals pocctl local changes, checked before anything starts.

moto is pinned to one version (pyproject's `local` extra). If a newer moto moved what we patch,
`check()` says so plainly instead of the emulator silently misbehaving.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

PINNED_MOTO = "5.2.5"


class EmulatorUnavailable(Exception):
    pass


_applied = False
_lock = threading.Lock()


def _targets() -> dict[str, Any]:
    try:
        from moto.awslambda.models import LambdaBackend, LambdaFunction
        from moto.dynamodb.models.table import StreamShard, Table
        from moto.moto_api._internal.models import moto_api_backend
        from moto.sns.models import Subscription
        from moto.sqs.models import Queue
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
        from moto.sqs.models import sqs_backends

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

        LambdaBackend.create_event_source_mapping = create_without_trigger  # type: ignore[method-assign]
        Subscription.publish = publish_or_mail  # type: ignore[method-assign,assignment]
        _applied = True
