"""Long silences (issue 21, item 4): every wait over about a second says what it waits for, why,
and roughly how long AWS takes; `test-order` shows each hop as it passes, stops early when a hop
cannot pass, and keeps what passed on Ctrl-C."""

from __future__ import annotations

import io
import json
import re
import time
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from click.testing import CliRunner, Result
from rich.console import Console

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.cli.ui import Terminal
from pocctl.core.aws import poll
from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.reporting import Outcome, StepResult, Wait, Why
from pocctl.local.emulator import Emulator

from .emulated import up_local
from .faults import raising, runtime_with
from .test_aws_behaviours import Clock
from .test_local import inboxes_left

# What AWS says it takes ("60 s", "5-10 s", "a few seconds, says AWS"), or that it says nothing.
AWS_FIGURE = re.compile(r"\d+(-\d+)? s\b|says AWS|AWS gives no figure")


@pytest.fixture
def clock() -> Clock:
    return Clock()


# -- test-order ---------------------------------------------------------------------------------


def disable_mapping(ctx: Context, emulator: Emulator, function: str) -> None:
    lam = ctx.client("lambda")
    (mapping,) = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    emulator.reconciled()  # its poller has stopped


def order_test(emulator: Emulator, stack: str, *more: str, runtime: Any = None) -> Result:
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url, "NO_COLOR": "1"}
    args = ["test-order", "--stack", stack, *more]
    return CliRunner().invoke(cli, args, obj=runtime or Runtime(), env=env)


def hop_lines(output: str) -> list[str]:
    return [line.split()[1] for line in output.splitlines() if line[:2] in ("✓ ", "x ")]


@pytest.mark.parametrize(
    ("function", "passed", "stuck"),
    [("Lambda-2", ["accepted", "stored"], "notified"), ("Lambda-1", ["accepted"], "stored")],
)
def test_test_order_stops_as_soon_as_a_mapping_it_needs_is_disabled(
    emulator: Emulator, function: str, passed: list[str], stuck: str
) -> None:
    stack = f"stop{function[-1]}"
    ctx = up_local(emulator, stack)
    disable_mapping(ctx, emulator, f"{stack}-{function}")

    started = time.monotonic()
    result = order_test(emulator, stack, "--timeout", "60")
    took = time.monotonic() - started  # the clock test-order itself reads (Runtime's)

    assert result.exit_code == 1, result.output
    assert took < 20, result.output  # not the 60 s timeout: it knew the hop could not pass
    assert hop_lines(result.output) == [*passed, stuck]
    assert (
        f"Error: The order did not get past '{stuck}': stopped early: mapping to "
        f"{stack}-{function} is Disabled"
    ) in result.output


def test_test_order_shows_each_hop_as_it_passes_and_keeps_them_on_ctrl_c(
    emulator: Emulator,
) -> None:
    ctx = up_local(emulator, "ctrlc2")

    def interrupt_the_wait_for_the_row(session: Any) -> None:
        session.events.register("before-call.dynamodb.GetItem", raising(KeyboardInterrupt()))

    runtime = runtime_with(interrupt_the_wait_for_the_row)
    result = order_test(emulator, "ctrlc2", runtime=runtime)

    assert result.exit_code == 130, result.output
    assert hop_lines(result.output) == ["accepted"]
    assert (
        "Error: Interrupted while waiting for 'stored' (passed: accepted); the temporary test "
        "queue and subscription were removed."
    ) in result.output
    assert inboxes_left(ctx) == []
    topic = ctx.arn("sns", "ctrlc2-Topic")
    assert ctx.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []

    as_json = order_test(emulator, "ctrlc2", "--json", runtime=runtime)
    assert as_json.exit_code == 130
    document = json.loads(as_json.stdout)
    assert document["ok"] is False and document["interrupted"] == "stored"
    assert [(hop["name"], hop["ok"]) for hop in document["hops"]] == [("accepted", True)]
    assert document["error"].startswith("Interrupted while waiting for 'stored'")


def test_a_message_that_is_not_the_order_in_the_dead_letter_queue_does_not_stop_test_order(
    emulator: Emulator, clock: Clock
) -> None:
    """A healthy stack whose row appears after 2.5 s (a cold start), while something else
    lands in the dead-letter queue: test-order waits for its own order and passes."""
    ctx = up_local(emulator, "other")
    sqs = ctx.client("sqs")
    dlq = sqs.get_queue_url(QueueName="other-Queue-DLQ")["QueueUrl"]
    slow_until = clock() + 2.5

    def a_cold_start_and_a_stranger_in_the_dlq(session: Any) -> None:
        def not_yet(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            if not sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0).get("Messages"):
                sqs.send_message(QueueUrl=dlq, MessageBody='{"orderID": "someone else"}')
            if clock() < slow_until:
                return AWSResponse("https://fault.invalid", 200, {}, None), {}
            return None

        session.events.register("before-call.dynamodb.GetItem", not_yet)

    runtime = runtime_with(a_cold_start_and_a_stranger_in_the_dlq, sleep=clock.sleep, clock=clock)
    result = order_test(emulator, "other", runtime=runtime)

    assert result.exit_code == 0, result.output
    assert hop_lines(result.output) == ["accepted", "stored", "notified"]
    assert "stopped early" not in result.output


def subscriptions_left(ctx: Context, stack: str) -> list[str]:
    topic = ctx.arn("sns", f"{stack}-Topic")
    found = ctx.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    return [s["Endpoint"] for s in found]


