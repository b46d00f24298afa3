"""The few moto internals pocctl local changes, checked before anything starts.

moto is pinned to one version (pyproject's `local` extra). If a newer moto moved what we patch,
`check()` says so plainly instead of the emulator silently misbehaving.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from importlib.metadata import version
from typing import Any

PINNED_MOTO = "5.2.5"
DYNAMODB_WRITES = (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
)


class EmulatorUnavailable(Exception):
    pass


_users = 0  # emulators running in this process; the last one out undoes the patches
_originals: list[tuple[Any, str, Any]] = []
_lock = threading.Lock()


def _property_names(cls: type, name: str) -> tuple[str, ...]:
    getter = getattr(vars(cls).get(name), "fget", None)
    return tuple(getter.__code__.co_names) if getter is not None else ()


def _targets() -> dict[str, Any]:
    try:
        from moto import backends as moto_backends
        from moto.apigateway.responses import APIGatewayResponse
        from moto.awslambda.models import LambdaBackend, LambdaFunction
        from moto.core import responses as moto_responses
        from moto.core import utils as moto_utils
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.table import StreamShard, Table
        from moto.logs.models import LogGroup
        from moto.moto_api._internal.models import moto_api_backend
        from moto.sns.models import SNSBackend, Subscription
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
        **{
            f"DynamoDBBackend.{name}": getattr(DynamoDBBackend, name, None)
            for name in DYNAMODB_WRITES
        },
        "Subscription.publish": getattr(Subscription, "publish", None),
        # publish_batch publishes each entry through publish, listing in Failed the entries
        # whose publish raised InvalidParameterValue.
        "SNSBackend.publish (message, subject, message_attributes)": {
            "message",
            "subject",
            "message_attributes",
        }
        <= set(SNSBackend.publish.__code__.co_varnames),
        "SNSBackend.publish_batch (InvalidParameterValue)": "InvalidParameterValue"
        in SNSBackend.publish_batch.__code__.co_names,
        "Subscription.private_key": getattr(Subscription, "private_key", None),
        "moto_api_backend.reset": getattr(moto_api_backend, "reset", None),
        "APIGatewayResponse (self.path, self.backend.get_model)": hasattr(
            APIGatewayResponse, "get_model"
        ),
        "SQSBackend.is_message_valid_based_on_retention_period": getattr(
            SQSBackend, "is_message_valid_based_on_retention_period", None
        ),
        # Entries as the request carries them (Id, MessageBody, MessageAttributes), by index.
        "SQSBackend.send_message_batch (entries)": "entries"
        in SQSBackend.send_message_batch.__code__.co_varnames,
        # Stored as queue.message_retention_period, like every BASE_ATTRIBUTES entry.
        "Message.visible (visible_at)": "visible_at" in _property_names(Message, "visible"),
        "Message.delayed (delayed_until)": "delayed_until" in _property_names(Message, "delayed"),
        "Queue.message_retention_period": "MessageRetentionPeriod"
        in getattr(Queue, "BASE_ATTRIBUTES", ()),
        "backends.list_of_moto_modules": getattr(moto_backends, "list_of_moto_modules", None),
        "core.responses.method_names_from_class": getattr(
            moto_responses, "method_names_from_class", None
        ),
        # get_service_model and get_pagination_model read their model through it.
        "core.utils._load_service_model": getattr(moto_utils, "_load_service_model", None),
        "LogGroup.filter_log_events (interleaved)": "interleaved"
        in LogGroup.filter_log_events.__code__.co_varnames,
        **{
            f"{cls.__name__}.{attribute}": _sets(cls, attribute)
            for cls, attributes in _shared_classes().items()
            for attribute in attributes
        },
    }


def check(installed: str | None = None) -> None:
    """Fail clearly if moto is not the version whose internals we patch, or is told to file
    requests under another account than the emulator's."""
    try:
        installed = installed or version("moto")
    except Exception as exc:
        raise EmulatorUnavailable(
            "pocctl local needs moto: install it with `pip install 'pocctl[local]'`."
        ) from exc
    if installed != PINNED_MOTO:
        raise EmulatorUnavailable(
            f"pocctl local runs on moto {PINNED_MOTO}, and moto {installed} is installed: "
            "the emulator changes a few of moto's internals, which move between versions. "
            f"Install the pinned version: pip install 'moto[server]=={PINNED_MOTO}'."
        )
    # moto files every request under MOTO_ACCOUNT_ID when it is set (moto/core/responses.py,
    # get_current_account); the emulator reads moto's memory as its one account's.
    from moto.core.models import DEFAULT_ACCOUNT_ID

    account = os.environ.get("MOTO_ACCOUNT_ID")
    if account is not None and account != DEFAULT_ACCOUNT_ID:  # moto takes an empty one too
        raise EmulatorUnavailable(
            f"MOTO_ACCOUNT_ID is set to {account}, and pocctl local acts out one account, "
            f"{DEFAULT_ACCOUNT_ID}: unset it (`unset MOTO_ACCOUNT_ID`) and start it again."
        )
    missing = [name for name, found in _targets().items() if not found]
    if missing:
        raise EmulatorUnavailable(
            f"moto {installed} lacks what pocctl local patches ({', '.join(missing)}). "
            f"Install the pinned version: pip install 'moto[server]=={PINNED_MOTO}'."
        )


