"""pocctl and CloudFormation don't fight: a stack whose resources carry CloudFormation's stack tag
is left to CloudFormation by `up` and `down`, and the read-only commands still work on it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.code.bundle import bundled_dir
from pocctl.core.config import Config, Names
from pocctl.core.session import new_session
from pocctl.core.telemetry import READ_PREFIXES
from pocctl.local.emulator import Emulator
from pocctl.ops.watch import watching
from pocctl.pipeline.stack import build_steps
from pocctl.resources.functions import FunctionStep

from .cli_runs import run, up_ok
from .conftest import REGION
from .emulated import up_local
from .faults import runtime_with
from .inventory import everything

CFN_STACK = "orders-prod"
NAMES = Config(stack="POC", region=REGION).names


def cloudformation_tags(logical_id: str) -> dict[str, str]:
    """The tags CloudFormation leaves on what it creates ("CloudFormation resource tagging")."""
    return {
        "aws:cloudformation:stack-name": CFN_STACK,
        "aws:cloudformation:stack-id": f"arn:aws:cloudformation:{REGION}:123456789012:"
        f"stack/{CFN_STACK}/8f1c2e40-0000-11ef-0000-0a1b2c3d4e5f",
        "aws:cloudformation:logical-id": logical_id,
    }


def tag_as_cloudformation_would(client: Callable[[str], Any]) -> None:
    """Tag what CloudFormation tags with its stack: the functions, their log groups and the
    topic. Not the queues, the table or the roles, which never get its tags (see
    `managed_by_cloudformation`)."""
    lam, logs, sns = (client(s) for s in ("lambda", "logs", "sns"))
    for logical, function in (
        ("WriterFunction", NAMES.writer_function),
        ("NotifierFunction", NAMES.notifier_function),
    ):
        arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
        lam.tag_resource(Resource=arn, Tags=cloudformation_tags(logical))
        logs.tag_log_group(
            logGroupName=Names.log_group(function), tags=cloudformation_tags(f"{logical}Logs")
        )
    arn = next(
        t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(NAMES.topic)
    )
    tags = cloudformation_tags("Topic")
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


class Calls(list[str]):
    """Every operation the CLI's sessions call, by name."""

    def record(self, session: boto3.Session) -> None:
        def called(model: Any, **_: Any) -> None:
            self.append(model.name)

        session.events.register("before-call.*.*", called)

    @property
    def writes(self) -> list[str]:
        return [name for name in self if not name.startswith(READ_PREFIXES)]


@pytest.fixture
def session(aws: None) -> boto3.Session:
    return new_session(region_name=REGION)


@pytest.fixture
def managed(runner: CliRunner, session: boto3.Session) -> boto3.Session:
    """The stack, up, then tagged as a CloudFormation deploy of it would leave it."""
    up_ok(runner)
    tag_as_cloudformation_would(session.client)
    return session


def refuse(command: str, *args: str) -> tuple[Any, Calls]:
    calls = Calls()
    result = CliRunner().invoke(
        cli, [command, *args], obj=runtime_with(calls.record), catch_exceptions=False
    )
    return result, calls


def test_up_changes_nothing_cloudformation_manages_and_says_how_to_update_it(
    managed: boto3.Session,
) -> None:
    before = everything(managed)
    # a changed setting: `up` would otherwise update the stage and the functions
    result, calls = refuse("up", "--rate-limit", "3", "--json")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert calls and calls.writes == []
    assert everything(managed) == before
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert list(document["managed_by_cloudformation"]) == [CFN_STACK]
    assert sorted(document["managed_by_cloudformation"][CFN_STACK]) == sorted(
        [
            f"Lambda function {NAMES.writer_function}",
            f"log group {Names.log_group(NAMES.writer_function)}",
            f"Lambda function {NAMES.notifier_function}",
            f"log group {Names.log_group(NAMES.notifier_function)}",
            f"SNS topic {NAMES.topic}",
        ]
    )
    error = document["error"]
    managed_by = f"stack POC is managed by CloudFormation stack {CFN_STACK}"
    assert f"pocctl up changed nothing: {managed_by}" in error
    assert f"aws cloudformation deploy --stack-name {CFN_STACK} --region {REGION}" in error


