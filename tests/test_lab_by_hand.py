"""The lab built by hand with boto3 against `pocctl local`, as its guide builds it in the console.

Its own names, managed policies with `Resource: "*"`, the queue's access policy granting the API's
role, the handlers' code as the lab writes it (Lambda-2 publishes with `TargetArn` and
`MessageStructure=json`), default batch sizes, a POST method on the root resource, any stage.
pocctl is not involved: this proves the emulator runs any reasonable pipeline, not only ours.
"""

from __future__ import annotations

import io
import json
import time
import urllib.request
import zipfile
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from botocore.exceptions import ClientError

from pocctl.local.aws.sns import follow_confirmation_links
from pocctl.local.emulator import ACCOUNT, Emulator

from .emulated import until_mapping_is

T = TypeVar("T")
REGION = "us-east-1"
EMAIL = "lab@example.com"

LAMBDA_1 = """
import boto3, uuid
client = boto3.resource('dynamodb')
table = client.Table("orders")
def lambda_handler(event, context):
    for record in event['Records']:
        print("test")
        payload = record["body"]
        print(str(payload))
        table.put_item(Item= {'orderID': str(uuid.uuid4()),'order':  payload})
"""
LAMBDA_2 = """
import boto3, json
client = boto3.client('sns')
def lambda_handler(event, context):
    for record in event["Records"]:
        if record['eventName'] == 'INSERT':
            new_record = record['dynamodb']['NewImage']
            response = client.publish(
                TargetArn='TOPIC_ARN',
                Message=json.dumps({'default': json.dumps(new_record)}),
                MessageStructure='json'
            )
"""
POLICIES = {
    "Lambda-Write-DynamoDB": ["dynamodb:PutItem", "dynamodb:DescribeTable"],
    "Lambda-SNS-Publish": ["sns:Publish", "sns:GetTopicAttributes", "sns:ListTopics"],
    "Lambda-DynamoDBStreams-Read": [
        "dynamodb:GetShardIterator",
        "dynamodb:DescribeStream",
        "dynamodb:ListStreams",
        "dynamodb:GetRecords",
    ],
    "Lambda-Read-SQS": [
        "sqs:DeleteMessage",
        "sqs:ReceiveMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    ],
}
ROLES = {
    "Lambda-SQS-DynamoDB": ("lambda", ["Lambda-Write-DynamoDB", "Lambda-Read-SQS"]),
    "Lambda-DynamoDBStreams-SNS": ("lambda", ["Lambda-SNS-Publish", "Lambda-DynamoDBStreams-Read"]),
    "APIGateway-SQS": ("apigateway", []),
}


def until(action: Callable[[], T], *, seconds: float = 30.0) -> T:
    """What a script does against AWS: retry while something made a moment ago isn't ready."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except ClientError as exc:
            retryable = exc.response["Error"]["Code"] in (
                "InvalidParameterValueException",
                "ResourceConflictException",
                "TooManyRequestsException",
                "ConflictException",
            )
            if not retryable or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def wait_for(check: Callable[[], bool], *, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def code(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", source)
    return buffer.getvalue()


def test_the_lab_built_by_hand_carries_an_order_to_an_email(emulator: Emulator) -> None:
    def aws(service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=emulator.endpoint_url,
            aws_access_key_id="lab",
            aws_secret_access_key="lab",
        )

    iam, ddb, sqs, sns, lam, ag = (
        aws(s) for s in ("iam", "dynamodb", "sqs", "sns", "lambda", "apigateway")
    )
    # Task 1: policies and roles, every statement on "*".
    arns = {}
    for name, actions in POLICIES.items():
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        arns[name] = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))[
            "Policy"
        ]["Arn"]
    role_arns = {}
    for role, (service, policies) in ROLES.items():
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": f"{service}.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role_arns[role] = iam.create_role(
            RoleName=role, AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
        for policy in policies:
            iam.attach_role_policy(RoleName=role, PolicyArn=arns[policy])
    # Task 2: the table, with a stream of new images.
    ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "orderID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderID", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    # Task 3: the queue; its access policy lets the API's role send and Lambda-1's receive.
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:POC-Queue"
    access = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": role_arns["APIGateway-SQS"]},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            }
        ],
    }
    sqs.create_queue(QueueName="POC-Queue", Attributes={"Policy": json.dumps(access)})
    # Task 4: the functions, made as soon as IAM lets Lambda use the roles.
    topic = sns.create_topic(Name="POC-Topic")["TopicArn"]
    for name, role, source in (
        ("POC-Lambda-1", "Lambda-SQS-DynamoDB", LAMBDA_1),
        ("POC-Lambda-2", "Lambda-DynamoDBStreams-SNS", LAMBDA_2.replace("TOPIC_ARN", topic)),
    ):
        until(
            lambda name=name, role=role, source=source: lam.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=role_arns[role],
                Handler="lambda_function.lambda_handler",
                Code={"ZipFile": code(source)},
            )
        )
    # Task 5: the triggers, with the console's defaults.
    wait_for(lambda: ddb.describe_table(TableName="orders")["Table"]["TableStatus"] == "ACTIVE")
    stream = ddb.describe_table(TableName="orders")["Table"]["LatestStreamArn"]
    mappings = [
        until(
            lambda: lam.create_event_source_mapping(
                FunctionName="POC-Lambda-1", EventSourceArn=queue_arn
            )
        ),
        until(
            lambda: lam.create_event_source_mapping(
                FunctionName="POC-Lambda-2", EventSourceArn=stream, StartingPosition="LATEST"
            )
        ),
    ]
    # Task 6: the topic's email subscription, confirmed from its mail.
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=EMAIL)
    assert follow_confirmation_links(emulator.outbox.messages, EMAIL) == [EMAIL]
    # Task 7: POST on the root resource straight into SQS, deployed to a stage named "test".
    api = ag.create_rest_api(name="POC-API")
    root = api["rootResourceId"]
    ag.put_method(restApiId=api["id"], resourceId=root, httpMethod="POST", authorizationType="NONE")
    ag.put_integration(
        restApiId=api["id"],
        resourceId=root,
        httpMethod="POST",
        type="AWS",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:{REGION}:sqs:path/{ACCOUNT}/POC-Queue",
        credentials=role_arns["APIGateway-SQS"],
        requestParameters={
            "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
        },
        requestTemplates={"application/json": "Action=SendMessage&MessageBody=$input.body"},
        passthroughBehavior="NEVER",
    )
    ag.put_method_response(
        restApiId=api["id"], resourceId=root, httpMethod="POST", statusCode="200"
    )
    ag.put_integration_response(
        restApiId=api["id"], resourceId=root, httpMethod="POST", statusCode="200"
    )
    until(lambda: ag.create_deployment(restApiId=api["id"], stageName="test"))
    for mapping in mappings:
        until_mapping_is(lam, mapping["UUID"], "Enabled")
    # Enabled is not yet polling: "it may take several minutes to start polling events from the
    # stream", and a mapping at LATEST "could miss events during a create" (Lambda Developer
    # Guide, "Polling and stream starting positions"). The lab's user tests minutes later; the
    # test waits for the pollers to have read once.
    emulator.settled()

    # Task 8: an order, as the lab's test sends it.
    url = f"{emulator.endpoint_url}/restapis/{api['id']}/test/_user_request_/"
    order = json.dumps({"item": "latex gloves", "customerID": "12345"}).encode()
    request = urllib.request.Request(
        url, data=order, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert "SendMessageResponse" in response.read().decode()

    def stored() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = ddb.scan(TableName="orders")["Items"]
        return items

    wait_for(lambda: len(stored()) == 1)
    assert json.loads(stored()[0]["order"]["S"]) == {"item": "latex gloves", "customerID": "12345"}

    def notifications() -> list[dict[str, Any]]:
        return [
            m for m in emulator.outbox.messages if m["to"] == EMAIL and not m.get("confirm_url")
        ]

    wait_for(lambda: len(notifications()) == 1)
    body = json.loads(notifications()[0]["message"])  # the "default" of MessageStructure=json
    assert json.loads(body["order"]["S"])["item"] == "latex gloves"