MailSink = Callable[[dict[str, Any], Any], None]  # (mail, moto's subscription)
# Every running emulator's outbox; the patch is process-wide, the outboxes are not.
MAIL_SINKS: list[MailSink] = []
# Each running emulator's answer to "may SNS deliver this topic's notification to this queue?"
# (queue ARN, topic ARN): the queue's policy must let SNS send, and a queue too new to use loses
# what SNS sends it (aws/fanout.py).
SQS_DELIVERY_GATES: list[Callable[[str, str], bool]] = []

# What the stack and its tools call. moto imports a service's models on its first request; two
# threads importing moto's modules at once can deadlock Python's import locks (_DeadlockError),
# and pocctl makes its first calls side by side. So they are imported once, up front
# (prepare_for_threads).
SERVED = (
    "sts",
    "iam",
    "lambda",
    "dynamodb",
    "dynamodbstreams",
    "sqs",
    "sns",
    "logs",
    "apigateway",
    "cloudwatch",
    "resourcegroupstaggingapi",
)


# What pocctl's calls add to while other calls, side by side, loop over: (module, class, the
# attribute its __init__ sets). moto is not thread-safe, and looping over a live dict that another
# thread adds to fails with "dictionary changed size during iteration": CreateFunction looks its
# role up in the roles while the other role is created (seen in CI), a mapping is created while
# the other mapping's step lists them, Publish loops over the subscriptions while test-order
# subscribes its inbox. In the emulator that is a 500, in-process an error; AWS has neither.
SHARED_CONTAINERS = (
    ("moto.iam.models", "IAMBackend", "roles"),
    ("moto.sqs.models", "SQSBackend", "queues"),
    ("moto.dynamodb.models", "DynamoDBBackend", "tables"),
    ("moto.sns.models", "SNSBackend", "topics"),
    ("moto.sns.models", "SNSBackend", "subscriptions"),
    ("moto.logs.models", "LogsBackend", "groups"),
    ("moto.awslambda.models", "LambdaStorage", "_functions"),
    ("moto.awslambda.models", "LambdaBackend", "_event_source_mappings"),
    # down deletes the alarms side by side, and reads them back (DescribeAlarms) meanwhile
    ("moto.cloudwatch.models", "CloudWatchBackend", "alarms"),
)


class LoopsOverACopy(dict):  # type: ignore[type-arg]
    """A dict whose loops run over a copy, taken in one step under the GIL."""

    def __iter__(self) -> Any:
        return iter(list(super().keys()))

    def keys(self) -> Any:
        return list(super().keys())

    def values(self) -> Any:
        return list(super().values())

    def items(self) -> Any:
        return list(super().items())


