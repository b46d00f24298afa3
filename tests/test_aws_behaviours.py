"""`pocctl local` acts out the AWS behaviours that break provisioners on first contact.

Each rule runs on a clock the test moves forward, so a test says "1.5 s later" without waiting.
The conflict test runs at real durations: it is about calls that overlap in time.
"""

from __future__ import annotations

import io
import json
import re
import threading
import urllib.request
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from pocctl.local.aws.timing import RULES, Timing
from pocctl.local.emulator import Emulator
from pocctl.local.iam import ABSENT, Propagation, RoleSnapshot
from pocctl.local.pollers import StreamPoller

from .clocked import Clock, client, fixtures

NO_RETRIES = BotoConfig(retries={"mode": "standard", "max_attempts": 1})
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


clock, emulator = fixtures()


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def make_role(emulator: Emulator, name: str, policy: dict[str, Any] | None = None) -> str:
    iam = client(emulator, "iam")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))[
        "Role"
    ]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return arn


def make_function(emulator: Emulator, name: str, role: str) -> dict[str, Any]:
    created: dict[str, Any] = client(emulator, "lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zipped("def handler(event, context):\n    return {}\n")},
    )
    return created


# -- IAM ------------------------------------------------------------------------------------
def test_a_function_made_right_after_its_role_is_refused_until_the_role_propagates(
    emulator: Emulator, clock: Clock
) -> None:
    role = make_role(emulator, "fresh")
    with pytest.raises(ClientError) as refused:
        make_function(emulator, "f", role)
    assert code_of(refused) == "InvalidParameterValueException"
    assert "cannot be assumed by Lambda" in str(refused.value)
    clock.advance("iam_propagation")
    assert make_function(emulator, "f", role)["State"] == "Pending"


def test_a_role_that_does_not_trust_lambda_is_never_assumable(
    emulator: Emulator, clock: Clock
) -> None:
    trust = {**LAMBDA_TRUST, "Statement": [{**LAMBDA_TRUST["Statement"][0]}]}
    trust["Statement"][0]["Principal"] = {"Service": "ec2.amazonaws.com"}
    arn = client(emulator, "iam").create_role(
        RoleName="ec2", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    clock.advance("iam_propagation")
    with pytest.raises(ClientError, match="cannot be assumed by Lambda"):
        make_function(emulator, "f", arn)


READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"}],
}


def make_policy(iam: Any, name: str) -> str:
    made = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(READ_ONLY))
    return str(made["Policy"]["Arn"])


