"""The end-to-end journey a user makes, offline against `pocctl local` and, when asked, on a real
AWS account: `POCCTL_AWS_TESTS=1 pytest -m aws` with credentials in the environment. The same
test runs both ways; on AWS it uses a stack of its own and always tears it down."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.local.emulator import Emulator

from .conftest import REAL_ENVIRONMENT
from .emulated import TIMING


@dataclass
class Target:
    name: str
    stack: str
    emulator: Emulator | None = None


def aws_skip_reason() -> str | None:
    if REAL_ENVIRONMENT.get("POCCTL_AWS_TESTS") != "1":
        return "real-account tests run only with POCCTL_AWS_TESTS=1 (they cost cents)"
    env = REAL_ENVIRONMENT
    home = Path(env.get("HOME", "~")).expanduser()
    sources = (
        env.get("AWS_ACCESS_KEY_ID"),
        env.get("AWS_PROFILE"),
        env.get("AWS_WEB_IDENTITY_TOKEN_FILE"),
        env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        Path(env.get("AWS_SHARED_CREDENTIALS_FILE", home / ".aws" / "credentials")).is_file(),
    )
    if not any(sources):
        return "no AWS credentials in the environment (AWS_PROFILE or AWS_ACCESS_KEY_ID)"
    return None


@pytest.fixture(params=["local", pytest.param("aws", marks=pytest.mark.aws)])
def target(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    stack = f"j{uuid.uuid4().hex[:8]}"
    if request.param == "local":
        with Emulator(port=0, timing=TIMING) as emulator:
            monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
            yield Target("local", stack, emulator)
        return
    reason = aws_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in REAL_ENVIRONMENT.items():
        if name.startswith("AWS_") and name != "AWS_ENDPOINT_URL":
            monkeypatch.setenv(name, value)
    yield Target("aws", stack)


def test_the_journey_up_test_order_status_logs_outputs_down(target: Target) -> None:
    runner = CliRunner()

    def pocctl(*args: str) -> Result:
        return runner.invoke(cli, [*args, "--stack", target.stack], catch_exceptions=False)

    try:
        up = pocctl("up")
        assert up.exit_code == 0, up.output
        order = pocctl("test-order", "--json", "--timeout", "120")
        assert order.exit_code == 0, order.output
        order_id = json.loads(order.stdout)["order_id"]
        status = pocctl("status")
        assert status.exit_code == 0, status.output
        assert f"Stack {target.stack} in" in status.output and "healthy" in status.output
        logs = pocctl("logs")
        assert logs.exit_code == 0
        assert any(order_id in line and "order_stored" in line for line in logs.output.splitlines())
        outputs = json.loads(pocctl("outputs", "--json").stdout)
        assert outputs["stack"] == target.stack and outputs["order_url"].endswith("/order")
        invoked = pocctl("invoke", "1")
        assert invoked.exit_code == 0, invoked.output
        sqs = boto3.client("sqs", region_name=outputs["region"])
        dlq = sqs.get_queue_url(QueueName=f"{target.stack}-Queue-DLQ")["QueueUrl"]
        sqs.send_message(QueueUrl=dlq, MessageBody='{"item": "dead letter"}')
        redriven = pocctl("redrive", "--json", "--wait", "120")
        assert redriven.exit_code == 0, redriven.output
        assert json.loads(redriven.stdout)["stored"] == 1
        listed = json.loads(pocctl("ls", "--json").stdout)["stacks"]
        assert [s["health"] for s in listed if s["stack"] == target.stack] == ["healthy"]
        if target.name == "aws":
            assert ".execute-api." in outputs["order_url"]
    finally:
        down = pocctl("down", "--yes")
    assert down.exit_code == 0, down.output
    assert f"nothing tagged pocctl:stack={target.stack} is left" in down.output
