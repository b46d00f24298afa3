"""The whole journey under exactly `policies/deployer.json`, enforced by `pocctl local`."""

from __future__ import annotations

import io
import json
import sys
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.core.context import Context
from pocctl.local.aws.sns import follow_confirmation_links
from pocctl.local.emulator import Emulator
from pocctl.local.policy import Request, evaluate, statement_applies
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import boundary_policy, build_steps, deployer_policy
from pocctl.resources.policies import as_list

from .emulated import TIMING, local_context, up_local


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    # Its log goes to stderr: the CLI's stdout, captured while it runs, is its JSON alone.
    with Emulator(port=0, timing=TIMING, log=lambda line: print(line, file=sys.stderr)) as running:
        yield running


def deployer(emulator: Emulator, stack: str) -> dict[str, str]:
    """The roles' permissions boundary, and an IAM user with only the deployer policy, as the
    README has an administrator create them; the user's keys."""
    admin = local_context(emulator, stack)
    iam = admin.client("iam")
    iam.create_policy(
        PolicyName=f"{stack}-Roles-Boundary", PolicyDocument=json.dumps(boundary_policy(admin))
    )
    iam.create_user(UserName=f"{stack}-deployer")
    iam.put_user_policy(
        UserName=f"{stack}-deployer",
        PolicyName="pocctl-deployer",
        PolicyDocument=json.dumps(deployer_policy(admin)),
    )
    key = iam.create_access_key(UserName=f"{stack}-deployer")["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


def wait_until_iam_knows(emulator: Emulator, keys: dict[str, str]) -> None:
    sqs = boto3.client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            sqs.list_queues()
            return
        except ClientError as exc:
            assert "not authorized" in str(exc) and time.monotonic() < deadline, exc
        time.sleep(0.02)


@pytest.fixture
def as_deployer(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI runs with the keys of stack ci's deployer user, once IAM knows it."""
    keys = deployer(emulator, "ci")
    wait_until_iam_knows(emulator, keys)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    for name, value in keys.items():
        monkeypatch.setenv(name, value)


@pytest.mark.slow  # heavy (tests/cases.py)
def test_the_whole_journey_passes_under_exactly_the_deployer_policy(
    emulator: Emulator, as_deployer: None
) -> None:
    runner = CliRunner()

    def pocctl(*args: str) -> Result:
        result = runner.invoke(cli, [*args, "--stack", "ci"])
        assert result.exit_code == 0, result.output
        return result

    pocctl("up", "--email", "ci@example.com")
    follow_confirmation_links(emulator.outbox.messages, "ci@example.com")
    pocctl("test-order")
    changed_by_hand(local_context(emulator, "ci"))
    repaired = pocctl("up")
    assert "0 created, 7 updated" in repaired.output, repaired.output
    pocctl("test-order")
    pocctl("status")
    pocctl("logs")
    pocctl("invoke", "1")
    sqs = local_context(emulator, "ci").client("sqs")
    dlq = sqs.get_queue_url(QueueName="ci-Queue-DLQ")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody='{"item": "dead letter"}')
    assert "1 order(s) stored" in pocctl("redrive").output
    listed = pocctl("ls", "--all-regions", "--json")
    assert [s["health"] for s in json.loads(listed.stdout)["stacks"]] == ["healthy"]
    pocctl("outputs", "--json")
    ddb = local_context(emulator, "ci").client("dynamodb")
    ddb.update_table(TableName="ci-orders", DeletionProtectionEnabled=True)
    down = pocctl("down", "--yes")
    assert "nothing tagged pocctl:stack=ci is left" in down.output
    # The administrator's boundary stays, for the next `up`: the deployer may not remove it.
    assert "left IAM permissions boundary ci-Roles-Boundary alone" in down.output
    iam = local_context(emulator, "ci").client("iam")
    iam.get_policy(PolicyArn="arn:aws:iam::123456789012:policy/ci-Roles-Boundary")

    granted = {
        action
        for statement in deployer_policy(local_context(emulator, "ci"))["Statement"]
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
    }
    used = emulator.authorizer.used["arn:aws:iam::123456789012:user/ci-deployer"]
    assert granted - used == set(NOT_EXERCISED_BY_THE_JOURNEY)


# Granted, but not met on this journey: everything else the deployer policy grants, the journey
# above uses (so a grant no command needs fails it).
NOT_EXERCISED_BY_THE_JOURNEY = {
    "iam:ListRoleTags": "down's sweep, when a role of the stack is still there",
    # Tags given at creation: the SQS, SNS and CloudWatch API references require the tagging
    # permission then (pocctl local checks those); the others' leave it open, so it is granted.
    "iam:TagRole": "CreateRole with Tags",
    "dynamodb:TagResource": "CreateTable with Tags",
    "lambda:TagResource": "CreateFunction and CreateEventSourceMapping with Tags",
    "logs:TagResource": "CreateLogGroup with tags",
    "sns:SetTopicAttributes": "up putting back the alarm topic's policy, changed by hand",
}


def changed_by_hand(admin: Context) -> None:
    """What someone changes in the console, one of each kind `up` repairs."""
    lam, iam, sqs = admin.client("lambda"), admin.client("iam"), admin.client("sqs")
    lam.update_function_configuration(FunctionName="ci-Lambda-1", Timeout=30)
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("order_notifier.py", "def handler(event, context):\n    return None\n")
    lam.update_function_code(FunctionName="ci-Lambda-2", ZipFile=code.getvalue())
    queue = sqs.get_queue_url(QueueName="ci-Queue")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "30"})
    (mapping,) = lam.list_event_source_mappings(FunctionName="ci-Lambda-1")["EventSourceMappings"]
    lam.update_event_source_mapping(UUID=mapping["UUID"], BatchSize=5)
    iam.update_assume_role_policy(RoleName="ci-APIGateway-SQS-Role", PolicyDocument=TRUST_LAMBDA)
    extra = iam.create_policy(PolicyName="ci-by-hand", PolicyDocument=EVERYTHING)["Policy"]
    iam.attach_role_policy(RoleName="ci-Lambda-1-Role", PolicyArn=extra["Arn"])
    iam.delete_role_permissions_boundary(RoleName="ci-Lambda-2-Role")


