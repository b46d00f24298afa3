"""`pocctl cost`: what the stack costs a month, per service, for N orders and when idle.

Each line is a quantity a month (from what one order does: `order_profile.py`, and what the
stack does while no order comes) times a price from the table shipped with pocctl
(`prices.py`). The always-free tiers are shown beside, never folded in: they are the account's,
shared with everything else it runs in the region."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.errors import ConfigError
from pocctl.ops import order_profile, prices
from pocctl.ops.order_profile import OrderProfile
from pocctl.ops.prices import PriceTable
from pocctl.pipeline.stack import build_steps
from pocctl.resources.alarms import AlarmStep
from pocctl.resources.base import AnyStep

# AWS's pricing pages count a month as 730 hours (e.g. the Lambda and CloudWatch pricing
# examples: "730 hours in a month").
HOURS_A_MONTH = 730
GB = 1024**3  # Lambda's GB-seconds: "512MB/1024" a GB (Lambda pricing, Example 1)

# An idle SQS event source mapping still long-polls its queue, and each empty receive is a
# billed ReceiveMessage ("When an SQS queue is configured to invoke an AWS Lambda function, the
# Lambda long polls the queue. This means that even if the SQS queue isn't used, ... empty
# receives and associated charges": AWS Knowledge Center, "Why are my Amazon SQS charges higher
# than expected?"). "For standard queues, Lambda uses long polling ... Lambda starts processing
# five batches at a time" and only scales down to 2 "when traffic is low ... this optimization
# is not available when you enable the maximum concurrency setting" (Lambda Developer Guide,
# "Configuring scaling behavior for SQS event source mappings"): pocctl sets MaximumConcurrency,
# so five pollers stay. Each waits 20 s, the most SQS allows: 15 empty receives a minute, as
# users measured on idle queues (getlift/lift#132: "an average of 15 'empty receives' a
# minute").
SQS_IDLE_POLLERS = 5
SQS_LONG_POLL_SECONDS = 20
# DynamoDB counts each item's size plus 100 bytes of overhead for storage ("Item sizes and
# formats", DynamoDB Developer Guide: "DynamoDB adds 100 bytes of overhead per item").
DYNAMODB_ITEM_OVERHEAD = 100
# The retentions CloudWatch Logs accepts (PutRetentionPolicy's retentionInDays, botocore's logs
# model, shape Days: "Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, ... and 3653").
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip
# Cold starts: AWS does not say how long an idle execution environment is kept, so pocctl's rule
# is simple and stated: each function starts cold once in each 10 minutes that has an order, so
# at most 6 x 730 = 4,380 cold orders a month (at 1,000 orders a month, every one is cold).
COLD_START_WINDOW_MINUTES = 10
COLD_ORDERS_A_MONTH_AT_MOST = HOURS_A_MONTH * 60 // COLD_START_WINDOW_MINUTES


@dataclass(frozen=True)
class StackShape:
    """What of the stack's settings changes its cost. `alarms`: the standard-resolution alarms
    the stack's steps make (`alarms_of`). The alarm topic's email subscription is not counted:
    it mails only when an alarm changes state, nothing idle or per order."""

    memory_mb: int = 128
    log_retention_days: int = 14
    alarms: int = 0
    email_subscriptions: int = 1
    # Bytes the table holds now (DescribeTable's TableSizeBytes); None: not read, left out.
    stored_bytes: int | None = None


def alarms_of(steps: list[AnyStep]) -> int:
    """How many CloudWatch alarms the stack's steps make (none with alarms off)."""
    return sum(1 for step in steps if isinstance(step, AlarmStep) and step.wanted)


def shape_of(config: Config, log_retention_days: int | None = None) -> StackShape:
    """The cost-shaping settings of the stack `config` describes, its alarms counted from the
    steps `up` runs for it."""
    return StackShape(
        memory_mb=config.tuning.memory_mb,
        log_retention_days=log_retention_days or config.tuning.log_retention_days,
        alarms=alarms_of(build_steps(config)),
        email_subscriptions=0 if config.email is None else 1,
    )


@dataclass(frozen=True)
class Line:
    """One billed quantity a month and its price. `free_tier` is the part of the price's
    always-free allowance this line takes (the allowance goes to the lines of the same price in
    their order, once)."""

    service: str
    item: str
    price_key: str
    quantity: float
    unit: str
    unit_price: float
    idle: bool  # billed even when no order comes
    free_tier: float = 0.0

    @property
    def cost(self) -> float:
        """At list price, before any free tier."""
        return self.quantity * self.unit_price

    @property
    def cost_after_free_tier(self) -> float:
        """If this stack were all the account ran in the region."""
        return (self.quantity - self.free_tier) * self.unit_price

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "cost": round(self.cost, 6),
            "cost_after_free_tier": round(self.cost_after_free_tier, 6),
        }


