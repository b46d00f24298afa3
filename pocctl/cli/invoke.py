"""`pocctl invoke`: run one function once with an event, and show what it answered and logged."""

from __future__ import annotations

import json
from typing import IO, Any

import click

from pocctl.cli.document import Finished, json_flag
from pocctl.cli.options import aws_options, collect, make_context, terminal
from pocctl.core.errors import PocctlError
from pocctl.ops.invoke import (
    WRITER,
    Invoked,
    RecordOutcome,
    event_problem,
    full_log,
    function_name,
    invoke,
    outcomes,
    sample_event,
)


@click.command("invoke")
@click.argument("function", type=click.Choice(["1", "2"]))
@click.option(
    "--event",
    "event_file",
    type=click.File("r"),
    metavar="FILE|-",
    help="A JSON event file, or - to read it from stdin. Default: a sample like the real one.",
)
@aws_options
@json_flag()
def invoke_command(
    function: str, event_file: IO[str] | None, as_json: bool, **kwargs: Any
) -> Finished:
    """Run function 1 (the writer) or 2 (the notifier) once, as the console's Test button does:
    print what it returned and the tail of its log (`aws lambda invoke --log-type Tail`).
    Works offline too.

    Without --event, function 1 gets an SQS batch holding a sample order (it is stored in the
    table) and function 2 a DynamoDB INSERT of a sample row (its notification is published).
    It then says what became of each record (stored, notified, skipped or failed, and why),
    from the function's answer and its log tail (the log's last 4 KB) or, when a larger batch's
    first records fell out of it, the invocation's whole log in CloudWatch Logs (waited for up
    to 15 s). Exit status 1 if the function raised an error, a record was not processed (a
    batch item failure, an order the notifier could not render), or what became of a record
    could not be told; 2, before invoking, if the event is not shaped like the function's real
    source's (an SQS batch for 1, a DynamoDB Streams batch for 2), naming what is missing (see
    "Try a function alone" in the README).

    \b
    Examples:
      pocctl invoke 1
      pocctl invoke 2 --event row-event.json
      echo '{"Records": []}' | pocctl invoke 1 --event - --json
    """
    which = int(function)
    event = None
    if event_file is not None:
        try:
            event = json.load(event_file)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--event") from exc
        problem = event_problem(which, event)
        if problem is not None:
            raise click.BadParameter(
                f'{problem}. See README.md, "Try a function alone", for the shape.',
                param_hint="--event",
            )
    flags = collect(kwargs)
    term = terminal(flags, as_json=as_json)
    ctx = make_context(flags, term)
    if event is None:
        event = sample_event(ctx, which)
        what = "a sample SQS batch" if which == WRITER else "a sample DynamoDB INSERT"
    else:
        what = f"the event in {getattr(event_file, 'name', 'stdin')}"
    name = function_name(ctx, which)
    with term.busy(f"Invoking {name} with {what} ..."):
        done = invoke(ctx, name, event)
    term.info(f"{name} returned:")
    term.info(json.dumps(done.response, indent=2, ensure_ascii=False, default=str))
    if done.log_tail:
        term.info("Log tail:")
        for line in done.log_tail.rstrip("\n").splitlines():
            term.info(f"  {line}")
    records = outcomes(which, event, done)
    if any(r.outcome == "unknown" for r in records):
        # The tail is the log's last 4 KB: a larger batch's first records are cut out of it.
        with term.busy(f"Reading {name}'s whole log of this invocation ..."):
            log = full_log(ctx, done)
        if log is not None:
            records = outcomes(which, event, done, log)
    if records:
        term.info("Records:")
        for record in records:
            term.info(f"  {record}")
    document = {**done.as_json(), "records": [r.as_json() for r in records]}
    failure = _failure(name, which, done, records)
    if failure is not None:
        return Finished(document, failure)
    term.success(f"{name} succeeded: {_tally(records)}.")
    return Finished(document)


def _tally(records: list[RecordOutcome]) -> str:
    if not records:
        return "the event holds no records, so there was nothing to do"
    counts: dict[str, int] = {}
    for record in records:
        counts[record.outcome] = counts.get(record.outcome, 0) + 1
    return ", ".join(f"{n} {outcome}" for outcome, n in counts.items())


def _failure(
    name: str, which: int, done: Invoked, records: list[RecordOutcome]
) -> PocctlError | None:
    hint = f"See why in the log tail above, or `pocctl logs --function {which}`."
    if done.function_error is not None:
        return PocctlError(f"{name} failed: {done.response}", hint)
    failed = [r for r in records if r.failed]
    if failed:
        listed = "; ".join(str(r) for r in failed)
        return PocctlError(
            f"{name}: {len(failed)} of {len(records)} record(s) not processed: {listed}", hint
        )
    unknown = [r for r in records if r.outcome == "unknown"]
    if unknown:
        return PocctlError(
            f"{name}: could not tell what became of {len(unknown)} of {len(records)} "
            f"record(s) ({', '.join(r.record for r in unknown[:5])}"
            f"{', ...' if len(unknown) > 5 else ''}): its log says nothing of them, or had not "
            "reached CloudWatch Logs yet",
            f"Look again in a few minutes: `pocctl logs --function {which} --since 15m`.",
        )
    if done.failed_items:  # identifiers that name no record of the event
        return PocctlError(
            f"{name} reported {len(done.failed_items)} failed record(s): "
            + ", ".join(done.failed_items),
            hint,
        )
    return None