@pytest.mark.slow  # heavy (tests/cases.py)
def test_the_deployer_reads_the_functions_record_back(
    emulator: Emulator, as_deployer: None
) -> None:
    """GetFunction returns a function's tags (the record) only to a caller allowed
    lambda:ListTags on it: the deployer policy grants it, so later commands see the deploy."""
    runner = CliRunner()
    up = runner.invoke(
        cli, ["up", "--stack", "ci", "--env", "MODE=fast"], env={"POCCTL_MEMORY": "256"}
    )
    assert up.exit_code == 0, up.output

    status = runner.invoke(cli, ["status", "--stack", "ci", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["pending"] == []
    again = runner.invoke(cli, ["up", "--stack", "ci", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["counts"].get("updated") is None  # kept memory and MODE


def test_the_deployer_policy_reaches_no_other_stack(as_deployer: None) -> None:
    result = CliRunner().invoke(cli, ["up", "--stack", "other"])
    assert result.exit_code == 1
    assert "is not authorized to perform" in result.output


def test_the_rendered_deployer_policy_passes_parliament(emulator: Emulator) -> None:
    from parliament import analyze_policy_string

    policy: dict[str, Any] = deployer_policy(local_context(emulator, "ci"))
    findings = analyze_policy_string(json.dumps(policy)).findings
    # parliament's definitions list iam:PermissionsBoundary both as ARN and as String, and judge
    # by the first; AWS's delegation example compares it with StringEquals (IAM User Guide,
    # "Permissions boundaries for IAM entities"), as the deployer policy does.
    boundary_as_string = (
        "MISMATCHED_TYPE_BUT_USABLE",
        "Type mismatch: StringEquals requires a value of type String but given Arn",
    )
    assert [
        (f.issue, f.detail) for f in findings if (f.issue, f.detail) != boundary_as_string
    ] == []


def test_deployer_policy_prints_the_policy_for_this_stack(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    result = CliRunner().invoke(cli, ["deployer-policy", "--stack", "ci"])
    assert result.exit_code == 0, result.output
    policy = json.loads(result.stdout)
    resources = [r for s in policy["Statement"] for r in as_list(s["Resource"])]
    assert "arn:aws:iam::123456789012:role/ci-Lambda-1-Role" in resources
    assert "arn:aws:sqs:us-east-1:123456789012:ci-Queue" in resources
    assert "aws iam create-policy --policy-name ci-Roles-Boundary" in result.stderr

    boundary = CliRunner().invoke(cli, ["deployer-policy", "--stack", "ci", "--boundary"])
    assert boundary.exit_code == 0, boundary.output
    granted = {a for s in json.loads(boundary.stdout)["Statement"] for a in as_list(s["Action"])}
    assert "sns:Publish" in granted and not any(a.startswith("iam:") for a in granted)


def as_user(emulator: Emulator, keys: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
    )


def deployers_iam(emulator: Emulator, stack: str) -> Any:
    """An IAM client with the keys of the stack's deployer, once IAM knows it."""
    keys = deployer(emulator, stack)
    wait_until_iam_knows(emulator, keys)
    return as_user(emulator, keys, "iam")


TRUST_LAMBDA = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
EVERYTHING = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
BOUNDARY = "arn:aws:iam::123456789012:policy/esc-Roles-Boundary"


def refused(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as denied:
        call(**params)
    assert denied.value.response["Error"]["Code"] == "AccessDenied", denied.value
    return str(denied.value)


def test_the_deployer_cannot_make_a_role_without_the_boundary_nor_loosen_it(
    emulator: Emulator,
) -> None:
    iam = deployers_iam(emulator, "esc")
    role = {"RoleName": "esc-Lambda-1-Role", "AssumeRolePolicyDocument": TRUST_LAMBDA}

    assert "iam:CreateRole" in refused(iam.create_role, **role)
    other = "arn:aws:iam::aws:policy/AdministratorAccess"
    refused(iam.create_role, **role, PermissionsBoundary=other)
    iam.create_role(**role, PermissionsBoundary=BOUNDARY)
    refused(iam.put_role_permissions_boundary, RoleName=role["RoleName"], PermissionsBoundary=other)
    refused(iam.delete_role_permissions_boundary, RoleName=role["RoleName"])
    refused(iam.create_policy_version, PolicyArn=BOUNDARY, PolicyDocument=EVERYTHING)
    refused(iam.delete_policy, PolicyArn=BOUNDARY)


def test_a_role_given_more_than_its_boundary_may_do_only_what_the_boundary_allows(
    emulator: Emulator,
) -> None:
    iam = deployers_iam(emulator, "esc2")
    name = "esc2-Lambda-1-Role"
    # What a deployer could do to become an administrator, short of the boundary: accepted...
    arn = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=TRUST_LAMBDA,
        PermissionsBoundary="arn:aws:iam::123456789012:policy/esc2-Roles-Boundary",
    )["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="everything", PolicyDocument=EVERYTHING)
    emulator.settled()
    # ... but code running as the role (a function it is passed to) gets no more than the
    # boundary: the pipeline's own permissions, and nothing of IAM.
    role_iam = emulator.client_as("iam", "us-east-1", arn)
    message = refused(role_iam.create_user, UserName="backdoor")
    assert "because no permissions boundary allows the iam:CreateUser action" in message
    role_sqs = emulator.client_as("sqs", "us-east-1", arn)
    assert "sqs:CreateQueue" in refused(role_sqs.create_queue, QueueName="esc2-Queue")


def test_up_makes_the_boundary_when_it_may_and_down_removes_what_up_made(
    emulator: Emulator,
) -> None:
    ctx = local_context(emulator, "own")
    assert Engine(ctx, build_steps(ctx.config)).up().ok
    iam = ctx.client("iam")
    arn = "arn:aws:iam::123456789012:policy/own-Roles-Boundary"
    role = iam.get_role(RoleName="own-Lambda-2-Role")["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == arn
    assert Engine(ctx, build_steps(ctx.config)).down().ok
    with pytest.raises(ClientError):
        iam.get_policy(PolicyArn=arn)


MAPPING_ACTIONS = (
    "lambda:GetEventSourceMapping",
    "lambda:UpdateEventSourceMapping",
    "lambda:DeleteEventSourceMapping",
    "lambda:TagResource",
    "lambda:ListTags",
)


def test_stack_pocs_deployer_policy_covers_nothing_of_stack_poc_dev(emulator: Emulator) -> None:
    """Every name of stack POC-dev starts with POC-: its policy must name POC's, not POC-*."""
    poc = [
        {key: value for key, value in statement.items() if key != "Condition"}
        for statement in deployer_policy(local_context(emulator, "POC"))["Statement"]
        if statement["Effect"] == "Allow"
    ]
    covered = []
    for statement in deployer_policy(local_context(emulator, "POC-dev"))["Statement"]:
        for pattern in as_list(statement["Resource"]):
            if pattern == "*" or ":apigateway:" in pattern or "event-source-mapping:" in pattern:
                continue  # names IAM cannot scope (REST APIs, mappings): the README says so
            resource = pattern.replace("????????", "0123abcd").replace("*", "log-stream:x")
            for action in as_list(statement["Action"]):
                request = Request(action, (resource,))
                covered += [
                    (action, resource) for s in poc if statement_applies(s, request, resource)
                ]
    assert covered == []
    # Mappings are named by UUID: POC's policy may change only its own functions' (the mapping's
    # function is the lambda:FunctionArn condition key); it may read and tag POC-dev's.
    poc_dev_mapping = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:0123abcd"
    with_conditions = deployer_policy(local_context(emulator, "POC"))["Statement"]
    allowed = set()
    for function in ("POC-dev-Lambda-1", "POC-dev-Lambda-2"):
        context = {
            "lambda:FunctionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{function}"
        }
        for action in MAPPING_ACTIONS:
            if evaluate(with_conditions, Request(action, (poc_dev_mapping,), context)).allowed:
                allowed.add(action)
    assert allowed == {"lambda:GetEventSourceMapping", "lambda:ListTags", "lambda:TagResource"}


@pytest.mark.slow  # heavy (tests/cases.py)
def test_an_order_sent_as_the_repaired_mapping_takes_its_settings_is_stored(
    emulator: Emulator,
) -> None:
    """The journey's repair changes the queue mapping's BatchSize, and test-order posts at once.
    The emulator applies a mapping's new settings by starting a new poller; the one it retires
    may be in its last long poll, and delivers what that poll takes with the settings it read
    it with (as Lambda does with a batch it read), instead of keeping it until the visibility
    timeout (minutes) is over."""
    ctx = up_local(emulator, "rm")
    lam, sqs, ddb = ctx.client("lambda"), ctx.client("sqs"), ctx.client("dynamodb")
    url = sqs.get_queue_url(QueueName="rm-Queue")["QueueUrl"]
    (mapping,) = lam.list_event_source_mappings(FunctionName="rm-Lambda-1")["EventSourceMappings"]
    supervisor = emulator.supervisor
    assert supervisor is not None
    for sent, batch in enumerate((5, 10, 5, 10), start=1):
        supervisor.reconcile_now()
        _, retired = supervisor.pollers[mapping["UUID"]]
        lam.update_event_source_mapping(UUID=mapping["UUID"], BatchSize=batch)
        assert retired.stopped.wait(10)  # a new poller has the new settings; this one waits on
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"item": f"order {sent}"}))
        deadline = time.monotonic() + 10  # the queue's visibility timeout is far longer
        while ddb.scan(TableName="rm-orders", Select="COUNT")["Count"] < sent:
            assert time.monotonic() < deadline, f"order {sent} not stored"
            time.sleep(0.02)
