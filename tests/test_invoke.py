"""`pocctl invoke 1|2`: one function, once, with a sample or given event; its answer and the tail
of its log, as `aws lambda invoke --log-type Tail` shows them; exit 1 when it failed."""

from __future__ import annotations

import io
import json
import socket
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config as BotoConfig
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.context import Context
from pocctl.invoke import invoke_once_client
from pocctl.local.emulator import Emulator

from .emulated import up_local

EMAIL = "invoke@example.com"


@pytest.fixture(scope="module")
def stack(emulator: Emulator) -> Context:
    return up_local(emulator, "inv", email=EMAIL)


def pocctl(emulator: Emulator, *args: str, stdin: str | None = None) -> Result:
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    return CliRunner().invoke(cli, [*args, "--stack", "inv"], input=stdin, env=env)


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def rows(ctx: Context) -> list[dict[str, Any]]:
    return list(ctx.client("dynamodb").scan(TableName="inv-orders")["Items"])


def test_function_1_stores_a_sample_order_and_shows_its_log(
    emulator: Emulator, stack: Context
) -> None:
    before = len(rows(stack))
    result = pocctl(emulator, "invoke", "1")
    assert result.exit_code == 0, result.output
    assert "inv-Lambda-1 returned:" in result.output
    assert '"batchItemFailures": []' in result.output
    assert "START RequestId: " in result.output and "REPORT RequestId: " in result.output
    assert '"event": "order_stored"' in result.output
    assert "inv-Lambda-1 succeeded." in result.output
    assert len(rows(stack)) == before + 1


def test_function_2_publishes_the_sample_rows_notification(
    emulator: Emulator, stack: Context
) -> None:
    result = pocctl(emulator, "invoke", "2", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["command"] == "invoke"
    assert document["function"] == "inv-Lambda-2" and document["function_error"] is None
    assert '"event": "order_notified"' in document["log_tail"]
    (order_id,) = [
        json.loads(line)["orderID"]
        for line in document["log_tail"].splitlines()
        if line.startswith("{")
    ]
    assert any(
        m["to"] == EMAIL and m["subject"] == f"New order {order_id}: latex gloves"
        for m in emulator.outbox.messages
    )


def test_a_record_it_cannot_store_is_a_batch_failure_and_exit_1(
    emulator: Emulator, stack: Context
) -> None:
    event = {"Records": [{"messageId": "m1", "body": "not json", "attributes": {}}]}
    result = pocctl(emulator, "invoke", "1", "--event", "-", "--json", stdin=json.dumps(event))
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["batch_item_failures"] == ["m1"]
    assert "inv-Lambda-1 reported 1 failed record(s): m1" in document["error"]
    assert "body is not JSON" in document["log_tail"]


def test_a_function_that_raises_is_an_error_with_its_message(
    emulator: Emulator, stack: Context, tmp_path: Path
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"Records": ["not a record"]}))
    result = pocctl(emulator, "invoke", "1", "--event", str(path))
    assert result.exit_code == 1
    assert "Error: inv-Lambda-1 failed: {'errorType': 'AttributeError'" in result.output
    assert "Log tail:" in result.output and "AttributeError" in result.output


def test_an_event_that_is_not_json_is_bad_input(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text("{not json")
    result = pocctl(emulator, "invoke", "1", "--event", str(path))
    assert result.exit_code == 2
    assert "Invalid value for --event: not JSON" in result.output


def test_invoking_a_stack_that_is_not_deployed_says_what_to_do(emulator: Emulator) -> None:
    result = CliRunner().invoke(
        cli, ["invoke", "2", "--stack", "absent"], env={"AWS_ENDPOINT_URL": emulator.endpoint_url}
    )
    assert result.exit_code == 1
    assert "Error: Function absent-Lambda-2 does not exist in us-east-1." in result.output
    assert "Run `pocctl up`" in result.output


def test_an_event_over_lambdas_6_mb_request_quota_is_refused(
    emulator: Emulator, stack: Context, tmp_path: Path
) -> None:
    path = tmp_path / "huge.json"
    path.write_text(json.dumps({"Records": [], "padding": "x" * (6 * 1024 * 1024)}))
    result = pocctl(emulator, "invoke", "1", "--event", str(path))
    assert result.exit_code == 1
    assert "Could not invoke inv-Lambda-1 (RequestTooLargeException)" in result.output


SLOW_HANDLER = (  # stores a row for each time it runs (its role may write to inv-orders)
    "import time, boto3\n"
    "def handler(event, context):\n"
    "    time.sleep(1.5)\n"
    "    row = {'orderID': {'S': 'slow-' + context.aws_request_id}}\n"
    "    boto3.client('dynamodb').put_item(TableName='inv-orders', Item=row)\n"
    "    return {'batchItemFailures': []}\n"
)


def test_a_function_slower_than_botocores_read_timeout_runs_once(
    emulator: Emulator, stack: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    # botocore's default read timeout (60 s), scaled down to 1 s: with standard retries, an
    # Invoke that outlasts it is sent again and the function runs again (boto/boto3#1104).
    monkeypatch.setattr(
        "pocctl.context.RETRY_CONFIG",
        BotoConfig(read_timeout=1, retries={"mode": "standard", "max_attempts": 10}),
    )
    lam = stack.client("lambda")
    lam.create_function(
        FunctionName="slowinv-Lambda-1",
        Runtime="python3.13",
        Role=stack.arn("iam", f"role/{stack.config.names.writer_role}", regional=False),
        Handler="app.handler",
        Code={"ZipFile": zipped(SLOW_HANDLER)},
        Timeout=5,
    )
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    args = ["invoke", "1", "--stack", "slowinv", "--event", "-"]
    result = CliRunner().invoke(cli, args, input="{}", env=env)
    assert result.exit_code == 0, result.output
    assert "slowinv-Lambda-1 succeeded." in result.output
    runs = [r for r in rows(stack) if r["orderID"]["S"].startswith("slow-")]
    assert len(runs) == 1


def test_the_invocation_client_keeps_a_long_silent_connection_alive(ctx: Context) -> None:
    # Lambda API reference, Invoke: long synchronous calls need "timeout or keep-alive settings".
    client = invoke_once_client(ctx, 900)
    assert client.meta.config.read_timeout > 900
    # The connections it makes probe after a minute of silence, not after the system's two hours
    # (longer than any Lambda call, and than a NAT gateway's 350 s idle timeout).
    made = client._endpoint.http_session._manager.connection_from_url(
        client.meta.endpoint_url
    )._new_conn()
    options = dict(((level, name), value) for level, name, value in made.socket_options)
    assert options[(socket.SOL_SOCKET, socket.SO_KEEPALIVE)] == 1
    assert options[(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)] <= 300
