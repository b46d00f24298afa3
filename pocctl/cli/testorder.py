"""`pocctl test-order`: one real order through every hop, against AWS or `pocctl local`."""

from __future__ import annotations

from typing import Any

import click

from pocctl.cli.document import Finished, json_flag
from pocctl.cli.options import aws_options, collect, make_context, terminal
from pocctl.cli.render import prove
from pocctl.cli.ui import Terminal
from pocctl.core.context import Context
from pocctl.core.errors import Interrupted, PocctlError
from pocctl.ops.order_profile import measured_through
from pocctl.ops.smoke import (
    DEFAULT_ORDER,
    SmokeResult,
    TestOrderInterrupted,
    failure_hint,
)


def interrupted(ctx: Context, result: SmokeResult) -> Finished:
    passed = [hop.name for hop in result.hops if hop.ok]
    document = {
        **result.as_json(),
        "ok": False,
        "stack": ctx.config.stack,
        "region": ctx.config.region,
    }
    return Finished(
        document,
        Interrupted(
            "Interrupted"
            + (f" while waiting for '{result.interrupted}'" if result.interrupted else "")
            + (f" (passed: {', '.join(passed)})" if passed else "")
            + cleanup(result),
        ),
    )


def cleanup(result: SmokeResult) -> str:
    """What became of the temporary inbox, as far as it was made: only what was removed is
    said to be."""
    said = ""
    if result.removed:
        plural = len(result.removed) > 1
        removed = " and ".join(sorted(result.removed))
        said += f"; the temporary test {removed} {'were' if plural else 'was'} removed"
    if result.left_behind:
        left = " and ".join(sorted(result.left_behind))
        said += f"; the temporary test {left} could not be removed (`pocctl down` removes it)"
    return said + "."


@click.command("test-order")
@aws_options
@click.option("--item", default=DEFAULT_ORDER["item"], show_default=True, help="The order's item.")
@click.option(
    "--customer", default=DEFAULT_ORDER["customerID"], show_default=True, help="The customer ID."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1, max=900),
    default=60,
    show_default=True,
    help="Seconds to wait for the order to be accepted, stored and notified. Within 2 minutes "
    "of `up` making the API's role, an order SQS refuses (IAM not yet showing the role to SQS; "
    "nothing was queued) is posted again meanwhile.",
)
@click.option(
    "--measure",
    is_flag=True,
    help="Once the order passed, measure what it cost in billed units (both functions' billed "
    "ms from their REPORT lines, a cold start's Init Duration apart, their log bytes, the "
    "stored item's size) and keep it for `pocctl cost` on this stack. Run it right after `up` "
    "(cold: measures the INIT phase) and once more (warm): a warm order keeps the INIT phase "
    "measured before.",
)
@json_flag("Print the result as one JSON document on stdout.")
def test_order(
    item: str, customer: str, timeout: float, measure: bool, as_json: bool, **kwargs: Any
) -> Finished:
    """Post an order and prove it is accepted, stored and notified.

    Each hop: accepted by the API, stored in DynamoDB, notified through SNS (caught on a
    temporary SQS queue subscribed to the topic, removed afterwards whatever happens). It prints
    each hop with its latency as it passes (and, between, which hop it waits for: `n s of 60 s`)
    and the email subscription's state. Exit status 0 only if every hop passed; otherwise it
    names the hop and what it found (mapping disabled, messages in a DLQ, the function's last
    error; only errors logged since the order was posted are quoted).

    It stops at once, without waiting out --timeout, when a hop cannot pass: the mapping it
    needs disabled or missing, this order in the dead-letter queue (other messages there don't
    stop it), a batch Lambda-2 gave up on since the order was posted with its error logged
    since. Ctrl-C prints the hops that passed and the one pending, removes the temporary queue
    and subscription (a second Ctrl-C waits for that), says what it removed and exits 130
    (--json: the hops so far and "interrupted").

    \b
    Examples:
      pocctl test-order
      pocctl test-order --item "mop" --customer 42 --json
      pocctl test-order --measure      (then `pocctl cost` uses this stack's figures)
    """
    flags = collect(kwargs)
    term = terminal(flags, as_json=as_json)
    ctx = make_context(flags, term, read_only=True)
    try:
        result = prove(term, ctx, {"item": item, "customerID": customer}, timeout, measure=measure)
    except TestOrderInterrupted as stopped:
        return interrupted(ctx, stopped.result)
    document = {**result.as_json(), "stack": ctx.config.stack, "region": ctx.config.region}
    failed = result.failed_hop
    if failed is not None:
        return Finished(
            document,
            PocctlError(
                f"The order did not get past '{failed.name}': {failed.detail}",
                failure_hint(ctx, result),
            ),
        )
    term.success(
        "Every hop passed: API -> queue -> Lambda-1 -> table -> stream -> Lambda-2 -> SNS."
    )
    if measure:
        tell_measured(term, result)
    return Finished(document)


def tell_measured(term: Terminal, result: SmokeResult) -> None:
    profile = result.profile
    if profile is None:
        term.warning(
            "Could not measure the order: both functions' REPORT lines did not reach CloudWatch "
            "Logs in time. Run `pocctl test-order --measure` again in a minute."
        )
        return
    term.info(
        f"Measured for `pocctl cost`: Lambda-1 {profile['writer_billed_ms']:g} ms and Lambda-2 "
        f"{profile['notifier_billed_ms']:g} ms billed, {profile['log_bytes']:,} log bytes, "
        f"an item of {profile['item_bytes']:,} bytes ({profile['write_units']} WRU); cold, "
        f"INIT adds {profile['writer_init_ms']:g} ms and {profile['notifier_init_ms']:g} ms; "
        f"measured {measured_through(profile['measured_where'])}."
    )