def attached_to_a_role(iam: Any, arn: str) -> Callable[[], None]:
    iam.create_role(RoleName="holder", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.attach_role_policy(RoleName="holder", PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    return lambda: iam.detach_role_policy(RoleName="holder", PolicyArn=arn)


def a_roles_boundary(iam: Any, arn: str) -> Callable[[], None]:
    trust = json.dumps(LAMBDA_TRUST)
    iam.create_role(RoleName="bounded", AssumeRolePolicyDocument=trust, PermissionsBoundary=arn)
    return lambda: iam.delete_role(RoleName="bounded")


def with_a_second_version(iam: Any, arn: str) -> Callable[[], None]:
    document = json.dumps(READ_ONLY)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
    return lambda: iam.delete_policy_version(PolicyArn=arn, VersionId="v1")


@pytest.mark.parametrize(
    ("hold", "message"),
    [
        (attached_to_a_role, "Cannot delete a policy attached to entities."),
        (a_roles_boundary, "Cannot delete a policy attached to entities."),
        (with_a_second_version, "This policy has more than one version. Before you delete"),
    ],
)
def test_a_managed_policy_in_use_is_not_deleted_until_let_go(
    emulator: Emulator, hold: Callable[[Any, str], Callable[[], None]], message: str
) -> None:
    iam = client(emulator, "iam")
    arn = make_policy(iam, hold.__name__)
    let_go = hold(iam, arn)
    with pytest.raises(ClientError) as refused:
        iam.delete_policy(PolicyArn=arn)
    assert code_of(refused) == "DeleteConflict"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert str(refused.value.response["Error"]["Message"]).startswith(message)
    let_go()
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as absent:
        iam.get_policy(PolicyArn=arn)
    assert code_of(absent) == "NoSuchEntity"


def test_the_roles_a_policy_bounds_are_listed_as_its_users(emulator: Emulator) -> None:
    iam = client(emulator, "iam")
    arn = make_policy(iam, "listed")
    attached_to_a_role(iam, arn)
    a_roles_boundary(iam, arn)

    def listed(**usage: str) -> list[str]:
        found = iam.list_entities_for_policy(PolicyArn=arn, **usage)
        assert found["PolicyUsers"] == found["PolicyGroups"] == []
        return sorted(role["RoleName"] for role in found["PolicyRoles"])

    assert listed() == ["bounded", "holder"]
    assert listed(PolicyUsageFilter="PermissionsBoundary") == ["bounded"]
    assert listed(PolicyUsageFilter="PermissionsPolicy") == ["holder"]
    assert listed(EntityFilter="User") == []


def test_every_holder_of_a_policy_is_listed_a_page_at_a_time(emulator: Emulator) -> None:
    # moto looked for holders only among the account's first 100 roles (by ID) and never said
    # a list was truncated: `down` could not name a holder past them. IAM lists them all, 100
    # a page unless MaxItems says otherwise (botocore's model, ListEntitiesForPolicy).
    from moto.iam.models import iam_backends

    iam = client(emulator, "iam")
    arn = make_policy(iam, "held-by-many")
    account = iam_backends[arn.split(":")[4]]["global"]  # 240 calls took 15 s: made in moto
    names = [f"many-{i:03d}" for i in range(120)]
    for name in names:
        account.create_role(name, json.dumps(LAMBDA_TRUST), "/many/", None, "", [], None)
        account.attach_role_policy(arn, name)
    first = iam.list_entities_for_policy(PolicyArn=arn)
    assert (len(first["PolicyRoles"]), first["IsTruncated"]) == (100, True)
    pages = iam.get_paginator("list_entities_for_policy").paginate(
        PolicyArn=arn, PaginationConfig={"PageSize": 50}
    )
    sizes, listed = [], []
    for page in pages:
        sizes.append(len(page["PolicyRoles"]))
        listed += [role["RoleName"] for role in page["PolicyRoles"]]
        if len(sizes) == 1:  # a holder that lets go between two pages makes none skipped
            account.detach_role_policy(arn, names[0])
    assert sizes == [50, 50, 20]
    assert sorted(listed) == names
    assert iam.list_entities_for_policy(PolicyArn=arn, PathPrefix="/other/")["PolicyRoles"] == []
    with pytest.raises(ClientError, match="less than or equal to 1000"):
        iam.list_entities_for_policy(PolicyArn=arn, MaxItems=1001)
    with pytest.raises(ClientError) as unknown:
        iam.list_entities_for_policy(PolicyArn=arn.replace("held-by-many", "nobody"))
    assert code_of(unknown) == "NoSuchEntity"


def test_a_users_permissions_boundary_is_refused_as_not_acted_out(emulator: Emulator) -> None:
    iam = client(emulator, "iam")
    arn = make_policy(iam, "for-users")
    with pytest.raises(ClientError, match="does not act out users' permissions boundaries"):
        iam.create_user(UserName="bounded", PermissionsBoundary=arn)
    iam.create_user(UserName="plain")
    with pytest.raises(ClientError) as refused:
        iam.put_user_permissions_boundary(UserName="plain", PermissionsBoundary=arn)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    iam.delete_policy(PolicyArn=arn)


def test_a_changed_policy_is_judged_as_it_was_until_it_propagates() -> None:
    now = [0.0]
    current = [RoleSnapshot(True, LAMBDA_TRUST, ({"Effect": "Allow", "Action": "*"},))]
    propagation = Propagation(lambda name: current[0], lambda key: 7.0, lambda: now[0])
    propagation.changed("arn:aws:iam::1:role/r")
    assert propagation.effective("arn:aws:iam::1:role/r") == ABSENT  # created a moment ago
    now[0] = 7.5
    assert propagation.effective("arn:aws:iam::1:role/r").statements == current[0].statements
    current[0] = RoleSnapshot(True, LAMBDA_TRUST, ())
    propagation.changed("arn:aws:iam::1:role/r")
    assert propagation.effective("arn:aws:iam::1:role/r").statements  # the old policy, still
    now[0] = 15.0
    assert propagation.effective("arn:aws:iam::1:role/r").statements == ()


# -- Lambda ---------------------------------------------------------------------------------
@pytest.fixture
def function(emulator: Emulator, clock: Clock) -> str:
    role = make_role(emulator, "runner")
    clock.advance("iam_propagation")
    make_function(emulator, "f", role)
    return "f"


def test_a_new_function_is_pending_and_refuses_updates_meanwhile(
    emulator: Emulator, clock: Clock, function: str
) -> None:
    lam = client(emulator, "lambda")
    assert lam.get_function(FunctionName=function)["Configuration"]["State"] == "Pending"
    with pytest.raises(ClientError, match="following state: Pending") as refused:
        lam.update_function_configuration(FunctionName=function, Timeout=5)
    assert code_of(refused) == "ResourceConflictException"
    clock.advance("function_pending")
    assert lam.get_function_configuration(FunctionName=function)["State"] == "Active"


def test_an_update_is_in_progress_for_a_while_and_refuses_another(
    emulator: Emulator, clock: Clock, function: str
) -> None:
    lam = client(emulator, "lambda")
    clock.advance("function_pending")
    updated = lam.update_function_configuration(FunctionName=function, Timeout=5)
    assert updated["LastUpdateStatus"] == "InProgress"
    with pytest.raises(ClientError, match="An update is in progress for resource") as refused:
        lam.update_function_code(FunctionName=function, ZipFile=zipped("x = 1\n"))
    assert code_of(refused) == "ResourceConflictException"
    clock.advance("function_updating")
    config = lam.get_function_configuration(FunctionName=function)
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")


def queue_for(emulator: Emulator, name: str) -> str:
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return arn


READ_QUEUE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": "*",
        }
    ],
}


