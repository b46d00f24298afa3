"""Least privilege on AWS's clock slower than the suite's: `up` says the stack is up once the
repaired permission can be in effect, and the first order after a role is made again is
accepted (a module of its own: each test runs its own emulator, and one process runs one at a
time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.core.reporting import Outcome
from pocctl.local.aws.timing import Timing
from pocctl.local.emulator import Emulator
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps, read_outputs
from pocctl.resources import iam

from .emulated import up_local as up
from .test_least_privilege import context_of, post, take_away


@contextmanager
def emulator_at(timing: Timing, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """An emulator on a slower clock than the suite's, the CLI on it, and pocctl's wait for IAM
    on that clock."""
    with Emulator(port=0, timing=timing) as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL", running.endpoint_url)
        monkeypatch.setattr(iam, "IAM_PROPAGATION_SECONDS", 10.0 * timing.scale)
        yield running


@pytest.mark.slow  # a whole stack at a quarter of AWS's real durations
def test_up_that_repairs_a_permission_says_the_stack_is_up_once_it_can_be_in_effect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # IAM propagation (3.5 s here) longer than an order takes to be notified, as on AWS: the
    # notifier's retries all meet the policy as IAM held it before `up` repaired it.
    with emulator_at(Timing(scale=0.5), monkeypatch) as emulator:
        ctx = up(emulator, "lp-ready")
        take_away(emulator, ctx, "lp-ready-Lambda-2-Role", "order-notifier", "sns:Publish")
        runner = CliRunner()

        repaired = runner.invoke(cli, ["up", "--stack", "lp-ready"])
        assert repaired.exit_code == 0, repaired.output
        assert "1 updated" in repaired.output
        assert (
            "for IAM to apply the changed permissions of role lp-ready-Lambda-2-Role"
            in repaired.output
        )
        order = runner.invoke(cli, ["test-order", "--stack", "lp-ready", "--timeout", "10"])
        assert order.exit_code == 0, order.output


@pytest.mark.slow  # heavy (tests/cases.py)
def test_the_first_order_after_up_made_the_apis_role_again_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # IAM propagation of 1.4 s: an order posted as `up` returns comes well within it.
    with emulator_at(Timing(scale=0.2), monkeypatch) as emulator:
        ctx = up(emulator, "lp-first")
        role = "lp-first-APIGateway-SQS-Role"
        ctx.client("iam").delete_role_policy(RoleName=role, PolicyName="api-to-queue")
        ctx.client("iam").delete_role(RoleName=role)
        emulator.settled()  # API Gateway knows the role is gone

        again = context_of(ctx)
        report = Engine(again, build_steps(again.config)).up()
        assert {r.step for r in report.results if r.outcome is Outcome.CREATED} == {"api-role"}
        status, answer = post(read_outputs(ctx)["order_url"], b'{"item": "first"}')
        assert status == 200, answer
