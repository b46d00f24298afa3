"""`pocctl logs`: both functions' lines, interleaved by time, filtered, followed."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.core.session import new_session

from .faults import FailCalls, runtime_with


@pytest.fixture
def deployed_logs(runner: CliRunner, aws: None) -> Any:
    assert runner.invoke(cli, ["up"]).exit_code == 0
    return new_session(region_name="us-east-1").client("logs")


def put(logs: Any, function: str, seconds_ago: float, message: str) -> None:
    group = f"/aws/lambda/{function}"
    stream = f"stream-{message[:8]}-{seconds_ago}"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": int((time.time() - seconds_ago) * 1000), "message": message}],
    )


def message_lines(output: str) -> list[tuple[str, str]]:
    """(function, message) of each log line printed (the line's date comes first when a line is
    not from today: run just after midnight, an hour ago was yesterday)."""
    found = []
    for line in output.splitlines():
        if " | " in line:
            head, message = line.split(" | ", 1)
            found.append((head.split()[-1], message))
    return found


def test_both_functions_interleaved_by_time_with_a_prefix(
    runner: CliRunner, deployed_logs: Any
) -> None:
    put(deployed_logs, "POC-Lambda-1", 30, "stored A")
    put(deployed_logs, "POC-Lambda-2", 20, "notified A")
    put(deployed_logs, "POC-Lambda-1", 10, "stored B")
    put(deployed_logs, "POC-Lambda-2", 5, "notified B")
    put(deployed_logs, "POC-Lambda-1", 3600, "an hour ago")
    result = runner.invoke(cli, ["logs"])
    assert result.exit_code == 0, result.output
    assert message_lines(result.output) == [
        ("POC-Lambda-1", "stored A"),
        ("POC-Lambda-2", "notified A"),
        ("POC-Lambda-1", "stored B"),
        ("POC-Lambda-2", "notified B"),
    ]
    assert all(line[2] == ":" for line in result.output.splitlines())  # HH:MM:SS.mmm first

    only_two = runner.invoke(cli, ["logs", "--function", "2"])
    assert message_lines(only_two.output) == [
        ("POC-Lambda-2", "notified A"),
        ("POC-Lambda-2", "notified B"),
    ]
    filtered = runner.invoke(cli, ["logs", "--filter", "NOTIFIED B"])
    assert message_lines(filtered.output) == [("POC-Lambda-2", "notified B")]
    older = runner.invoke(cli, ["logs", "--since", "2h", "--function", "1"])
    assert message_lines(older.output)[0] == ("POC-Lambda-1", "an hour ago")


def counting_reads(reads: list[int]) -> Callable[[boto3.Session], None]:
    """Count FilterLogEvents calls (one per function per read) into `reads[0]`."""

    def count(**_: Any) -> None:
        reads[0] += 1

    return lambda session: session.events.register("before-call.*.FilterLogEvents", count)


def test_nothing_to_show_says_so_after_waiting_for_late_lines(
    runner: CliRunner, deployed_logs: Any
) -> None:
    pauses: list[float] = []
    reads = [0]
    read_before_pause: list[int] = []

    def sleep(seconds: float) -> None:
        read_before_pause.append(reads[0])
        pauses.append(seconds)

    args = ["logs", "--since", "30s"]
    result = runner.invoke(cli, args, obj=runtime_with(counting_reads(reads), sleep=sleep))
    assert result.exit_code == 0
    assert result.stdout == ""  # stdout carries log lines only: scripts pipe it
    assert result.stderr.endswith(
        "No log lines in the last 30s from POC-Lambda-1, POC-Lambda-2, after waiting for late "
        "ones. CloudWatch Logs can receive a function's lines minutes after it runs: "
        "`--follow` shows them as they arrive.\n"
    )
    assert "waiting for POC-Lambda-1, POC-Lambda-2's log lines (0 s of 15 s)" in result.stderr
    # read again once a second (FilterLogEvents allows 5 calls a second per account), 15 s long,
    # and not at once after the first read
    assert pauses == [1.0] * 15
    assert read_before_pause[:2] == [2, 4]


def test_lines_that_arrive_late_are_waited_for_from_both_functions(
    runner: CliRunner, deployed_logs: Any
) -> None:
    # Right after `test-order` the functions have run but CloudWatch Logs may not have their
    # lines yet (the README's first session runs `pocctl logs` next, and once printed nothing);
    # each function's come at their own moment.
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:
            put(deployed_logs, "POC-Lambda-1", 1, "order_stored late")
        if len(pauses) == 4:
            put(deployed_logs, "POC-Lambda-2", 0, "order_notified later")

    result = runner.invoke(cli, ["logs"], obj=Runtime(sleep=sleep))
    assert result.exit_code == 0, result.output
    assert message_lines(result.stdout) == [
        ("POC-Lambda-1", "order_stored late"),
        ("POC-Lambda-2", "order_notified later"),
    ]
    assert "No log lines" not in result.output
    assert len(pauses) == 6  # once both had lines, two reads in a row brought nothing new


def test_a_function_without_lines_yet_is_waited_for(runner: CliRunner, deployed_logs: Any) -> None:
    put(deployed_logs, "POC-Lambda-1", 2, "order_stored A")  # the writer's came at once
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            put(deployed_logs, "POC-Lambda-2", 0, "order_notified A")

    result = runner.invoke(cli, ["logs"], obj=Runtime(sleep=sleep))
    assert result.exit_code == 0, result.output
    assert message_lines(result.stdout) == [
        ("POC-Lambda-1", "order_stored A"),
        ("POC-Lambda-2", "order_notified A"),
    ]
    assert len(pauses) == 4


def test_a_filter_that_matches_nothing_does_not_wait_when_lines_are_there(
    runner: CliRunner, deployed_logs: Any
) -> None:
    put(deployed_logs, "POC-Lambda-1", 5, "order_stored A")
    put(deployed_logs, "POC-Lambda-2", 4, "order_notified A")
    pauses: list[float] = []
    args = ["logs", "--since", "1m", "--filter", "error"]
    result = runner.invoke(cli, args, obj=Runtime(sleep=pauses.append))
    assert result.exit_code == 0
    assert result.output == (
        "No log lines containing 'error' in the last 1m from POC-Lambda-1, POC-Lambda-2. "
        "CloudWatch Logs can receive a function's lines minutes after it runs: `--follow` "
        "shows them as they arrive.\n"
    )
    assert pauses == []


def test_throttled_reads_say_so(runner: CliRunner, deployed_logs: Any) -> None:
    # FailCalls answers before botocore sends, so its own retries of a throttle are skipped:
    # this is what a user sees once they are spent.
    throttle = partial(
        FailCalls,
        operation="FilterLogEvents",
        code="ThrottlingException",
        message="Rate exceeded",
        times=10,
    )
    result = runner.invoke(cli, ["logs"], obj=runtime_with(throttle))
    assert result.exit_code == 1
    assert "CloudWatch Logs is throttling reads of /aws/lambda/POC-Lambda-" in result.output
    assert "Run the command again in a few seconds." in result.output
    assert "Traceback" not in result.output


def test_follow_prints_new_lines_until_ctrl_c(runner: CliRunner, deployed_logs: Any) -> None:
    put(deployed_logs, "POC-Lambda-1", 5, "before")
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 1:
            put(deployed_logs, "POC-Lambda-2", 0, "arrived while following")
        elif len(polls) == 3:
            raise KeyboardInterrupt

    result = runner.invoke(cli, ["logs", "--follow"], obj=Runtime(sleep=sleep))
    assert result.exit_code == 130, result.output  # interrupted, as the README says
    assert message_lines(result.output) == [
        ("POC-Lambda-1", "before"),
        ("POC-Lambda-2", "arrived while following"),  # once, though polled again after it
    ]
    assert result.output.rstrip().endswith("Stopped following.")  # and no "Error:" after it


@pytest.mark.parametrize("since", ["10", "ten minutes", "0m", "5y"])
def test_a_bad_since_is_a_usage_error(runner: CliRunner, since: str) -> None:
    result = runner.invoke(cli, ["logs", "--since", since])
    assert result.exit_code == 2
    assert f"Invalid --since {since!r}: use a positive number and a unit" in result.output


def test_logs_of_a_stack_that_is_not_deployed(runner: CliRunner, aws: None) -> None:
    pauses: list[float] = []
    result = runner.invoke(cli, ["logs", "--stack", "ghost"], obj=Runtime(sleep=pauses.append))
    assert result.exit_code == 1
    assert pauses == []  # no lines to wait for: it says so at once
    assert "No log group /aws/lambda/ghost-Lambda-1 in us-east-1" in result.output
    assert "Traceback" not in result.output


def put_batch(logs: Any, function: str, when_ms: int, messages: list[str], stream: str) -> None:
    group = f"/aws/lambda/{function}"
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    events = [{"timestamp": when_ms, "message": message} for message in messages]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def test_lines_of_one_time_keep_each_invocations_order(
    runner: CliRunner, deployed_logs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 21, item 11: offline, END and REPORT came before START. moto numbers events from one
    # counter, as strings: from just below a power of ten, '100' sorts before '98'.
    monkeypatch.setattr("moto.logs.models.LogEvent._event_id", 98)
    now_ms = int(time.time() * 1000) - 2000
    for n in range(2):
        lines = [f"START {n}", f"order_stored {n}", f"END {n}", f"REPORT {n}"]
        put_batch(deployed_logs, "POC-Lambda-1", now_ms + n, lines, "2026/12/02/[$LATEST]w1")
    put_batch(deployed_logs, "POC-Lambda-1", now_ms, ["late line of 0"], "2026/12/02/[$LATEST]w2")
    result = runner.invoke(cli, ["logs", "--function", "1"])
    assert result.exit_code == 0, result.output
    assert [message for _, message in message_lines(result.output)] == [
        "START 0",
        "order_stored 0",
        "END 0",
        "REPORT 0",
        "late line of 0",  # same time, ingested later
        "START 1",
        "order_stored 1",
        "END 1",
        "REPORT 1",
    ]


def put_at(logs: Any, function: str, at: float, message: str) -> None:
    put(logs, function, time.time() - at, message)


def test_lines_not_from_today_carry_their_date(runner: CliRunner, deployed_logs: Any) -> None:
    # The clock is the last local noon (at most a day ago), so "just now" is today at any hour
    # the test runs (it failed in the seconds after midnight).
    real = time.time()
    noon = datetime.fromtimestamp(real).replace(hour=12, minute=0, second=0, microsecond=0)
    now = noon.timestamp() if noon.timestamp() <= real else noon.timestamp() - 86400
    clock = Runtime(now=lambda: now)
    put_at(deployed_logs, "POC-Lambda-1", now - 2 * 86400, "two days ago")
    put_at(deployed_logs, "POC-Lambda-1", now - 5, "just now")
    two_days_ago = datetime.fromtimestamp(now - 2 * 86400).strftime("%Y-%m-%d")
    result = runner.invoke(cli, ["logs", "--since", "3d", "--function", "1"], obj=clock)
    assert result.exit_code == 0, result.output
    shown = [line for line in result.output.splitlines() if " | " in line]
    assert shown[0].startswith(f"{two_days_ago} ") and shown[0].endswith("| two days ago")
    today = datetime.fromtimestamp(now).strftime("%Y-%m-%d")
    assert shown[1].startswith(f"{today} ") and shown[1].endswith("| just now")
    recent = runner.invoke(cli, ["logs", "--since", "1m", "--function", "1"], obj=clock)
    assert [line[2] for line in recent.output.splitlines()] == [":"]  # today's: time only


def test_since_takes_a_date_and_time(
    runner: CliRunner, deployed_logs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As `aws logs tail --since` reads it (aws-cli, TimestampUtils.to_epoch_millis, through
    # botocore's datetime2timestamp): a time without a zone is UTC, whatever the local zone.
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        put(deployed_logs, "POC-Lambda-1", 3 * 3600, "three hours ago")
        put(deployed_logs, "POC-Lambda-1", 1 * 3600, "an hour ago")
        two_hours_ago = datetime.fromtimestamp(time.time() - 2 * 3600, UTC)
        naive = two_hours_ago.strftime("%Y-%m-%dT%H:%M:%S")
        in_utc = naive + "Z"
        offset = two_hours_ago.astimezone().isoformat(timespec="seconds")  # -05:00 or -04:00
        for since in (naive, in_utc, offset):
            result = runner.invoke(cli, ["logs", "--since", since, "--function", "1"])
            assert result.exit_code == 0, result.output
            assert [m for _, m in message_lines(result.output)] == ["an hour ago"], since
        empty = runner.invoke(
            cli,
            ["logs", "--since", in_utc, "--filter", "nothing"],
            obj=Runtime(sleep=lambda _: None),
        )
        assert f"No log lines containing 'nothing' since {in_utc} from" in empty.output
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("since", ["2026-13-01", "yesterday", "2999-01-01T00:00"])
def test_a_bad_or_future_date_is_a_usage_error(runner: CliRunner, since: str) -> None:
    result = runner.invoke(cli, ["logs", "--since", since])
    assert result.exit_code == 2, result.output
    assert f"Invalid --since {since!r}" in result.output and "Traceback" not in result.output
