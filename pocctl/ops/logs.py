"""`pocctl logs`: both functions' CloudWatch log lines, interleaved by time."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial

from botocore.exceptions import ClientError

from pocctl.core.aws import error_code, error_message, is_not_found, poll
from pocctl.core.config import Names
from pocctl.core.context import Context
from pocctl.core.errors import ConfigError, PocctlError, StepError

# As `aws logs tail --since` takes it (AWS CLI reference, logs tail): a number and one unit,
# or an ISO 8601 timestamp.
SINCE_PATTERN = re.compile(r"^(\d+)\s*([smhdw])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class LogLine:
    timestamp: int  # milliseconds since the epoch, as CloudWatch Logs gives it
    function: str
    message: str
    event_id: str
    ingestion_time: int = 0


def parse_since(text: str, now: float | None = None) -> int:
    """The start, in milliseconds since the epoch, of '30s', '10m', '2h', '1d', '1w' before
    `now`, or of an ISO 8601 date or time: UTC unless it names its zone, as `aws logs tail`
    reads it (aws-cli's TimestampUtils.to_epoch_millis: botocore's datetime2timestamp takes a
    naive time as UTC)."""
    now = time.time() if now is None else now
    found = SINCE_PATTERN.match(text.strip().lower())
    if found and int(found[1]) > 0:
        return int((now - int(found[1]) * UNIT_SECONDS[found[2]]) * 1000)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        moment = None
    if moment is None:
        raise ConfigError(
            f"Invalid --since {text!r}: use a positive number and a unit, e.g. 30s, 10m, 2h, 1d "
            "or 1w, or a date and time such as 2026-01-31T09:30 (UTC) or 2026-01-31T10:30+01:00."
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    start = moment.timestamp()
    if start > now:
        utc_now = datetime.fromtimestamp(now, UTC)
        raise ConfigError(
            f"Invalid --since {text!r}: it is in the future "
            f"(now is {utc_now.strftime('%Y-%m-%dT%H:%M:%SZ')}; a time without a zone is UTC)."
        )
    return int(start * 1000)


def dated(timestamps: Iterable[int], today: date) -> bool:
    """Whether times alone would mislead: a line not from today, or lines of several days."""
    days = {datetime.fromtimestamp(ms / 1000).date() for ms in timestamps}
    return bool(days - {today})


def functions_for(ctx: Context, which: str | None) -> list[str]:
    n = ctx.config.names
    return {"1": [n.writer_function], "2": [n.notifier_function]}.get(
        which or "", [n.writer_function, n.notifier_function]
    )


def _events(ctx: Context, function: str, start_ms: int) -> Iterable[LogLine]:
    logs = ctx.client("logs")
    group = Names.log_group(function)
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=start_ms)
    try:
        for page in pages:
            for event in page["events"]:
                yield LogLine(
                    event["timestamp"],
                    function,
                    event["message"].rstrip("\n"),
                    event["eventId"],
                    event.get("ingestionTime", 0),
                )
    except ClientError as exc:
        if is_not_found(exc):
            raise PocctlError(
                f"No log group {group} in {ctx.config.region}: is stack {ctx.config.stack} "
                "deployed here?",
                "Run `pocctl up`, or check --stack and --region (see `pocctl status`).",
            ) from exc
        if error_code(exc) in THROTTLED:
            raise PocctlError(
                f"CloudWatch Logs is throttling reads of {group}: FilterLogEvents allows 5 calls "
                "a second per account and Region, shared with every other reader.",
                "Run the command again in a few seconds.",
            ) from exc
        raise PocctlError(
            f"Could not read {group} ({error_code(exc)}): {error_message(exc)}",
            "Your credentials need logs:FilterLogEvents on the function's log group.",
        ) from exc


# What CloudWatch Logs answers once botocore's own retries are spent ("you receive a
# RequestLimitExceeded or ThrottlingException error": "How do I determine throttling in my
# CloudWatch logs?", AWS Knowledge Center).
THROTTLED = frozenset({"ThrottlingException", "RequestLimitExceeded"})


def _all(ctx: Context, function: str, start_ms: int) -> list[LogLine]:
    return list(_events(ctx, function, start_ms))


def read(ctx: Context, functions: list[str], start_ms: int, text: str | None) -> list[LogLine]:
    """Every line since `start_ms` from each function, oldest first; `text` keeps only lines
    containing it (ignoring case). Lines of equal time keep CloudWatch's order: by when they
    were ingested, then in the order they were put (FilterLogEvents "sorted by event timestamp,
    the timestamp when the event was ingested by CloudWatch Logs, and the ID of the
    PutLogEvents request": CloudWatch Logs API reference), as a sort that is stable keeps the
    order each group was read in. Event ids are opaque: moto's count up, so '10' < '9'."""
    per_function = ctx.together(*(partial(_all, ctx, f, start_ms) for f in functions))
    lines = [line for found in per_function for line in found]
    ordered = sorted(lines, key=lambda line: (line.timestamp, line.ingestion_time))
    return containing(ordered, text)


def containing(lines: list[LogLine], text: str | None) -> list[LogLine]:
    """The lines containing `text`, ignoring case (all of them without one)."""
    if not text:
        return lines
    needle = text.lower()
    return [line for line in lines if needle in line.message.lower()]


# Lambda Developer Guide, "Sending Lambda function logs to CloudWatch Logs": "It may take 5 to
# 10 minutes for logs to show up after a function invocation." They mostly come within seconds;
# pocctl waits this long for lines it knows are coming, then says it could not tell rather than
# guess.
LATE_LOG_WAIT_SECONDS = 15
# Between reads while waiting: FilterLogEvents allows 5 calls a second per account and Region
# ("How do I determine throttling in my CloudWatch logs?", AWS Knowledge Center), and each read
# asks once per function.
LATE_LOG_INTERVAL = 1.0
# Once lines have come, how many reads in a row must find nothing new: the notifier runs after
# the writer (a stream hop later), so its lines come after the writer's.
QUIET_READS = 2


def silent(functions: list[str], lines: list[LogLine]) -> list[str]:
    """The functions without a line among `lines`."""
    heard = {line.function for line in lines}
    return [f for f in functions if f not in heard]


def read_once_arrived(
    ctx: Context, functions: list[str], start_ms: int, found: list[LogLine]
) -> list[LogLine]:
    """What `read` finds, when some of `functions` had no line in what it `found` at first: the
    lines of a function that ran a moment ago (say, for the order `test-order` just posted)
    reach CloudWatch Logs a little later, each function's at its own moment, and "no lines"
    would then mislead. Reads again every second for up to LATE_LOG_WAIT_SECONDS, until every
    function has lines and QUIET_READS reads in a row bring no more."""
    quiet, began = 0, False
    deadline = ctx.clock() + LATE_LOG_WAIT_SECONDS  # reads take time too

    def settled() -> bool:
        nonlocal found, quiet, began
        if not began:  # the caller has just read: pause before reading again
            began = True
            return False
        lines = read(ctx, functions, start_ms, None)
        quiet = quiet + 1 if len(lines) == len(found) else 0
        found = lines
        heard_all = not silent(functions, lines)
        return (heard_all and quiet >= QUIET_READS) or ctx.clock() >= deadline

    waiting_for = ", ".join(silent(functions, found))
    with suppress(StepError):
        poll(
            ctx,
            settled,
            what=f"{waiting_for}'s log lines",
            step="logs",
            timeout=LATE_LOG_WAIT_SECONDS,
            first=LATE_LOG_INTERVAL,
            cap=LATE_LOG_INTERVAL,
            why="CloudWatch Logs receives a function's lines a little after it ran",
            limit=LATE_LOG_WAIT_SECONDS,
        )
    return found
