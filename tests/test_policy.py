"""IAM evaluation offline and the reading of calls from botocore's models (no emulator needed)."""

from __future__ import annotations

from typing import Any

import pytest

from pocctl.local.calls import Call, parse
from pocctl.local.iam import Authorizer, Propagation, RoleSnapshot
from pocctl.local.policy import Request, evaluate, principal_matches, request_for, wildcard_only

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/R"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:POC-Topic"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:POC-Queue"
STREAM = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders/stream/2026-01-01T00:00:00.000"


def signed(service: str, **extra: str) -> dict[str, str]:
    credential = f"Credential=AKID/20260101/us-east-1/{service}/aws4_request"
    return {"authorization": f"AWS4-HMAC-SHA256 {credential}, SignedHeaders=host", **extra}


def allow(action: Any, resource: Any = "*", **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


# -- reading calls ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("service", "method", "path", "query", "body", "headers", "operation", "param"),
    [
        (
            "sns",
            "POST",
            "/",
            "",
            b"Action=Publish&TargetArn=T&Message=m",
            {},
            "Publish",
            "TargetArn",
        ),
        (
            "dynamodb",
            "POST",
            "/",
            "",
            b'{"ShardIterator": "x"}',
            {"x-amz-target": "DynamoDBStreams_20120810.GetRecords"},
            "GetRecords",
            "ShardIterator",
        ),
        (
            "lambda",
            "POST",
            "/2015-03-31/functions/F/invocations",
            "",
            b"{}",
            {},
            "Invoke",
            "FunctionName",
        ),
        (
            "lambda",
            "GET",
            "/2015-03-31/event-source-mappings",
            "FunctionName=F",
            b"",
            {},
            "ListEventSourceMappings",
            "FunctionName",
        ),
        (
            "apigateway",
            "PUT",
            "/restapis/a1/resources/r1/methods/POST/integration/responses/200",
            "",
            b"{}",
            {},
            "PutIntegrationResponse",
            "restApiId",
        ),
        (
            "iam",
            "POST",
            "/",
            "",
            b"Action=PutRolePolicy&RoleName=R",
            {},
            "PutRolePolicy",
            "RoleName",
        ),
    ],
)
def test_any_call_is_read_from_botocore_models(
    service: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    headers: dict[str, str],
    operation: str,
    param: str,
) -> None:
    call = parse(signed(service, **headers), method, path, query, body)
    assert call is not None
    assert call.operation == operation
    assert param in call.params


def test_an_unsigned_request_is_not_an_aws_call() -> None:
    assert parse({}, "GET", "/", "", b"") is None


def call(service: str, operation: str, **params: Any) -> Call:
    protocol = {"sns": "query", "lambda": "rest-json"}.get(service, "json")
    return Call(service, operation, params, "us-east-1", "AKID", protocol)


# -- action and resource -----------------------------------------------------------------
def test_publish_with_target_arn_is_judged_on_that_topic() -> None:
    request = request_for(call("sns", "Publish", TargetArn=TOPIC), ACCOUNT, ROLE)
    assert (request.action, request.resources) == ("sns:Publish", (TOPIC,))


def test_batch_operations_authorise_as_their_single_action() -> None:
    request = request_for(call("sns", "PublishBatch", TopicArn=TOPIC), ACCOUNT, ROLE)
    assert request.action == "sns:Publish"


def test_list_streams_has_no_resource_level_permission() -> None:
    request = request_for(call("dynamodbstreams", "ListStreams", TableName="orders"), ACCOUNT, ROLE)
    assert request.resources == ("*",)
    scoped = [allow("dynamodb:ListStreams", STREAM.rsplit("/", 1)[0] + "/*")]
    assert not evaluate(scoped, request).allowed
    assert evaluate([allow("dynamodb:ListStreams")], request).allowed


