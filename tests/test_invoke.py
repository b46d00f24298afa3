"""`pocctl invoke 1|2`: one function, once, with a sample or given event; its answer and the tail
of its log, as `aws lambda invoke --log-type Tail` shows them; exit 1 when it failed."""

from __future__ import annotations

import io
import itertools
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config as BotoConfig
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.core.aws import retry_while_role_propagates
from pocctl.core.context import Context
from pocctl.local import functions
from pocctl.local.emulator import Emulator
from pocctl.local.functions import INIT_LIMIT_SECONDS, FunctionVersion, Worker
from pocctl.ops.invoke import FULL_LOG_WAIT_SECONDS
from pocctl.resources.policies import render

from .emulated import up_local

EMAIL = "invoke@example.com"


@pytest.fixture(scope="module")
def stack(emulator: Emulator) -> Context:
    return up_local(emulator, "inv", email=EMAIL)


def pocctl(
    emulator: Emulator,
    *args: str,
    stdin: str | None = None,
    stack: str = "inv",
    runtime: Runtime | None = None,
) -> Result:
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    return CliRunner().invoke(cli, [*args, "--stack", stack], input=stdin, env=env, obj=runtime)


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def made_with(
    stack: Context, name: str, source: str, *, timeout: int = 3, env: dict[str, str] | None = None
) -> None:
    """A function of its own, with the writer's role, running `source` as app.py."""
    stack.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=stack.arn("iam", f"role/{stack.config.names.writer_role}", regional=False),
        Handler="app.handler",
        Code={"ZipFile": zipped(source)},
        Timeout=timeout,
        Environment={"Variables": env or {}},
    )


def shown_tail(output: str) -> list[str]:
    """The lines `invoke` shows under "Log tail:" (each indented by two spaces)."""
    lines = output.splitlines()
    after = lines[lines.index("Log tail:") + 1 :]
    return [line[2:] for line in itertools.takewhile(lambda line: line.startswith("  "), after)]


def one_invocation(tail: list[str]) -> list[str]:
    """The function's own lines, between the START and the END and REPORT of one request."""
    start = re.fullmatch(r"START RequestId: (\S+) Version: \$LATEST", tail[0])
    assert start, tail
    request = start.group(1)
    assert tail[-2] == f"END RequestId: {request}", tail
    assert re.match(rf"REPORT RequestId: {request}\s+Duration: ", tail[-1]), tail
    return tail[1:-2]


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
    (logged,) = one_invocation(shown_tail(result.output))
    stored = json.loads(logged)
    assert stored["event"] == "order_stored" and stored["item"] == "latex gloves"
    assert "inv-Lambda-1 succeeded: 1 stored." in result.output
    assert f"(order {stored['orderID']}): stored" in result.output
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
    assert one_invocation(document["log_tail"].splitlines())
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
    assert (
        "inv-Lambda-1: 1 of 1 record(s) not processed: m1 (order m1): failed" in document["error"]
    )
    assert "body is not JSON" in document["log_tail"]
    (record,) = document["records"]
    assert record["outcome"] == "failed" and "body is not JSON" in record["why"]


def test_a_function_that_raises_is_an_error_with_its_message(
    emulator: Emulator, stack: Context
) -> None:
    made_with(
        stack, "raiseinv-Lambda-1", "def handler(event, context):\n    raise ValueError('boom')\n"
    )
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    event = {"Records": [{"messageId": "m1", "body": "{}"}]}
    args = ["invoke", "1", "--stack", "raiseinv", "--event", "-"]
    result = CliRunner().invoke(cli, args, input=json.dumps(event), env=env)
    assert result.exit_code == 1
    assert "Error: raiseinv-Lambda-1 failed: {'errorType': 'ValueError'" in result.output
    logged = one_invocation(shown_tail(result.output))
    assert logged[0] == "Traceback (most recent call last):"
    assert "    raise ValueError('boom')" in logged and "ValueError: boom" in logged
    assert "m1 (order m1): failed, the function raised ValueError: boom" in result.output


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
        "pocctl.core.context.RETRY_CONFIG",
        BotoConfig(read_timeout=1, retries={"mode": "standard", "max_attempts": 10}),
    )
    made_with(stack, "slowinv-Lambda-1", SLOW_HANDLER, timeout=5)
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    args = ["invoke", "1", "--stack", "slowinv", "--event", "-"]
    result = CliRunner().invoke(cli, args, input='{"Records": []}', env=env)
    assert result.exit_code == 0, result.output
    assert "slowinv-Lambda-1 succeeded: the event holds no records" in result.output
    runs = [r for r in rows(stack) if r["orderID"]["S"].startswith("slow-")]
    assert len(runs) == 1


