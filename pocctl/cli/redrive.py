"""`pocctl redrive`: orders from the dead-letter queue back to the order queue, then stored."""

from __future__ import annotations

from typing import Any

import click

from pocctl.cli.document import Finished, json_flag
from pocctl.cli.options import aws_options, collect, make_context, terminal
from pocctl.core.errors import PocctlError
from pocctl.ops.redrive import RedriveResult, plan_redrive, redrive


@click.command("redrive")
@aws_options
@click.option("--dry-run", is_flag=True, help="Say what would move; move nothing.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0, max=900),
    default=60,
    show_default=True,
    help="Seconds to wait, after the move, for the orders to be stored.",
)
@json_flag()
def redrive_command(dry_run: bool, wait: float, as_json: bool, **kwargs: Any) -> Finished:
    """Move the orders in the dead-letter queue back to the order queue, once Lambda-1 is fixed.

    An order lands in the dead-letter queue after Lambda-1 failed on it five times (`pocctl
    status` counts them and shows the last error). Fix the writer (`pocctl up`, or keep `pocctl
    up --watch` running), then redrive: pocctl starts SQS's own redrive (StartMessageMoveTask),
    waits for it, then for the orders to be stored, and reports both counts (an order already
    stored counts, and is not stored twice). Exit status 1 if some were not stored within
    --wait seconds.

    An error the writer logged before its last update (the fix) is not repeated: only one
    logged since, shown with the time it was logged (a fix `up` made outside the function, to
    its role or the table, does not move that update's time, so the error may predate it), and,
    when some are not stored, the one logged since the redrive started.

    \b
    Examples:
      pocctl redrive --dry-run
      pocctl redrive
      pocctl redrive --wait 120 --json | jq .stored
    """
    flags = collect(kwargs)
    term = terminal(flags, as_json=as_json)
    ctx = make_context(flags, term)
    plan = plan_redrive(ctx)
    document: dict[str, Any] = {"dry_run": dry_run, "plan": vars(plan).copy()}
    if plan.last_error:
        after = (
            f", after Lambda-1's last update ({plan.writer_updated})" if plan.writer_updated else ""
        )
        term.warning(
            f"Lambda-1's last error, logged at {plan.last_error_at}{after}: {plan.last_error}. "
            "If `pocctl up` fixed something else since (its role, the table), it may be past."
        )
    if plan.in_flight:
        term.note(
            f"{plan.in_flight} message(s) in {plan.dead_letter_queue} are in flight (received "
            "and not yet back); SQS moves only the visible ones."
        )
    if plan.already_stored:
        term.info(
            f"{plan.already_stored} of the {plan.waiting} order(s) are already stored (they failed "
            "after their row was written): Lambda-1 will not store them twice."
        )
    if not plan.waiting:
        term.success(f"Nothing to redrive: {plan.dead_letter_queue} holds no orders.")
        return Finished({**document, "moved": 0, "stored": 0})
    if dry_run:
        term.success(
            f"Dry run: would move {plan.waiting} order(s) from {plan.dead_letter_queue} to "
            f"{plan.queue}. Nothing was moved."
        )
        return Finished(document)
    with term.busy(f"Moving {plan.waiting} order(s) from {plan.dead_letter_queue} ..."):
        result = redrive(ctx, plan, wait=wait)
    document = {"dry_run": False, **result.as_json()}
    return Finished(document, report(term, result))


def report(term: Any, result: RedriveResult) -> PocctlError | None:
    plan = result.plan
    term.info(f"Moved {result.moved} order(s) from {plan.dead_letter_queue} to {plan.queue}.")
    if result.all_stored:
        term.success(f"{result.stored} order(s) stored in {result.waited:.1f}s.")
        return None
    missing = result.moved - result.stored
    where = []
    if result.still_queued:
        where.append(f"{result.still_queued} still in {plan.queue} (being retried)")
    if result.back_in_dead_letter_queue:
        where.append(f"{result.back_in_dead_letter_queue} back in {plan.dead_letter_queue}")
    since = (
        f"Lambda-1's last error since the redrive started: {result.error_since_start}\n"
        if result.error_since_start
        else "Lambda-1 logged no error since the redrive started. "
    )
    return PocctlError(
        f"{result.stored} of {result.moved} redriven order(s) stored after "
        f"{result.waited:.0f}s; {missing} not" + (f": {', '.join(where)}." if where else "."),
        since + "Is Lambda-1 still failing? See `pocctl logs --function 1` and `pocctl status`; "
        "orders that fail again return to the dead-letter queue for the next redrive.",
    )
