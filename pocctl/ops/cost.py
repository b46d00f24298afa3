"""`pocctl cost`: what the stack costs a month, per service, for N orders and when idle.

Each line is a quantity a month (from what one order does: `order_profile.py`, and what the
stack does while no order comes) times a price from the table shipped with pocctl
(`prices.py`). The always-free tiers are shown beside, never folded in: they are the account's,
shared with everything else it runs in the region."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from pocctl.core.config import Config
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


@dataclass(frozen=True)
class StackShape:
    """What of the stack's settings changes its cost. `alarms`: the standard-resolution alarms
    the stack's steps make (`alarms_of`). The alarm topic's email subscription is not counted:
    it mails only when an alarm changes state, nothing idle or per order."""

    memory_mb: int = 128
    log_retention_days: int = 14
    alarms: int = 0
    email_subscriptions: int = 1


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
        notes=_notes(),
    )


def _lines(table: PriceTable, profile: OrderProfile, shape: StackShape, n: int) -> list[Line]:
    def line(service: str, item: str, key: str, quantity: float, *, idle: bool = False) -> Line:
        return Line(service, item, key, quantity, table.unit(key), table.price(key), idle)

    gb_seconds = (
        n * (profile.writer_billed_ms + profile.notifier_billed_ms) / 1000 * shape.memory_mb / 1024
    )
    ingested_gb = n * profile.log_bytes / GB
    # With a retention of R days, a steady month keeps about R/30.4 months of lines (at most all
    # of them: a month's lines are all there at its end when R >= a month). Billed compressed:
    # this is the most it can be.
    kept_months = min(shape.log_retention_days / (HOURS_A_MONTH / 24), 1.0)
    item_gb = n * (profile.item_bytes + DYNAMODB_ITEM_OVERHEAD) / GB
    return [
        line("API Gateway", "REST requests", "apigateway_rest_request", n * profile.api_requests),
        line(
            "SQS",
            "order queue requests (send, receive, delete)",
            "sqs_request",
            n * profile.sqs_requests,
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
        line("SNS", "publishes", "sns_publish", n * profile.sns_publishes),
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


def _notes() -> list[str]:
    return [
        "DynamoDB Streams: GetRecords calls made by Lambda for a trigger are free (DynamoDB "
        "pricing; DynamoDB Developer Guide, 'Evaluate your DynamoDB streams usage').",
        "The REST API has no idle cost: it bills requests only (API Gateway pricing).",
        "The alarm topic's email subscription costs nothing idle: it mails only when an "
        "alarm changes state (SNS bills email notifications per delivery, SNS pricing).",
        "Free tiers are the account's, per region, shared with everything else it runs.",
    ]


def idle_month(region: str, shape: StackShape) -> Estimate | None:
    """The idle month's estimate in `region` (None: pocctl has no prices for it), for `up`'s
    summary and `ls`."""
    try:
        table = prices.load(region)
    except ConfigError:
        return None
    return estimate(table, order_profile.shipped(), shape, 0)


def idle_summary(found: Estimate) -> str:
    """One line: what the stack costs a month with no order coming."""
    parts = ", ".join(f"{line.service} {line.item} ${line.cost:.2f}" for line in found.idle_lines)
    return (
        f"Idle, this stack costs ${found.idle_total:.2f} a month at list price "
        f"(${found.idle_after_free_tier:.2f} if the free tier covers it): {parts}. "
        "`pocctl cost` tells more."
    )