def with_free_tier(table: PriceTable, lines: list[Line]) -> list[Line]:
    """Each price's free allowance handed to its lines in order, never more than once."""
    left = {line.price_key: table.free(line.price_key) for line in lines}
    handed: list[Line] = []
    for line in lines:
        free = min(line.quantity, left[line.price_key])
        left[line.price_key] -= free
        handed.append(replace(line, free_tier=free))
    return handed


@dataclass(frozen=True)
class Estimate:
    region: str
    orders_per_month: int
    shape: StackShape
    lines: list[Line]
    idle_lines: list[Line]
    prices_date: str
    profile: OrderProfile
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.cost for line in self.lines)

    @property
    def total_after_free_tier(self) -> float:
        return sum(line.cost_after_free_tier for line in self.lines)

    @property
    def idle_total(self) -> float:
        return sum(line.cost for line in self.idle_lines)

    @property
    def idle_after_free_tier(self) -> float:
        return sum(line.cost_after_free_tier for line in self.idle_lines)

    def per_service(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.service] = totals.get(line.service, 0.0) + line.cost
        return totals

    def as_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "orders_per_month": self.orders_per_month,
            "settings": asdict(self.shape),
            "currency": "USD",
            "monthly": {
                "total": round(self.total, 6),
                "total_after_free_tier": round(self.total_after_free_tier, 6),
                "per_service": {k: round(v, 6) for k, v in self.per_service().items()},
                "lines": [line.as_json() for line in self.lines],
            },
            "idle": {
                "total": round(self.idle_total, 6),
                "total_after_free_tier": round(self.idle_after_free_tier, 6),
                "lines": [line.as_json() for line in self.idle_lines],
            },
            "prices_date": self.prices_date,
            "profile": self.profile.as_json(),
            "notes": self.notes,
        }


def idle_sqs_requests() -> float:
    """The ReceiveMessage calls a month of the order queue's mapping with no order coming."""
    return SQS_IDLE_POLLERS * (3600 / SQS_LONG_POLL_SECONDS) * HOURS_A_MONTH


def cold_orders(orders: int) -> int:
    """The orders a month priced with both functions' INIT phase (COLD_START_WINDOW_MINUTES)."""
    return min(orders, COLD_ORDERS_A_MONTH_AT_MOST)


def estimate(table: PriceTable, profile: OrderProfile, shape: StackShape, orders: int) -> Estimate:
    """The month's lines for `orders` orders, and the idle month's."""
    if orders < 0:
        raise ValueError("orders must not be negative")
    return Estimate(
        table.region,
        orders,
        shape,
        with_free_tier(table, _lines(table, profile, shape, orders)),
        with_free_tier(table, [line for line in _lines(table, profile, shape, 0) if line.quantity]),
        table.date,
        profile,
        notes=_notes(profile, shape),
    )


def _lines(table: PriceTable, profile: OrderProfile, shape: StackShape, n: int) -> list[Line]:
    def line(service: str, item: str, key: str, quantity: float, *, idle: bool = False) -> Line:
        return Line(service, item, key, quantity, table.unit(key), table.price(key), idle)

    gb = shape.memory_mb / 1024
    gb_seconds = n * (profile.writer_billed_ms + profile.notifier_billed_ms) / 1000 * gb
    init_ms = profile.writer_init_ms + profile.notifier_init_ms
    init_gb_seconds = cold_orders(n) * init_ms / 1000 * gb
    ingested_gb = n * profile.log_bytes / GB
    # With a retention of R days, a steady month's storage holds the last R days of lines: R/30.4
    # months' worth, past a month too (a year's retention holds twelve months of lines). Billed
    # compressed: this is the most it can be.
    kept_months = shape.log_retention_days / (HOURS_A_MONTH / 24)
    item_gb = n * (profile.item_bytes + DYNAMODB_ITEM_OVERHEAD) / GB
    stored_now = (
        []
        if shape.stored_bytes is None
        else [
            line(
                "DynamoDB",
                "storage of the rows stored now",
                "dynamodb_storage_gb_month",
                shape.stored_bytes / GB,
                idle=True,
            )
        ]
    )
    return [
        line("API Gateway", "REST requests", "apigateway_rest_request", n * profile.api_requests),
        line(
            "SQS",
            "order queue requests (send, receive, delete)",
            "sqs_request",
            n * profile.sqs_billed_requests,
        ),
        line(
            "SQS",
            "the mapping's long polls of the order queue",
            "sqs_request",
            idle_sqs_requests(),
            idle=True,
        ),
        line("Lambda", "invocations (both functions)", "lambda_request", n * profile.invocations),
        line("Lambda", f"compute at {shape.memory_mb} MB", "lambda_gb_second", gb_seconds),
        line(
            "Lambda",
            f"INIT phase of cold starts ({cold_orders(n):,} orders, {init_ms:g} ms each)",
            "lambda_gb_second",
            init_gb_seconds,
        ),
        line(
            "DynamoDB",
            f"writes ({profile.write_units} WRU an order)",
            "dynamodb_write_request_unit",
            n * profile.write_units,
        ),
        line(
            "DynamoDB",
            f"consistent reads ({profile.read_units} RRU an order)",
            "dynamodb_read_request_unit",
            n * profile.read_units,
        ),
        line("DynamoDB", "storage of a month's orders", "dynamodb_storage_gb_month", item_gb),
        *stored_now,
        line("SNS", "publishes", "sns_publish", n * profile.sns_billed_publishes),
        line(
            "SNS",
            f"emails ({shape.email_subscriptions} subscriber(s))",
            "sns_email",
            n * profile.sns_publishes * shape.email_subscriptions,
        ),
        line(
            "CloudWatch",
            f"{shape.alarms} standard alarms",
            "cloudwatch_alarm_month",
            float(shape.alarms),
            idle=True,
        ),
        line("CloudWatch Logs", "log lines ingested", "logs_ingested_gb", ingested_gb),
        line(
            "CloudWatch Logs",
            f"log lines kept ({shape.log_retention_days} days)",
            "logs_stored_gb_month",
            ingested_gb * kept_months,
        ),
    ]


