"""`pocctl redrive`, and the dead-letter queue redrive `pocctl local` acts out for it (SQS's
StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask); `status` naming the orders
in the dead-letter queue with the writer's last error; `pocctl ls` finding every stack (and
what is left of one). One emulator serves them all, with two shared stacks: a healthy one,
whose tests leave its dead-letter queue empty, and one whose writer fails, whose tests only add
to its dead-letter queue; a test that counts that queue has a failing stack of its own."""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.code.bundle import bundled_dir
from pocctl.core.context import Context
from pocctl.local.emulator import Emulator
from pocctl.ops.listing import find_stacks
from pocctl.pipeline.stack import read_outputs

from .emulated import local_context, up_local
from .faults import runtime_with

BROKEN = '\n\ndef store(record):\n    raise RuntimeError("writer broken on purpose")\n'


@pytest.fixture(scope="module")
def stack(emulator: Emulator) -> Context:
    return up_local(emulator, "red")


def deploy_broken(emulator: Emulator, directory: Path, stack: str) -> Context:
    """A stack whose writer fails on every order, from a copy of the handlers in `directory`."""
    handlers = directory / "handlers"
    shutil.copytree(bundled_dir("handlers"), handlers)
    writer = handlers / "order_writer.py"
    writer.write_text(writer.read_text() + BROKEN)
    return up_local(emulator, stack, handlers=str(handlers))


