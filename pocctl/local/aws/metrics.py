"""The metrics SQS, Lambda and API Gateway publish to CloudWatch, from what the emulator sees.

Each service publishes per minute (timing.py, metrics_interval), under its own namespace:
- AWS/Lambda, per FunctionName: `Invocations`, `Errors` (an invocation that failed: "function
  errors" and runtime errors), `Duration` (ms), `Throttles`, and for a stream mapping
  `IteratorAge` (ms): "the age of the last record in the batch ... the time between when a
  stream receives the record and when the event source mapping sends the event to the function"
  (Lambda Developer Guide, "Using CloudWatch metrics with Lambda", invocation, performance
  metrics). Each invocation counts 0 errors or 1 and 0 throttles (the emulator throttles none),
  so a function invoked in a minute has an `Errors` datapoint of 0 and an idle one none: an
  observation of the console's graphs, no page says it.
- AWS/SQS, per QueueName: `ApproximateNumberOfMessagesVisible`, `...NotVisible`, `...Delayed`,
  sampled at each minute's end, and `NumberOfMessagesSent`, `...Received`, `...Deleted` counted
  from the calls. "These metrics are gathered on all queues that meet the CloudWatch guidelines
  for being active": a queue that holds messages or was accessed in the last six hours
  (queue_metrics_inactive). "A delay of up to 15 minutes occurs in CloudWatch metrics when a
  queue is activated from an inactive state" (same guide): a woken queue's datapoints reach
  CloudWatch and its alarms only once that delay is over (queue_metrics_woken). A message a
  redrive policy moves to a dead-letter queue is not
  counted in its `NumberOfMessagesSent` ("if a message is sent to a dead-letter queue as a
  result of a failed processing attempt, it isn't captured by this metric"; Amazon SQS
  Developer Guide, "Available CloudWatch metrics for Amazon SQS").
- AWS/ApiGateway, per ApiName and per ApiName and Stage: `Count`, `4XXError`, `5XXError` (0 or
  1 per request) and `Latency` (ms) (API Gateway Developer Guide, "Amazon API Gateway dimensions
  and metrics"; its dimensions "ApiName" and "ApiName, Stage"). "API Gateway removes non-ASCII
  characters from the ApiName dimension before sending metrics to CloudWatch. If the APIName
  doesn't contain any ASCII characters, the API ID is used as the ApiName" (same page).

CloudWatch's timeline runs on AWS's clock: a minute of it is `metrics_interval` of the
emulator's clock (1.2 s at a time scale of 0.02), and its timestamps count minutes from the one
the emulator started in. At a scale under 1 they run ahead of the wall clock. Durations
(Duration, Latency) are the code's own, measured in real milliseconds; IteratorAge, a backlog of
AWS's scaled waits, is scaled back to AWS's milliseconds.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pocctl.local.aws.base import World
from pocctl.local.calls import Call
from pocctl.local.replies import Reply

MINUTE = 60
TIMING_OFF_MINUTE = 1.0  # with AWS's timing off, a minute of CloudWatch's passes every second
SQS_COUNTED = {
    "SendMessage": "NumberOfMessagesSent",
    "SendMessageBatch": "NumberOfMessagesSent",
    "ReceiveMessage": "NumberOfMessagesReceived",
    "DeleteMessage": "NumberOfMessagesDeleted",
    "DeleteMessageBatch": "NumberOfMessagesDeleted",
}


@dataclass(frozen=True)
class Series:
    region: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # sorted (name, value)

    @staticmethod
    def of(region: str, namespace: str, name: str, dimensions: Mapping[str, str]) -> Series:
        return Series(region, namespace, name, tuple(sorted(dimensions.items())))


@dataclass
class Stat:
    """One period's statistics set, as CloudWatch keeps it."""

    sum: float = 0.0
    count: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    unit: str = "None"

    def add(self, value: float) -> None:
        self.sum += value
        self.count += 1
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)

    def merge(self, other: Stat) -> None:
        self.sum += other.sum
        self.count += other.count
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        self.unit = other.unit

    def value(self, statistic: str) -> float:
        if statistic == "SampleCount":
            return self.count
        if statistic == "Average":
            return self.sum / self.count
        if statistic == "Minimum":
            return self.minimum
        if statistic == "Maximum":
            return self.maximum
        return self.sum


