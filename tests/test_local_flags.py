"""`pocctl local`'s flags, each by the effect a user would notice in the emulator it starts."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from pocctl.cli import local as local_module
from pocctl.core.session import new_session
from pocctl.local.emulator import Emulator
from pocctl.resources.policies import render

from .cli_runs import run

Check = Callable[[Emulator], None]


def serve(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, flags: list[str], check: Check
) -> str:
    """Run `pocctl local --port 0 FLAGS`; once it says it listens, `check` its emulator, then
    press Ctrl-C. The command's output."""
    started: list[Emulator] = []
    start, wait = local_module.start_emulator, local_module.wait_for_stop

    def captured(*args: Any, **kwargs: Any) -> object:
        emulator = start(*args, **kwargs)
        assert isinstance(emulator, Emulator)
        started.append(emulator)
        return emulator

    def check_then_ctrl_c(term: Any, received: list[str], announce: Callable[[], None]) -> None:
        def announced() -> None:
            announce()
            check(started[0])
            raise KeyboardInterrupt  # what Ctrl-C raises while it serves

        wait(term, received, announced)

    monkeypatch.setattr(local_module, "start_emulator", captured)
    monkeypatch.setattr(local_module, "wait_for_stop", check_then_ctrl_c)
    result = run(runner, "local", "--port", "0", *flags)
    assert result.exit_code == 130, result.output
    return result.output


def client(emulator: Emulator, service: str) -> Any:
    session = new_session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    return session.client(service, endpoint_url=emulator.endpoint_url)


def invoke_a_function(emulator: Emulator) -> dict[str, Any]:
    """A function that returns "ok", invoked once: what Invoke answered."""
    role = client(emulator, "iam").create_role(
        RoleName="flags-role", AssumeRolePolicyDocument=json.dumps(render("trust-lambda", {}))
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ok.py", "def handler(event, context):\n    return 'ok'\n")
    lam = client(emulator, "lambda")
    lam.create_function(
        FunctionName="flags",
        Runtime="python3.13",
        Role=role,
        Handler="ok.handler",
        Code={"ZipFile": archive.getvalue()},
        Timeout=1,
    )
    answer = lam.invoke(FunctionName="flags", Payload=b"{}")
    return {**answer, "Payload": json.loads(answer["Payload"].read())}


def test_without_faults_the_function_answers(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the two below: the same function, no fault flag."""
    answers: list[dict[str, Any]] = []
    serve(
        runner, monkeypatch, ["--aws-timing", "off"], lambda e: answers.append(invoke_a_function(e))
    )
    (answer,) = answers
    assert "FunctionError" not in answer and answer["Payload"] == "ok"


@pytest.mark.parametrize(
    ("flag", "error_type", "message"),
    [
        ("--fail-rate", "InjectedFault", "injected failure"),
        ("--timeout-rate", "Sandbox.Timedout", "Task timed out after 1.00 seconds (injected)"),
    ],
)
def test_a_fault_rate_of_1_makes_every_invocation_fail(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, flag: str, error_type: str, message: str
) -> None:
    answers: list[dict[str, Any]] = []
    flags = [flag, "1", "--aws-timing", "off"]
    serve(runner, monkeypatch, flags, lambda e: answers.append(invoke_a_function(e)))
    (answer,) = answers
    assert answer["FunctionError"] == "Unhandled"
    assert answer["Payload"]["errorType"] == error_type
    assert answer["Payload"]["errorMessage"] == message


def test_latency_is_added_to_every_aws_call(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a lower bound: a loaded machine makes a call slower, never faster."""
    took: list[float] = []

    def one_call(emulator: Emulator) -> None:
        started = time.monotonic()
        client(emulator, "sqs").list_queues()
        took.append(time.monotonic() - started)

    serve(runner, monkeypatch, ["--latency", "0.5", "--aws-timing", "off"], one_call)
    (seconds,) = took
    assert seconds >= 0.5


def new_table_status(emulator: Emulator) -> str:
    answer = client(emulator, "dynamodb").create_table(
        TableName="flags",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return str(answer["TableDescription"]["TableStatus"])


@pytest.mark.parametrize(
    ("flags", "banner", "status"),
    [
        (["--aws-timing", "on"], "AWS timing on, at real durations.", "CREATING"),
        (["--aws-timing", "off"], "AWS timing off: every change takes effect at once.", "ACTIVE"),
        (
            ["--aws-timing", "random", "--seed", "7"],
            "AWS timing random (seed 7), at real durations.",
            "CREATING",
        ),
    ],
)
def test_aws_timing_decides_whether_aws_takes_its_time(
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    banner: str,
    status: str,
) -> None:
    """A new table is CREATING for seconds on AWS (DynamoDB API reference, CreateTable)."""
    found: list[str] = []
    output = serve(runner, monkeypatch, flags, lambda e: found.append(new_table_status(e)))
    assert banner in output
    assert found == [status]