@pytest.fixture
def reader(emulator: Emulator, clock: Clock) -> tuple[str, str]:
    """Function "f", whose role may read queues, and a queue: (role ARN, queue ARN)."""
    role = make_role(emulator, "reader", READ_QUEUE)
    clock.advance("iam_propagation")
    make_function(emulator, "f", role)
    clock.advance("function_pending")
    return role, queue_for(emulator, "q")


def test_a_mapping_is_creating_then_enabled_and_deleting_then_gone(
    emulator: Emulator, clock: Clock, reader: tuple[str, str]
) -> None:
    _, source = reader
    lam = client(emulator, "lambda")
    uuid = lam.create_event_source_mapping(FunctionName="f", EventSourceArn=source)["UUID"]
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Creating"
    clock.advance("mapping_creating")
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    assert lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    with pytest.raises(ClientError, match="already exists") as refused:
        lam.create_event_source_mapping(FunctionName="f", EventSourceArn=source)
    assert code_of(refused) == "ResourceConflictException"
    clock.advance("mapping_deleting")
    assert lam.list_event_source_mappings(FunctionName="f")["EventSourceMappings"] == []
    assert lam.create_event_source_mapping(FunctionName="f", EventSourceArn=source)["UUID"]


def test_a_mapping_of_a_pending_function_is_refused_until_it_is_active(
    emulator: Emulator, clock: Clock, reader: tuple[str, str]
) -> None:
    # "Any invocations or other API actions that operate on the function will fail" while it is
    # Pending (Lambda Developer Guide, "Lambda function states"); "a pending state ... prevents
    # attaching event sources" (spinnaker-plugins/aws-lambda-deployment-plugin-spinnaker#82).
    role, source = reader
    make_function(emulator, "g", role)
    lam = client(emulator, "lambda")
    with pytest.raises(ClientError, match="following state: Pending") as refused:
        lam.create_event_source_mapping(FunctionName="g", EventSourceArn=source)
    assert code_of(refused) == "ResourceConflictException"
    clock.advance("function_pending")
    uuid = lam.create_event_source_mapping(FunctionName="g", EventSourceArn=source)["UUID"]
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Creating"


def test_the_other_answer_a_mapping_of_a_pending_function_polls_once_both_are_ready(
    emulator: Emulator, clock: Clock, reader: tuple[str, str]
) -> None:
    # The docs don't name CreateEventSourceMapping: the emulator can act out AWS accepting it.
    emulator.aws.lambda_.refuse_mappings_while_pending = False
    role, source = reader
    make_function(emulator, "g", role)
    lam = client(emulator, "lambda")
    assert lam.get_function_configuration(FunctionName="g")["State"] == "Pending"
    uuid = lam.create_event_source_mapping(FunctionName="g", EventSourceArn=source)["UUID"]
    clock.advance("function_pending")
    assert lam.get_function_configuration(FunctionName="g")["State"] == "Active"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Creating"
    clock.advance("mapping_creating")
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"


def test_a_second_mapping_of_the_same_source_and_function_is_refused(
    emulator: Emulator, reader: tuple[str, str]
) -> None:
    _, source = reader
    lam = client(emulator, "lambda")
    lam.create_event_source_mapping(FunctionName="f", EventSourceArn=source)
    with pytest.raises(ClientError, match="already exists"):
        lam.create_event_source_mapping(FunctionName="f", EventSourceArn=source)