def ctrl_c_once(event: str) -> Any:
    """Ctrl-C once, at `event` (an "after-call" one: AWS did it, pocctl never saw the answer)."""
    fired: list[bool] = []

    def handler(**_: Any) -> None:
        if not fired:
            fired.append(True)
            raise KeyboardInterrupt

    def prepare(session: Any) -> None:
        session.events.register(event, handler)

    return prepare


@pytest.mark.parametrize(
    ("events", "removed"),
    [
        (["before-call.sqs.CreateQueue"], ""),  # nothing made: nothing said to be removed
        (["after-call.sqs.CreateQueue"], "queue was removed"),
        (["after-call.sns.Subscribe"], "queue and subscription were removed"),
        # A second Ctrl-C while the first one's cleanup runs: the cleanup is finished first.
        (
            ["before-call.dynamodb.GetItem", "before-call.sns.Unsubscribe"],
            "queue and subscription were removed",
        ),
    ],
)
def test_ctrl_c_at_any_point_removes_the_temporary_inbox_and_says_what_it_removed(
    emulator: Emulator, events: list[str], removed: str
) -> None:
    stack = f"cc{len(removed)}{len(events)}"
    ctx = up_local(emulator, stack)

    result = order_test(emulator, stack, runtime=runtime_with(*map(ctrl_c_once, events)))

    assert result.exit_code == 130, result.output
    if removed:
        assert f"; the temporary test {removed}." in result.output
    else:
        assert "Error: Interrupted while waiting for 'accepted'.\n" in result.output
    assert "could not be removed" not in result.output
    assert inboxes_left(ctx) == []
    assert subscriptions_left(ctx, stack) == []


@pytest.mark.slow
def test_test_order_stops_once_the_order_is_dead_lettered(emulator: Emulator) -> None:
    ctx = up_local(emulator, "dead")
    sqs, lam = ctx.client("sqs"), ctx.client("lambda")
    url = sqs.get_queue_url(QueueName="dead-Queue")["QueueUrl"]
    # Small timeouts in the test, not in the product: redeliveries every second.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "1"})
    emulator.settled()  # SQS applies a changed attribute a while later
    lam.update_function_configuration(
        FunctionName="dead-Lambda-1", Environment={"Variables": {"TABLE_NAME": "no-such-table"}}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName="dead-Lambda-1")

    started = time.monotonic()
    result = order_test(emulator, "dead", "--timeout", "120")
    took = time.monotonic() - started

    assert result.exit_code == 1, result.output
    assert took < 60, result.output
    assert hop_lines(result.output) == ["accepted", "stored"]
    assert (
        "Error: The order did not get past 'stored': stopped early: the order is in the "
        "dead-letter queue dead-Queue-DLQ; last error in dead-Lambda-1's log:"
    ) in result.output
    assert "Lambda-1 fails on orders: `pocctl logs --function 1` shows why" in result.output
    assert "Nothing failed yet" not in result.output


# -- on a terminal ------------------------------------------------------------------------------


def at_a_terminal() -> tuple[Terminal, io.StringIO]:
    term = Terminal()
    screen = io.StringIO()
    term.console = Console(file=screen, force_terminal=True, width=200, color_system=None)
    term.live = True
    return term, screen


def live_frames(screen: io.StringIO) -> list[str]:
    """What the live line showed, each time it was drawn (its spinner left out)."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", screen.getvalue())
    return [line[2:] for line in re.split(r"[\r\n]", text) if line.endswith(" ...")]


def test_on_a_terminal_a_step_s_wait_is_in_the_live_line_until_the_step_ends() -> None:
    term, screen = at_a_terminal()
    why = Why("POC-Queue's name", "SQS keeps a deleted queue's name for 60 s", 60.0)
    term.step_started("queue", "SQS queue POC-Queue", "create")
    term.waiting(Wait("queue", 1, why, 20.0))
    term.waiting(Wait("queue", 1, why, 21.0))  # the line is redrawn, not a line per poll
    term.step_finished(StepResult("queue", "SQS queue POC-Queue", Outcome.CREATED, 41.0))
    term.info("next")
    shown = screen.getvalue()
    assert "waiting for POC-Queue's name (about 39 s left)" in shown
    assert "created      SQS queue POC-Queue" in shown
    assert shown.rstrip().endswith("next")  # the live line is down: nothing drawn after


def test_on_a_terminal_a_finished_wait_leaves_the_live_line_while_its_step_goes_on(
    clock: Clock,
) -> None:
    term, screen = at_a_terminal()
    ctx = Context(Config(stack="live"), term, sleep=clock.sleep, clock=clock)
    answers = iter([False, False, False, False, False, True])
    with ctx.working_on("up", "function"):
        term.step_started("function", "Lambda function live-Lambda-1", "create")
        poll(ctx, lambda: next(answers), what="live-Lambda-1 to be Active", step="function")
        term.step_started("function", "Lambda function live-Lambda-1", "tag")
    frames = live_frames(screen)
    assert any("waiting for live-Lambda-1 to be Active" in frame for frame in frames), frames
    assert frames[-1] == "tag Lambda function live-Lambda-1 ...", frames


def test_on_a_terminal_a_wait_nothing_will_take_down_is_a_plain_line() -> None:
    term, screen = at_a_terminal()
    term.waiting(Wait(None, 7, Why("AWS to accept DeleteQueue", "it is busy"), 1.5))
    term.info("next")
    assert screen.getvalue().splitlines() == [
        "... waiting for AWS to accept DeleteQueue (2 s so far): it is busy",
        "next",
    ]
