"""Interrupted runs: killed at any call, or Ctrl-C; the next `up` finishes and `down` cleans up."""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner
from moto import mock_aws

from pocctl.cli import cli
from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.reporting import RecordingReporter
from pocctl.core.session import new_session
from pocctl.core.telemetry import RecordedCall
from pocctl.pipeline.engine import Engine, RunReport
from pocctl.pipeline.stack import build_steps

from .faults import FailCalls, raising, runtime_with
from .inventory import everything, flatten


def went_through(report: RunReport) -> None:
    """The run went through; if not, pytest shows which steps failed and why."""
    assert report.ok, [(r.title, r.error) for r in report.results if r.error] or report.error


class Killed(BaseException):
    """Like SIGKILL: not an Exception, so nothing in pocctl catches it or cleans up."""


# One session for every run: its loaded service models make each new context's clients cheap
# (each run still gets its own context and clients, as a new process would).
SESSION = new_session(region_name="us-east-1")


def new_context() -> Context:
    return Context(
        Config(email="ops@example.com"),
        RecordingReporter(),
        session=SESSION,
        sleep=lambda _: None,
    )


def kill_before_mutating_call(ctx: Context, n: int) -> None:
    seen = []

    def listener(call: RecordedCall) -> None:
        if call.mutating:
            seen.append(call)
            if len(seen) == n:
                raise Killed(call.operation)

    ctx.calls.listeners.append(listener)


def mutating_calls_of_a_fresh_up() -> list[str]:
    with mock_aws():
        ctx = new_context()
        went_through(Engine(ctx, build_steps(ctx.config), workers=1).up())
        return [f"{c.step} {c.operation}" for c in ctx.calls.mutating]


# The killed run goes one step at a time, so "before the n-th call" is the same call every run.
FRESH_UP_CALLS = mutating_calls_of_a_fresh_up()


def kill_points() -> list[Any]:
    """Every mutating call of a fresh `up`. The default run kills before the first write of the
    first step of each kind (its module's code: the first of the three roles, of the six
    alarms); `-m slow` kills before every other write too: at every other step's boundary, and
    in the middle of a step (half-made resources)."""
    kinds = {step.key: type(step) for step in build_steps(new_context().config)}
    points = []
    seen: set[Any] = set()
    for n, call in enumerate(FRESH_UP_CALLS, start=1):
        kind = kinds[call.split()[0]]
        marks = [] if kind not in seen else [pytest.mark.slow]
        seen.add(kind)
        points.append(pytest.param(n, id=f"{n}-{call.replace(' ', '-')}", marks=marks))
    return points


@pytest.mark.parametrize("n", kill_points())
def test_killed_before_any_call_then_up_finishes_and_down_cleans(n: int) -> None:
    with mock_aws():
        ctx = new_context()
        kill_before_mutating_call(ctx, n)
        with pytest.raises(Killed, match=FRESH_UP_CALLS[n - 1].split()[1]):
            Engine(ctx, build_steps(ctx.config), workers=1).up()
        finish = new_context()
        went_through(Engine(finish, build_steps(finish.config)).up())
        again = new_context()
        went_through(Engine(again, build_steps(again.config)).up())
        assert again.calls.mutating == [], f"killed before call {n}: second up still changed"
        found = everything(again.session)
        # One subscription of the address to each topic: the orders' and the alarms'.
        assert len(found["mappings"]) == 2
        assert found["subscriptions"] == ["ops@example.com", "ops@example.com"]
        assert len(found["apis"]) == 1
    with mock_aws():
        ctx = new_context()
        kill_before_mutating_call(ctx, n)
        with pytest.raises(Killed):
            Engine(ctx, build_steps(ctx.config), workers=1).up()
        cleaner = new_context()
        went_through(Engine(cleaner, build_steps(cleaner.config)).down())
        assert flatten(everything(cleaner.session)) == [], f"killed before call {n}"


