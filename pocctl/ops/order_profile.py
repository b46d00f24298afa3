"""What one order does, in the units AWS bills: measured, not guessed.

Three places a profile comes from, best first: this stack's own, measured by `test-order` (kept
in pocctl's cache per region and stack); the one shipped with pocctl (order_profile.json,
measured through `pocctl local`, with how and when). Durations are the functions' billed
milliseconds from Lambda's REPORT lines; log bytes are the lines both functions wrote for the
order; the item's size is the stored row's, counted as DynamoDB counts it."""

from __future__ import annotations

import json
import math
import re
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from pocctl.code.dependencies import cache_root
from pocctl.core.aws import poll
from pocctl.core.context import Context
from pocctl.core.errors import StepError
from pocctl.ops.logs import LATE_LOG_INTERVAL, LATE_LOG_WAIT_SECONDS, LogLine, read

# Lambda's REPORT line: "REPORT RequestId: ...\tDuration: 12.34 ms\tBilled Duration: 13 ms\t
# Memory Size: 128 MB\tMax Memory Used: 40 MB" (Lambda Developer Guide, "Python Lambda function
# logging": the REPORT line's fields).
DURATION = re.compile(r"\tDuration: ([\d.]+) ms")
BILLED = re.compile(r"\tBilled Duration: (\d+) ms")
# A cold start's REPORT line adds "Init Duration: 123.45 ms" (same page). Since 2025-08-01 the
# INIT phase of ZIP functions on managed runtimes is billed like the invocation (AWS Compute
# Blog, "AWS Lambda standardizes billing for INIT Phase").
INIT = re.compile(r"\tInit Duration: ([\d.]+) ms")
REQUEST_ID = re.compile(r"^(?:START|END|REPORT) RequestId: (\S+)")


@dataclass(frozen=True)
class OrderProfile:
    """What one order costs in requests, time and bytes. The request counts follow the
    pipeline's path: API 1; SQS send (the API's integration), receive and delete (the mapping);
    the writer's PutItem; the stream read (free for Lambda); the notifier's consistent GetItem
    (was it notified already?), its one publish (one email a subscriber) and its UpdateItem
    marking the row notified (whose MODIFY record the mapping's filter drops unbilled)."""

    writer_billed_ms: float
    notifier_billed_ms: float
    log_bytes: int
    item_bytes: int
    measured_where: str
    measured_when: str
    how: str
    api_requests: int = 1
    sqs_requests: int = 3
    invocations: int = 2
    sns_publishes: int = 1
    dynamodb_writes: int = 2
    dynamodb_reads: int = 1
    # Billed ms of each function's INIT phase when its environment starts cold (0: not measured).
    writer_init_ms: float = 0
    notifier_init_ms: float = 0

    @property
    def write_units(self) -> int:
        """WRUs of the order's writes: one per 1 KB of the item a write, rounded up, at least
        one (DynamoDB on-demand pricing: "one write request unit ... for an item up to 1 KB")."""
        return self.dynamodb_writes * max(1, math.ceil(self.item_bytes / 1024))

    @property
    def read_units(self) -> int:
        """RRUs of the order's strongly consistent reads: one per 4 KB of the whole item, rounded
        up, whatever the projection ("Item sizes for reads are rounded up to the next 4 KB
        multiple": DynamoDB Developer Guide, "DynamoDB read and write operations")."""
        return self.dynamodb_reads * max(1, math.ceil(self.item_bytes / 4096))

    @property
    def payload_chunks(self) -> int:
        """64 KB chunks of the order's message (its size: the stored item's): SQS and SNS bill
        one request a chunk ("Each 64 KB chunk of a payload is billed as 1 request": SQS
        pricing; "Each 64KB chunk of published data is billed as 1 request": SNS pricing)."""
        return max(1, math.ceil(self.item_bytes / (64 * 1024)))

    @property
    def sqs_billed_requests(self) -> int:
        """The send and the receive carry the message, a request a chunk; the delete carries
        only a receipt handle: one request."""
        return (self.sqs_requests - 1) * self.payload_chunks + 1

    @property
    def sns_billed_publishes(self) -> int:
        return self.sns_publishes * self.payload_chunks

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "write_units": self.write_units,
            "read_units": self.read_units,
            "sqs_billed_requests": self.sqs_billed_requests,
            "sns_billed_publishes": self.sns_billed_publishes,
        }


