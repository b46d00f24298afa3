"""A calm first run: the README's first command, as a new user runs it, reads as progress.

AWS refuses some calls while it finishes a change (a new role cannot be assumed by Lambda for
seconds, a function is Pending, API Gateway takes one change at a time); pocctl waits those out.
They are said once, as what `up` waits for with how many times AWS refused so far, not as an
error line each; `-v` shows every one, as `pocctl local` does in its own terminal."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.cli.ui import Terminal
from pocctl.core.aws import retry_while_role_propagates
from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.reporting import RecordingReporter, Wait, Why
from pocctl.core.session import new_session
from pocctl.local.emulator import Emulator
from pocctl.resources import iam

from . import test_silences_on_aws_clock
from .emulated import TIMING
from .test_docs import quick_start
from .test_weather import Clock  # moved on by the pauses: a retry loop takes no real time

ROLE_REFUSED = "The role defined for the function cannot be assumed by Lambda."


def says_the_role_wait_with_a_count(output: str, stack: str = "POC") -> bool:
    role_wait = (
        rf"^\.\.\. waiting for {stack}-Lambda-\d's role \(.*; refused (once|\d+ times) so far\)"
    )
    return re.search(role_wait, output, re.M) is not None


def role_not_yet_usable() -> ClientError:
    error = {"Code": "InvalidParameterValueException", "Message": ROLE_REFUSED}
    return ClientError({"Error": error}, "CreateFunction")


def test_a_wait_for_a_role_says_how_many_times_lambda_refused_it() -> None:
    clock, reporter = Clock(), RecordingReporter()
    ctx = Context(
        Config(),
        reporter,
        session=new_session(region_name="us-east-1"),
        sleep=clock.sleep,
        clock=clock,
    )
    refusals = iter(range(6))

    def create_function() -> str:
        if next(refusals, None) is not None:
            raise role_not_yet_usable()
        return "created"

    assert retry_while_role_propagates(ctx, create_function) == "created"
    counts = [wait.refusals for wait in reporter.waits]
    assert counts and counts[-1] == 6
    assert counts == sorted(counts)
    assert "refused 6 times so far" in reporter.waits[-1].text


def test_a_wait_says_once_and_times() -> None:
    why = Why("POC-Lambda-1's role", "IAM hands a new role to Lambda in seconds")
    assert Wait("f", 1, why, 2.0, refusals=1).text == (
        "waiting for POC-Lambda-1's role (2 s so far; refused once so far): IAM hands a new role "
        "to Lambda in seconds"
    )
    assert "refused" not in Wait("f", 1, why, 2.0).text  # a poll of a state: nothing refused


@pytest.fixture
def iam_at_real_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's emulator keeps AWS's real clock: so does `up`'s wait for IAM."""
    monkeypatch.setattr(iam, "IAM_PROPAGATION_SECONDS", iam.IAM_PROPAGATION_SECONDS / TIMING.scale)


def run_first_command(*flags: str) -> Any:
    first = quick_start()[0]
    assert first.endswith("pocctl demo"), first
    result = CliRunner().invoke(cli, ["demo", *flags])
    assert result.exit_code == 0, result.output
    assert "Demo complete" in result.output
    return result


@pytest.mark.slow  # AWS's real clock, as a new user meets it: some 20 s
@pytest.mark.usefixtures("iam_at_real_scale")
def test_the_readme_first_command_says_each_wait_once_with_a_count_not_each_refusal() -> None:
    output = run_first_command().output
    assert "refused:" not in output
    assert says_the_role_wait_with_a_count(output), output


@pytest.mark.slow
@pytest.mark.usefixtures("iam_at_real_scale")
def test_with_verbose_the_first_command_shows_every_refusal() -> None:
    output = run_first_command("-v").output
    assert f"[local] lambda:CreateFunction refused: {ROLE_REFUSED}" in output
    assert "  aws lambda CreateFunction  [writer]" in output


# AWS's clock at full length, moved by pocctl's own pauses: IAM's seconds take no time.
clock = test_silences_on_aws_clock.clock
aws_clock_emulator = test_silences_on_aws_clock.aws_clock_emulator


def up(emulator: Emulator, clock: Clock, *flags: str) -> Result:
    runtime = Runtime(sleep=clock.sleep, clock=clock)
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    done = CliRunner().invoke(cli, ["up", *flags], obj=runtime, env=env)
    assert done.exit_code == 0, done.output
    return done


@pytest.mark.slow  # heavy (tests/cases.py)
def test_up_says_the_wait_for_a_role_with_a_count_and_with_v_each_refusal(
    aws_clock_emulator: Emulator, clock: Clock
) -> None:
    calm = up(aws_clock_emulator, clock, "--stack", "calm").output
    assert says_the_role_wait_with_a_count(calm, "calm"), calm
    assert ROLE_REFUSED not in calm

    verbose = up(aws_clock_emulator, clock, "--stack", "loud", "-v").output
    refusal = f"  aws lambda CreateFunction answered InvalidParameterValueException: {ROLE_REFUSED}"
    assert refusal in verbose.splitlines(), verbose


def test_v_names_a_refusals_service_as_its_call_lines_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # botocore's event names API Gateway "api-gateway" and CloudWatch Logs "cloudwatch-logs";
    # the call lines say "apigateway" and "logs", as `aws` does.
    service = SimpleNamespace(service_model=SimpleNamespace(service_name="apigateway"))
    error = {"Error": {"Code": "ConflictException", "Message": "busy"}}
    Terminal().answered("after-call.api-gateway.PutMethod", parsed=error, model=service)
    assert (
        capsys.readouterr().out == "  aws apigateway PutMethod answered ConflictException: busy\n"
    )


def test_api_gateway_not_yet_assuming_the_role_counts_as_a_refusal_to_post_again() -> None:
    """API Gateway answers 500 "Internal server error" until it can assume the integration's
    new role (README's waits table): nothing was queued, so test-order may post again."""
    from pocctl.ops.smoke import refused_by_sqs

    assert refused_by_sqs(500, '{"message": "Internal server error"}')
    assert refused_by_sqs(502, '{"error": "AccessDenied"}')
    assert not refused_by_sqs(500, '{"orderID": "x"}')
    assert not refused_by_sqs(400, '{"message": "Internal server error"}')