def test_a_mapping_needs_the_role_to_read_its_source_as_lambda_sees_the_role(
    emulator: Emulator, clock: Clock, reader: tuple[str, str]
) -> None:
    role, source = reader
    lam = client(emulator, "lambda")
    iam = client(emulator, "iam")
    iam.delete_role_policy(RoleName="reader", PolicyName="p")
    # Removed, but not yet propagated: Lambda still sees the permission.
    assert lam.create_event_source_mapping(FunctionName="f", EventSourceArn=source)["UUID"]
    clock.advance("iam_propagation")
    make_function(emulator, "g", role)
    clock.advance("function_pending")
    with pytest.raises(ClientError, match="permissions to call ReceiveMessage on SQS"):
        lam.create_event_source_mapping(FunctionName="g", EventSourceArn=source)


def stream_table(emulator: Emulator, name: str) -> str:
    """A table with a stream of new images; its stream's ARN."""
    arn: str = client(emulator, "dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    return arn


STREAM_ACTIONS = [
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:DescribeStream",
    "dynamodb:ListStreams",
]


def test_a_stream_mapping_needs_list_streams_on_every_resource(
    emulator: Emulator, clock: Clock
) -> None:
    stream = stream_table(emulator, "tbl")
    scoped = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": STREAM_ACTIONS,
                "Resource": stream.rsplit("/", 1)[0] + "/*",
            }
        ],
    }
    role = make_role(emulator, "streams", scoped)
    clock.advance("iam_propagation")
    make_function(emulator, "f", role)
    clock.advance("function_pending")
    with pytest.raises(ClientError, match="Cannot access stream") as refused:
        client(emulator, "lambda").create_event_source_mapping(
            FunctionName="f", EventSourceArn=stream, StartingPosition="TRIM_HORIZON"
        )
    assert "GetRecords, GetShardIterator, DescribeStream, and ListStreams" in str(refused.value)


# -- DynamoDB -------------------------------------------------------------------------------
def make_table(emulator: Emulator) -> dict[str, Any]:
    created: dict[str, Any] = client(emulator, "dynamodb").create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "orderID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderID", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]
    return created


def test_a_new_table_is_creating_and_refuses_items_meanwhile(
    emulator: Emulator, clock: Clock
) -> None:
    ddb = client(emulator, "dynamodb")
    assert make_table(emulator)["TableStatus"] == "CREATING"
    clock.advance("table_described")  # DescribeTable may not find it before
    assert ddb.describe_table(TableName="orders")["Table"]["TableStatus"] == "CREATING"
    with pytest.raises(ClientError) as refused:
        ddb.put_item(TableName="orders", Item={"orderID": {"S": "1"}})
    assert code_of(refused) == "ResourceNotFoundException"
    with pytest.raises(ClientError, match="Table is being created"):
        ddb.delete_table(TableName="orders")
    clock.advance("table_creating")
    assert ddb.describe_table(TableName="orders")["Table"]["TableStatus"] == "ACTIVE"
    ddb.put_item(TableName="orders", Item={"orderID": {"S": "1"}})


def test_a_deleted_table_is_deleting_for_a_while_and_its_name_is_taken(
    emulator: Emulator, clock: Clock
) -> None:
    ddb = client(emulator, "dynamodb")
    make_table(emulator)
    clock.advance("table_creating")
    assert ddb.delete_table(TableName="orders")["TableDescription"]["TableStatus"] == "DELETING"
    assert ddb.describe_table(TableName="orders")["Table"]["TableStatus"] == "DELETING"
    assert "orders" in ddb.list_tables()["TableNames"]
    with pytest.raises(ClientError, match="Table is being deleted: orders") as refused:
        make_table(emulator)
    assert code_of(refused) == "ResourceInUseException"
    clock.advance("table_deleting")
    with pytest.raises(ClientError) as gone:
        ddb.describe_table(TableName="orders")
    assert code_of(gone) == "ResourceNotFoundException"
    assert make_table(emulator)["TableStatus"] == "CREATING"


# -- SQS ------------------------------------------------------------------------------------
def test_a_deleted_queue_name_is_refused_for_sixty_seconds(
    emulator: Emulator, clock: Clock
) -> None:
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError, match="wait 60 seconds") as refused:
        sqs.create_queue(QueueName="q")
    assert code_of(refused) == "AWS.SimpleQueueService.QueueDeletedRecently"
    clock.advance("queue_name_reuse")
    assert sqs.create_queue(QueueName="q")["QueueUrl"]