def shipped() -> OrderProfile:
    text = resources.files("pocctl.ops").joinpath("order_profile.json").read_text("utf-8")
    return from_json(json.loads(text))


def from_json(document: dict[str, Any]) -> OrderProfile:
    fields = OrderProfile.__dataclass_fields__
    return OrderProfile(**{k: v for k, v in document.items() if k in fields})


def with_init_of(measured: OrderProfile, earlier: OrderProfile) -> OrderProfile:
    """A warm order's profile keeps the INIT phase an earlier cold order measured in the same
    place (`test-order --measure` right after `up` is cold, the next one warm): each run
    measures one order, and a cost needs both."""
    if measured.writer_init_ms or measured.notifier_init_ms:
        return measured
    if earlier.measured_where != measured.measured_where:
        return measured
    return replace(
        measured,
        writer_init_ms=earlier.writer_init_ms,
        notifier_init_ms=earlier.notifier_init_ms,
    )


def kept_path(region: str, stack: str) -> Path:
    return cache_root() / "profiles" / f"{region}-{stack}.json"


def keep(region: str, stack: str, profile: OrderProfile) -> Path:
    path = kept_path(region, stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile.as_json(), indent=2) + "\n", "utf-8")
    return path


def for_stack(region: str, stack: str) -> OrderProfile:
    """This stack's measured profile if `test-order` measured one here, else the shipped one."""
    path = kept_path(region, stack)
    if path.is_file():
        try:
            return from_json(json.loads(path.read_text("utf-8")))
        except (ValueError, TypeError):
            pass  # a damaged file is no measurement
    return shipped()


def billed_ms(report: str) -> float | None:
    """A REPORT line's billed milliseconds: its Billed Duration, or its Duration rounded up to
    the millisecond, as Lambda bills it ("rounded up to the nearest 1 ms": Lambda pricing)."""
    billed = BILLED.search(report)
    if billed:
        return float(billed[1])
    took = DURATION.search(report)
    return float(math.ceil(float(took[1]))) if took else None


def warm_and_init_ms(report: str) -> tuple[float, float] | None:
    """A REPORT line's billed ms apart from its INIT phase, and the INIT phase's (0 when warm).
    A cold line's Billed Duration includes the INIT phase since it is billed: the invocation's
    own ms are then its Duration rounded up."""
    init = INIT.search(report)
    if init is None:
        billed = billed_ms(report)
        return None if billed is None else (billed, 0.0)
    took = DURATION.search(report)
    if took is None:
        return None
    return float(math.ceil(float(took[1]))), float(math.ceil(float(init[1])))


def invocation_of(lines: list[LogLine], needle: str) -> list[LogLine]:
    """The lines of the invocation(s) whose lines mention `needle` (the order's id)."""
    current: dict[str, str] = {}  # per function: the request id of the lines being read
    ids: set[tuple[str, str]] = set()
    for line in lines:
        started = REQUEST_ID.match(line.message)
        if started:
            current[line.function] = started[1]
        if needle in line.message and line.function in current:
            ids.add((line.function, current[line.function]))
    kept: list[LogLine] = []
    for line in lines:
        started = REQUEST_ID.match(line.message)
        if started:
            current[line.function] = started[1]
        if (line.function, current.get(line.function, "")) in ids:
            kept.append(line)
    return kept