def _notes(profile: OrderProfile, shape: StackShape) -> list[str]:
    local = profile.measured_where == "pocctl local"
    measured = (
        "The order's figures were measured through pocctl local: its functions run on this "
        "machine, not in a 128 MB Lambda; `pocctl test-order --measure` on AWS measures yours."
        if local
        else f"The order's figures were measured on {profile.measured_where}."
    )
    stored = (
        "DynamoDB storage of the rows the table holds now is excluded (the table was not read)."
        if shape.stored_bytes is None
        else f"DynamoDB storage counts the {shape.stored_bytes:,} bytes the table holds now."
    )
    return [
        measured,
        f"Cold starts: Lambda bills the INIT phase (since 2025-08-01). pocctl counts each "
        f"function cold once in each {COLD_START_WINDOW_MINUTES} minutes with an order: at most "
        f"{COLD_ORDERS_A_MONTH_AT_MOST:,} cold orders a month, so at low volume nearly every "
        "order is cold.",
        stored,
        "DynamoDB Streams: GetRecords calls made by Lambda for a trigger are free (DynamoDB "
        "pricing; DynamoDB Developer Guide, 'Evaluate your DynamoDB streams usage').",
        "The REST API has no idle cost: it bills requests only (API Gateway pricing).",
        "The alarm topic's email subscription costs nothing idle: it mails only when an "
        "alarm changes state (SNS bills email notifications per delivery, SNS pricing).",
        "Free tiers are the account's, per region, shared with everything else it runs.",
    ]


def idle_month(region: str, shape: StackShape, stored_bytes: int | None = None) -> Estimate | None:
    """The idle month's estimate in `region` (None: pocctl has no prices for it), for `up`'s
    summary and `ls`, with the rows the table holds now when they were read (`table_bytes`)."""
    try:
        table = prices.load(region)
    except ConfigError:
        return None
    shape = replace(shape, stored_bytes=stored_bytes)
    return estimate(table, order_profile.shipped(), shape, 0)


def table_bytes(ctx: Context) -> int | None:
    """What the stack's table holds now (None: it could not be read). DescribeTable's
    TableSizeBytes is updated "approximately every six hours" (DynamoDB API Reference,
    TableDescription): a little behind, never more than the table holds for long."""
    try:
        found = ctx.client("dynamodb").describe_table(TableName=ctx.config.names.table)
    except (ClientError, BotoCoreError):
        return None
    size = found["Table"].get("TableSizeBytes")
    return None if size is None else int(size)


def idle_summary(found: Estimate) -> str:
    """One line: what the stack costs a month with no order coming."""
    parts = ", ".join(f"{line.service} {line.item} ${line.cost:.2f}" for line in found.idle_lines)
    excluded = (
        " (DynamoDB storage of stored rows left out: the table could not be read)"
        if found.shape.stored_bytes is None
        else ""
    )
    return (
        f"Idle, this stack costs ${found.idle_total:.2f} a month at list price "
        f"(${found.idle_after_free_tier:.2f} if the free tier covers it): {parts}{excluded}. "
        "`pocctl cost` tells more."
    )