def _shared_classes() -> dict[Any, tuple[str, ...]]:
    import importlib

    found: dict[Any, tuple[str, ...]] = {}
    for module, name, attribute in SHARED_CONTAINERS:
        cls = getattr(importlib.import_module(module), name)
        found[cls] = (*found.get(cls, ()), attribute)
    return found


def _sets(cls: Any, attribute: str) -> bool:
    init = getattr(cls.__init__, "__wrapped__", cls.__init__)
    return attribute in init.__code__.co_names


def prepare_for_threads() -> None:
    """Make moto safe for what pocctl does from several threads at once (its steps run side by
    side, and so do the emulator's requests), and spare it work it repeats on every request.
    Not undone: it changes no behaviour."""
    from moto.backends import get_backend
    from moto.core import responses as moto_responses
    from moto.core import utils as moto_utils

    with _lock:  # before any backend exists, so that each one is made with copying dicts
        for cls, attributes in _shared_classes().items():
            if not getattr(cls.__init__, "pocctl_copies", False):
                cls.__init__ = _copying(cls.__init__, attributes)
        if not getattr(moto_utils._load_service_model, "pocctl_once", False):
            once = _read_once(moto_utils._load_service_model)
            moto_utils._load_service_model = once  # type: ignore[assignment]
        listed = vars(moto_responses)["method_names_from_class"]
        if not getattr(listed, "pocctl_one_name", False):
            asks = _one_name_at_a_time(listed)
            moto_responses.method_names_from_class = asks  # type: ignore[attr-defined,assignment]
    for service in SERVED:
        get_backend(service)  # type: ignore[call-overload]


def _copying(init: Callable[..., None], attributes: tuple[str, ...]) -> Callable[..., None]:
    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        for attribute in attributes:
            setattr(self, attribute, LoopsOverACopy(getattr(self, attribute)))

    __init__.pocctl_copies = True  # type: ignore[attr-defined]
    return __init__


def _read_once(
    load: Callable[[str, str], dict[str, Any]],
) -> Callable[[str, str], dict[str, Any]]:
    """moto reads a service's model (a new loader each time, the JSON parsed again) the first
    time a request needs it, and keeps it (functools.cache): but a stack's first requests come
    side by side, and each of them read it (CloudWatch's six times as `up` began). Read once, by
    the first; the others wait for it."""
    models: dict[tuple[str, str], dict[str, Any]] = {}
    guards: dict[tuple[str, str], threading.Lock] = {}
    guarding = threading.Lock()

    def once(service_name: str, model_name: str) -> dict[str, Any]:
        key = (service_name, model_name)
        with guarding:
            guard = guards.setdefault(key, threading.Lock())
        with guard:
            if key not in models:
                models[key] = load(service_name, model_name)
            return models[key]

    once.pocctl_once = True  # type: ignore[attr-defined]
    return once


class _FunctionNames:
    """What moto's BaseResponse.call_action asks of `method_names_from_class(cls)`: whether the
    action's name is one of the class's functions. moto lists them all to ask (inspect.
    getmembers: every attribute of the class, sorted, on every request it answers), a few
    percent of the tests' CPU. This answers for the one name, as getmembers does (getattr on
    the class, a plain function), reading the class as it is when asked."""

    def __init__(self, cls: Any, listed: Callable[[Any], list[str]]) -> None:
        self._cls, self._listed = cls, listed

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and inspect.isfunction(getattr(self._cls, name, None))

    def __iter__(self) -> Any:
        return iter(self._listed(self._cls))

    def __len__(self) -> int:
        return len(self._listed(self._cls))


def _one_name_at_a_time(listed: Callable[[Any], list[str]]) -> Callable[[Any], _FunctionNames]:
    def method_names_from_class(cls: Any) -> _FunctionNames:
        return _FunctionNames(cls, listed)

    method_names_from_class.pocctl_one_name = True  # type: ignore[attr-defined]
    return method_names_from_class


_ABSENT = object()  # what moto lacked: undone by removing it again