def test_down_deletes_nothing_cloudformation_manages_and_says_how_to_delete_it(
    managed: boto3.Session,
) -> None:
    before = everything(managed)
    result, calls = refuse("down", "--yes")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert calls and calls.writes == []
    assert everything(managed) == before
    managed_by = f"stack POC is managed by CloudFormation stack {CFN_STACK}"
    assert f"pocctl down deleted nothing: {managed_by}" in result.output
    assert f"aws cloudformation delete-stack --stack-name {CFN_STACK} --region {REGION}" in (
        result.output
    )


def test_one_resource_cloudformation_manages_holds_back_the_whole_down(
    runner: CliRunner, session: boto3.Session
) -> None:
    """CloudFormation's stack holds the topic only: `down` deletes none of the rest either,
    and names the one it found."""
    up_ok(runner)
    arn = next(t["TopicArn"] for t in session.client("sns").list_topics()["Topics"])
    tags = cloudformation_tags("Topic")
    session.client("sns").tag_resource(
        ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
    )
    before = everything(session)
    result, calls = refuse("down", "--yes", "--json")
    assert result.exit_code == 1
    assert calls.writes == []
    assert everything(session) == before
    document = json.loads(result.stdout)
    assert document["managed_by_cloudformation"] == {CFN_STACK: [f"SNS topic {NAMES.topic}"]}


def test_status_says_cloudformation_manages_the_stack_and_read_only_commands_work(
    managed: boto3.Session,
) -> None:
    result = run(CliRunner(), "status")
    assert result.exit_code == 0, result.output
    assert f"Managed by CloudFormation stack {CFN_STACK}" in result.output
    document = json.loads(run(CliRunner(), "status", "--json").stdout)
    assert document["healthy"] is True
    assert document["managed_by_cloudformation"] == [CFN_STACK]
    runner = CliRunner()
    outputs = run(runner, "outputs", "--json")
    assert outputs.exit_code == 0, outputs.output
    assert json.loads(outputs.stdout)["order_url"]
    listed = run(runner, "ls", "--json")
    assert listed.exit_code == 0, listed.output
    assert [s["stack"] for s in json.loads(listed.stdout)["stacks"]] == ["POC"]
    redrive = run(runner, "redrive", "--dry-run", "--json")
    assert redrive.exit_code == 0, redrive.output


def test_an_order_goes_through_a_stack_cloudformation_manages(emulator: Emulator) -> None:
    """Offline, where the functions run: test-order, invoke and logs on the tagged stack."""
    ctx = up_local(emulator, "POC")
    tag_as_cloudformation_would(ctx.client)
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}

    def pocctl(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    tested = pocctl("test-order", "--json")
    assert tested.exit_code == 0, tested.output
    invoked = pocctl("invoke", "1", "--json")
    assert invoked.exit_code == 0, invoked.output
    logs = pocctl("logs", "--function", "1")
    assert logs.exit_code == 0, logs.output
    refused = pocctl("up", "--json")
    assert refused.exit_code == 1, refused.output
    assert json.loads(refused.stdout)["managed_by_cloudformation"]


def test_up_watch_uploads_nothing_once_cloudformation_manages_the_functions(
    emulator: Emulator, tmp_path: Path
) -> None:
    handlers = tmp_path / "handlers"
    shutil.copytree(bundled_dir("handlers"), handlers)
    ctx = up_local(emulator, "watchcfn", handlers=str(handlers))
    functions = [s for s in build_steps(ctx.config) if isinstance(s, FunctionStep)]
    notifier = ctx.config.names.notifier_function
    lam = ctx.client("lambda")
    before = lam.get_function(FunctionName=notifier)["Configuration"]["CodeSha256"]
    with watching(ctx, functions) as updates:
        arn = lam.get_function(FunctionName=notifier)["Configuration"]["FunctionArn"]
        lam.tag_resource(Resource=arn, Tags=cloudformation_tags("NotifierFunction"))
        source = handlers / "order_notifier.py"
        source.write_text(source.read_text().replace("New order", "Order in"))
        update = updates.get(timeout=60)
    assert update.updated == []
    assert update.error is not None and f"CloudFormation stack {CFN_STACK}" in update.error
    assert lam.get_function(FunctionName=notifier)["Configuration"]["CodeSha256"] == before
