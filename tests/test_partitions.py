"""`pocctl local` judges a call in China (partition aws-cn) as AWS does there: on the ARNs of
that partition, which a policy written for it names."""

from __future__ import annotations

from typing import Any

from pocctl.local.aws.mapping_rules import QUEUE_DEFAULTS, with_defaults
from pocctl.local.calls import Call
from pocctl.local.policy import evaluate, principal_covers, request_for

ACCOUNT = "123456789012"
REGION = "cn-north-1"
ROLE = f"arn:aws-cn:iam::{ACCOUNT}:role/POC-Lambda-Role"
QUEUE = f"arn:aws-cn:sqs:{REGION}:{ACCOUNT}:POC-Queue"


def call_in_china(service: str, operation: str, **params: Any) -> Call:
    return Call(service, operation, params, REGION, "AKID", "json")


def allow(action: str, resource: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def test_a_role_allowed_on_a_queue_of_its_partition_may_send_to_it() -> None:
    url = f"https://sqs.{REGION}.amazonaws.com.cn/{ACCOUNT}/POC-Queue"
    request = request_for(
        call_in_china("sqs", "SendMessage", QueueUrl=url, MessageBody="{}"), ACCOUNT, ROLE
    )
    assert request.resources == (QUEUE,)
    assert evaluate([allow("sqs:SendMessage", QUEUE)], request).allowed


def test_a_table_and_a_role_are_judged_on_their_china_arns() -> None:
    table = f"arn:aws-cn:dynamodb:{REGION}:{ACCOUNT}:table/orders"
    put = request_for(call_in_china("dynamodb", "PutItem", TableName="orders"), ACCOUNT, ROLE)
    assert put.resources == (table,)
    passed = request_for(call_in_china("iam", "GetRole", RoleName="POC-Lambda-Role"), ACCOUNT, ROLE)
    assert passed.resources == (ROLE,)


def test_a_deny_naming_the_account_root_of_china_covers_its_roles() -> None:
    assert principal_covers({"AWS": f"arn:aws-cn:iam::{ACCOUNT}:root"}, ROLE, ACCOUNT)


def test_a_mapping_on_a_china_queue_gets_a_queues_defaults() -> None:
    mapping: dict[str, Any] = {"EventSourceArn": QUEUE}
    with_defaults(mapping)
    assert mapping["StateTransitionReason"] == QUEUE_DEFAULTS["StateTransitionReason"]
    assert "MaximumRetryAttempts" not in mapping  # a stream's setting