def _replace(owner: Any, name: str, value: Any) -> None:
    _originals.append((owner, name, vars(owner).get(name, _ABSENT)))
    setattr(owner, name, value)


def undo() -> None:
    """The last emulator of the process stopped: give moto its own behaviour back."""
    global _users
    with _lock:
        _users = max(0, _users - 1)
        if _users:
            return
        while _originals:
            owner, name, original = _originals.pop()
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def apply() -> None:
    """Stop moto's own Lambda triggers (we poll like Lambda does) and catch email deliveries."""
    global _users
    with _lock:
        if _users == 0:
            _patch()
        _users += 1


def _patch() -> None:
    check()
    from moto import backends as moto_backends
    from moto.apigateway.responses import APIGatewayResponse
    from moto.awslambda.models import LambdaBackend
    from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
    from moto.dynamodb.models.table import StreamShard
    from moto.logs.models import LogGroup
    from moto.sns.exceptions import InvalidParameterValue, SNSException
    from moto.sns.models import SNSBackend, Subscription
    from moto.sqs.models import Message, SQSBackend, sqs_backends

    from pocctl.local.aws.sns_publish import (
        MESSAGE_LIMIT,
        batch_refusal,
        publish_refusal,
        topic_limit,
    )
    from pocctl.local.aws.sqs_sizes import entry_failure

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
            if kwargs.get("message_structure") == "json":
                # The protocol's own key, else "default" (SNS API reference, Publish).
                message = self._parse_message_structure(message, self.protocol)
            mail = {
                "to": self.endpoint,
                "topic": self.topic.arn,
                "subject": kwargs.get("subject"),
                "message": message,
                "message_id": message_id,
            }
            for sink in list(MAIL_SINKS):
                sink(mail, self)
            return None
        if self.protocol == "sqs" and not all(
            gate(self.endpoint, self.topic.arn) for gate in SQS_DELIVERY_GATES
        ):
            return None
        return publish(self, message, message_id, **kwargs)

    sns_publish = SNSBackend.publish

    def publish_within_limits(self: Any, message: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("phone_number") is None:  # an SMS has limits of its own
            topic = self.topics.get(args[0] if args else kwargs.get("arn"))
            refusal = publish_refusal(
                message,
                kwargs.get("subject"),
                kwargs.get("message_attributes"),
                MESSAGE_LIMIT if topic is None else topic_limit(topic),
            )
            if refusal is not None:
                raise InvalidParameterValue(refusal)
        return sns_publish(self, message, *args, **kwargs)

    sns_publish_batch = SNSBackend.publish_batch

    def publish_batch_within_limits(
        self: Any, topic_arn: str, publish_batch_request_entries: list[dict[str, Any]]
    ) -> Any:
        topic = self.get_topic(topic_arn)  # NotFound first, as moto
        refusal = batch_refusal(publish_batch_request_entries, topic_limit(topic))
        if refusal is not None:
            raise SNSException(*refusal)
        return sns_publish_batch(self, topic_arn, publish_batch_request_entries)

    sqs_send_batch = SQSBackend.send_message_batch

    def send_batch_by_entry(
        self: Any, queue_name: str, entries: dict[str, dict[str, Any]]
    ) -> tuple[list[Any], list[dict[str, Any]]]:
        ids = [str(e.get("Id")) for e in entries.values()]
        if len(entries) > 10 or len(set(ids)) != len(ids):
            return sqs_send_batch(self, queue_name, entries)  # refused whole, as moto says
        maximum = int(self.get_queue(queue_name).maximum_message_size)
        failed = [f for e in entries.values() if (f := entry_failure(e, maximum)) is not None]
        failing = {f["Id"] for f in failed}
        rest = {k: e for k, e in entries.items() if e.get("Id") not in failing}
        if not rest:
            return [], failed
        sent, more = sqs_send_batch(self, queue_name, rest)
        return sent, failed + more

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

    # moto's server lists its package directory to route each request, twice: a third of the
    # emulator's CPU per call. The directory doesn't change while it runs.
    modules = tuple(moto_backends.list_of_moto_modules())
    _replace(moto_backends, "list_of_moto_modules", lambda: modules)

    # moto makes a new 2048-bit RSA key to sign every notification it delivers to a queue or
    # an HTTP endpoint (tens of milliseconds of CPU each). SNS signs with one certificate, the
    # one its SigningCertURL names; one key per emulator is that.
    signing_key = functools.cache(Subscription.private_key)
    _replace(Subscription, "private_key", lambda self: signing_key(None))

    # A stream record's sequence number is the shard's length as it is added, read and appended
    # in two steps: two items written at once got the same number, and a reader whose iterator
    # starts after a sequence number read a record again (the soak counted one order's INSERT
    # twice under load). In DynamoDB Streams "each stream record is assigned a sequence number,
    # reflecting the order in which the record was published to the stream" (DynamoDB Developer
    # Guide, "Change data capture for DynamoDB Streams"): one number per record.
    #
    # Nor does DynamoDB write a record for a write that changes nothing ("If you perform a
    # PutItem or UpdateItem operation that does not change any data in an item, DynamoDB
    # Streams does not write a stream record for that operation", same page), where moto wrote
    # a MODIFY; and "each stream record appears exactly once", where moto's UpdateItem of a new
    # key wrote two INSERTs (one as it puts the bare key, one with the update applied): an
    # update's records wait until it is done, and only its last, from the item as it was, counts.
    add_record = StreamShard.add
    adding = threading.Lock()
    updating = threading.local()  # .records: those of the UpdateItem this thread is in

    def add_one_at_a_time(self: Any, old: Any, new: Any) -> None:
        if old is not None and new is not None and same_data(old, new):
            return
        held = getattr(updating, "records", None)
        if held is not None:
            held.append((self, old, new))
            return
        with adding:
            add_record(self, old, new)

    update_item = DynamoDBBackend.update_item

    def one_record_per_update(self: Any, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(updating, "records", None)
        updating.records = []
        try:
            item = update_item(self, *args, **kwargs)
        except Exception:
            created = updating.records[:1]
            if created and created[0][1] is None:  # moto put the bare key, then failed (size)
                forget(created[0][0].table, created[0][2])
            raise
        finally:
            records, updating.records = updating.records, outer
        if records:
            add_one_at_a_time(records[-1][0], records[0][1], records[-1][2])
        return item

    _replace(StreamShard, "add", add_one_at_a_time)
    _replace(DynamoDBBackend, "update_item", one_record_per_update)
    # moto reads an item, checks the condition, then writes, in separate steps, and the emulator
    # answers requests in threads: two conditional puts of one key both succeeded, and counters
    # lost updates (ADD). DynamoDB's conditional writes are atomic ("the operation succeeds only
    # if the condition expression evaluates to true", checked against the item as it is: DynamoDB
    # Developer Guide, "Condition expressions"; "atomic counters", "Working with items"). The
    # writes take turns; they call each other, hence a re-entrant lock. (StreamShard.add runs
    # within them; moto's own Lambda trigger, which would invoke a function while it is held,
    # is removed by create_without_trigger.)
    writing = threading.RLock()
    for name in DYNAMODB_WRITES:
        write = getattr(DynamoDBBackend, name)

        def one_write_at_a_time(self: Any, *args: Any, _write: Any = write, **kwargs: Any) -> Any:
            with writing:
                return _write(self, *args, **kwargs)

        _replace(DynamoDBBackend, name, one_write_at_a_time)
    _replace(LambdaBackend, "create_event_source_mapping", create_without_trigger)
    _replace(Subscription, "publish", publish_or_mail)
    _replace(SNSBackend, "publish", publish_within_limits)
    _replace(SNSBackend, "publish_batch", publish_batch_within_limits)
    _replace(Message, "visible", property(visible))
    _replace(Message, "delayed", property(delayed))
    _replace(SQSBackend, "is_message_valid_based_on_retention_period", within_retention)
    _replace(SQSBackend, "send_message_batch", send_batch_by_entry)
    _replace(APIGatewayResponse, "update_model", update_model)

    # FilterLogEvents "sorted by event timestamp, the timestamp when the event was ingested by
    # CloudWatch Logs, and the ID of the PutLogEvents request", and always interleaved across
    # streams ("interleaved" is deprecated and ignored): CloudWatch Logs API reference,
    # FilterLogEvents. moto sorts by timestamp alone, and only when asked to interleave.
    _replace(LogGroup, "filter_log_events", filter_log_events)


def same_data(old: Any, new: Any) -> bool:
    """Whether two of moto's items hold the same data: numbers by value ("leading and trailing
    zeroes are trimmed"), sets in any order ("the order of the values within a set is not
    preserved"): DynamoDB Developer Guide, "Supported data types"."""
    return bool(_canonical(old.to_json()["Attributes"]) == _canonical(new.to_json()["Attributes"]))


def _canonical(attributes: dict[str, Any]) -> dict[str, Any]:
    return {name: _value(value) for name, value in attributes.items()}


def _value(typed: dict[str, Any]) -> Any:
    ((kind, value),) = typed.items()
    if kind == "N":
        return kind, Decimal(value)
    if kind == "NS":
        return kind, frozenset(Decimal(number) for number in value)
    if kind in ("SS", "BS"):
        return kind, frozenset(value)
    if kind == "L":
        return kind, tuple(_value(element) for element in value)
    if kind == "M":
        return kind, frozenset((name, _value(element)) for name, element in value.items())
    return kind, value


def forget(table: Any, item: Any) -> None:
    """Take an item out of moto's table without a stream record."""
    if item.range_key is not None:
        table.items[item.hash_key].pop(item.range_key, None)
    else:
        table.items.pop(item.hash_key, None)


def filter_log_events(
    self: Any,
    log_group_name: str,
    log_stream_names: list[str],
    start_time: int,
    end_time: int,
    limit: int | None,
    next_token: str | None,
    filter_pattern: str,
    interleaved: bool,
) -> tuple[list[dict[str, Any]], str | None, list[dict[str, Any]]]:
    """moto's LogGroup.filter_log_events, with AWS's order (moto's event ids count up in the
    order events were put, as PutLogEvents requests' do) before its pages are cut."""
    streams = [s for n, s in self.streams.items() if not log_stream_names or n in log_stream_names]
    events = [
        event
        for stream in streams
        for event in stream.filter_log_events(start_time, end_time, filter_pattern)
    ]
    events.sort(key=lambda e: (e["timestamp"], e["ingestionTime"], int(e["eventId"])))
    first = 0
    if next_token:
        group, stream_name, event_id = [*next_token.split("@"), "", ""][:3]
        after = [
            n
            for n, e in enumerate(events)
            if group == log_group_name
            and e["logStreamName"] == stream_name
            and e["eventId"] == event_id
        ]
        if not after:
            return [], None, []  # AWS returns an empty list for an invalid token (as moto)
        first = after[0] + 1
    page = events[first : first + (limit or 10000)]
    token = None
    if page and first + len(page) < len(events):
        token = f"{log_group_name}@{page[-1]['logStreamName']}@{page[-1]['eventId']}"
    searched = [{"logStreamName": s.log_stream_name, "searchedCompletely": True} for s in streams]
    return page, token, searched


MODEL_FIELDS = {"/schema": "schema", "/description": "description"}


def update_model(self: Any) -> str:
    """API Gateway's UpdateModel, which moto lacks: replace the schema or the description
    (API Gateway API reference, UpdateModel; the only patchable paths)."""
    import json

    parts = self.path.split("/")
    model = self.backend.get_model(parts[2], parts[4])
    for operation in self._get_param("patchOperations") or []:
        field = MODEL_FIELDS.get(operation.get("path"))
        if operation.get("op") == "replace" and field is not None:
            setattr(model, field, operation.get("value"))
    return json.dumps(model.to_json())
