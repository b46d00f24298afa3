"""What `up` says of AWS's waits, on AWS's clock at full length moved by pocctl's own pauses (a
module of its own: its emulators, one a test, would wipe test_silences.py's shared one)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.local.aws.timing import Timing
from pocctl.local.emulator import Emulator

from . import test_silences
from .test_aws_behaviours import Clock
from .test_silences import AWS_FIGURE

clock = test_silences.clock


@pytest.fixture
def aws_clock_emulator(clock: Clock) -> Iterator[Emulator]:
    """AWS's clock at full length, moved by pocctl's own pauses: SQS's 60 s take no time."""
    with Emulator(port=0, timing=Timing(), clock=clock) as running:
        yield running


@pytest.mark.slow
def test_up_right_after_down_says_it_waits_for_the_queue_names_and_why(
    aws_clock_emulator: Emulator, clock: Clock
) -> None:
    runtime = Runtime(sleep=clock.sleep, clock=clock)
    env = {"AWS_ENDPOINT_URL": aws_clock_emulator.endpoint_url, "NO_COLOR": "1"}
    runner = CliRunner()
    for args in (["up"], ["down", "--yes"]):
        done = runner.invoke(cli, [*args, "--stack", "sil"], obj=runtime, env=env)
        assert done.exit_code == 0, done.output

    again = runner.invoke(cli, ["up", "--stack", "sil"], obj=runtime, env=env)

    assert again.exit_code == 0, again.output
    lines = again.output.splitlines()
    said = [i for i, line in enumerate(lines) if "waiting for sil-Queue-DLQ's name" in line]
    created = lines.index(next(line for line in lines if "SQS queue sil-Queue-DLQ" in line))
    assert said and said[0] < created, again.output
    assert re.fullmatch(
        r"\.\.\. waiting for sil-Queue-DLQ's name "
        r"\(about \d+ s left; refused (?:once|\d+ times) so far\): "
        r"SQS keeps a deleted "
        r"queue's name for 60 s \(QueueDeletedRecently\)",
        lines[said[0]],
    ), lines[said[0]]
    # Off a terminal, not a line per poll: one about every 10 s of the minute.
    assert 2 <= len(said) <= 7, again.output
    lefts = [int(left) for i in said for left in re.findall(r"about (\d+) s left", lines[i])]
    assert lefts == sorted(lefts, reverse=True)  # past the minute: "n s so far"


def test_every_wait_of_an_up_says_how_long_aws_takes_or_that_aws_gives_no_figure(
    aws_clock_emulator: Emulator, clock: Clock
) -> None:
    runtime = Runtime(sleep=clock.sleep, clock=clock)
    env = {"AWS_ENDPOINT_URL": aws_clock_emulator.endpoint_url, "NO_COLOR": "1"}
    done = CliRunner().invoke(cli, ["up", "--stack", "fig"], obj=runtime, env=env)

    assert done.exit_code == 0, done.output
    said = [line for line in done.output.splitlines() if line.startswith("... waiting for")]
    assert said, done.output
    assert [line for line in said if not AWS_FIGURE.search(line.split("): ", 1)[1])] == []


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_second_up_says_no_wait(aws_clock_emulator: Emulator, clock: Clock) -> None:
    runtime = Runtime(sleep=clock.sleep, clock=clock)
    env = {"AWS_ENDPOINT_URL": aws_clock_emulator.endpoint_url, "NO_COLOR": "1"}
    runner = CliRunner()
    assert runner.invoke(cli, ["up", "--stack", "calm"], obj=runtime, env=env).exit_code == 0
    clock.advance("iam_propagation")
    again = runner.invoke(cli, ["up", "--stack", "calm"], obj=runtime, env=env)
    assert again.exit_code == 0, again.output
    assert "waiting for" not in again.output
