"""`pocctl logs`: what the two functions printed, interleaved by time, optionally followed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import click

from pocctl.cli.failures import stopped_by_user
from pocctl.cli.options import aws_options, collect, make_context, runtime, terminal
from pocctl.core.context import Context
from pocctl.ops.logs import (
    SINCE_PATTERN,
    LogLine,
    containing,
    dated,
    functions_for,
    parse_since,
    read,
    read_once_arrived,
    silent,
)

FOLLOW_INTERVAL = 1.0  # seconds between polls with --follow
# CloudWatch Logs may receive a line well after it was written ("It may take 5 to 10 minutes for
# logs to show up after a function invocation": Lambda Developer Guide, "Sending Lambda function
# logs to CloudWatch Logs"), so a line can arrive after a newer one: --follow reads that far back
# each time and prints what it has not printed yet.
LATE_LINES_MS = 10 * 60 * 1000


@click.command()
@aws_options
@click.option(
    "--function",
    "which",
    type=click.Choice(["1", "2"]),
    help="Only Lambda-1 (stores orders) or Lambda-2 (notifies). Default: both.",
)
@click.option(
    "--since",
    default="10m",
    show_default=True,
    help="How far back to start: 30s, 10m, 2h, 1d, 1w, or a date and time: 2026-01-31T09:30 "
    "(UTC, as `aws logs tail` reads it) or with its zone, 2026-01-31T10:30+01:00.",
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option("--filter", "text", help="Only lines containing TEXT (ignoring case).")
def logs(which: str | None, since: str, follow: bool, text: str | None, **kwargs: Any) -> None:
    """Print the functions' CloudWatch log lines, both interleaved by time.

    Each line starts with its time, in local time (and its date, when a line is not from
    today), and the function that wrote it. Lines of the same millisecond keep CloudWatch's
    order (as ingested), so an invocation reads START ... END, REPORT. CloudWatch Logs receives
    a function's lines a little after it runs: when a function has no line in the window yet,
    it reads again every second for up to 15 s, until each has lines and two reads bring
    nothing new (so `pocctl logs` right after `test-order` shows that order's lines from both
    functions; a function that logged earlier in the window is not waited for). Only the lines
    go to stdout; progress and notes go to stderr. Works the same against `pocctl local`,
    where the functions' output is written to the emulator's CloudWatch Logs.

    \b
    Examples:
      pocctl logs
      pocctl logs --function 1 --since 1h --filter error
      pocctl logs --since 2026-01-31T09:30
      pocctl logs -f
    """
    flags = collect(kwargs)
    now = runtime().now()
    start_ms = parse_since(since, now)  # a bad value is a usage error before anything is read
    relative = SINCE_PATTERN.match(since.strip().lower())
    span = f"in the last {since}" if relative else f"since {since}"
    term = terminal(flags, to_stderr=True)  # progress and notes: stdout carries only the lines
    out = terminal(flags)
    ctx = make_context(flags, term)
    functions = functions_for(ctx, which)
    with term.busy(f"Reading lines {span} of {', '.join(functions)} ..."):
        everything = read(ctx, functions, start_ms, None)
    waited = bool(silent(functions, everything)) and not follow
    if waited:
        with term.showing_waits():
            everything = read_once_arrived(ctx, functions, start_ms, everything)
    lines = containing(everything, text)
    width = max(len(f) for f in functions)
    today = datetime.fromtimestamp(now).date()  # lines are shown in local time
    with_date = dated((line.timestamp for line in lines), today)
    for line in lines:
        out.log_line(line.timestamp, line.function, width, line.message, with_date=with_date)
    if not follow:
        if not lines:
            what = f" containing {text!r}" if text else ""
            term.info(
                f"No log lines{what} {span} from {', '.join(functions)}"
                + (", after waiting for late ones" if waited else "")
                + ". CloudWatch Logs can receive a function's lines minutes after it runs: "
                "`--follow` shows them as they arrive."
            )
        return
    term.info(f"Following {', '.join(functions)} (Ctrl-C to stop) ...")
    try:
        for fresh in followed(ctx, functions, start_ms, text, lines):
            with_date = with_date or dated((line.timestamp for line in fresh), today)
            for line in fresh:
                out.log_line(
                    line.timestamp, line.function, width, line.message, with_date=with_date
                )
    except KeyboardInterrupt:
        term.info("Stopped following.")
        raise stopped_by_user() from None


def followed(
    ctx: Context, functions: list[str], start_ms: int, text: str | None, shown: list[LogLine]
) -> Iterator[list[LogLine]]:
    """Every FOLLOW_INTERVAL, the lines not `shown` yet, until Ctrl-C. Its pauses are one loop
    of spans, not `keep_trying`: that one tells users what it waits for once a second has
    passed, and `--follow` said "Following ... (Ctrl-C to stop)"."""
    seen = {line.event_id for line in shown}
    newest = max((line.timestamp for line in shown), default=start_ms)
    with ctx.waiting() as following:
        while True:
            following.pause(FOLLOW_INTERVAL, said=True)
            fresh = [
                line
                for line in read(ctx, functions, max(start_ms, newest - LATE_LINES_MS), text)
                if line.event_id not in seen
            ]
            seen.update(line.event_id for line in fresh)
            newest = max((line.timestamp for line in fresh), default=newest)
            yield fresh