class Timeline:
    """CloudWatch's minutes on the emulator's clock."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.started = world.clock()
        self.epoch = math.floor(world.wall() / MINUTE) * MINUTE  # minute 0's timestamp
        self.length = world.timing.seconds("metrics_interval") or TIMING_OFF_MINUTE

    def minute(self) -> int:
        """The minute under way."""
        return int((self.world.clock() - self.started) // self.length)

    def timestamp(self, minute: int) -> datetime:
        return datetime.fromtimestamp(self.epoch + minute * MINUTE, UTC)

    def minutes(self, rule: str) -> int:
        """`rule`'s fixed duration in CloudWatch's minutes (at least one)."""
        from pocctl.local.aws.timing import RULES

        return max(1, round(RULES[rule].seconds / MINUTE))


class Metrics:
    def __init__(self, world: World) -> None:
        self.world = world
        self.timeline = Timeline(world)
        self.points: dict[Series, dict[int, Stat]] = {}
        # The series with a datapoint in each minute not yet closed: closing a minute reads its
        # own, not every series (a clock moved on by days closes thousands of minutes at once).
        self.open_minutes: dict[int, dict[Series, None]] = {}  # dict: published in order
        self.queue_used: dict[tuple[str, str], int] = {}  # (region, queue) -> last minute used
        self.queue_held: dict[tuple[str, str], int] = {}  # a woken queue -> minute it publishes
        # Its datapoints until then, by queue: each minute's close asks once per woken queue, not
        # once per datapoint (a clock moved on by days holds thousands of them).
        self.held: dict[tuple[str, str], list[tuple[Series, int, Stat]]] = {}
        self.closing = -1  # the minute being closed (alarms evaluate at its end)
        self._lock = threading.Lock()

    def add(
        self,
        region: str,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str],
        value: float,
        unit: str = "Count",
    ) -> None:
        series = Series.of(region, namespace, name, dimensions)
        with self._lock:
            # Seen as its minute was closing: it goes in the next, not in one already published.
            minute = max(self.timeline.minute(), self.closing + 1)
            stat = self.points.setdefault(series, {}).setdefault(minute, Stat(unit=unit))
            stat.add(value)
            self.open_minutes.setdefault(minute, {})[series] = None

    # -- what the emulator sees --------------------------------------------------------
    def invoked(self, region: str, function: str, ok: bool, duration_ms: float) -> None:
        name = {"FunctionName": function}
        self.add(region, "AWS/Lambda", "Invocations", name, 1)
        self.add(region, "AWS/Lambda", "Errors", name, 0 if ok else 1)
        self.add(region, "AWS/Lambda", "Throttles", name, 0)
        self.add(region, "AWS/Lambda", "Duration", name, duration_ms, "Milliseconds")

    def iterator_age(self, region: str, function: str, age_ms: float) -> None:
        """A batch's age as measured on the emulator's clock: a backlog is made of AWS's waits,
        scaled like CloudWatch's minute, so it is scaled back (a backlog AWS reports as 30 s
        reads 30,000 ms at any time scale)."""
        timing = self.world.timing
        scale = timing.scale if timing.enabled and timing.scale > 0 else 1.0
        self.add(
            region,
            "AWS/Lambda",
            "IteratorAge",
            {"FunctionName": function},
            max(0.0, age_ms / scale),
            "Milliseconds",
        )

    def api_answered(
        self, region: str, api: tuple[str, str], stage: str, status: int, latency_ms: float
    ) -> None:
        """A request the API (its name and id) answered on `stage`."""
        name = api_dimension(*api)
        for names in ({"ApiName": name}, {"ApiName": name, "Stage": stage}):
            self.add(region, "AWS/ApiGateway", "Count", names, 1)
            self.add(region, "AWS/ApiGateway", "4XXError", names, 1 if 400 <= status < 500 else 0)
            self.add(region, "AWS/ApiGateway", "5XXError", names, 1 if status >= 500 else 0)
            self.add(region, "AWS/ApiGateway", "Latency", names, latency_ms, "Milliseconds")

    def sqs_called(self, call: Call, reply: Reply) -> None:
        """An SQS action keeps its queue active; messages sent, received, deleted count."""
        if call.service != "sqs" or not reply.ok:
            return
        queue = str(call.params.get("QueueUrl") or call.params.get("QueueName") or "")
        queue = queue.rstrip("/").rsplit("/", 1)[-1]
        if not queue:
            return
        self._used((call.region, queue), self.timeline.minute())
        metric = SQS_COUNTED.get(call.operation)
        if metric is None:
            return
        count = counted(call, reply)
        if count:
            self.add(call.region, "AWS/SQS", metric, {"QueueName": queue}, count)

    def _used(self, key: tuple[str, str], minute: int) -> None:
        """The queue is used in `minute`: an inactive one wakes, its metrics held back."""
        with self._lock:
            last = self.queue_used.get(key)
            self.queue_used[key] = minute
            if last is None or minute - last < self.timeline.minutes("queue_metrics_inactive"):
                return
            delay = self.world.timing.seconds("queue_metrics_woken", f"{key[0]}|{key[1]}")
            self.queue_held[key] = minute + round(delay / self.timeline.length)

    def is_held(self, series: Series) -> bool:
        """Whether the series is a woken queue's whose datapoints CloudWatch doesn't have yet."""
        queue = _queue_of(series) if self.queue_held else None
        return queue is not None and self.queue_held.get(queue, -1) > self.closing

    # -- each minute's end -------------------------------------------------------------
    def close(self, minute: int, regions: set[str]) -> None:
        """Sample the queues at the end of `minute`, and publish its datapoints to CloudWatch."""
        with self._lock:
            self.closing = minute
            # A queue whose wait is over publishes again: forgetting it keeps is_held cheap.
            self.queue_held = {key: at for key, at in self.queue_held.items() if at > minute}
        for region in sorted(regions):
            self._sample_queues(region, minute)
        with self._lock:
            released = [q for q in self.held if self.queue_held.get(q, -1) <= minute]
            due = [datapoint for queue in released for datapoint in self.held[queue]]
            held: dict[tuple[str, str], list[tuple[Series, int, Stat]]] = {}
            for series in self.open_minutes.get(minute, ()):
                datapoint = (series, minute, self.points[series][minute])
                if self.is_held(series):
                    held.setdefault(_queue_of(series) or ("", ""), []).append(datapoint)
                else:
                    due.append(datapoint)
        for series, at, stat in due:
            self._publish(series, at, stat)
        # Only once published: a close that failed (a bug of ours) is tried again whole.
        with self._lock:
            for queue in released:
                del self.held[queue]
            for queue, datapoints in held.items():
                self.held.setdefault(queue, []).extend(datapoints)
            self.open_minutes.pop(minute, None)

    def _sample_queues(self, region: str, minute: int) -> None:
        from moto.sqs.models import sqs_backends

        idle_limit = self.timeline.minutes("queue_metrics_inactive")
        for queue in list(sqs_backends[self.world.account][region].queues.values()):
            depth = {
                "ApproximateNumberOfMessagesVisible": queue.approximate_number_of_messages,
                "ApproximateNumberOfMessagesNotVisible": (
                    queue.approximate_number_of_messages_not_visible
                ),
                "ApproximateNumberOfMessagesDelayed": queue.approximate_number_of_messages_delayed,
            }
            key = (region, queue.name)
            if any(depth.values()):
                self._used(key, minute)
            with self._lock:
                used = self.queue_used.get(key)
            if used is None or minute - used >= idle_limit:
                continue  # inactive: SQS publishes nothing for it
            series = {"QueueName": queue.name}
            for name, value in depth.items():
                stat = Stat(unit="Count")
                stat.add(float(value))
                sampled = Series.of(region, "AWS/SQS", name, series)
                with self._lock:
                    self.points.setdefault(sampled, {})[minute] = stat
                    self.open_minutes.setdefault(minute, {})[sampled] = None

    def _publish(self, series: Series, minute: int, stat: Stat) -> None:
        """Into moto's CloudWatch, so GetMetricStatistics and ListMetrics show it."""
        from moto.cloudwatch.models import MetricAggregatedDatum, cloudwatch_backends

        datum = MetricAggregatedDatum(
            namespace=series.namespace,
            name=series.name,
            sum_stat=stat.sum,
            min_stat=stat.minimum,
            max_stat=stat.maximum,
            sample_count=stat.count,
            dimensions=[{"Name": n, "Value": v} for n, v in series.dimensions],
            timestamp=self.timeline.timestamp(minute).replace(tzinfo=None),  # as moto keeps it
            unit=stat.unit,
        )
        cloudwatch_backends[self.world.account][series.region].metric_data.append(datum)

    def forget_before(self, minute: int) -> None:
        with self._lock:
            for by_minute in self.points.values():
                for old in [m for m in by_minute if m < minute]:
                    del by_minute[old]
            for old in [m for m in self.open_minutes if m < minute]:
                del self.open_minutes[old]

    # -- what alarms read --------------------------------------------------------------
    def period(self, series: Series, first: int, last: int) -> Stat | None:
        """The statistics of minutes first..last (inclusive), None if there is no datapoint."""
        if self.is_held(series):
            return None
        with self._lock:
            by_minute = dict(self.points.get(series, {}))
        found = [by_minute[m] for m in range(first, last + 1) if m in by_minute]
        if not found:
            return None
        merged = Stat(unit=found[0].unit)
        for stat in found:
            merged.merge(stat)
        return merged


def api_dimension(name: str, api_id: str) -> str:
    """The ApiName dimension's value: the name without its non-ASCII characters, else the id."""
    ascii_only = "".join(c for c in name if c.isascii())
    return ascii_only or api_id


def counted(call: Call, reply: Reply) -> int:
    """How many messages a successful send, receive or delete carried."""
    document: Any = reply.json() if reply.body.startswith(b"{") else None
    if call.operation == "ReceiveMessage":
        if document is not None:
            return len(document.get("Messages") or [])
        return reply.body.count(b"<Message>")
    if call.operation.endswith("Batch"):
        if document is not None:
            return len(document.get("Successful") or [])
        return reply.body.count(b"ResultEntry>") // 2
    return 1


def _queue_of(series: Series) -> tuple[str, str] | None:
    """The (region, queue) an SQS series is about; None for other namespaces."""
    if series.namespace != "AWS/SQS":
        return None
    return series.region, dict(series.dimensions).get("QueueName", "")
