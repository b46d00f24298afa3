"""pocctl copes with what Lambda refuses of a mapping: it waits out a mapping that is changing
(ResourceInUseException) and says so, and makes the queue's mapping with settings AWS accepts.

AWS's clock runs at full length, moved by pocctl's own pauses (as in test_silences).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.local.aws.timing import Timing
from pocctl.local.emulator import Emulator

from .emulated import local_context
from .test_aws_behaviours import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def aws_clock_emulator(clock: Clock) -> Iterator[Emulator]:
    with Emulator(port=0, timing=Timing(), clock=clock) as running:
        yield running


def run(emulator: Emulator, clock: Clock, *args: str, **env: str) -> Result:
    runtime = Runtime(sleep=clock.sleep, clock=clock)
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url, "NO_COLOR": "1", **env}
    return CliRunner().invoke(cli, list(args), obj=runtime, env=env)


def queue_mapping(emulator: Emulator, stack: str) -> dict[str, Any]:
    lam = local_context(emulator, stack).client("lambda")
    (mapping,) = lam.list_event_source_mappings(FunctionName=f"{stack}-Lambda-1")[
        "EventSourceMappings"
    ]
    return dict(mapping)


def change_by_hand(emulator: Emulator, stack: str) -> str:
    """Someone changes the queue's mapping in the console: it is Updating for a while."""
    lam = local_context(emulator, stack).client("lambda")
    uuid = queue_mapping(emulator, stack)["UUID"]
    assert lam.update_event_source_mapping(UUID=uuid, BatchSize=5)["State"] == "Updating"
    return str(uuid)


def waits_said(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("... waiting for")]


@pytest.mark.slow  # heavy (tests/cases.py)
def test_up_waits_for_a_mapping_changed_by_hand_to_finish_and_says_why(
    aws_clock_emulator: Emulator, clock: Clock
) -> None:
    assert run(aws_clock_emulator, clock, "up", "--stack", "busy").exit_code == 0
    uuid = change_by_hand(aws_clock_emulator, "busy")

    again = run(aws_clock_emulator, clock, "up", "--stack", "busy")

    assert again.exit_code == 0, again.output
    said = [line for line in waits_said(again) if uuid in line]
    assert said, again.output
    assert f"waiting for the mapping to busy-Lambda-1 ({uuid}) to finish its change" in said[0]
    assert "Lambda refuses to update a mapping while it is Creating, Updating" in said[0]
    mapping = queue_mapping(aws_clock_emulator, "busy")
    assert (mapping["State"], mapping["BatchSize"]) == ("Enabled", 10)


@pytest.mark.slow  # heavy (tests/cases.py)
def test_down_waits_for_a_mapping_changed_by_hand_to_finish_and_says_why(
    aws_clock_emulator: Emulator, clock: Clock
) -> None:
    assert run(aws_clock_emulator, clock, "up", "--stack", "gone").exit_code == 0
    uuid = change_by_hand(aws_clock_emulator, "gone")

    down = run(aws_clock_emulator, clock, "down", "--stack", "gone", "--yes")

    assert down.exit_code == 0, down.output
    said = [line for line in waits_said(down) if uuid in line]
    assert said, down.output
    assert "Lambda refuses to delete a mapping while it is Creating, Updating" in said[0]
    lam = local_context(aws_clock_emulator, "gone").client("lambda")
    left = lam.list_event_source_mappings()["EventSourceMappings"]
    assert [m["State"] for m in left] in ([], ["Deleting"], ["Deleting", "Deleting"])


def test_a_writer_timeout_over_the_default_visibility_timeout_gets_a_queue_lambda_accepts(
    aws_clock_emulator: Emulator, clock: Clock
) -> None:
    # Lambda refuses to map a queue whose visibility timeout is under the function's timeout;
    # pocctl gives the queue six times the writer's timeout (AWS's recommendation).
    done = run(aws_clock_emulator, clock, "up", "--stack", "slow", POCCTL_WRITER_TIMEOUT="120")

    assert done.exit_code == 0, done.output
    ctx = local_context(aws_clock_emulator, "slow")
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName="slow-Queue")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "720"
    function = ctx.client("lambda").get_function_configuration(FunctionName="slow-Lambda-1")
    assert function["Timeout"] == 120
    assert queue_mapping(aws_clock_emulator, "slow")["State"] == "Enabled"