def stream_record(sequence: str | None, name: str = "INSERT", **image: Any) -> dict[str, Any]:
    """A DynamoDB Streams record of inv-orders, as the Lambda Developer Guide shows one."""
    new_image = {"orderID": {"S": f"o-{sequence}"}, "item": {"S": "mop"}, **image}
    stream: dict[str, Any] = {"Keys": {"orderID": new_image["orderID"]}, "NewImage": new_image}
    if sequence is not None:
        stream["SequenceNumber"] = sequence
    return {"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": stream}


def test_a_stream_record_without_its_sequence_number_is_refused_before_invoking(
    emulator: Emulator, stack: Context
) -> None:
    # Issue 21, item 7: the notifier logged order_unrenderable (KeyError 'SequenceNumber') and
    # invoke said "POC-Lambda-2 succeeded." with exit 0.
    event = {"Records": [stream_record(None)]}
    result = pocctl(emulator, "invoke", "2", "--event", "-", "--json", stdin=json.dumps(event))
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["ok"] is False
    assert 'Records[0].dynamodb has no string "SequenceNumber"' in result.output
    assert "succeeded" not in result.output and "returned" not in result.output


@pytest.mark.parametrize(
    ("which", "event", "named"),
    [
        ("1", {"records": []}, 'it needs a "Records" list'),
        ("1", {"Records": [{"body": "{}"}]}, 'Records[0] has no string "messageId"'),
        ("2", {"Records": [{"dynamodb": {}}]}, "Records[0].eventName is null"),
        (
            "2",
            {"Records": [stream_record("1", item="mop")]},
            'Records[0].dynamodb.NewImage.item is "mop", not a DynamoDB attribute value '
            '(such as {"S": "mop"})',
        ),
        (
            "2",
            {"Records": [{**stream_record("1"), "dynamodb": {"SequenceNumber": "1", "Keys": {}}}]},
            'Records[0].dynamodb.Keys has no "orderID"',
        ),
    ],
)
def test_an_event_not_shaped_like_the_source_names_what_is_missing(
    emulator: Emulator, which: str, event: dict[str, Any], named: str
) -> None:
    result = pocctl(emulator, "invoke", which, "--event", "-", stdin=json.dumps(event))
    assert result.exit_code == 2, result.output
    assert "Invalid value for --event" in result.output and named in result.output
    assert "Traceback" not in result.output


def developer_guide_record() -> dict[str, Any]:
    """The Lambda Developer Guide's example DynamoDB Streams record ("Using Lambda with DynamoDB",
    its INSERT of item 101), keyed by orderID as the orders table is, with a B and a BS
    attribute, which a Lambda event carries as base64 strings (DynamoDB API reference,
    AttributeValue)."""
    image = {
        "orderID": {"S": "o-101"},
        "Message": {"S": "New item!"},
        "Id": {"N": "101"},
        "photo": {"B": "dGhpcyB0ZXh0IGlzIGJhc2U2NC1lbmNvZGVk"},
        "tags": {"BS": ["U3Vubnk=", "UmFpbnk=", "U25vd3k="]},
        "extra": {"M": {"seen": {"BOOL": True}, "none": {"NULL": True}, "l": {"L": [{"N": "1"}]}}},
    }
    return {
        "eventID": "1",
        "eventVersion": "1.0",
        "dynamodb": {
            "Keys": {"orderID": {"S": "o-101"}},
            "NewImage": image,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            "SequenceNumber": "111",
            "SizeBytes": 26,
        },
        "awsRegion": "us-west-2",
        "eventName": "INSERT",
        "eventSourceARN": "arn:aws:dynamodb:us-west-2:123456789012:table/inv-orders/stream/x",
        "eventSource": "aws:dynamodb",
    }


