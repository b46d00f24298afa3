"""Event source mappings as Lambda runs them: pollers that follow the mappings that exist now.

A supervisor lists the mappings every half second: an enabled mapping gets a poller; a disabled or
deleted one loses it. SQS pollers receive real batches, delete only what succeeded, and leave the
rest to reappear after the visibility timeout (moto moves them to the DLQ after the redrive count).
Stream pollers keep a checkpoint, filter, retry, bisect and send exhausted batches to the on-failure
destination.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pocctl.core.arns import Arn, function_name
from pocctl.local.batch_responses import reported_failures
from pocctl.local.events import sqs_record, stream_failure_record, stream_record
from pocctl.local.filters import as_sqs_filtered, passes
from pocctl.local.functions import FunctionNotFound, Invocation, Invoker

IDLE_SLEEP = 0.05
IDLE_SLEEP_MAX = 0.25
LONG_POLL_SECONDS = 1  # as Lambda does; moto answers as soon as a message arrives
RECONCILE_EVERY = 0.5
Log = Callable[[str], None]
ClientFor = Callable[[str, str], Any]  # (service, region) -> boto3 client
RoleClientFor = Callable[[str, str, str], Any]  # (service, region, role ARN) -> boto3 client
PERMISSION_RETRY = 2.0
Processed = Callable[[str, str], None]  # (mapping UUID, its LastProcessingResult)
IteratorAge = Callable[[str, str, float], None]  # (region, function, ms) of a batch sent
# A stream mapping's LastProcessingResult once a batch went through: "OK" (recorded against AWS
# in localstack/localstack, test_lambda_integration_dynamodbstreams.snapshot.json,
# test_disabled_dynamodb_event_source_mapping; "No records processed" before).
PROCESSED_OK = "OK"


@dataclass
class Read:
    """One read under way or done: when it began, and how many records or messages it found
    (None for a read that is not of the source's contents, such as a permission check)."""

    started: float
    found: int | None = None


class Peek:
    """In-process looks at a source, so that an idle one costs the emulator no request.

    Lambda's pollers read all the time (a queue by long polls, a stream 4 times a second). Here
    each read is an HTTP request judged by IAM: with a few stacks up and idle, that alone kept a
    core busy. What such a read would find is known without it, so a poller reads through the
    API, as its role, whenever there may be something to read; a permission taken away shows
    when the next order arrives. None means "can't tell": then the poller reads."""

    def stream_length(self, account: str, region: str, table: str) -> int | None:
        from moto.dynamodb.models import dynamodb_backends

        try:
            shard = dynamodb_backends[account][region].get_table(table).stream_shard
        except Exception:
            return None  # the read will say what is wrong
        return None if shard is None else len(shard.items)

    def messages_waiting(self, account: str, region: str, queue: str, wait: int) -> bool | None:
        """Whether messages are visible, waiting up to `wait` seconds for some."""
        from moto.sqs.models import sqs_backends

        try:
            found = sqs_backends[account][region].get_queue(queue)
        except Exception:
            return None
        found.wait_for_messages(wait)
        return bool(found.messages)


# How Lambda's filters see a stream record's ApproximateCreationDateTime: its guide's filtering
# page shows a string ("1678831218.0", "Using event filtering with a DynamoDB event source"),
# while the event a function gets carries a number ("Using Lambda with DynamoDB"). The docs
# leave it open: "string" by default, "number" to act out the other answer.
CREATION_TIME_AS = ("string", "number")


class Poller(threading.Thread):
    def __init__(
        self,
        mapping: dict[str, Any],
        invoker: Invoker,
        client: ClientFor,
        log: Log,
        peek: Peek | None = None,
    ):
        super().__init__(daemon=True, name=f"poller-{mapping['UUID'][:8]}")
        self.peek = peek or Peek()
        self.mapping = mapping
        self.invoker = invoker
        self.client = client
        self.log = log
        self.stopped = threading.Event()
        self.replaced = False
        self._reads = threading.Condition()
        self._reading_since: float | None = None  # when the read under way began
        self._last_read: Read | None = None  # the last read of the source's contents done
        self._in_flight = 0  # deliveries to the function under way
        source = Arn.parse(mapping["EventSourceArn"])
        self.region, self.account, self.source_name = source.region, source.account, source.resource
        self.function = function_name(mapping["FunctionArn"])

    def stop(self, *, replaced: bool = False) -> None:
        """`replaced`: a poller with the mapping's new settings takes over (not deleted nor
        disabled)."""
        self.replaced = replaced
        self.stopped.set()

    def run(self) -> None:
        try:
            self.poll()
        except Exception as exc:  # the supervisor starts a new poller if the mapping remains
            if not self.stopped.is_set():
                self.log(f"{self.function}: the poller of {self.source_name} stopped: {exc}")

    def poll(self) -> None:
        raise NotImplementedError

    @contextmanager
    def reading(self) -> Iterator[Read]:
        """Around each read of the source (a long poll, a permission check, a stream read).
        A read of the source's contents sets `found` on what it yields."""
        read = Read(time.monotonic())
        with self._reads:
            self._reading_since = read.started
        try:
            yield read
        finally:
            with self._reads:
                self._reading_since = None
                if read.found is not None:
                    self._last_read = read
                self._reads.notify_all()

    def _deliveries(self, change: int) -> None:
        with self._reads:
            self._in_flight += change
            self._reads.notify_all()

    @contextmanager
    def delivering(self) -> Iterator[None]:
        """Around handing what was read to the function (its retries included)."""
        self._deliveries(+1)
        try:
            yield
        finally:
            self._deliveries(-1)

    def wait_quiet_since(self, moment: float, timeout: float) -> bool:
        """Wait until the poller has read its source empty in a read that began after `moment`,
        with no delivery under way (for tests: everything there at `moment` was delivered)."""

        def quiet() -> bool:
            last = self._last_read
            return bool(
                self._in_flight == 0 and last and last.started >= moment and last.found == 0
            )

        with self._reads:
            return self._reads.wait_for(quiet, timeout)

    def wait_reads_from(self, moment: float, timeout: float) -> bool:
        """Wait until no read that began before `moment` is under way (for tests: what the
        poller reads from now on is judged as things are at `moment`)."""
        with self._reads:
            return self._reads.wait_for(
                lambda: self._reading_since is None or self._reading_since >= moment, timeout
            )

    def invoke(self, event: dict[str, Any]) -> Invocation:
        try:
            return self.invoker.invoke(self.region, self.function, event)
        except FunctionNotFound:
            return Invocation(
                False, error_type="ResourceNotFoundException", error_message="no function"
            )


class SqsPoller(Poller):
    def poll(self) -> None:
        sqs = self.client("sqs", self.region)
        # As Lambda does: the queue by its ARN (no GetQueueUrl), and a permission check first.
        url = f"{sqs.meta.endpoint_url}/{self.account}/{self.source_name}"
        while not self.stopped.is_set():
            try:
                with self.reading():
                    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
                break
            except Exception as exc:
                self.log(f"{self.function} cannot poll {self.source_name}: {exc}")
                self.stopped.wait(PERMISSION_RETRY)
        batch = int(self.mapping.get("BatchSize") or 10)
        partial = "ReportBatchItemFailures" in (self.mapping.get("FunctionResponseTypes") or [])
        concurrency = int((self.mapping.get("ScalingConfig") or {}).get("MaximumConcurrency") or 2)
        slots = threading.Semaphore(concurrency)
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            while not self.stopped.is_set():
                # Take a slot before receiving: messages must not wait out their visibility
                # timeout in our hands, or they come back and count towards the DLQ.
                if not slots.acquire(timeout=0.5):
                    continue
                with self.reading() as read:
                    waiting = self.peek.messages_waiting(
                        self.account, self.region, self.source_name, LONG_POLL_SECONDS
                    )
                    # Retired while waiting (its mapping changed, and a poller with the new
                    # settings has started): it takes nothing more.
                    stopped = waiting is False or self.stopped.is_set()
                    messages = [] if stopped else self.receive(sqs, url, batch)
                    read.found = len(messages)
                if messages and self.stopped.is_set() and not self.replaced:
                    # The mapping was deleted or disabled with this batch read: what Lambda
                    # does with it is undocumented (Lambda API reference,
                    # DeleteEventSourceMapping: only "might not be completely deleted for
                    # several seconds"), so the messages stay invisible until their visibility
                    # timeout, as any batch read and not deleted (the less kind answer).
                    messages = []
                # Retired because its mapping's settings changed: the batch it has read is
                # delivered with the settings it was read with, as Lambda does with a batch.
                if not messages:
                    slots.release()
                    continue
                self._deliveries(+1)  # before the next read: it counts as under way from now
                future = pool.submit(self.deliver, sqs, url, messages, partial)
                future.add_done_callback(lambda _: self._delivered(slots))

    def _delivered(self, slots: threading.Semaphore) -> None:
        self._deliveries(-1)
        slots.release()

    def receive(self, sqs: Any, url: str, batch: int) -> list[dict[str, Any]]:
        try:
            messages: list[dict[str, Any]] = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(batch, 10),
                WaitTimeSeconds=LONG_POLL_SECONDS,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            return messages
        except sqs.exceptions.QueueDoesNotExist:
            self.stopped.wait(0.5)  # deleted: the supervisor stops this poller shortly
        except Exception as exc:
            self.log(f"{self.function}: cannot receive from {self.source_name}: {exc}")
            self.stopped.wait(1.0)
        return []

    def deliver(self, sqs: Any, url: str, messages: list[dict[str, Any]], partial: bool) -> None:
        arn = self.mapping["EventSourceArn"]
        criteria = self.mapping.get("FilterCriteria")
        records = [sqs_record(m, arn) for m in messages]
        kept = [passes(criteria, as_sqs_filtered(r)) for r in records]
        # "If a message doesn't satisfy your filter criteria, Lambda automatically removes the
        # message from the queue" (Lambda Developer Guide, "Control which events Lambda sends to
        # your function", filtering Amazon SQS messages): deleted, never handed to the function.
        discarded = [m for m, keep in zip(messages, kept, strict=True) if not keep]
        if discarded:
            self.delete(sqs, url, discarded)
        messages = [m for m, keep in zip(messages, kept, strict=True) if keep]
        records = [r for r, keep in zip(records, kept, strict=True) if keep]
        if not records:
            return
        result = self.invoke({"Records": records})
        if not result.ok:
            self.log(f"{self.function} failed on {len(records)} message(s): {result.error_message}")
            return  # all reappear after the visibility timeout
        ids = [m["MessageId"] for m in messages]
        failed = reported_failures(result.result, ids) if partial else []
        if failed is None:
            self.log(
                f"{self.function}: its batch item failures are invalid, which fails the whole "
                f"batch: {len(records)} message(s) reappear after the visibility timeout"
            )
            return
        self.delete(sqs, url, [m for m in messages if m["MessageId"] not in failed])

    def delete(self, sqs: Any, url: str, done: list[dict[str, Any]]) -> None:
        if not done:
            return
        try:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        except Exception as exc:  # they come back after the visibility timeout, as on AWS
            self.log(f"{self.function}: cannot delete processed messages: {exc}")


def created_seconds(record: dict[str, Any]) -> float | None:
    """A stream record's creation time (as boto3 parses GetRecords) in epoch seconds, unrounded:
    IteratorAge is "the time between when a stream receives the record and when the event source
    mapping sends the event" (Lambda Developer Guide, "Using CloudWatch metrics with Lambda")."""
    created = record.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        return created.timestamp()
    return float(created) if isinstance(created, (int, float)) else None


class StreamPoller(Poller):
    def __init__(
        self,
        mapping: dict[str, Any],
        invoker: Invoker,
        client: ClientFor,
        log: Log,
        checkpoints: dict[str, str],
        poll_every: float = IDLE_SLEEP_MAX,
        creation_time_as: str = "string",
    ) -> None:
        super().__init__(mapping, invoker, client, log)
        self.checkpoints = checkpoints  # shared with the supervisor: survives disable/enable
        self.poll_every = poll_every  # an idle stream's polls, at most this far apart
        self.creation_time_as = creation_time_as
        self.opened = threading.Event()  # (for tests) reading from its starting position
        self.processed: Processed = lambda uuid, result: None
        self.iterator_age: IteratorAge = lambda region, function, age_ms: None
        # Each pending record's creation time to the microsecond (the event's is whole seconds).
        self.created_at: dict[str, float] = {}

    def poll(self) -> None:
        streams = self.client("dynamodbstreams", self.region)
        arn = self.mapping["EventSourceArn"]
        key = self.mapping["UUID"]
        batch = int(self.mapping.get("BatchSize") or 100)
        table = arn.split(":table/", 1)[1].split("/", 1)[0]
        started = self.open_shard(streams, arn, table, key)
        if started is None:
            return
        shard, iterator = started
        self.opened.set()
        idle = min(IDLE_SLEEP, self.poll_every)
        read_empty_at: int | None = None  # the stream's length when a read last found nothing
        while not self.stopped.is_set():
            try:
                with self.reading() as read:
                    length = self.peek.stream_length(self.account, self.region, table)
                    if length is not None and length == read_empty_at:
                        response: dict[str, Any] = {}  # nothing new since: no request
                    else:
                        response = streams.get_records(ShardIterator=iterator, Limit=batch)
                    read.found = len(response.get("Records", []))
            except Exception as exc:
                self.log(f"{self.function} cannot read the stream of {table}: {exc}")
                self.stopped.wait(PERMISSION_RETRY)
                continue
            iterator = response.get("NextShardIterator") or iterator
            records = response.get("Records", [])
            read_empty_at = length if not records else None
            if not records:
                self.stopped.wait(idle)
                idle = min(idle * 1.5, self.poll_every)
                continue
            idle = min(IDLE_SLEEP, self.poll_every)
            criteria = self.mapping.get("FilterCriteria")
            self.created_at = {
                str(r["dynamodb"]["SequenceNumber"]): seconds
                for r in records
                if (seconds := created_seconds(r["dynamodb"])) is not None
            }
            events = [stream_record(record, arn) for record in records]
            wanted = [event for event in events if passes(criteria, self.as_filtered(event))]
            if wanted:
                with self.delivering():
                    self.process(wanted, shard["ShardId"])
            self.checkpoints[key] = records[-1]["dynamodb"]["SequenceNumber"]

    def as_filtered(self, event: dict[str, Any]) -> dict[str, Any]:
        """The record as the mapping's filters see it (CREATION_TIME_AS)."""
        created = event["dynamodb"].get("ApproximateCreationDateTime")
        if self.creation_time_as == "number" or not isinstance(created, (int, float)):
            return event
        return {
            **event,
            "dynamodb": {**event["dynamodb"], "ApproximateCreationDateTime": f"{int(created)}.0"},
        }

    def start_position(self, key: str) -> dict[str, str]:
        """Where reading starts: after the checkpoint if there is one; else the mapping's
        starting position. LATEST is "just after the most recent record" when the poller opens
        the shard (Lambda API reference, CreateEventSourceMapping, StartingPosition): records
        written before it begins polling, while the mapping is Creating, are never delivered
        ("the event source mapping could miss events": Lambda Developer Guide, "Polling and
        stream starting positions")."""
        if key in self.checkpoints:
            return {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "SequenceNumber": self.checkpoints[key],
            }
        if self.mapping.get("StartingPosition") == "LATEST":
            return {"ShardIteratorType": "LATEST"}
        return {"ShardIteratorType": "TRIM_HORIZON"}

    def open_shard(
        self, streams: Any, arn: str, table: str, key: str
    ) -> tuple[dict[str, Any], str] | None:
        """The shard and an iterator at the checkpoint, retried while the role may not read."""
        while not self.stopped.is_set():
            try:
                with self.reading():
                    streams.list_streams(TableName=table)  # Lambda needs ListStreams too
                    shard: dict[str, Any] = streams.describe_stream(StreamArn=arn)[
                        "StreamDescription"
                    ]["Shards"][0]
                    iterator: str = streams.get_shard_iterator(
                        StreamArn=arn, ShardId=shard["ShardId"], **self.start_position(key)
                    )["ShardIterator"]
                return shard, iterator
            except Exception as exc:
                self.log(f"{self.function} cannot read the stream of {table}: {exc}")
                self.stopped.wait(PERMISSION_RETRY)
        return None

    def process(self, records: list[dict[str, Any]], shard_id: str) -> None:
        retries = self.mapping.get("MaximumRetryAttempts")
        limit = 10_000 if retries is None or retries < 0 else int(retries)
        bisect = bool(self.mapping.get("BisectBatchOnFunctionError"))
        partial = "ReportBatchItemFailures" in (self.mapping.get("FunctionResponseTypes") or [])
        pending, attempts = records, 0
        while pending and not self.stopped.is_set():
            last = pending[-1]["dynamodb"]
            created = self.created_at.get(str(last.get("SequenceNumber")))
            if created is None:
                created = last.get("ApproximateCreationDateTime")
            if isinstance(created, (int, float)):
                self.iterator_age(self.region, self.function, (time.time() - created) * 1000)
            result = self.invoke({"Records": pending})
            attempts += 1
            if result.ok:
                self.processed(self.mapping["UUID"], PROCESSED_OK)
                sequences = [r["dynamodb"]["SequenceNumber"] for r in pending]
                failed = reported_failures(result.result, sequences) if partial else []
                if failed == []:
                    return
                if failed:  # retry from the lowest sequence number named (the checkpoint)
                    pending = pending[sequences.index(min(failed, key=int)) :]
                # None: the response fails the whole batch, retried as it was
            elif bisect and len(pending) > 1:
                half = len(pending) // 2
                self.process(pending[:half], shard_id)
                self.process(pending[half:], shard_id)
                return
            if attempts > limit:
                self.send_to_destination(pending, shard_id, attempts, result)
                return
            self.stopped.wait(min(0.1 * attempts, 1.0))

    def send_to_destination(
        self, records: list[dict[str, Any]], shard_id: str, attempts: int, result: Invocation
    ) -> None:
        destination = ((self.mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        self.log(
            f"{self.function}: giving up on {len(records)} stream record(s) after {attempts} "
            f"attempt(s): {result.error_message or 'reported as failed'}"
        )
        if not destination:
            return
        info = stream_failure_record(
            records,
            mapping=self.mapping,
            shard_id=shard_id,
            attempts=attempts,
            function_error=not result.ok,
        )
        queue = Arn.parse(destination)
        account, name = queue.account, queue.name
        try:
            sqs = self.client("sqs", self.region)
            url = f"{sqs.meta.endpoint_url}/{account}/{name}"
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(info))
        except Exception as exc:
            self.log(f"{self.function}: could not send failed records to {name}: {exc}")


class Supervisor(threading.Thread):
    """Keeps one poller per enabled mapping in every region the emulator has seen used."""

    def __init__(
        self,
        invoker: Invoker,
        client: ClientFor,
        role_client: RoleClientFor,
        regions: set[str],
        log: Log,
        stream_poll_every: float = IDLE_SLEEP_MAX,
    ) -> None:
        super().__init__(daemon=True, name="pocctl-mappings")
        self.stream_poll_every = stream_poll_every
        self.creation_time_as = "string"  # how new pollers' filters see it (CREATION_TIME_AS)
        self.invoker = invoker
        self.client = client
        self.role_client = role_client
        self.regions = regions
        self.log = log
        self.stopped = threading.Event()
        self.pollers: dict[str, tuple[str, Poller]] = {}
        self.checkpoints: dict[str, str] = {}
        self._wake = threading.Event()
        self._rounds = threading.Condition()
        self.rounds = 0  # reconciliations done
        self.retired: list[Poller] = []  # stopped, perhaps still finishing a long poll
        self.processed: Processed = lambda uuid, result: None  # what stream pollers report
        self.iterator_age: IteratorAge = lambda region, function, age_ms: None  # theirs too

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.reconcile()
            except Exception as exc:
                self.log(f"mapping supervisor: {exc}")
            with self._rounds:
                self.rounds += 1
                self._rounds.notify_all()
            self._wake.wait(RECONCILE_EVERY)
            self._wake.clear()
        for _, poller in self.pollers.values():
            poller.stop()

    def reconcile_now(self, timeout: float = 10.0) -> bool:
        """Reconcile at once and wait for it (for tests: the pollers match the mappings now)."""
        with self._rounds:
            target = self.rounds + 2  # the round under way may have read the mappings before
            self._wake.set()
            if not self._rounds.wait_for(
                lambda: self.rounds >= target or self.stopped.is_set(), timeout
            ):
                return False
        retired, self.retired = self.retired, []
        for poller in retired:  # a stopped poller's last long poll reads nothing more
            poller.join(timeout)
        return not any(poller.is_alive() for poller in retired)

    def wait_reads_from(self, moment: float, timeout: float = 10.0) -> bool:
        """No poller is in the middle of a read that began before `moment`."""
        pollers = [poller for _, poller in list(self.pollers.values())]
        return all(poller.wait_reads_from(moment, timeout) for poller in pollers)

    def wait_quiet(self, functions: set[str], moment: float, timeout: float = 10.0) -> bool:
        """The pollers of these functions have each read their source empty since `moment`,
        with nothing being delivered."""
        pollers = [p for _, p in list(self.pollers.values()) if p.function in functions]
        return all(poller.wait_quiet_since(moment, timeout) for poller in pollers)

    def reconcile(self) -> None:
        wanted: dict[str, dict[str, Any]] = {}
        for region in sorted(self.regions):
            lam = self.client("lambda", region)
            for page in lam.get_paginator("list_event_source_mappings").paginate():
                for mapping in page["EventSourceMappings"]:
                    # Lambda polls only once a mapping is Enabled (not while Creating).
                    if mapping.get("State") in ("Enabled", "Updating"):
                        wanted[mapping["UUID"]] = mapping
        for uuid_, (stamp, poller) in list(self.pollers.items()):
            mapping = wanted.get(uuid_)
            if mapping is None or fingerprint(mapping) != stamp or not poller.is_alive():
                poller.stop(replaced=mapping is not None)
                del self.pollers[uuid_]
                self.retired.append(poller)
        for uuid_, mapping in wanted.items():
            if uuid_ not in self.pollers:
                new = self.make_poller(mapping)
                if new is not None:
                    new.start()
                    self.pollers[uuid_] = (fingerprint(mapping), new)

    def make_poller(self, mapping: dict[str, Any]) -> Poller | None:
        """A poller that acts with the function's execution role, as Lambda's pollers do."""
        source = Arn.parse(mapping["EventSourceArn"])
        region = source.region
        try:
            role = self.client("lambda", region).get_function_configuration(
                FunctionName=mapping["FunctionArn"]
            )["Role"]
        except Exception:
            return None  # the function is gone; its mapping will follow

        def as_role(service: str, region: str) -> Any:
            return self.role_client(service, region, role)

        if source.service == "sqs":
            return SqsPoller(mapping, self.invoker, as_role, self.log)
        if source.service == "dynamodb" and "/stream/" in source.resource_id:
            poller = StreamPoller(
                mapping,
                self.invoker,
                as_role,
                self.log,
                self.checkpoints,
                self.stream_poll_every,
                self.creation_time_as,
            )
            poller.processed = self.processed
            poller.iterator_age = self.iterator_age
            return poller
        return None

    def stop(self) -> None:
        self.stopped.set()
        self._wake.set()


def fingerprint(mapping: dict[str, Any]) -> str:
    changing = ("LastModified", "State", "LastProcessingResult")  # not settings
    settings = {k: v for k, v in mapping.items() if k not in changing}
    return json.dumps(settings, sort_keys=True, default=str)