def test_invoke_authorises_as_invoke_function_on_the_function_arn() -> None:
    request = request_for(call("lambda", "Invoke", FunctionName="F"), ACCOUNT, ROLE)
    assert request.action == "lambda:InvokeFunction"
    assert request.resources == (f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:F",)


# -- evaluation --------------------------------------------------------------------------
PUBLISH = Request("sns:Publish", (TOPIC,), {"aws:RequestedRegion": "us-east-1"})


def test_wildcards_in_action_and_resource() -> None:
    assert evaluate([allow("sns:*")], PUBLISH).allowed
    assert evaluate([allow("SNS:publish", "arn:aws:sns:*:*:POC-*")], PUBLISH).allowed
    assert not evaluate([allow("sns:Publish", "arn:aws:sns:*:*:Other")], PUBLISH).allowed


def test_explicit_deny_beats_any_allow() -> None:
    statements = [allow("*"), {"Effect": "Deny", "Action": "sns:Publish", "Resource": TOPIC}]
    decision = evaluate(statements, PUBLISH)
    assert not decision.allowed and decision.explicit_deny


def test_not_action_and_not_resource() -> None:
    assert not evaluate(
        [{"Effect": "Allow", "NotAction": "sns:*", "Resource": "*"}], PUBLISH
    ).allowed
    assert evaluate([{"Effect": "Allow", "NotAction": "sqs:*", "Resource": "*"}], PUBLISH).allowed
    statement = {"Effect": "Allow", "Action": "*", "NotResource": TOPIC}
    assert not evaluate([statement], PUBLISH).allowed


def test_no_statement_means_denied() -> None:
    assert not evaluate([], PUBLISH).allowed


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        ({"ArnEquals": {"aws:SourceArn": TOPIC}}, {"aws:SourceArn": TOPIC}, True),
        ({"ArnEquals": {"aws:SourceArn": TOPIC}}, {"aws:SourceArn": QUEUE}, False),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:POC-*"}}, {"aws:SourceArn": TOPIC}, True),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*"}}, {"aws:SourceArn": TOPIC}, False),
        ({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, {}, False),
        ({"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}, None, True),
        ({"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}, None, False),
        ({"StringLike": {"aws:RequestedRegion": "us-*"}}, None, True),
        ({"StringEqualsIfExists": {"aws:SourceArn": TOPIC}}, None, True),
        ({"Null": {"aws:SourceArn": "true"}}, None, True),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}, False),
    ],
)
def test_condition_operators(
    condition: dict[str, Any], context: dict[str, Any] | None, holds: bool
) -> None:
    request = Request(
        "sns:Publish",
        (TOPIC,),
        {"aws:RequestedRegion": "us-east-1"} if context is None else context,
    )
    assert evaluate([allow("sns:Publish", Condition=condition)], request).allowed is holds


def test_an_unknown_condition_operator_grants_nothing() -> None:
    statement = allow("sns:Publish", Condition={"DateGreaterThan": {"aws:CurrentTime": "2020"}})
    assert not evaluate([statement], PUBLISH).allowed


def test_every_resource_a_call_touches_must_be_allowed() -> None:
    both = Request("dynamodb:BatchWriteItem", ("arn:a:table/one", "arn:a:table/two"))
    assert not evaluate([allow("dynamodb:BatchWriteItem", "arn:a:table/one")], both).allowed
    assert evaluate([allow("dynamodb:BatchWriteItem", "arn:a:table/*")], both).allowed


def test_resource_policy_principals() -> None:
    assert principal_matches({"AWS": ROLE}, ROLE)
    assert principal_matches("*", ROLE)
    # The account delegates to its identities' own policies: it grants the role nothing itself.
    assert not principal_matches({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, ROLE)
    assert not principal_matches({"AWS": ACCOUNT}, ROLE)
    assert not principal_matches({"AWS": "arn:aws:iam::999999999999:root"}, ROLE)
    assert not principal_matches({"Service": "sns.amazonaws.com"}, ROLE)


def test_the_condition_keys_of_pocctls_deployer_policy_come_from_the_call() -> None:
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/POC-Roles-Boundary"
    create = call("iam", "CreateRole", RoleName="POC-Lambda-1-Role", PermissionsBoundary=boundary)
    assert request_for(create, ACCOUNT, ROLE).context["iam:PermissionsBoundary"] == boundary
    without = call("iam", "CreateRole", RoleName="POC-Lambda-1-Role")
    assert "iam:PermissionsBoundary" not in request_for(without, ACCOUNT, ROLE).context
    mapping = call("lambda", "CreateEventSourceMapping", FunctionName="POC-Lambda-1")
    assert request_for(mapping, ACCOUNT, ROLE).context["lambda:FunctionArn"] == (
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:POC-Lambda-1"
    )


def test_a_call_on_a_mapping_by_uuid_is_judged_on_the_mappings_function() -> None:
    # Lambda Developer Guide, "Fine-tuning the Resources and Conditions sections of policies":
    # "You can also use the lambda:FunctionArn condition to restrict actions by associated
    # function". Stack POC's deployer may delete its own functions' mappings, not POC-dev's.
    policy = allow(
        "lambda:DeleteEventSourceMapping",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:*",
        Condition={
            "ArnEquals": {
                "lambda:FunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:POC-Lambda-1"
            }
        },
    )
    snapshot = RoleSnapshot(exists=True, statements=(policy,))
    authorizer = Authorizer(
        ACCOUNT, Propagation(lambda arn: snapshot, lambda key: 0.0, lambda: 0.0)
    )
    authorizer.register("AKID", ROLE)
    functions = {"own": "POC-Lambda-1", "other": "POC-dev-Lambda-1"}
    authorizer.mapping_function = lambda region, uuid: (
        f"arn:aws:lambda:{region}:{ACCOUNT}:function:{functions[uuid]}"
    )
    assert authorizer.check(call("lambda", "DeleteEventSourceMapping", UUID="own")) is None
    refused = authorizer.check(call("lambda", "DeleteEventSourceMapping", UUID="other"))
    assert refused is not None and refused.status == 403


def test_the_wildcard_only_table_is_what_parliament_says() -> None:
    """pocctl/local/wildcard_only.txt is read instead of parliament's 10 MB of JSON: it must
    still be what parliament's copy of the IAM reference says, with tests/iam_table.py's CURRENT
    where that copy is older."""
    from tests.iam_table import derived, written

    assert written() == derived(), "the table is stale: run `python -m tests.iam_table`"


@pytest.mark.parametrize(
    ("action", "wildcard"),
    [
        ("dynamodb:ListStreams", True),
        ("SQS:ListQueues", True),  # IAM action names are case-insensitive
        ("iam:ListInstanceProfiles", True),  # parliament's last listing of it is stale
        ("iam:GetRole", False),
        ("sqs:SendMessage", False),
        ("lambda:NoSuchAction", False),
    ],
)
def test_an_action_is_wildcard_only_as_the_table_says(action: str, wildcard: bool) -> None:
    assert wildcard_only(action) is wildcard