def test_a_real_stream_record_with_binary_attributes_is_accepted(
    emulator: Emulator, stack: Context
) -> None:
    # Review of issue 21, item 7: B and BS arrive as base64 strings; the check used boto3's
    # deserializer, which wants bytes, and refused the event (exit 2).
    event = {"Records": [developer_guide_record()]}
    result = pocctl(emulator, "invoke", "2", "--event", "-", stdin=json.dumps(event))
    assert result.exit_code != 2 and "Invalid value for --event" not in result.output
    assert "Records:\n  111 (order o-101): " in result.output, result.output


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"B": "not base64!"}, 'NewImage.photo.B is "not base64!", not a base64 string'),
        ({"BS": ["U3Vubnk=", 7]}, 'NewImage.photo.BS is ["U3Vubnk=", 7], not a list of base64'),
        ({"S": "a", "N": "1"}, "NewImage.photo is {"),
        ({"M": {"x": "y"}}, 'NewImage.photo.M.x is "y", not a DynamoDB attribute value'),
        ({"L": [{"NULL": False}]}, "NewImage.photo.L[0].NULL is false, not true"),
    ],
)
def test_an_attribute_value_of_the_wrong_shape_is_named(
    emulator: Emulator, value: dict[str, Any], named: str
) -> None:
    record = developer_guide_record()
    record["dynamodb"]["NewImage"]["photo"] = value
    stdin = json.dumps({"Records": [record]})
    result = pocctl(emulator, "invoke", "2", "--event", "-", stdin=stdin)
    assert result.exit_code == 2, result.output
    assert named in result.output


def test_each_record_says_what_became_of_it(emulator: Emulator, stack: Context) -> None:
    event = {"Records": [stream_record("71"), stream_record("72", name="MODIFY")]}
    result = pocctl(emulator, "invoke", "2", "--event", "-", stdin=json.dumps(event))
    assert result.exit_code == 0, result.output
    assert "71 (order o-71): notified" in result.output
    assert "72 (order o-72): skipped, a MODIFY record: only INSERT records" in result.output
    assert "inv-Lambda-2 succeeded: 1 notified, 1 skipped." in result.output
    assert any(m["subject"] == "New order o-71: mop" for m in emulator.outbox.messages)


def test_a_record_the_notifier_could_not_render_is_a_failure_and_exit_1(
    emulator: Emulator, stack: Context
) -> None:
    # A user's notifier whose subject() breaks on an order: the built-in handler logs the record
    # as unrenderable and goes on (retrying cannot fix it), so its answer reports no failure.
    source = (Path(__file__).parents[1] / "handlers" / "order_notifier.py").read_text()
    broken = source.replace('    text = f"New order', '    order["nope"]\n    text = f"New order')
    topic = stack.client("sns").create_topic(Name="inv-Topic")["TopicArn"]
    made_with(stack, "rendinv-Lambda-2", broken, env={"TOPIC_ARN": topic})
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    args = ["invoke", "2", "--stack", "rendinv", "--event", "-", "--json"]
    event = {"Records": [stream_record("81")]}
    result = CliRunner().invoke(cli, args, input=json.dumps(event), env=env)
    assert result.exit_code == 1, result.output
    assert "succeeded" not in result.output
    document = json.loads(result.stdout)
    assert document["records"] == [
        {
            "record": "81",
            "order_id": "o-81",
            "outcome": "failed",
            "why": "not notified: it could not be rendered (KeyError('nope'))",
        }
    ]
    assert "rendinv-Lambda-2: 1 of 1 record(s) not processed: 81 (order o-81)" in document["error"]


def test_a_batch_whose_first_records_fell_out_of_the_log_tail_is_told_from_the_whole_log(
    emulator: Emulator, stack: Context
) -> None:
    # Review of issue 21, item 7: LogResult holds the log's last 4 KB; the first of 40 records'
    # order_stored lines fell out of it, and invoke said "succeeded: ... N unknown" (exit 0).
    orders = [{"item": f"mop {n} " + "x" * 60, "quantity": n + 1} for n in range(40)]
    event = {
        "Records": [{"messageId": f"big-{n}", "body": json.dumps(o)} for n, o in enumerate(orders)]
    }
    result = pocctl(emulator, "invoke", "1", "--event", "-", stdin=json.dumps(event))
    assert result.exit_code == 0, result.output
    assert "inv-Lambda-1 succeeded: 40 stored." in result.output
    assert "big-0 (order big-0): stored" in result.output
    assert "unknown" not in result.output


SILENT_HANDLER = "def handler(event, context):\n    return {'batchItemFailures': []}\n"


