"""Issue 21, item 9: each hint fits its problem. Orders in the DLQ -> fix the writer, its logs,
then redrive; a code bug -> logs and invoke; an order the API rejected -> what it rejected; a
stack that is not there -> `pocctl up`, with nothing else said first; a problem counted once.
Offline, from the user's side: what the commands print and their exit codes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.local.emulator import Emulator

from .emulated import local_context, until_mapping_is
from .faults import runtime_with

Pocctl = Callable[..., Result]
REPAIR = "Run `pocctl up` to repair what is missing or drifted."
HINT_ENABLE = "`pocctl up` enables the event source mapping off-Queue -> off-Lambda-1 again."


@pytest.fixture
def pocctl(emulator: Emulator, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> Pocctl:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)

    def run(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return run


def text(result: Result) -> str:
    return " ".join(result.output.split())


def test_a_stack_that_is_not_there_is_only_said_to_be_missing(pocctl: Pocctl) -> None:
    status = pocctl("status", "--stack", "ghost")
    assert status.exit_code == 1
    assert status.output == (
        "Error: Stack ghost is not deployed in us-east-1: none of its resources exist.\n"
        "Run `pocctl up`, or check --stack and --region (see `pocctl config`).\n"
    )
    document = json.loads(pocctl("status", "--stack", "ghost", "--json").stdout)
    assert document["warnings"] == []
    assert {r["state"] for r in document["resources"].values()} == {"missing"}


def test_dead_letters_get_the_writers_fix_and_a_redrive_not_up(
    pocctl: Pocctl, emulator: Emulator
) -> None:
    assert pocctl("up", "--stack", "dead").exit_code == 0
    sqs = local_context(emulator, "dead").client("sqs")
    dlq = sqs.get_queue_url(QueueName="dead-Queue-DLQ")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody='{"item": "poison"}')

    status = pocctl("status", "--stack", "dead")
    assert status.exit_code == 1
    assert "1 problem(s)" in status.output
    assert status.output.rstrip().endswith(
        "Fix the writer: `pocctl logs --function 1 -f` shows why it fails (`pocctl invoke 1` "
        "runs it once); deploy the fix with `pocctl up`, then `pocctl redrive` sends the "
        "dead-lettered orders back."
    )
    assert REPAIR not in status.output


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_disabled_mapping_is_one_problem(pocctl: Pocctl, emulator: Emulator) -> None:
    assert pocctl("up", "--stack", "off").exit_code == 0
    lam = local_context(emulator, "off").client("lambda")
    (mapping,) = lam.list_event_source_mappings(FunctionName="off-Lambda-1")["EventSourceMappings"]
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    until_mapping_is(lam, mapping["UUID"], "Disabled")  # Disabling first, which a status names

    status = pocctl("status", "--stack", "off", "--json")
    assert status.exit_code == 1
    document = json.loads(status.stdout)
    assert document["problems"] == [
        "event source mapping off-Queue -> off-Lambda-1 is Disabled: nothing flows through it"
    ]
    assert "Stack off in us-east-1: 1 problem(s)" in status.stderr
    assert document["hints"] == [HINT_ENABLE]
    plain = pocctl("status", "--stack", "off")
    assert plain.exit_code == 1
    assert text(plain).count(HINT_ENABLE) == 1
    assert text(plain).count("`pocctl up`") == 1, plain.output


@pytest.fixture
def broken_writer(pocctl: Pocctl, tmp_path: Path) -> Iterator[None]:
    """The stack `bug`, its writer raising on every order."""
    assert pocctl("init", "--handlers").exit_code == 0
    writer = tmp_path / "handlers" / "order_writer.py"
    code = writer.read_text()
    marker = "    order_id, received, order = unpack(record)\n"
    writer.write_text(code.replace(marker, marker + '    raise RuntimeError("oops")\n'))
    assert pocctl("up", "--stack", "bug").exit_code == 0
    yield


# test-order waits out its timeout on a failing writer (SQS may still deliver the order): long
# enough for the writer to fail once and its log lines to arrive, on a busy machine too.
FAILING_WRITER_TIMEOUT = "10"


def test_a_code_bug_gets_logs_and_invoke(pocctl: Pocctl, broken_writer: None) -> None:
    order = pocctl("test-order", "--stack", "bug", "--timeout", FAILING_WRITER_TIMEOUT)
    assert order.exit_code == 1
    assert "The order did not get past 'stored'" in order.output
    assert "oops" in order.output
    assert (
        "Lambda-1 fails on orders: `pocctl logs --function 1` shows why, `pocctl invoke 1` runs "
        "it once with a sample order." in text(order)
    )
    assert "pocctl up` to repair" not in order.output


@pytest.mark.slow  # heavy (tests/cases.py)
def test_after_the_fix_a_slow_order_does_not_quote_the_old_error(
    pocctl: Pocctl, broken_writer: None, emulator: Emulator, tmp_path: Path
) -> None:
    assert (
        "oops" in pocctl("test-order", "--stack", "bug", "--timeout", FAILING_WRITER_TIMEOUT).output
    )
    (tmp_path / "handlers").rename(tmp_path / "broken")
    assert pocctl("init", "--handlers").exit_code == 0  # the writer as it was: fixed
    assert pocctl("up", "--stack", "bug").exit_code == 0

    def the_row_never_shows(session: Any) -> None:
        def empty(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            return AWSResponse("https://fault.invalid", 200, {}, None), {}

        session.events.register("before-call.dynamodb.GetItem", empty)

    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    args = ["test-order", "--stack", "bug", "--timeout", "2"]
    order = CliRunner().invoke(cli, args, obj=runtime_with(the_row_never_shows), env=env)

    assert order.exit_code == 1, order.output
    assert "The order did not get past 'stored': not in the table in time" in order.output
    assert "oops" not in order.output
    assert "Lambda-1 fails on orders" not in order.output
    assert "Nothing failed yet: bug-Lambda-1 may still be working on it." in text(order)


def test_an_order_the_api_rejects_gets_what_it_rejected(pocctl: Pocctl) -> None:
    assert pocctl("up", "--stack", "reject").exit_code == 0
    order = pocctl("test-order", "--stack", "reject", "--item", "")
    assert order.exit_code == 1
    assert "The order did not get past 'accepted': HTTP 400" in order.output
    assert "Invalid order" in order.output
    assert (
        "The API rejected this order (HTTP 400): its answer above says what. Nothing needs "
        "repairing" in text(order)
    )
    assert "to repair" not in order.output


@pytest.mark.slow  # heavy (tests/cases.py)
@pytest.mark.parametrize("answers", ["all", "url"])
def test_redrive_right_after_down_says_the_queue_is_gone(
    pocctl: Pocctl, emulator: Emulator, answers: str
) -> None:
    stack = f"gone-{answers}"
    assert pocctl("up", "--stack", stack).exit_code == 0
    emulator.aws.sqs.deleted_queue_answers = answers
    try:
        assert pocctl("down", "--stack", stack, "--yes").exit_code == 0
        redrive = pocctl("redrive", "--stack", stack)
    finally:
        emulator.aws.sqs.deleted_queue_answers = "all"
    assert redrive.exit_code == 1
    assert "NonExistentQueue" not in redrive.output
    # Whichever of its queues it reads first, once that queue's last minute is over or not.
    assert re.search(f"Stack {stack} has no {stack}-Queue(-DLQ)? in us-east-1", redrive.output)
    assert "Run `pocctl up` first" in redrive.output
