"""The whole journey under exactly `policies/deployer.json`, enforced by `pocctl local`."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.local.aws.sns import follow_confirmation_links
from pocctl.local.emulator import Emulator
from pocctl.policies import as_list
from pocctl.stack import deployer_policy

from .emulated import TIMING, local_context


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    # Its log goes to stderr: the CLI's stdout, captured while it runs, is its JSON alone.
    with Emulator(port=0, timing=TIMING, log=lambda line: print(line, file=sys.stderr)) as running:
        yield running


def deployer(emulator: Emulator, stack: str) -> dict[str, str]:
    """An IAM user with only the deployer policy, as the README creates one; its keys."""
    admin = local_context(emulator, stack)
    iam = admin.client("iam")
    iam.create_user(UserName=f"{stack}-deployer")
    iam.put_user_policy(
        UserName=f"{stack}-deployer",
        PolicyName="pocctl-deployer",
        PolicyDocument=json.dumps(deployer_policy(admin)),
    )
    key = iam.create_access_key(UserName=f"{stack}-deployer")["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


def wait_until_iam_knows(emulator: Emulator, keys: dict[str, str]) -> None:
    sqs = boto3.client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            sqs.list_queues()
            return
        except ClientError as exc:
            assert "not authorized" in str(exc) and time.monotonic() < deadline, exc
        time.sleep(0.02)


@pytest.fixture
def as_deployer(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI runs with the keys of stack ci's deployer user, once IAM knows it."""
    keys = deployer(emulator, "ci")
    wait_until_iam_knows(emulator, keys)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    for name, value in keys.items():
        monkeypatch.setenv(name, value)


def test_the_whole_journey_passes_under_exactly_the_deployer_policy(
    emulator: Emulator, as_deployer: None
) -> None:
    runner = CliRunner()

    def pocctl(*args: str) -> Result:
        result = runner.invoke(cli, [*args, "--stack", "ci"])
        assert result.exit_code == 0, result.output
        return result

    pocctl("up", "--email", "ci@example.com")
    follow_confirmation_links(emulator.outbox.messages, "ci@example.com")
    pocctl("test-order")
    pocctl("status")
    pocctl("logs")
    pocctl("invoke", "1")
    sqs = local_context(emulator, "ci").client("sqs")
    dlq = sqs.get_queue_url(QueueName="ci-Queue-DLQ")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody='{"item": "dead letter"}')
    assert "1 order(s) stored" in pocctl("redrive").output
    listed = pocctl("ls", "--json")
    assert [s["health"] for s in json.loads(listed.stdout)["stacks"]] == ["healthy"]
    pocctl("outputs", "--json")
    down = pocctl("down", "--yes")
    assert "nothing tagged pocctl:stack=ci is left" in down.output


def test_the_deployer_policy_reaches_no_other_stack(as_deployer: None) -> None:
    result = CliRunner().invoke(cli, ["up", "--stack", "other"])
    assert result.exit_code == 1
    assert "is not authorized to perform" in result.output


def test_the_rendered_deployer_policy_passes_parliament(emulator: Emulator) -> None:
    from parliament import analyze_policy_string

    policy: dict[str, Any] = deployer_policy(local_context(emulator, "ci"))
    findings = analyze_policy_string(json.dumps(policy)).findings
    assert [(f.issue, f.detail) for f in findings] == []


def test_deployer_policy_prints_the_policy_for_this_stack(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    result = CliRunner().invoke(cli, ["deployer-policy", "--stack", "ci"])
    assert result.exit_code == 0, result.output
    policy = json.loads(result.stdout)
    resources = [r for s in policy["Statement"] for r in as_list(s["Resource"])]
    assert "arn:aws:iam::123456789012:role/ci-*" in resources
    assert "arn:aws:sqs:us-east-1:123456789012:ci-*" in resources