def test_a_record_whose_fate_no_log_tells_is_not_called_a_success(
    emulator: Emulator, stack: Context
) -> None:
    made_with(stack, "silentinv-Lambda-1", SILENT_HANDLER)
    event = json.dumps({"Records": [{"messageId": "m1", "body": "{}"}]})
    # The function's role may not write silentinv's log (the writer's role writes inv's): the
    # wait for its whole log runs out, on pauses recorded instead of 15 s of real time.
    pauses: list[float] = []
    result = pocctl(
        emulator,
        *("invoke", "1", "--event", "-", "--json"),
        stdin=event,
        stack="silentinv",
        runtime=Runtime(sleep=pauses.append),
    )
    assert result.exit_code == 1, result.output
    assert pauses, "the wait for the log was not made"
    document = json.loads(result.stdout)
    assert document["ok"] is False and "succeeded" not in result.output
    assert "could not tell what became of 1 of 1 record(s) (m1)" in document["error"]
    assert document["records"][0]["outcome"] == "unknown"


def test_a_log_that_has_not_arrived_is_waited_for_then_said_so(
    emulator: Emulator, stack: Context
) -> None:
    # A role without CloudWatch Logs permissions: Lambda writes no log at all (only the tail
    # comes back with the answer), as when the log has not reached CloudWatch Logs yet.
    iam = stack.client("iam")
    trust = render("trust-lambda", {})
    role = iam.create_role(RoleName="nologsinv-role", AssumeRolePolicyDocument=json.dumps(trust))
    retry_while_role_propagates(
        stack,
        lambda: stack.client("lambda").create_function(
            FunctionName="nologsinv-Lambda-1",
            Runtime="python3.13",
            Role=role["Role"]["Arn"],
            Handler="app.handler",
            Code={"ZipFile": zipped(SILENT_HANDLER)},
            Timeout=3,
        ),
    )
    pauses: list[float] = []
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    args = ["invoke", "1", "--stack", "nologsinv", "--event", "-"]
    event = {"Records": [{"messageId": "m1", "body": "{}"}]}
    result = CliRunner().invoke(
        cli, args, input=json.dumps(event), env=env, obj=Runtime(sleep=pauses.append)
    )
    assert result.exit_code == 1, result.output
    assert "succeeded" not in result.output
    assert "could not tell what became of 1 of 1 record(s) (m1)" in result.output
    assert "or had not reached CloudWatch Logs yet" in result.output
    assert "Look again in a few minutes" in result.output
    assert sum(pauses) >= FULL_LOG_WAIT_SECONDS


def importing(marker: Path, seconds: float) -> str:
    """A handler module that notes each import (each Init phase), then works `seconds`."""
    return (
        f"import time\nopen({str(marker)!r}, 'a').write('init\\n')\ntime.sleep({seconds})\n"
        "def handler(event, context):\n    return {'batchItemFailures': []}\n"
    )