# -- SNS ------------------------------------------------------------------------------------
def test_an_email_subscription_waits_for_its_confirmation_link(emulator: Emulator) -> None:
    sns = client(emulator, "sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    answer = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="a@example.com")
    assert answer["SubscriptionArn"] == "pending confirmation"
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == ["PendingConfirmation"]
    sns.publish(TopicArn=topic, Message="before")
    (confirmation,) = emulator.outbox.messages
    assert confirmation["subject"] == "AWS Notification - Subscription Confirmation"
    with urllib.request.urlopen(confirmation["confirm_url"], timeout=5) as page:
        assert b"Subscription confirmed" in page.read()
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert listed[0]["SubscriptionArn"].startswith(topic + ":")
    attributes = sns.get_subscription_attributes(SubscriptionArn=listed[0]["SubscriptionArn"])
    assert attributes["Attributes"]["PendingConfirmation"] == "false"
    sns.publish(TopicArn=topic, Message="after")
    assert [m["message"] for m in emulator.outbox.messages[1:]] == ["after"]


def test_by_default_subscribing_a_pending_address_again_mails_no_new_link(
    emulator: Emulator,
) -> None:
    """Undocumented either way: the emulator takes the less kind answer unless told."""
    sns = client(emulator, "sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    for _ in range(2):
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="a@example.com")
    assert len(emulator.outbox.messages) == 1


@pytest.mark.parametrize("resends", [True, False], ids=["sns-resends", "sns-does-not-resend"])
def test_subscribing_a_pending_address_again_acts_out_either_answer(
    emulator: Emulator, resends: bool
) -> None:
    """AWS doesn't document whether SNS mails a new link then: the emulator can say either."""
    emulator.aws.sns.resubscribe_resends = resends
    sns = client(emulator, "sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    first = sns.subscribe(
        TopicArn=topic, Protocol="email", Endpoint="a@example.com", ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    again = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="a@example.com")
    assert again["SubscriptionArn"] == "pending confirmation"
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == ["PendingConfirmation"]
    mails = emulator.outbox.messages
    assert len(mails) == (2 if resends else 1)
    with urllib.request.urlopen(mails[0]["confirm_url"], timeout=5):
        pass  # the first link still works (tokens are valid for two days)
    attributes = sns.get_subscription_attributes(SubscriptionArn=first)["Attributes"]
    assert attributes["PendingConfirmation"] == "false"


def test_sns_deletes_a_subscription_left_pending_for_48_hours(
    emulator: Emulator, clock: Clock
) -> None:
    sns = client(emulator, "sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="late@example.com")
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="quick@example.com")
    quick = next(m for m in emulator.outbox.messages if m["to"] == "quick@example.com")
    with urllib.request.urlopen(quick["confirm_url"], timeout=5):
        pass
    clock.advance("unconfirmed_subscription", extra=-1.0)
    assert len(sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 2
    clock.now += 2.0
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Endpoint"] for s in listed] == ["quick@example.com"]


# -- API Gateway ----------------------------------------------------------------------------
def test_create_deployment_has_its_own_rate_limit(emulator: Emulator) -> None:
    ag = client(emulator, "apigateway")
    api = ag.create_rest_api(name="a")["id"]
    root = ag.get_resources(restApiId=api)["items"][0]["id"]
    ag.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    ag.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    ag.create_deployment(restApiId=api, stageName="one")
    with pytest.raises(ClientError) as throttled:
        ag.create_deployment(restApiId=api, stageName="two")
    assert code_of(throttled) == "TooManyRequestsException"


def test_default_local_refuses_concurrent_changes_to_one_rest_api() -> None:
    with Emulator(port=0) as running:  # the defaults a user gets: real durations
        ag = client(running, "apigateway")
        api = ag.create_rest_api(name="a")["id"]
        barrier = threading.Barrier(4)
        codes: list[str] = []

        def change(index: int) -> None:
            barrier.wait()
            try:
                ag.create_model(
                    restApiId=api, name=f"M{index}", contentType="application/json", schema="{}"
                )
                codes.append("ok")
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])

        threads = [threading.Thread(target=change, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert "ConflictException" in codes
        assert "ok" in codes


def test_default_local_timing_is_on_at_real_durations() -> None:
    emulator = Emulator(port=0)
    assert emulator.timing == Timing(enabled=True, scale=1.0)
    assert Timing().seconds("iam_propagation") == RULES["iam_propagation"].seconds > 0
    assert Timing(enabled=False).seconds("iam_propagation") == 0
    assert Timing(scale=0.1).seconds("queue_name_reuse") == pytest.approx(6.0)


class IdleStream:
    """A stream with nothing in it, read by a poller on the test's clock: each of the poller's
    pauses moves the clock on by as long, at once, until `seconds` have passed."""

    TABLE_STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/tbl/stream/2026-01-01T00:00:00"

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock = clock
        self.until = clock.now + seconds
        self.polls: list[float] = []  # when the poller looked at the stream

    def stream_length(self, account: str, region: str, table: str) -> int:
        self.polls.append(self.clock.now)
        return 0

    def client(self, service: str, region: str, role: str = "") -> Any:
        return self

    # What the poller asks of Lambda and DynamoDB Streams (as its function's role).
    def get_function_configuration(self, FunctionName: str) -> dict[str, str]:
        return {"Role": "arn:aws:iam::123456789012:role/reader"}

    def list_streams(self, TableName: str) -> dict[str, Any]:
        return {"Streams": [{"StreamArn": self.TABLE_STREAM}]}

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, **_: Any) -> dict[str, str]:
        return {"ShardIterator": "at-the-end"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        return {"Records": [], "NextShardIterator": ShardIterator}


class PausesOnTheClock(threading.Event):
    """A poller's `stopped`: its pauses pass on the test's clock; stopped once time is up."""

    def __init__(self, stream: IdleStream) -> None:
        super().__init__()
        self.stream = stream

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None, "the poller pauses for a while, not until stopped"
        self.stream.clock.now += timeout
        if self.stream.clock.now >= self.stream.until:
            self.set()
        return self.is_set()


@pytest.mark.parametrize(
    ("timing", "per_second"),
    [(Timing(), 4), (Timing(scale=0.02), 4), (Timing(enabled=False), 10)],
)
def test_an_idle_stream_is_polled_four_times_a_second_as_aws_does(
    timing: Timing, per_second: int, clock: Clock
) -> None:
    stream = IdleStream(clock, seconds=10)
    with Emulator(port=0, timing=timing) as running:
        supervisor = running.supervisor
        supervisor.stop()  # it makes the poller below, with the emulator's settings, itself
        supervisor.join()
        supervisor.client, supervisor.role_client = stream.client, stream.client
        mapping = {
            "UUID": "4f2c1d3e-0000-0000-0000-000000000000",
            "EventSourceArn": IdleStream.TABLE_STREAM,
            "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:reader",
        }
        poller = supervisor.make_poller(mapping)
    assert isinstance(poller, StreamPoller)
    poller.peek, poller.stopped = stream, PausesOnTheClock(stream)  # type: ignore[assignment]
    began = clock.now
    poller.poll()  # here, until the clock has moved on 10 s
    # After the first second (an idle poller backs off to its rate), second by second:
    settled = [t - began for t in stream.polls if t - began >= 1.0]
    for second in range(1, 9):
        in_it = [t for t in settled if second <= t < second + 1]
        assert len(in_it) == per_second, (second, in_it)


# What names a source: an address, a public issue (owner/repo#N), or an AWS document by title.
NAMED_SOURCE = re.compile(
    r"https?://\S+"
    r"|\b[\w.-]+/[\w.-]+#\d+"
    r"|\b(?:[A-Z][\w-]* )+(?:User Guide|Developer Guide|API reference)\b"
    r"|\bAWS What's New\b"
)
# A range may lean on its rule's own source, or say there is none to lean on.
LEANS_ON_ITS_RULE = re.compile(
    r"same pages?|(?<!un)(?<!not )\bdocumented\b|no figure (?:is )?published"
)
TAKEN_FROM = re.compile(r"taken as (\w+)'s range")


def test_a_range_that_is_undocumented_does_not_lean_on_its_rule() -> None:
    assert LEANS_ON_ITS_RULE.search("the range is documented on the same page")
    assert not LEANS_ON_ITS_RULE.search("undocumented")
    assert not LEANS_ON_ITS_RULE.search("not documented anywhere")


def test_every_rule_names_its_source() -> None:
    for name, rule in RULES.items():
        assert rule.seconds > 0, name
        assert NAMED_SOURCE.search(rule.source), f"{name}: no source named in {rule.source!r}"
        if not rule.range_source:
            assert not rule.varies, f"{name}: a range without a source"
            continue
        taken = TAKEN_FROM.search(rule.range_source)
        assert (
            NAMED_SOURCE.search(rule.range_source)
            or LEANS_ON_ITS_RULE.search(rule.range_source)
            or (taken and taken.group(1) in RULES)
        ), f"{name}: its range names no source: {rule.range_source!r}"


@pytest.mark.parametrize(
    "source",
    [
        "x" * 60,
        "a typical observation, about a second or so, nobody wrote it down anywhere",
        "see the docs",
    ],
)
def test_a_source_that_names_nothing_is_not_taken_for_one(source: str) -> None:
    assert not NAMED_SOURCE.search(source)


def test_a_deleted_queue_still_answers_everything_while_its_deletion_lasts(
    emulator: Emulator, clock: Clock
) -> None:
    # The default answer to "might succeed" (SQS API reference, DeleteQueue): every request.
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="q", tags={"k": "v"})["QueueUrl"]
    clock.advance("queue_listed")  # ListQueues lists it from then on
    sqs.delete_queue(QueueUrl=url)
    assert sqs.get_queue_url(QueueName="q")["QueueUrl"] == url
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"k": "v"}
    assert (
        "QueueArn" in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    )
    assert sqs.list_queues(QueueNamePrefix="q")["QueueUrls"] == [url]
    sqs.delete_queue(QueueUrl=url)  # again: still accepted, and the 60 s don't start again
    with pytest.raises(ClientError) as refused:
        sqs.create_queue(QueueName="q")
    assert code_of(refused) == "AWS.SimpleQueueService.QueueDeletedRecently"
    clock.advance("queue_name_reuse")
    with pytest.raises(ClientError) as gone:
        sqs.get_queue_url(QueueName="q")
    assert code_of(gone) == "AWS.SimpleQueueService.NonExistentQueue"
    assert sqs.list_queues(QueueNamePrefix="q").get("QueueUrls", []) == []
    assert sqs.create_queue(QueueName="q")["QueueUrl"] == url


