"""`pocctl local` refuses tag keys starting with aws: from users, service by service, as AWS
does (pocctl/local/aws/reserved_tags.py); its CloudFormation sets aws:cloudformation:* all the
same (test_local_cloudformation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pocctl.local.emulator import Emulator

from .clocked import client
from .conftest import REGION

RESERVED = {"aws:cloudformation:stack-name": "orders"}
ACCOUNT = "123456789012"


def pairs(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def sns(c: Any) -> None:
    arn = c.create_topic(Name="reserved-topic")["TopicArn"]
    c.tag_resource(ResourceArn=arn, Tags=pairs(RESERVED))


def sns_create(c: Any) -> None:
    c.create_topic(Name="reserved-topic-2", Tags=pairs({"AWS:Team": "x"}))


def sqs(c: Any) -> None:
    url = c.create_queue(QueueName="reserved-queue")["QueueUrl"]
    c.tag_queue(QueueUrl=url, Tags=RESERVED)


def sqs_create(c: Any) -> None:
    c.create_queue(QueueName="reserved-queue-2", tags=RESERVED)


def logs(c: Any) -> None:
    c.create_log_group(logGroupName="/reserved")
    c.tag_log_group(logGroupName="/reserved", tags=RESERVED)


def logs_resource(c: Any) -> None:
    c.create_log_group(logGroupName="/reserved-2")
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/reserved-2"
    c.tag_resource(resourceArn=arn, tags=RESERVED)


def dynamodb(c: Any) -> None:
    table = c.create_table(
        TableName="reserved",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )["TableDescription"]
    c.tag_resource(ResourceArn=table["TableArn"], Tags=pairs(RESERVED))


def apigateway_create(c: Any) -> None:
    c.create_rest_api(name="reserved-2", tags=RESERVED)


CASES: dict[str, tuple[str, Callable[[Any], None], str]] = {
    "sns TagResource": ("sns", sns, "InvalidParameter"),
    "sns CreateTopic, any case": ("sns", sns_create, "InvalidParameter"),
    "sqs TagQueue": ("sqs", sqs, "InvalidParameterValue"),
    "sqs CreateQueue": ("sqs", sqs_create, "InvalidParameterValue"),
    "logs TagLogGroup": ("logs", logs, "InvalidParameterException"),
    "logs TagResource": ("logs", logs_resource, "InvalidParameterException"),
    "dynamodb TagResource": ("dynamodb", dynamodb, "ValidationException"),
    "apigateway CreateRestApi": ("apigateway", apigateway_create, "BadRequestException"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_user_cannot_set_a_tag_key_starting_with_aws(emulator: Emulator, case: str) -> None:
    service, act, code = CASES[case]
    with pytest.raises(ClientError) as refused:
        act(client(emulator, service))
    assert refused.value.response["Error"]["Code"] == code
    assert "reserved" in refused.value.response["Error"]["Message"]


def test_a_users_own_tags_are_taken(emulator: Emulator) -> None:
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="own-tags", tags={"team": "orders"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"awsome": "yes"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "orders", "awsome": "yes"}