def test_an_init_past_lambdas_limit_is_retried_within_the_invocations_timeout(
    emulator: Emulator, stack: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 21, item 11: a handler that hangs at import; Lambda's init phase gives up at 10 s,
    # then retries the init in the first invocation, within the function's timeout.
    assert INIT_LIMIT_SECONDS == 10
    assert emulator.invoker is not None
    monkeypatch.setattr(emulator.invoker, "init_limit", 0.5)  # 10 s, shortened for the test
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    hangs, slow = tmp_path / "hangs", tmp_path / "slow"
    made_with(stack, "hanginv-Lambda-1", importing(hangs, 600), timeout=1)
    made_with(stack, "slowinitinv-Lambda-1", importing(slow, 1), timeout=15)

    args = ["invoke", "1", "--event", "-", "--stack"]
    result = CliRunner().invoke(cli, [*args, "hanginv"], input='{"Records": []}', env=env)
    assert result.exit_code == 1, result.output
    assert "Task timed out after 1.00 seconds" in result.output
    reports = [line.split() for line in result.output.splitlines() if "INIT_REPORT" in line]
    assert [r[-4:] for r in reports] == [
        ["Phase:", "init", "Status:", "timeout"],
        ["Phase:", "invoke", "Status:", "timeout"],  # the retry in the invocation timed out too
    ]
    assert hangs.read_text() == "init\ninit\n"  # the init, then its retry in the invocation

    # An init of 1 s: over the limit, so retried; within the 15 s timeout, so it then runs.
    done = CliRunner().invoke(cli, [*args, "slowinitinv"], input='{"Records": []}', env=env)
    assert done.exit_code == 0, done.output
    reports = [line.split()[-4:] for line in done.output.splitlines() if "INIT_REPORT" in line]
    assert reports == [["Phase:", "init", "Status:", "timeout"]]
    assert slow.read_text() == "init\ninit\n"


def test_an_import_that_exits_is_an_init_error_not_a_timeout(
    emulator: Emulator, stack: Context, tmp_path: Path
) -> None:
    # Review of issue 21, item 11: sys.exit at import (SystemExit is no Exception) was logged as
    # an init timeout twice. Lambda logs an init error, Runtime.ExitError, and retries it in the
    # invocation, which fails so too (public CloudWatch logs of runtimes that exit at init).
    marker = tmp_path / "exits"
    source = f"open({str(marker)!r}, 'a').write('init\\n')\nimport sys\n"
    source += "print('importing, then exiting')\nsys.exit(3)\n"
    made_with(stack, "exitinv-Lambda-1", source, timeout=30)
    result = pocctl(
        emulator, "invoke", "1", "--event", "-", stdin='{"Records": []}', stack="exitinv"
    )
    assert result.exit_code == 1, result.output
    assert "Runtime.ExitError" in result.output
    assert "Runtime exited with error: exit status 3" in result.output
    reports = [line.split()[-7:] for line in result.output.splitlines() if "INIT_REPORT" in line]
    assert reports == [
        ["Phase:", "init", "Status:", "error", "Error", "Type:", "Runtime.ExitError"],
        ["Phase:", "invoke", "Status:", "error", "Error", "Type:", "Runtime.ExitError"],
    ]
    lines = result.output.splitlines()
    start = next(i for i, line in enumerate(lines) if "START RequestId" in line)
    assert all(i < start for i, line in enumerate(lines) if "INIT_REPORT" in line)
    printed = [i for i, line in enumerate(lines) if "importing, then exiting" in line]
    assert len(printed) == 2 and printed[-1] < start, result.output  # the Init, then its retry
    assert "timeout" not in result.output
    assert marker.read_text() == "init\ninit\n"  # the init, then its retry in the invocation


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (  # the line printed before the timeout tells where it hung
            "import time\ndef handler(event, context):\n    print('reached the slow call')\n"
            "    time.sleep(600)\n",
            "Task timed out after 1.00 seconds",
        ),
        (  # a line left without its newline when the runtime exits
            "import sys\ndef handler(event, context):\n    print('about to exit', end='')\n"
            "    sys.exit(4)\n",
            "Runtime exited with error: exit status 4",
        ),
        (  # progress without a newline, then the timeout
            "import sys, time\ndef handler(event, context):\n"
            "    sys.stdout.write('reached the slow call')\n    time.sleep(600)\n",
            "Task timed out after 1.00 seconds",
        ),
    ],
    ids=["timed-out", "exited", "timed-out-mid-line"],
)
def test_what_a_function_printed_before_it_timed_out_or_exited_is_in_its_log(
    emulator: Emulator, stack: Context, source: str, error: str
) -> None:
    # Lambda keeps what an invocation printed before it timed out or its runtime exited: people
    # log a line just before the timeout to learn where it hung (dazn/lambda-powertools,
    # middleware-log-timeout). The emulator had the lines only with the answer, so lost them.
    name = f"printsinv-{len(source)}"
    made_with(stack, f"{name}-Lambda-1", source, timeout=1)
    result = pocctl(emulator, "invoke", "1", "--event", "-", stdin='{"Records": []}', stack=name)
    assert result.exit_code == 1, result.output
    printed = "reached the slow call" if "timed out" in error else "about to exit"
    tail = shown_tail(result.output)
    assert printed in one_invocation(tail), result.output
    assert error in result.output


def test_an_answer_that_arrives_with_the_init_line_is_read(tmp_path: Path) -> None:
    # Review of issue 21, item 11: the init line was read through a buffer that could take the
    # answer with it; select() then waited on the descriptor for an answer already read, until
    # the timeout. A worker that writes both in one write makes the race certain.
    both = '{"init": "done"}\n{"ok": true, "result": {"batchItemFailures": []}, "logs": ""}\n'
    script = tmp_path / "both_at_once.py"
    script.write_text(  # then waits for the next request, as a warm worker does
        f"import sys\nsys.stdin.readline()\nsys.stdout.write({both!r})\nsys.stdout.flush()\n"
        "sys.stdin.readline()\n"
    )
    version = FunctionVersion(
        "race", "us-east-1", "123456789012", "app.handler", 5, 128, "arn", "sha", (), "/aws/l"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(functions.worker_module, "__file__", str(script))
        worker = Worker(version, tmp_path, {"PATH": "/usr/bin:/bin"})
    try:
        done = worker.invoke({"Records": []}, "r-1", timeout=2)
    finally:
        worker.kill()
    assert (done.ok, done.error_type) == (True, None)
    assert done.result == {"batchItemFailures": []}
