"""`pocctl cost`: what the stack costs a month, per service, for N orders and when idle."""

from __future__ import annotations

import time
from typing import Any

import click

from pocctl.cli.document import Finished, json_flag
from pocctl.cli.options import aws_options, collect, make_session, resolve_settings, terminal
from pocctl.cli.ui import Terminal
from pocctl.core.config import Tuning
from pocctl.ops import order_profile, prices
from pocctl.ops.cost import LOG_RETENTION_DAYS, Estimate, Line, estimate, shape_of

TUNING = Tuning()


@click.command("cost")
@aws_options
@click.option(
    "--orders-per-month",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Orders a month to price.",
)
@click.option(
    "--memory",
    type=click.IntRange(min=128, max=10_240),
    help="MB of memory for each function. [env: POCCTL_MEMORY; default: pocctl.toml, 128]",
)
@click.option(
    "--log-retention-days",
    type=click.Choice([str(days) for days in LOG_RETENTION_DAYS]),
    default=str(TUNING.log_retention_days),
    show_default=True,
    help="Days the functions' log groups keep their lines: one of the retentions CloudWatch "
    "Logs accepts.",
)
@click.option(
    "--alarms/--no-alarms",
    default=None,
    help="Price the CloudWatch alarms `up` makes (one per thing that needs a person), or none. "
    "[env: POCCTL_ALARMS; default: pocctl.toml, on]",
)
@click.option(
    "--refresh-prices",
    is_flag=True,
    help="Read the region's prices from AWS's Price List API first (needs credentials allowed "
    "pricing:GetProducts) and keep them for the next runs.",
)
@json_flag()
def cost_command(
    orders_per_month: int,
    memory: int | None,
    log_retention_days: str,
    alarms: bool | None,
    refresh_prices: bool,
    as_json: bool,
    **kwargs: Any,
) -> Finished:
    """Show what the stack costs a month, per service, for N orders and when idle.

    Each line is a quantity a month times a price. Per order: 1 API request; 3 SQS requests
    (the API's send, the mapping's receive and delete); 2 Lambda invocations and their billed
    milliseconds at the functions' memory; 2 DynamoDB writes (the row, then its notified mark)
    in 1 KB write units and 1 consistent read of the whole item in 4 KB read units; 1 SNS
    publish and 1 email to the stack's --email (none without one); the log bytes both functions
    write. SQS's send and receive and SNS's publish bill a request per 64 KB of the order. Log
    storage holds the retention's days of lines. The billed milliseconds, log bytes and item
    size are measured:
    by `pocctl test-order --measure` on this stack (kept on this machine), else the profile
    shipped with pocctl, measured through `pocctl local` (its date and place are printed: the
    emulator's figures are not a 128 MB Lambda's).

    Cold starts: Lambda bills a cold start's INIT phase (the REPORT line's Init Duration).
    pocctl's rule: each function starts cold once in each 10 minutes that has an order, so at
    most 4,380 of the month's orders pay the INIT phase: at low volume nearly every order is
    cold.

    Idle, with no order coming: the order queue's mapping long-polls it (5 pollers, one
    ReceiveMessage each 20 s, billed as SQS requests), and the alarms bill by the month. The REST
    API, Lambda and the DynamoDB stream's reads by Lambda cost nothing idle.

    Prices are a table shipped with pocctl (region, date and source of each); --refresh-prices
    reads the region's from AWS. The always-free tiers are shown beside the list price, not
    taken off it: they are the account's, shared with all it runs in the region.

    \b
    Examples:
      pocctl cost
      pocctl cost --orders-per-month 100000 --memory 256
      pocctl cost --no-alarms --json | jq .idle.total
      pocctl cost --region eu-west-1 --refresh-prices
    """
    flags = collect(kwargs, memory=memory, alarms=alarms)
    term = terminal(flags, as_json=as_json)
    settings = resolve_settings(flags)
    config = settings.config()
    if refresh_prices:
        session = make_session(config.profile)
        with term.busy(f"Reading {config.region}'s prices from AWS's Price List API ..."):
            table = prices.refresh(session, config.region, time.strftime("%Y-%m-%d"))
    else:
        table = prices.load(config.region)
    profile = order_profile.for_stack(config.region, config.stack)
    shape = shape_of(config, int(log_retention_days))
    found = estimate(table, profile, shape, orders_per_month)
    if not as_json:
        show(term, found, table)
    return Finished({**found.as_json(), "prices": table.as_json(), "stack": config.stack})


def money(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.4f}"


def rows(lines: list[Line]) -> list[tuple[str, ...]]:
    return [
        (
            line.service,
            line.item,
            f"{amount(line.quantity)} {line.unit}",
            each(line.unit_price),
            money(line.cost),
            amount(line.free_tier) if line.free_tier else "-",
            money(line.cost_after_free_tier),
        )
        for line in lines
    ]


def amount(quantity: float) -> str:
    return f"{quantity:,.0f}" if quantity >= 100 else f"{quantity:.4g}"


def each(price: float) -> str:
    """A unit price as AWS's pages say it: per million when it is a fraction of a cent."""
    return f"${price * 1e6:,.4g} per 1M" if price < 0.001 else f"${price:,.4g}"


HEADER = ("SERVICE", "WHAT", "A MONTH", "PRICE", "LIST PRICE", "FREE TIER", "AFTER FREE")


def show(term: Terminal, found: Estimate, table: prices.PriceTable) -> None:
    profile = found.profile
    term.heading(
        f"Stack cost in {found.region} for {found.orders_per_month:,} orders a month "
        f"(memory {found.shape.memory_mb} MB, logs kept {found.shape.log_retention_days} days, "
        f"{found.shape.alarms} alarms)"
    )
    term.table([HEADER, *rows(found.lines)])
    term.success(
        f"Total: {money(found.total)} a month at list price; "
        f"{money(found.total_after_free_tier)} if the free tier covers it."
    )
    term.heading("Idle (no order all month)")
    term.table([HEADER, *rows(found.idle_lines)])
    term.info(
        f"Idle: {money(found.idle_total)} a month at list price; "
        f"{money(found.idle_after_free_tier)} if the free tier covers it."
    )
    where = order_profile.measured_through(profile.measured_where)
    term.info(
        f"Per order: Lambda-1 {profile.writer_billed_ms:g} ms and Lambda-2 "
        f"{profile.notifier_billed_ms:g} ms billed, {profile.log_bytes:,} log bytes, an item of "
        f"{profile.item_bytes:,} bytes; cold, INIT adds {profile.writer_init_ms:g} ms and "
        f"{profile.notifier_init_ms:g} ms; measured {where} "
        f"on {profile.measured_when}."
    )
    term.info(f"Prices: {table.name}, {table.date}, {table.origin}.")
    for note in found.notes:
        term.note(note)
