"""Issue 14's "done when", offline, as a new user would go through it with the README: own the
handlers, change the subject, add a dependency, deploy only the code, break the writer, see the
orders in the dead-letter queue, fix it with `up --watch` running, redrive, find the stack."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.local.emulator import Emulator
from pocctl.ops.watch import watching
from pocctl.pipeline.stack import build_steps
from pocctl.resources.functions import FunctionStep

from .emulated import local_context
from .wheels import make_wheel, offline_requirements

# Mostly waiting: orders fail over a minute and a half of the queue's real visibility timeouts.
pytestmark = [pytest.mark.slow, pytest.mark.long]
BREAK = "    order_id, received, order = unpack(record)\n"


def test_a_new_users_daily_loop(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POCCTL_CACHE_DIR", str(tmp_path / "cache"))
    # A short writer timeout: the queue's visibility is 18 s, so a failing order reaches the
    # dead-letter queue after its 5 receives in about a minute and a half instead of 5 minutes.
    # (Not less: `up` refuses a handler whose import takes longer than its timeout, and on a
    # loaded 2-core machine importing boto3 in the check's child Python took over 2 s, in CI
    # beside its other jobs on 4 December 2026.)
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url, "POCCTL_WRITER_TIMEOUT": "3"}

    def pocctl(*args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--stack", "loop"], env=env)

    def up() -> dict[str, Any]:
        result = pocctl("up", "--json")
        assert result.exit_code == 0, result.output
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    up()  # the lab as pocctl ships it

    assert CliRunner().invoke(cli, ["init", "--handlers"]).exit_code == 0
    handlers = tmp_path / "handlers"
    notifier = handlers / "order_notifier.py"
    notifier.write_text(notifier.read_text().replace('f"New order {', 'f"Your order {'))
    make_wheel(tmp_path / "wheels")
    (handlers / "requirements.txt").write_text(
        offline_requirements(tmp_path / "wheels", "orderstamp")
    )
    writer = handlers / "order_writer.py"
    fixed = (
        writer.read_text()
        .replace("import boto3\n", "import boto3\nimport orderstamp\n")
        .replace(
            'row = {**order, "orderID": order_id,',
            'row = {**order, "stamp": orderstamp.stamp(order["item"]), "orderID": order_id,',
        )
    )
    writer.write_text(fixed)

    deployed = up()
    updated = [s for s in deployed["steps"] if s["outcome"] == "updated"]
    assert sorted(s["step"] for s in updated) == ["notifier", "writer"]
    assert all("code changed: will upload the new zip" in s["changes"] for s in updated)
    assert set(deployed["counts"]) == {"updated", "unchanged"}
    assert deployed["code"]["dependencies"] == ["orderstamp==1.0"]

    tested = pocctl("test-order", "--json")
    assert tested.exit_code == 0, tested.output
    result = json.loads(tested.stdout)
    assert result["subject"].startswith("Your order ")
    ctx = local_context(emulator, "loop", handlers=str(handlers))
    row = ctx.client("dynamodb").get_item(
        TableName="loop-orders", Key={"orderID": {"S": result["order_id"]}}
    )["Item"]
    assert row["stamp"]["S"] == "stamped:latex gloves"  # the dependency ran in the writer

    # Break the writer, post orders: after five failures each, they are dead letters.
    writer.write_text(fixed.replace(BREAK, BREAK + '    raise RuntimeError("oops")\n'))
    up()
    url = deployed["order_url"]
    for item in ("broken 1", "broken 2"):
        request = urllib.request.Request(
            url, json.dumps({"item": item}).encode(), {"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=10).read()
    sqs = ctx.client("sqs")
    dlq = sqs.get_queue_url(QueueName="loop-Queue-DLQ")["QueueUrl"]
    for _ in range(480):  # SQS's own clock: wait for the event, with a deadline
        depth = sqs.get_queue_attributes(
            QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        if depth == "2":
            break
        ctx.sleep(0.5)
    else:
        pytest.fail("the two broken orders did not reach the dead-letter queue in 4 minutes")
    status = pocctl("status", "--json")
    assert status.exit_code == 1
    dlq_status = json.loads(status.stdout)["resources"]["dlq"]
    assert dlq_status["waiting"] == 2
    assert "oops" in dlq_status["last_error"]

    # Fix it with `up --watch` running: the save reaches Lambda-1 alone.
    functions = [s for s in build_steps(ctx.config) if isinstance(s, FunctionStep)]
    with watching(ctx, functions) as updates:
        writer.write_text(fixed)
        update = updates.get(timeout=60)
    assert update.updated == ["loop-Lambda-1"] and update.error is None

    redriven = pocctl("redrive", "--json")
    assert redriven.exit_code == 0, redriven.output
    moved = json.loads(redriven.stdout)
    assert moved["moved"] == 2 and moved["stored"] == 2
    items = [
        r["item"]["S"]
        for r in ctx.client("dynamodb").scan(TableName="loop-orders")["Items"]
        if r["item"]["S"].startswith("broken")
    ]
    assert sorted(items) == ["broken 1", "broken 2"]  # each stored exactly once

    found = json.loads(pocctl("ls", "--json").stdout)["stacks"]
    assert [s["health"] for s in found if s["stack"] == "loop"] == ["healthy"]