def test_a_new_queue_can_be_used_after_a_second_and_gets_nothing_from_sns_before(
    emulator: Emulator, clock: Clock
) -> None:
    sqs, sns = client(emulator, "sqs"), client(emulator, "sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    arn = "arn:aws:sqs:us-east-1:123456789012:fresh"
    policy = {  # SNS delivers only what the queue's policy lets it send (aws/fanout.py)
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
            }
        ]
    }
    url = sqs.create_queue(QueueName="fresh", Attributes={"Policy": json.dumps(policy)})["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True)
    with pytest.raises(ClientError) as refused:
        sqs.send_message(QueueUrl=url, MessageBody="too soon")
    assert code_of(refused) == "AWS.SimpleQueueService.NonExistentQueue"
    sns.publish(TopicArn=topic, Message="lost")
    clock.advance("queue_new")
    sns.publish(TopicArn=topic, Message="delivered")
    sqs.send_message(QueueUrl=url, MessageBody="in time")
    bodies = [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert "in time" in bodies
    assert [b for b in bodies if "lost" in b] == [] and any("delivered" in b for b in bodies)


def test_creating_an_existing_queue_with_other_tags_is_refused_not_a_retagging(
    emulator: Emulator,
) -> None:
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="tagged", tags={"a": "1"})["QueueUrl"]
    assert sqs.create_queue(QueueName="tagged", tags={"a": "1"})["QueueUrl"] == url
    with pytest.raises(ClientError) as refused:
        sqs.create_queue(QueueName="tagged", tags={"a": "2"})
    assert code_of(refused) == "QueueAlreadyExists"
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"a": "1"}


