"""Issue 25's offline journey: a stack `up` with its alarms, its writer broken, an order posted:
the dead-letter queue's alarm mails its owner, naming the queue; the writer fixed and the order
redriven, the alarm returns to OK and mails that too. `pocctl local` publishes the queue's depth
each minute of AWS's clock (1.2 s at the tests' time scale) and evaluates the alarms on it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.code.bundle import bundled_dir
from pocctl.core.context import Context
from pocctl.local.emulator import Emulator

from .emulated import up_local
from .test_local_alarms import eventually
from .test_redrive import BROKEN, post_order

EMAIL = "owner@example.com"
WAIT_SECONDS = 60.0


def pocctl(emulator: Emulator, stack: str, *args: str) -> Result:
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    return CliRunner().invoke(cli, [*args, "--stack", stack], env=env)


def alarm_mails(emulator: Emulator, queue: str) -> list[dict[str, Any]]:
    """The alarm mails the owner got about `queue`, oldest first: CloudWatch's text, its
    "- Key: value" lines in `fields`."""
    found = []
    for mail in list(emulator.outbox.messages):
        if mail["to"] != EMAIL or mail.get("confirm_url"):
            continue
        text = str(mail["message"])
        if not text.startswith("You are receiving this email because your Amazon CloudWatch"):
            continue  # an order's notification
        fields = dict(
            (key.strip(), value.strip())
            for key, _, value in (
                line[2:].partition(":") for line in text.splitlines() if line.startswith("- ")
            )
        )
        if fields.get("Dimensions") == f"[QueueName = {queue}]":
            found.append({**mail, "fields": fields})
    return found


def states(mails: list[dict[str, Any]]) -> list[str]:
    return [m["fields"]["State Change"].split(" -> ")[1] for m in mails]


@pytest.mark.slow
def test_a_broken_writer_mails_the_dead_letter_alarm_and_a_redrive_after_the_fix_mails_ok(
    emulator: Emulator, tmp_path: Path
) -> None:
    handlers = tmp_path / "handlers"
    shutil.copytree(bundled_dir("handlers"), handlers)
    writer = handlers / "order_writer.py"
    fixed = writer.read_text()
    writer.write_text(fixed + BROKEN)
    ctx: Context = up_local(emulator, "alarmed", email=EMAIL, handlers=str(handlers))
    dead_letters = f"{ctx.config.stack}-Queue-DLQ"
    sqs = ctx.client("sqs")
    queue = sqs.get_queue_url(QueueName=f"{ctx.config.stack}-Queue")["QueueUrl"]
    # Small timeouts in the test, not in the product: redeliveries every second (`up` puts it
    # back after the fix).
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "1"})
    emulator.settled()

    post_order(ctx, {"item": "stuck"})

    alarm = eventually(
        lambda: [m for m in alarm_mails(emulator, dead_letters) if states([m]) == ["ALARM"]],
        f"an ALARM mail naming {dead_letters}",
        WAIT_SECONDS,
    )[0]
    assert alarm["fields"]["Name"] == ctx.config.names.dead_letters_alarm
    assert alarm["subject"] == (
        f'ALARM: "{ctx.config.names.dead_letters_alarm}" in US East (N. Virginia)'
    )
    assert alarm["fields"]["MetricName"] == "ApproximateNumberOfMessagesVisible"

    writer.write_text(fixed)
    repaired = pocctl(emulator, "alarmed", "up", "--handlers", str(handlers))
    assert repaired.exit_code == 0, repaired.output
    redriven = pocctl(emulator, "alarmed", "redrive", "--json")
    assert redriven.exit_code == 0, redriven.output
    assert json.loads(redriven.stdout)["stored"] == 1

    eventually(
        lambda: states(alarm_mails(emulator, dead_letters))[-1:] == ["OK"],
        f"an OK mail naming {dead_letters} after the redrive",
        WAIT_SECONDS,
    )
    assert "ALARM" in states(alarm_mails(emulator, dead_letters))
    # What the other alarms watch is published too, at the end of the minute it happened in
    # (the notifier's batch, once the redriven order is stored).
    names = ctx.config.names
    watched = {
        ("AWS/ApiGateway", "5XXError", names.api, ctx.config.stage),
        ("AWS/Lambda", "Errors", names.writer_function),
        ("AWS/Lambda", "IteratorAge", names.notifier_function),
    }
    eventually(lambda: watched <= metrics(ctx), f"{watched} in CloudWatch", WAIT_SECONDS)


def metrics(ctx: Context) -> set[tuple[str, ...]]:
    """(namespace, metric, dimension values...) of each metric CloudWatch lists."""
    listed = ctx.client("cloudwatch").get_paginator("list_metrics").paginate()
    return {
        (m["Namespace"], m["MetricName"], *(d["Value"] for d in m.get("Dimensions", [])))
        for page in listed
        for m in page["Metrics"]
    }