def test_ctrl_c_during_up_says_what_was_made_and_what_to_run(aws: None) -> None:
    ctrl_c = runtime_with(
        lambda s: s.events.register(
            "before-call.lambda.CreateFunction", raising(KeyboardInterrupt())
        )
    )
    result = CliRunner().invoke(cli, ["up"], obj=ctrl_c)
    assert result.exit_code == 130
    # Functions are created in parallel: whichever reached CreateFunction first is interrupted.
    assert re.search(r"! interrupted +Lambda function POC-Lambda-[12]", result.output)
    (stopped,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert re.match(
        r"Error: Interrupted while working on .*Lambda function POC-Lambda-[12]", stopped
    )
    (made,) = [line for line in result.output.splitlines() if line.startswith("Made or changed")]
    assert "IAM role POC-Lambda-" in made
    assert "Nothing is lost: run `pocctl up` to finish, or `pocctl down`" in result.output
    assert CliRunner().invoke(cli, ["up"]).exit_code == 0


def test_ctrl_c_during_down_says_what_is_left(aws: None) -> None:
    assert CliRunner().invoke(cli, ["up"]).exit_code == 0
    ctrl_c = runtime_with(
        lambda s: s.events.register("before-call.sqs.DeleteQueue", raising(KeyboardInterrupt()))
    )
    result = CliRunner().invoke(cli, ["down", "--yes"], obj=ctrl_c)
    assert result.exit_code == 130
    (stopped,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    removed, left = stopped.split("; not yet removed: ")
    # Deletions run side by side: what went before the interruption varies (under load, the
    # queue's deletion can be the first), never the queue.
    assert removed.startswith(("Error: Interrupted: removed ", "Error: Interrupted: nothing"))
    assert "SQS queue" not in removed
    assert "SQS queue POC-Queue" in left
    assert "Run `pocctl down` again to finish" in result.output
    assert CliRunner().invoke(cli, ["down", "--yes"]).exit_code == 0
    assert flatten(everything(new_session(region_name="us-east-1"))) == []


def test_down_waits_for_a_role_still_in_use(deployed: Context) -> None:
    fault = FailCalls(
        deployed.client("iam"),
        "DeleteRole",
        "DeleteConflict",
        "Cannot delete entity, must remove roles from instance profile first.",
        2,
    )
    went_through(Engine(deployed, build_steps(deployed.config)).down())
    assert fault.failed == 2
    assert everything(deployed.session)["roles"] == []


def test_down_keeps_going_past_a_permanent_failure_and_lists_what_is_left(
    deployed: Context,
) -> None:
    FailCalls(deployed.client("dynamodb"), "DeleteTable", "AccessDeniedException", "no", 1)
    report = Engine(deployed, build_steps(deployed.config)).down()
    assert not report.ok
    found = everything(deployed.session)
    assert found["tables"] == ["orders"]
    assert found["queues"] == [] and found["roles"] == []


def test_unreachable_endpoint_fails_fast_with_a_message(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["up", "--endpoint-url", "http://127.0.0.1:1"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: Could not reach the AWS endpoint http://127.0.0.1:1")
    assert "is `pocctl local` running?" in result.output


def test_expired_credentials_say_how_to_refresh(aws: None) -> None:
    expired = runtime_with(
        lambda s: FailCalls(
            s,
            "GetCallerIdentity",
            "ExpiredToken",
            "The security token included in the request is expired",
            5,
        )
    )
    result = CliRunner().invoke(cli, ["up"], obj=expired)
    assert result.exit_code == 1
    assert "Error: AWS refused the request (ExpiredToken)" in result.output
    assert "credentials have expired" in result.output
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(aws: None) -> None:
    buggy = runtime_with(
        lambda s: s.events.register(
            "before-call.apigateway.GetRestApis", raising(RuntimeError("a bug"))
        )
    )
    plain = CliRunner().invoke(cli, ["outputs"], obj=buggy)
    assert plain.exit_code == 1
    assert "Unexpected error: RuntimeError('a bug'). Run again with --debug" in plain.output
    debug = CliRunner().invoke(cli, ["--debug", "outputs"], obj=buggy)
    assert isinstance(debug.exception, RuntimeError)
