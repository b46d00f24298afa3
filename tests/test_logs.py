"""`pocctl logs`: both functions' lines, interleaved by time, filtered, followed."""

from __future__ import annotations

import time
from typing import Any

import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.context import new_session


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
    """(function, message) of each log line printed."""
    found = []
    for line in output.splitlines():
        if " | " in line:
            head, message = line.split(" | ", 1)
            found.append((head.split()[1], message))
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


def test_nothing_to_show_says_so(runner: CliRunner, deployed_logs: Any) -> None:
    result = runner.invoke(cli, ["logs", "--since", "30s", "--filter", "error"])
    assert result.exit_code == 0
    assert result.output == (
        "No log lines containing 'error' in the last 30s from POC-Lambda-1, POC-Lambda-2.\n"
    )


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
    result = runner.invoke(cli, ["logs", "--stack", "ghost"])
    assert result.exit_code == 1
    assert "No log group /aws/lambda/ghost-Lambda-1 in us-east-1" in result.output
    assert "Traceback" not in result.output