def dynamodb_size(value: dict[str, Any]) -> int:
    """An attribute value's size as DynamoDB counts it (DynamoDB Developer Guide, "Item sizes
    and formats": strings and binaries their UTF-8/byte length, numbers about one byte per two
    significant digits plus one, booleans and nulls 1, a list or map 3 bytes plus 1 per element
    and its elements)."""
    ((kind, item),) = value.items()
    if kind == "S":
        return len(str(item).encode("utf-8"))
    if kind == "N":
        digits = str(item).lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(item)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(dynamodb_size({kind[0]: member}) for member in item)
    if kind == "L":
        return 3 + sum(1 + dynamodb_size(member) for member in item)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + dynamodb_size(v) for k, v in item.items())
    return 0


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """An item's size: its attribute names' UTF-8 lengths plus their values' sizes."""
    return sum(len(name.encode("utf-8")) + dynamodb_size(v) for name, v in item.items())


def measure(
    ctx: Context, lines: list[LogLine], item: dict[str, Any], where: str, when: str
) -> OrderProfile | None:
    """The profile of the order whose lines (both functions', read since it was posted, its id
    in them) and stored item are given; None when a function's REPORT line is not among them."""
    n = ctx.config.names
    billed: dict[str, float] = {}
    init: dict[str, float] = {}
    for line in lines:
        if line.message.startswith("REPORT RequestId:"):
            found = warm_and_init_ms(line.message)
            if found is not None:
                billed[line.function] = billed.get(line.function, 0.0) + found[0]
                init[line.function] = init.get(line.function, 0.0) + found[1]
    if n.writer_function not in billed or n.notifier_function not in billed:
        return None
    return OrderProfile(
        writer_billed_ms=billed[n.writer_function],
        notifier_billed_ms=billed[n.notifier_function],
        writer_init_ms=init[n.writer_function],
        notifier_init_ms=init[n.notifier_function],
        log_bytes=sum(len(line.message.encode("utf-8")) for line in lines),
        item_bytes=item_size(item),
        measured_where=where,
        measured_when=when,
        how="test-order: billed ms from both functions' REPORT lines (their Init Duration "
        "apart), bytes of their log lines for the order, size of its stored item",
    )


def reported(ctx: Context, lines: list[LogLine]) -> bool:
    """Both functions' REPORT lines are among `lines`."""
    n = ctx.config.names
    found = {line.function for line in lines if line.message.startswith("REPORT RequestId:")}
    return {n.writer_function, n.notifier_function} <= found


def measure_order(
    ctx: Context, order_id: str, since_ms: int, table: str, where: str, when: str
) -> OrderProfile | None:
    """The profile of one order that went through (stored and notified): its invocations' log
    lines, waited for as `pocctl logs` waits (they reach CloudWatch Logs a little after the
    functions ran), and its stored item. None when the lines did not come in time."""
    n = ctx.config.names
    functions = [n.writer_function, n.notifier_function]
    lines: list[LogLine] = []

    def arrived() -> bool:
        nonlocal lines
        lines = invocation_of(read(ctx, functions, since_ms, None), order_id)
        return reported(ctx, lines)

    with suppress(StepError):
        poll(
            ctx,
            arrived,
            what="the functions' REPORT lines for this order",
            step="test-order",
            timeout=LATE_LOG_WAIT_SECONDS,
            first=LATE_LOG_INTERVAL,
            cap=LATE_LOG_INTERVAL,
            why="CloudWatch Logs receives a function's lines a little after it ran",
            limit=LATE_LOG_WAIT_SECONDS,
        )
    item = ctx.client("dynamodb").get_item(
        TableName=table, Key={"orderID": {"S": order_id}}, ConsistentRead=True
    )
    if not reported(ctx, lines):
        return None
    return measure(ctx, lines, item.get("Item", {}), where, when)


def measured_through(where: str) -> str:
    """Where a profile was measured, as a sentence says it."""
    return "through pocctl local" if where == "pocctl local" else f"on {where}"
