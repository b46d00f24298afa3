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

from .as_cloudformation import ACCOUNT, tag_as_cloudformation
from .cli_runs import run, up_ok
from .conftest import REGION
from .faults import runtime_with
from .inventory import everything

CFN_STACK = "orders-prod"
NAMES = Config(stack="POC", region=REGION).names


def cloudformation_tags(logical_id: str) -> dict[str, str]:
    """The tags CloudFormation leaves on what it creates ("CloudFormation resource tagging")."""
    return {
        "aws:cloudformation:stack-name": CFN_STACK,
        "aws:cloudformation:stack-id": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:"
        f"stack/{CFN_STACK}/8f1c2e40-0000-11ef-0000-0a1b2c3d4e5f",
        "aws:cloudformation:logical-id": logical_id,
    }


def tag_as_cloudformation_would(client: Callable[[str], Any]) -> None:
    """Tag the functions, their log groups and the topic as a CloudFormation deploy would (see
    `managed_by` for the kinds it tags)."""
    lam = client("lambda")
    for logical, function in (
        ("WriterFunction", NAMES.writer_function),
        ("NotifierFunction", NAMES.notifier_function),
    ):
        found = lam.get_function(FunctionName=function)["Configuration"]
        tag_as_cloudformation(found["FunctionArn"], cloudformation_tags(logical))
        group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{Names.log_group(function)}"
        tag_as_cloudformation(group, cloudformation_tags(f"{logical}Logs"))
    tag_as_cloudformation(topic(client), cloudformation_tags("Topic"))


def topic(client: Callable[[str], Any]) -> str:
    topics = client("sns").list_topics()["Topics"]
    return next(t["TopicArn"] for t in topics if t["TopicArn"].endswith(f":{NAMES.topic}"))


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
    tag_as_cloudformation(topic(session.client), cloudformation_tags("Topic"))
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


def tag_api(session: boto3.Session, logical_id: str, stage: bool) -> None:
    """Tag the REST API, or its stage alone, as CloudFormation would."""
    ag = session.client("apigateway")
    api_id = next(a["id"] for a in ag.get_rest_apis()["items"] if a["name"] == NAMES.api)
    path = f"/restapis/{api_id}/stages/prod" if stage else f"/restapis/{api_id}"
    tag_as_cloudformation(f"arn:aws:apigateway:{REGION}::{path}", cloudformation_tags(logical_id))


def tag_queue_mapping(session: boto3.Session, logical_id: str) -> None:
    lam = session.client("lambda")
    mappings = lam.list_event_source_mappings(FunctionName=NAMES.writer_function)
    arn = mappings["EventSourceMappings"][0]["EventSourceMappingArn"]
    tag_as_cloudformation(arn, cloudformation_tags(logical_id))


def tag_alarm(session: boto3.Session, logical_id: str) -> None:
    cloudwatch = session.client("cloudwatch")
    alarm = cloudwatch.describe_alarms(AlarmNames=[NAMES.dead_letters_alarm])["MetricAlarms"][0]
    tag_as_cloudformation(alarm["AlarmArn"], cloudformation_tags(logical_id))


# Each kind whose registry schema says CloudFormation tags it ("cloudFormationSystemTags": true),
# tagged alone, and the resource `up` and `down` name for it.
TAGGED_ALONE: dict[str, tuple[Callable[[boto3.Session], None], str]] = {
    "api": (lambda s: tag_api(s, "Api", stage=False), f"REST API {NAMES.api}"),
    "stage": (lambda s: tag_api(s, "ApiStage", stage=True), f"REST API {NAMES.api}"),
    "queue mapping": (
        lambda s: tag_queue_mapping(s, "QueueMapping"),
        f"event source mapping {NAMES.queue} -> {NAMES.writer_function}",
    ),
    "alarm": (
        lambda s: tag_alarm(s, "DeadLettersAlarm"),
        f"CloudWatch alarm {NAMES.dead_letters_alarm}",
    ),
}


@pytest.mark.parametrize("kind", list(TAGGED_ALONE))
@pytest.mark.parametrize("command", [("up", "--rate-limit", "3"), ("down", "--yes")])
def test_each_kind_cloudformation_tags_holds_back_up_and_down_alone(
    runner: CliRunner, session: boto3.Session, kind: str, command: tuple[str, ...]
) -> None:
    tag, title = TAGGED_ALONE[kind]
    up_ok(runner)
    tag(session)
    before = everything(session)
    result, calls = refuse(*command, "--json")
    assert result.exit_code == 1, result.output
    assert calls.writes == []
    assert everything(session) == before
    document = json.loads(result.stdout)
    assert document["managed_by_cloudformation"] == {CFN_STACK: [title]}


def test_the_update_command_printed_names_the_packaged_template_and_iam_capability(
    managed: boto3.Session,
) -> None:
    """CloudFormation refuses a template naming its IAM roles without CAPABILITY_NAMED_IAM
    (InsufficientCapabilities), and deploys no template whose code is local paths."""
    update = (
        f"aws cloudformation deploy --stack-name {CFN_STACK} --region {REGION} "
        "--template-file TEMPLATE --capabilities CAPABILITY_NAMED_IAM"
    )
    refused, _ = refuse("up", "--json")
    assert update in json.loads(refused.stdout)["error"]
    assert "TEMPLATE is the packaged template" in json.loads(refused.stdout)["error"]
    sqs = managed.client("sqs")
    queue = sqs.get_queue_url(QueueName=NAMES.queue)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "7"})
    status = run(CliRunner(), "status")  # drift: the repair it offers is CloudFormation's
    assert update in status.output
    assert "TEMPLATE is the packaged template" in status.output


def test_down_refuses_without_asking_when_cloudformation_manages_the_stack(
    managed: boto3.Session,
) -> None:
    """Asked first, a user would say yes to a deletion that then doesn't happen."""
    before = everything(managed)
    calls = Calls()
    at_a_terminal = runtime_with(calls.record, stdin_is_terminal=lambda: True)
    result = CliRunner().invoke(cli, ["down"], input="y\n", obj=at_a_terminal)
    assert result.exit_code == 1
    assert "[y/N]" not in result.output
    assert "pocctl down deleted nothing: stack POC is managed by CloudFormation" in result.output
    assert calls.writes == []
    assert everything(managed) == before


def test_up_says_cloudformation_holds_the_stack_not_that_the_code_is_elsewhere(
    runner: CliRunner, session: boto3.Session, tmp_path: Path
) -> None:
    handlers = tmp_path / "elsewhere"
    shutil.copytree(bundled_dir("handlers"), handlers)
    up_ok(runner, "--handlers", str(handlers))
    tag_as_cloudformation_would(session.client)
    shutil.rmtree(handlers)  # another machine: a teammate's checkout
    result, calls = refuse("up", "--json")
    assert result.exit_code == 1, result.output
    assert calls.writes == []
    document = json.loads(result.stdout)
    assert (
        "pocctl up changed nothing: stack POC is managed by CloudFormation" in (document["error"])
    )
    assert "which is not on this machine" not in result.output
    assert list(document["managed_by_cloudformation"]) == [CFN_STACK]
