"""`pocctl redrive`, and the dead-letter queue redrive `pocctl local` acts out for it (SQS's
StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask); `status` naming the orders
in the dead-letter queue with the writer's last error; `pocctl ls` finding every stack (and
what is left of one). One emulator and two stacks serve them all: a healthy one, and one whose
writer fails."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pocctl.bundle import bundled_dir
from pocctl.cli import cli
from pocctl.context import Context
from pocctl.listing import find_stacks
from pocctl.local.emulator import Emulator

from .emulated import local_context, up_local
from .faults import runtime_with

BROKEN = '\n\ndef store(record):\n    raise RuntimeError("writer broken on purpose")\n'


@pytest.fixture(scope="module")
def stack(emulator: Emulator) -> Context:
    return up_local(emulator, "red")


@pytest.fixture(scope="module")
def broken(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Context:
    """A stack whose writer fails on every order."""
    handlers = tmp_path_factory.mktemp("broken") / "handlers"
    shutil.copytree(bundled_dir("handlers"), handlers)
    writer = handlers / "order_writer.py"
    writer.write_text(writer.read_text() + BROKEN)
    return up_local(emulator, "bad", handlers=str(handlers))


def pocctl(emulator: Emulator, stack: str, *args: str) -> Result:
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    return CliRunner().invoke(cli, [*args, "--stack", stack], env=env)


def dead_letter(ctx: Context, *bodies: str) -> list[str]:
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{ctx.config.stack}-Queue-DLQ")["QueueUrl"]
    return [sqs.send_message(QueueUrl=url, MessageBody=b)["MessageId"] for b in bodies]


def rows(ctx: Context) -> list[dict[str, Any]]:
    table = f"{ctx.config.stack}-orders"
    return list(ctx.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"])


def test_redrive_moves_the_dead_letters_back_and_each_is_stored_once(
    emulator: Emulator, stack: Context
) -> None:
    before = len(rows(stack))
    ids = dead_letter(stack, *(json.dumps({"item": f"redriven {i}"}) for i in range(3)))

    dry = pocctl(emulator, "red", "redrive", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Dry run: would move 3 order(s) from red-Queue-DLQ to red-Queue." in dry.output

    result = pocctl(emulator, "red", "redrive", "--json")
    assert result.exit_code == 0, result.output
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
    emulator: Emulator, broken: Context
) -> None:
    assert pocctl(emulator, "bad", "invoke", "1").exit_code == 1  # logs the writer's failure
    dead_letter(broken, json.dumps({"item": "stuck"}))
    result = pocctl(emulator, "bad", "status", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    dlq = document["resources"]["dlq"]
    assert dlq["waiting"] == 1
    assert "writer broken on purpose" in dlq["last_error"]
    (problem,) = [p for p in document["problems"] if "dead-letter queue" in p]
    assert problem.startswith("1 order(s) in the dead-letter queue bad-Queue-DLQ")
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
    assert "Last error Lambda-1 logged: " in result.stderr
    assert f"0 of {document['moved']} redriven order(s) stored" in document["error"]
    assert "Is Lambda-1 still failing?" in document["error"]


def test_redrive_of_a_stack_that_is_not_deployed_says_what_to_do(emulator: Emulator) -> None:
    result = pocctl(emulator, "nope", "redrive")
    assert result.exit_code == 1
    assert "Stack nope has no nope-Queue-DLQ in us-east-1." in result.output
    assert "Run `pocctl up` first" in result.output


def test_ls_lists_each_stack_with_its_health_url_and_age(
    emulator: Emulator, stack: Context, broken: Context
) -> None:
    dead_letter(broken, json.dumps({"item": "stuck"}))  # so that it is failing whatever ran
    iam = local_context(emulator, "ghost").client("iam")
    iam.create_role(RoleName="ghost-Lambda-1-Role", AssumeRolePolicyDocument="{}")

    here = pocctl_anywhere(emulator, "ls")
    assert here.exit_code == 0, here.output
    lines = here.output.splitlines()
    assert lines[0].split() == ["STACK", "REGION", "HEALTH", "CREATED", "RESOURCES", "ORDER", "URL"]
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
