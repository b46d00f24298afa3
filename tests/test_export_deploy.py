"""`pocctl export`'s templates deploy with the AWS CLI into `pocctl local` and build the stack
`up` builds: `status` finds it healthy with no drift (the parity check), `test-order` carries an
order through it, and `aws cloudformation delete-stack` leaves nothing. And the parity check can
fail: a template whose throttle differs deploys, and `status` names the difference."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.local.aws.sns import follow_confirmation_links
from pocctl.local.emulator import Emulator
from pocctl.ops.health import PRESENT
from pocctl.resources.alarms import AlarmStep
from tests.emulated import TIMING
from tests.inventory import of_stack
from tests.test_local_cloudformation import (
    REGION,
    aws_cli,
    client,
    everything_at,
    finished,
    nothing_left,
)

# Mostly waiting: `aws cloudformation deploy` polls the stack every 30 s (awscli's deployer).
pytestmark = [pytest.mark.slow, pytest.mark.long]

EMAIL = "owner@example.com"


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(port=0, timing=TIMING) as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL", running.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "pocctl-local")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "pocctl-local")
        yield running


def everything_at_emulator(emulator: Emulator) -> dict[str, list[str]]:
    session = boto3.Session(
        region_name=REGION, aws_access_key_id="pocctl-local", aws_secret_access_key="pocctl-local"
    )
    return everything_at(session, emulator.endpoint_url)


def pocctl(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def export_and_deploy(
    emulator: Emulator, out: Path, stack: str, fmt: str, edit: Any = None
) -> dict[str, Any]:
    """`pocctl export`, then the commands README gives: package and deploy."""
    exported = pocctl(
        "export", "--format", fmt, "--out", str(out), "--stack", stack, "--email", EMAIL
    )
    assert exported.exit_code == 0, exported.output
    if edit is not None:
        template = json.loads((out / "template.json").read_text())
        edit(template)
        (out / "template.json").write_text(json.dumps(template))
    client(emulator, "s3").create_bucket(Bucket=f"{stack.lower()}-artifacts")
    aws_cli(
        emulator,
        "cloudformation",
        "package",
        "--template-file",
        "template.json",
        "--s3-bucket",
        f"{stack.lower()}-artifacts",
        "--output-template-file",
        "packaged.json",
        "--use-json",
        cwd=out,
    )
    aws_cli(
        emulator,
        "cloudformation",
        "deploy",
        "--template-file",
        "packaged.json",
        "--stack-name",
        stack,
        "--capabilities",
        "CAPABILITY_NAMED_IAM",
        cwd=out,
    )
    deployed = finished(emulator, stack)
    assert deployed["StackStatus"] == "CREATE_COMPLETE"
    follow_confirmation_links(emulator.outbox.messages, EMAIL)  # as its owner would
    emulator.settled()
    return deployed


@pytest.mark.parametrize("fmt", ["cloudformation", "sam"])
def test_the_exported_stack_deploys_serves_an_order_and_deletes(
    emulator: Emulator, tmp_path: Path, fmt: str
) -> None:
    stack = "Exported"
    deployed = export_and_deploy(emulator, tmp_path, stack, fmt)
    status = pocctl("status", "--stack", stack, "--json")
    assert status.exit_code == 0, status.output
    document = json.loads(status.stdout)
    assert document["healthy"] is True, document
    assert document.get("pending") == [], document
    assert document["managed_by_cloudformation"] == [stack], document
    alarms = {k: r for k, r in document["resources"].items() if r["kind"] == AlarmStep.kind}
    assert len(alarms) == 6 and document["resources"]["alarm-topic"]["state"] == PRESENT
    assert all(r["state"] == PRESENT and r["changes"] == [] for r in alarms.values()), alarms
    made = of_stack(everything_at_emulator(emulator), stack, stack)
    assert len(made["alarms"]) == 6 and f"{stack}-Alarms" in made["topics"], made
    for command in (["up"], ["down", "--yes"]):  # CloudFormation's, not pocctl's, to change
        refused = pocctl(*command, "--stack", stack)
        assert refused.exit_code != 0, refused.output
        assert f"--stack-name {stack}" in refused.output, refused.output
    order = pocctl("test-order", "--stack", stack, "--json", "--timeout", "120")
    assert order.exit_code == 0, order.output
    aws_cli(emulator, "cloudformation", "delete-stack", "--stack-name", stack)
    cfn = client(emulator, "cloudformation")

    def deleted() -> bool:
        found = cfn.describe_stacks(StackName=deployed["StackId"])["Stacks"][0]["StackStatus"]
        return bool(found == "DELETE_COMPLETE")

    deadline = time.monotonic() + 120
    while not deleted():
        assert time.monotonic() < deadline, "the stack is never deleted"
        time.sleep(0.1)
    assert nothing_left(emulator, stack) == {}


def test_the_parity_check_fails_when_the_template_differs_from_up(
    emulator: Emulator, tmp_path: Path
) -> None:
    def faster_throttle(template: dict[str, Any]) -> None:
        stages = [
            r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage"
        ]
        for setting in stages[0]["Properties"]["MethodSettings"]:
            setting["ThrottlingRateLimit"] = 999

    export_and_deploy(emulator, tmp_path, "Edited", "cloudformation", faster_throttle)
    status = pocctl("status", "--stack", "Edited", "--json")
    assert status.exit_code != 0, status.output
    document = json.loads(status.stdout)
    assert document["problems"] == [
        "REST API Edited-API has drifted (throttling (rate, burst): (999.0, 20) -> (10.0, 20))"
    ]
    # `up` would refuse to repair it: the hint names CloudFormation's command instead.
    assert not any("Run `pocctl up`" in hint for hint in document["hints"]), document["hints"]
    assert any(
        "aws cloudformation deploy --stack-name Edited" in hint for hint in document["hints"]
    ), document["hints"]


def test_the_parity_check_compares_the_alarms(emulator: Emulator, tmp_path: Path) -> None:
    def later_alarm(template: dict[str, Any]) -> None:
        template["Resources"]["DeadLettersAlarm"]["Properties"]["Threshold"] = 5

    export_and_deploy(emulator, tmp_path, "Alarmed", "cloudformation", later_alarm)
    status = pocctl("status", "--stack", "Alarmed", "--json")
    assert status.exit_code != 0, status.output
    document = json.loads(status.stdout)
    assert document["resources"]["dead-letters-alarm"]["changes"], document
    assert any("Alarmed-Alarm-Dead-Letters" in p for p in document["problems"]), document