@pytest.mark.parametrize(("answers", "url_answers"), [("url", True), ("none", False)])
def test_a_deleted_queue_can_be_told_to_answer_less(
    emulator: Emulator, clock: Clock, answers: str, url_answers: bool
) -> None:
    emulator.aws.sqs.deleted_queue_answers = answers
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    if url_answers:
        assert sqs.get_queue_url(QueueName="q")["QueueUrl"].endswith("/q")
    else:
        with pytest.raises(ClientError):
            sqs.get_queue_url(QueueName="q")
    with pytest.raises(ClientError) as gone:
        sqs.list_queue_tags(QueueUrl=url)
    assert code_of(gone) == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(ClientError) as refused:
        sqs.create_queue(QueueName="q")
    assert code_of(refused) == "AWS.SimpleQueueService.QueueDeletedRecently"
    clock.advance("queue_name_reuse")
    with pytest.raises(ClientError):
        sqs.get_queue_url(QueueName="q")


STREAM_READER = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [*STREAM_ACTIONS, "logs:*"],
            "Resource": "*",
        }
    ],
}
PRINT_KEYS = (
    "import json\n"
    "def handler(event, context):\n"
    "    print(json.dumps(sorted(r['dynamodb']['Keys']['k']['S'] for r in event['Records'])))\n"
)