@pytest.fixture(scope="module")
def broken(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Context:
    """A failing stack shared by tests that don't count its dead letters exactly: each adds its
    own, and a redrive's orders come back there later, whenever SQS gives up on them again."""
    return deploy_broken(emulator, tmp_path_factory.mktemp("broken"), "bad")


def pocctl(emulator: Emulator, stack: str, *args: str) -> Result:
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    return CliRunner().invoke(cli, [*args, "--stack", stack], env=env)


def dead_letter(ctx: Context, *bodies: str) -> list[str]:
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{ctx.config.stack}-Queue-DLQ")["QueueUrl"]
    return [sqs.send_message(QueueUrl=url, MessageBody=b)["MessageId"] for b in bodies]


def dry_run_then_redrive(emulator: Emulator, stack: str) -> tuple[str, Result]:
    """The dry run's output, then the redrive's result (--json); both exit 0."""
    dry = pocctl(emulator, stack, "redrive", "--dry-run")
    assert dry.exit_code == 0, dry.output
    result = pocctl(emulator, stack, "redrive", "--json")
    assert result.exit_code == 0, result.output
    return dry.output, result


def rows(ctx: Context) -> list[dict[str, Any]]:
    table = f"{ctx.config.stack}-orders"
    return list(ctx.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"])


def test_redrive_moves_the_dead_letters_back_and_each_is_stored_once(
    emulator: Emulator, stack: Context
) -> None:
    before = len(rows(stack))
    ids = dead_letter(stack, *(json.dumps({"item": f"redriven {i}"}) for i in range(3)))

    dry, result = dry_run_then_redrive(emulator, "red")
    assert "Dry run: would move 3 order(s) from red-Queue-DLQ to red-Queue." in dry
    document = json.loads(result.stdout)
    assert document["moved"] == 3 and document["stored"] == 3 and document["all_stored"]
    assert "Moved 3 order(s) from red-Queue-DLQ to red-Queue." in result.stderr
    stored = rows(stack)
    assert len(stored) == before + 3
    items = sorted(r["item"]["S"] for r in stored if r["item"]["S"].startswith("redriven"))
    assert items == ["redriven 0", "redriven 1", "redriven 2"]
    # SQS gives redriven messages new IDs (SQS Developer Guide, dead-letter queue redrive).
    assert not {r["orderID"]["S"] for r in stored} & set(ids)

    again = pocctl(emulator, "red", "redrive")
    assert again.exit_code == 0
    assert "Nothing to redrive: red-Queue-DLQ holds no orders." in again.output


def post_order(ctx: Context, order: dict[str, Any]) -> str:
    request = urllib.request.Request(
        read_outputs(ctx)["order_url"],
        data=json.dumps(order).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        order_id: str = json.loads(response.read())["orderID"]
    return order_id


def row(ctx: Context, order_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (
        ctx.client("dynamodb")
        .get_item(
            TableName=f"{ctx.config.stack}-orders",
            Key={"orderID": {"S": order_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return found


def stored_row(ctx: Context, order_id: str, timeout: float = 20.0) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while (found := row(ctx, order_id)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_a_redriven_order_keeps_the_id_the_client_got_and_is_stored_once(
    emulator: Emulator, stack: Context
) -> None:
    """Two orders the writer failed on five times, as SQS then holds them in the dead-letter
    queue (the API's message: its envelope around the order): one whose row was written before
    its batch failed, one never stored. After the redrive each is one row, under the id its
    client got, received when the client posted it."""
    stored_id = post_order(stack, {"item": "stored, then its batch failed"})
    first = stored_row(stack, stored_id)
    assert first is not None
    sqs = stack.client("sqs")
    dlq = sqs.get_queue_url(QueueName="red-Queue-DLQ")["QueueUrl"]
    posted_ms = 1_700_000_000_000
    for order_id, received, item in (
        (stored_id, first["receivedAt"]["S"], "stored, then its batch failed"),
        ("never+stored/id=", str(posted_ms), "never stored"),
    ):
        if not received.isdigit():
            received = str(int(datetime.fromisoformat(received).timestamp() * 1000))
        envelope = {"orderID": order_id, "receivedAt": int(received), "order": {"item": item}}
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(envelope))
    before = len(rows(stack))

    dry, result = dry_run_then_redrive(emulator, "red")
    assert "1 of the 2 order(s) are already stored" in dry
    document = json.loads(result.stdout)
    assert document["moved"] == 2 and document["stored"] == 2 and document["all_stored"]
    assert len(rows(stack)) == before + 1
    stored = row(stack, stored_id)
    assert stored is not None and as_stored(stored) == as_stored(first)  # not written again
    again = row(stack, "never+stored/id=")
    assert again is not None and again["receivedAt"]["S"] == "2023-11-14T22:13:20.000Z"


STORES_THEN_FAILS = """

_store_each = handler


def handler(event, context):
    _store_each(event, context)
    raise RuntimeError("failed after storing")
"""


@pytest.mark.slow  # two deployments and five real receives: about half a minute
def test_an_order_whose_batch_failed_after_it_was_stored_is_stored_once_after_a_redrive(
    emulator: Emulator, tmp_path: Any
) -> None:
    """Acted out end to end: the writer stores each order, then fails its batch; after five
    receives SQS dead-letters the message. Fixed and redriven, the order is still one row, under
    the id its client got, with the receivedAt it had."""
    handlers = tmp_path / "handlers"
    shutil.copytree(bundled_dir("handlers"), handlers)
    writer = handlers / "order_writer.py"
    writer.write_text(writer.read_text() + STORES_THEN_FAILS)
    ctx = up_local(emulator, "half", handlers=str(handlers))
    sqs = ctx.client("sqs")
    queue = sqs.get_queue_url(QueueName="half-Queue")["QueueUrl"]
    # Small timeouts in the test, not in the product: redeliveries every second.
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "1"})
    emulator.settled()  # SQS applies a changed attribute a while later
    order_id = post_order(ctx, {"item": "stored, then its batch failed"})
    first = stored_row(ctx, order_id)
    assert first is not None
    dlq = sqs.get_queue_url(QueueName="half-Queue-DLQ")["QueueUrl"]
    deadline = time.monotonic() + 60
    while queue_total(ctx, dlq) < 1:  # SQS's own clock: wait for the event, with a deadline
        assert time.monotonic() < deadline, "the order was not dead-lettered in a minute"
        time.sleep(0.2)

    up_local(emulator, "half")  # the built-in writer again
    dry, result = dry_run_then_redrive(emulator, "half")
    assert "1 of the 1 order(s) are already stored" in dry
    document = json.loads(result.stdout)
    assert document["moved"] == 1 and document["stored"] == 1 and document["all_stored"]
    deadline = time.monotonic() + 20
    while queue_total(ctx, queue):  # the redriven message, handled by the fixed writer
        assert time.monotonic() < deadline, "the redriven order was not handled"
        time.sleep(0.2)
    assert [as_stored(r) for r in rows(ctx)] == [as_stored(first)]


def as_stored(found: dict[str, Any]) -> dict[str, Any]:
    """The row as the writer stored it: the notifier marks it `notifiedAt` when it has told."""
    return {k: v for k, v in found.items() if k != "notifiedAt"}


def queue_total(ctx: Context, url: str) -> int:
    found = ctx.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    attributes = found["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


class NewTaskListedLate:
    """ListMessageMoveTasks goes on answering as before StartMessageMoveTask for two more calls
    (the list lagging behind the start), so the latest task it shows is the previous one."""

    def __init__(self) -> None:
        self.before: list[dict[str, Any]] = []
        self.started = False
        self.lagging = 2

    def __call__(self, session: Any) -> None:
        session.events.register("after-call.sqs.ListMessageMoveTasks", self._listed)
        session.events.register("after-call.sqs.StartMessageMoveTask", self._started)

    def _started(self, **_: Any) -> None:
        self.started = True

    def _listed(self, parsed: dict[str, Any], **_: Any) -> None:
        if not self.started:
            self.before = parsed.get("Results", [])
        elif self.lagging:
            self.lagging -= 1
            parsed["Results"] = self.before


def test_redrive_follows_its_own_task_not_the_previous_one(
    emulator: Emulator, stack: Context
) -> None:
    dead_letter(stack, *(json.dumps({"item": f"earlier {i}"}) for i in range(2)))
    assert pocctl(emulator, "red", "redrive").exit_code == 0  # a COMPLETED task of 2 moves
    dead_letter(stack, *(json.dumps({"item": f"later {i}"}) for i in range(3)))

    lagging = NewTaskListedLate()
    result = CliRunner().invoke(
        cli,
        ["redrive", "--json", "--stack", "red"],
        obj=runtime_with(lagging),
        env={"AWS_ENDPOINT_URL": emulator.endpoint_url},
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["moved"] == 3 and document["stored"] == 3, document
    assert lagging.lagging == 0  # the lag was met
    later = [r["item"]["S"] for r in rows(stack) if r["item"]["S"].startswith("later")]
    assert sorted(later) == ["later 0", "later 1", "later 2"]


def test_status_counts_the_dead_letters_with_the_writers_last_error(
    emulator: Emulator, tmp_path: Path
) -> None:
    counted = deploy_broken(emulator, tmp_path, "cnt")  # its own: the count must be exact
    assert pocctl(emulator, "cnt", "invoke", "1").exit_code == 1  # logs the writer's failure
    dead_letter(counted, json.dumps({"item": "stuck"}))
    result = pocctl(emulator, "cnt", "status", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    dlq = document["resources"]["dlq"]
    assert dlq["waiting"] == 1
    assert "writer broken on purpose" in dlq["last_error"]
    (problem,) = [p for p in document["problems"] if "dead-letter queue" in p]
    assert problem.startswith("1 order(s) in the dead-letter queue cnt-Queue-DLQ")
    assert "`pocctl redrive`" in problem and "writer broken on purpose" in problem
    assert "last error: " in result.stderr


def test_redrive_while_the_writer_still_fails_says_so_and_exits_1(
    emulator: Emulator, broken: Context
) -> None:
    assert pocctl(emulator, "bad", "invoke", "1").exit_code == 1  # logs the writer's failure
    dead_letter(broken, json.dumps({"item": "still stuck"}))
    result = pocctl(emulator, "bad", "redrive", "--wait", "1", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["moved"] >= 1 and document["stored"] == 0
    assert "writer broken on purpose" in document["plan"]["last_error"]
    assert "Lambda-1's last error, logged at " in result.stderr
    assert ", after Lambda-1's last update (" in result.stderr
    assert "If `pocctl up` fixed something else since (its role, the table)" in result.stderr
    assert "failed since" not in result.stderr
    assert f"0 of {document['moved']} redriven order(s) stored" in document["error"]
    assert "Is Lambda-1 still failing?" in document["error"]


class PausedClock:
    """Time that moves by redrive's own pauses, not by how long its calls take: its 2 s wait
    sees the same pauses on a busy machine. Each pause also sleeps a little for real, so the
    move task, which the emulator runs in real time, goes on meanwhile."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, 0.05))
        self.now += seconds


def test_redrive_says_what_it_waits_for(emulator: Emulator, broken: Context) -> None:
    dead_letter(broken, json.dumps({"item": "waited for"}))
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url, "NO_COLOR": "1"}
    args = ["redrive", "--wait", "2", "--stack", "bad"]
    clock = PausedClock()
    result = CliRunner().invoke(cli, args, env=env, obj=Runtime(sleep=clock.sleep, clock=clock))
    assert result.exit_code == 1, result.output
    assert re.search(
        r"\.\.\. waiting for the \d+ redriven order\(s\) to be stored \(\d s of 2 s\): "
        r"bad-Lambda-1 takes them from bad-Queue into bad-orders",
        result.output,
    ), result.output
    assert "AWS has not finished yet" not in result.output


@pytest.mark.slow  # heavy (tests/cases.py)
def test_redrive_after_the_fix_does_not_repeat_the_error_from_before_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    # Issue 21, item 11: redrive repeated the writer's last error from before the fix.
    ctx = deploy_broken(emulator, tmp_path, "fixd")
    handlers = tmp_path / "handlers"
    writer = handlers / "order_writer.py"
    assert pocctl(emulator, "fixd", "invoke", "1").exit_code == 1  # logs the writer's failure
    dead_letter(ctx, json.dumps({"item": "fixed since"}))
    assert "writer broken on purpose" in pocctl(emulator, "fixd", "status").output

    writer.write_text(writer.read_text().replace(BROKEN, ""))  # the fix
    fixed = pocctl(emulator, "fixd", "up", "--handlers", str(handlers))
    assert fixed.exit_code == 0, fixed.output
    result = pocctl(emulator, "fixd", "redrive", "--json")
    assert result.exit_code == 0, result.output
    assert "writer broken on purpose" not in result.output
    document = json.loads(result.stdout)
    assert document["plan"]["last_error"] is None and document["stored"] == 1
    assert document["plan"]["writer_updated"] is not None


def test_redrive_of_a_stack_that_is_not_deployed_says_what_to_do(emulator: Emulator) -> None:
    result = pocctl(emulator, "nope", "redrive")
    assert result.exit_code == 1
    assert "Stack nope has no nope-Queue-DLQ in us-east-1." in result.output
    assert "Run `pocctl up` first" in result.output


@pytest.mark.slow  # heavy (tests/cases.py)
def test_ls_lists_each_stack_with_its_health_url_and_age(
    emulator: Emulator, stack: Context, broken: Context
) -> None:
    dead_letter(broken, json.dumps({"item": "stuck"}))  # so that it is failing whatever ran
    iam = local_context(emulator, "ghost").client("iam")
    iam.create_role(RoleName="ghost-Lambda-1-Role", AssumeRolePolicyDocument="{}")
    emulator.settled()  # ListRoles leaves a new role out for a moment, as IAM does

    here = pocctl_anywhere(emulator, "ls")
    assert here.exit_code == 0, here.output
    lines = here.output.splitlines()
    assert lines[0].split() == [
        "STACK",
        "REGION",
        "HEALTH",
        "CREATED",
        "RESOURCES",
        "IDLE/MONTH",
        "ORDER",
        "URL",
    ]
    assert any(line.startswith("red ") and " healthy " in line for line in lines)
    assert not any(line.startswith("ghost ") for line in lines)
    assert "IAM roles (global) of 1 stack(s) with nothing in us-east-1: ghost." in here.output

    # In every region (two here; `ls --all-regions` below asks for each enabled one):
    # a stack with nothing left but its global roles is listed as roles-only.
    listing = find_stacks(stack, ["us-east-1", "eu-west-1"], every_region=True)
    assert listing.elsewhere == [] and listing.unreadable == {}
    stacks = {s.stack: s.as_json() for s in listing.stacks}
    assert stacks["red"]["health"] == "healthy" and stacks["red"]["region"] == "us-east-1"
    assert stacks["red"]["order_url"].endswith("/prod/_user_request_/order")
    assert stacks["red"]["created"] is not None
    assert "SQS queue red-Queue" in stacks["red"]["resources"]
    assert "IAM role red-Lambda-1-Role" in stacks["red"]["resources"]
    assert stacks["bad"]["health"] == "failing"
    assert any("dead-letter queue" in p for p in stacks["bad"]["problems"])
    assert stacks["ghost"]["health"] == "roles-only" and stacks["ghost"]["region"] == "global"
    assert "`pocctl down --stack ghost`" in stacks["ghost"]["problems"][0]


def test_ls_in_a_region_with_no_stack(emulator: Emulator) -> None:
    empty = pocctl_anywhere(emulator, "ls", "--region", "eu-west-3", "--json")
    assert empty.exit_code == 0
    assert json.loads(empty.stdout)["stacks"] == []
    assert "No pocctl stacks in eu-west-3" in empty.stderr


def pocctl_anywhere(emulator: Emulator, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"AWS_ENDPOINT_URL": emulator.endpoint_url})


@pytest.mark.slow  # moto answers for every region it knows: about 10 s of CPU
def test_ls_all_regions_asks_every_enabled_region(emulator: Emulator, stack: Context) -> None:
    everywhere = pocctl_anywhere(emulator, "ls", "--all-regions", "--json")
    assert everywhere.exit_code == 0, everywhere.output
    document = json.loads(everywhere.stdout)
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= set(document["regions"])
    assert [s["region"] for s in document["stacks"] if s["stack"] == "red"] == ["us-east-1"]