@pytest.mark.parametrize(
    ("position", "early_delivered"), [("LATEST", False), ("TRIM_HORIZON", True)]
)
def test_latest_skips_what_was_written_while_the_mapping_was_creating(
    emulator: Emulator, clock: Clock, position: str, early_delivered: bool
) -> None:
    ddb, lam = client(emulator, "dynamodb"), client(emulator, "lambda")
    role = make_role(emulator, "streams", STREAM_READER)
    stream = stream_table(emulator, "tbl")
    clock.advance("iam_propagation")  # longer than the table's CREATING
    lam.create_function(
        FunctionName="printer",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zipped(PRINT_KEYS)},
    )
    clock.advance("function_pending")
    uuid = lam.create_event_source_mapping(
        FunctionName="printer", EventSourceArn=stream, StartingPosition=position
    )["UUID"]
    ddb.put_item(TableName="tbl", Item={"k": {"S": "early"}})  # while the mapping is Creating
    clock.advance("mapping_creating")
    assert emulator.supervisor is not None
    wait(lambda: uuid in emulator.supervisor.pollers)
    poller = emulator.supervisor.pollers[uuid][1]
    assert isinstance(poller, StreamPoller) and poller.opened.wait(20)  # polling from LATEST
    ddb.put_item(TableName="tbl", Item={"k": {"S": "late"}})
    logs = client(emulator, "logs")

    def printed() -> list[str]:
        clock.advance("lambda_logs")  # what the function wrote has reached CloudWatch Logs
        events = logs.filter_log_events(logGroupName="/aws/lambda/printer")["events"]
        return [e["message"] for e in events if e["message"].startswith("[")]

    wait(lambda: any("late" in line for line in printed()))
    assert any("early" in line for line in printed()) is early_delivered


def wait(check: Any, seconds: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except ClientError:
            pass  # the log group is made by the first invocation
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_an_updated_table_is_updating_and_refuses_another_change_meanwhile(
    emulator: Emulator, clock: Clock
) -> None:
    ddb = client(emulator, "dynamodb")
    make_table(emulator)
    clock.advance("table_creating")
    stream = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    updated = ddb.update_table(TableName="orders", StreamSpecification=stream)
    assert updated["TableDescription"]["TableStatus"] == "UPDATING"
    with pytest.raises(ClientError, match="Table is being updated: orders") as refused:
        ddb.update_table(TableName="orders", StreamSpecification={"StreamEnabled": False})
    assert code_of(refused) == "ResourceInUseException"
    clock.advance("table_updating")
    assert ddb.describe_table(TableName="orders")["Table"]["TableStatus"] == "ACTIVE"


def test_api_gateway_allows_ten_requests_a_second_with_a_burst_of_forty(
    emulator: Emulator, clock: Clock
) -> None:
    ag = client(emulator, "apigateway")
    for _ in range(40):  # the burst, all at one instant of the test's clock
        ag.get_rest_apis()
    with pytest.raises(ClientError) as throttled:
        ag.get_rest_apis()
    assert code_of(throttled) == "TooManyRequestsException"
    clock.now += 0.1  # one more token
    ag.get_rest_apis()


def test_a_denied_change_to_an_api_does_not_hold_the_api(emulator: Emulator) -> None:
    iam = client(emulator, "iam")
    iam.create_user(UserName="nobody")
    key = iam.create_access_key(UserName="nobody")["AccessKey"]
    stranger = client(emulator, "apigateway", key)
    ag = client(emulator, "apigateway")
    api = ag.create_rest_api(name="a")["id"]
    model = {"restApiId": api, "contentType": "application/json", "schema": "{}"}
    with pytest.raises(ClientError, match="is not authorized to perform"):
        stranger.create_model(name="Denied", **model)
    assert ag.create_model(name="Allowed", **model)["name"] == "Allowed"  # no 409


def test_lambdas_control_plane_takes_15_requests_a_second_but_get_function_100(
    emulator: Emulator, clock: Clock
) -> None:
    # Lambda Developer Guide, "Lambda quotas": GetFunction 100 per second, the remainder of the
    # control plane 15 per second across all APIs, neither can be increased.
    lam = client(emulator, "lambda")
    for _ in range(15):  # all at one instant of the test's clock
        lam.list_event_source_mappings()
    with pytest.raises(ClientError, match="Rate exceeded") as throttled:
        lam.list_functions()
    assert code_of(throttled) == "TooManyRequestsException"
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    for _ in range(20):  # its own quota
        with pytest.raises(ClientError, match="Function not found"):
            lam.get_function(FunctionName="absent")
    clock.now += 1.0
    lam.list_functions()
    assert set(emulator.aws.lambda_.throttled) == {"ListFunctions"}  # (and botocore's retry)
