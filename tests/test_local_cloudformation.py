"""`pocctl local` serves CloudFormation: the AWS CLI packages and deploys a template of the
pipeline's resource types, and what the stack makes behaves as what the API makes (IAM judges
the caller, functions run, mappings poll, the API's data plane serves). Each of moto's own
CloudFormation's gaps (/work/shared/AWS-NOTES.md) has its test here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from pocctl.local.aws.timing import RULES
from pocctl.local.emulator import Emulator
from tests.emulated import TIMING
from tests.inventory import everything, of_stack

REGION = "us-east-1"
DEADLINE = 60.0
SETTLE_SLACK = 10.0

WRITER = """
import json, os, boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

def handler(event, context):
    for record in event["Records"]:
        table.put_item(Item={"id": record["messageId"], "body": record["body"]})
    return {"batchItemFailures": []}
"""

TEMPLATE = r"""
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Email: {Type: String, Default: owner@example.com}
Resources:
  WriterRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: cfn-writer
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: write
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes]
                Resource: !GetAtt Orders.Arn
              - {Effect: Allow, Action: dynamodb:PutItem, Resource: !GetAtt Table.Arn}
              - Effect: Allow
                Action: [logs:CreateLogStream, logs:PutLogEvents]
                Resource: !GetAtt WriterLogs.Arn
  ApiRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: cfn-api
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: apigateway.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: send
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - {Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt Orders.Arn}
  Dead:
    Type: AWS::SQS::Queue
    Properties: {QueueName: cfn-dead}
  Orders:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: cfn-orders
      VisibilityTimeout: 60
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 5}
  OrdersPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Orders]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Deny
            Principal: "*"
            Action: sqs:SendMessage
            Resource: !GetAtt Orders.Arn
            Condition: {Bool: {aws:SecureTransport: "false"}}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: cfn-orders
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  WriterLogs:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: /aws/lambda/cfn-writer, RetentionInDays: 7}
  Writer:
    Type: AWS::Lambda::Function
    DependsOn: WriterLogs
    Properties:
      FunctionName: cfn-writer
      Runtime: python3.13
      Handler: app.handler
      Role: !GetAtt WriterRole.Arn
      Timeout: 10
      Code: ./writer
      Environment: {Variables: {TABLE: !Ref Table}}
  WriterMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Writer
      EventSourceArn: !GetAtt Orders.Arn
      BatchSize: 5
      FunctionResponseTypes: [ReportBatchItemFailures]
      Tags: [{Key: purpose, Value: orders}]
  Topic:
    Type: AWS::SNS::Topic
    Properties: {TopicName: cfn-topic}
  Mail:
    Type: AWS::SNS::Subscription
    Properties: {TopicArn: !Ref Topic, Protocol: email, Endpoint: !Ref Email}
  Alarms:
    Type: AWS::SNS::Topic
    Properties: {TopicName: cfn-alarms}
  AlarmsPolicy:
    Type: AWS::SNS::TopicInlinePolicy
    Properties:
      TopicArn: !Ref Alarms
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: cloudwatch.amazonaws.com}
            Action: sns:Publish
            Resource: !Ref Alarms
  DeadAlarm:
    Type: AWS::CloudWatch::Alarm
    DependsOn: AlarmsPolicy
    Properties:
      AlarmName: cfn-dead-letters
      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions: [{Name: QueueName, Value: !GetAtt Dead.QueueName}]
      Statistic: Maximum
      ComparisonOperator: GreaterThanOrEqualToThreshold
      Threshold: 1
      Period: 60
      EvaluationPeriods: 1
      TreatMissingData: notBreaching
      AlarmActions: [!Ref Alarms]
      OKActions: [!Ref Alarms]
      Tags: [{Key: purpose, Value: dead-letters}]
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: cfn-api}
  OrderResource:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: order}
  OrderModel:
    Type: AWS::ApiGateway::Model
    Properties:
      RestApiId: !Ref Api
      Name: Order
      ContentType: application/json
      Schema:
        $schema: http://json-schema.org/draft-04/schema#
        type: object
        required: [item]
        properties: {item: {type: string}}
  BodyValidator:
    Type: AWS::ApiGateway::RequestValidator
    Properties: {RestApiId: !Ref Api, Name: body, ValidateRequestBody: true}
  OrderPost:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref OrderResource
      HttpMethod: POST
      AuthorizationType: NONE
      RequestValidatorId: !Ref BodyValidator
      RequestModels: {application/json: !Ref OrderModel}
      Integration:
        Type: AWS
        IntegrationHttpMethod: POST
        Uri: !Sub arn:aws:apigateway:${AWS::Region}:sqs:path/${AWS::AccountId}/${Orders.QueueName}
        Credentials: !GetAtt ApiRole.Arn
        PassthroughBehavior: NEVER
        RequestParameters:
          integration.request.header.Content-Type: "'application/x-www-form-urlencoded'"
        RequestTemplates:
          application/json: Action=SendMessage&MessageBody=$util.urlEncode($input.body)
        IntegrationResponses:
          - StatusCode: "200"
            ResponseTemplates: {application/json: '{"accepted": true}'}
      MethodResponses: [{StatusCode: "200"}]
  BadBody:
    Type: AWS::ApiGateway::GatewayResponse
    Properties:
      RestApiId: !Ref Api
      ResponseType: BAD_REQUEST_BODY
      StatusCode: "400"
      ResponseTemplates: {application/json: '{"error": "bad order"}'}
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [OrderPost, BadBody]
    Properties: {RestApiId: !Ref Api}
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      StageName: prod
      DeploymentId: !Ref Deployment
      MethodSettings:
        - {ResourcePath: "/*", HttpMethod: "*", ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10}
Outputs:
  Api: {Value: !Ref Api}
  OrdersUrl: {Value: !Ref Orders}
  Alarms: {Value: !Ref AlarmsPolicy}
  DeadAlarm: {Value: !Ref DeadAlarm}
  DeadAlarmArn: {Value: !GetAtt DeadAlarm.Arn}
"""


def aws_cli(emulator: Emulator, *args: str, cwd: Path | None = None) -> str:
    done = aws_cli_run(emulator, *args, cwd=cwd)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def aws_cli_run(
    emulator: Emulator, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The AWS CLI as a user runs it against `pocctl local` (the emulator's credentials).
    `cloudformation package` makes its S3 client without `--endpoint-url` (aws/aws-cli#4454):
    botocore's AWS_ENDPOINT_URL (botocore >= 1.31, "Service-specific endpoints") points it at
    the emulator too."""
    command = [
        sys.executable,
        "-m",
        "awscli",
        "--endpoint-url",
        emulator.endpoint_url,
        "--region",
        REGION,
        *args,
    ]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={
            **os.environ,
            "AWS_ACCESS_KEY_ID": "pocctl-local",
            "AWS_SECRET_ACCESS_KEY": "pocctl-local",
            "AWS_ENDPOINT_URL": emulator.endpoint_url,
        },
    )


def client(emulator: Emulator, service: str, key: str = "pocctl-local") -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id=key,
        aws_secret_access_key=key,
    )


def until(condition: Any, what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


def finished(emulator: Emulator, stack: str) -> dict[str, Any]:
    cfn = client(emulator, "cloudformation")

    def done() -> dict[str, Any] | None:
        found: dict[str, Any] = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        return None if found["StackStatus"].endswith("_IN_PROGRESS") else found

    return dict(until(done, f"{stack} settles"))


def nothing_left(emulator: Emulator, prefix: str) -> dict[str, list[str]]:
    """The account's own lists (tests/inventory.py), once what was deleted has left them: a
    queue lists for up to 60 s, a table while DELETING, a mapping while Deleting
    (bench/soak_world.py, inventory_when_settled)."""
    session = boto3.Session(
        region_name=REGION, aws_access_key_id="pocctl-local", aws_secret_access_key="pocctl-local"
    )
    longest = max(
        RULES[r].high or RULES[r].seconds
        for r in ("queue_deleting", "table_deleting", "mapping_deleting")
    )
    deadline = time.monotonic() + longest * TIMING.scale + SETTLE_SLACK
    while True:
        inventory = everything_at(session, emulator.endpoint_url)
        found = {k: v for k, v in of_stack(inventory, prefix, prefix).items() if v}
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def everything_at(session: boto3.Session, endpoint_url: str) -> dict[str, list[str]]:
    class AtEmulator:
        def client(self, service: str) -> Any:
            return session.client(service, endpoint_url=endpoint_url)

    return everything(AtEmulator())  # type: ignore[arg-type]


def events(emulator: Emulator, stack: str) -> list[tuple[str, str, str]]:
    listed = client(emulator, "cloudformation").describe_stack_events(StackName=stack)
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
        for e in reversed(listed["StackEvents"])
    ]


def package(emulator: Emulator, folder: Path, template: str) -> None:
    """`aws cloudformation package`: the function's folder zipped and uploaded to S3."""
    (folder / "template.yaml").write_text(template)
    (folder / "writer").mkdir(exist_ok=True)
    (folder / "writer" / "app.py").write_text(WRITER)
    client(emulator, "s3").create_bucket(Bucket="artifacts")
    aws_cli(
        emulator,
        "cloudformation",
        "package",
        "--template-file",
        "template.yaml",
        "--s3-bucket",
        "artifacts",
        "--output-template-file",
        "packaged.yaml",
        cwd=folder,
    )


def create(emulator: Emulator, folder: Path, template: str, stack: str) -> dict[str, Any]:
    """Packaged, then `aws cloudformation create-stack` (`deploy` waits 30 s between looks at
    the stack: the slow test below uses it)."""
    package(emulator, folder, template)
    aws_cli(
        emulator,
        "cloudformation",
        "create-stack",
        "--stack-name",
        stack,
        "--template-body",
        "file://packaged.yaml",
        "--capabilities",
        "CAPABILITY_NAMED_IAM",
        cwd=folder,
    )
    return finished(emulator, stack)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(port=0, timing=TIMING) as running:
        yield running


@pytest.fixture(scope="module")
def pipeline(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    stack = create(emulator, tmp_path_factory.mktemp("cfn"), TEMPLATE, "orders")
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(emulator, "orders")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def test_the_integration_keeps_its_credentials_request_parameters_and_templates(
    emulator: Emulator, pipeline: dict[str, str]
) -> None:
    apigw = client(emulator, "apigateway")
    api = pipeline["Api"]
    resource = next(r for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/order")
    integration = apigw.get_integration(restApiId=api, resourceId=resource["id"], httpMethod="POST")
    assert integration["credentials"] == "arn:aws:iam::123456789012:role/cfn-api"
    assert integration["requestParameters"] == {
        "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
    }
    assert integration["requestTemplates"] == {
        "application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
    }
    assert integration["integrationResponses"]["200"]["responseTemplates"] == {
        "application/json": '{"accepted": true}'
    }


def test_an_order_posted_to_the_stage_is_stored_by_the_function(
    emulator: Emulator, pipeline: dict[str, str]
) -> None:
    """The API's data plane serves the stack's stage, the mapping's poller feeds the function,
    the function runs in its worker with the role the stack made."""
    url = f"{emulator.endpoint_url}/restapis/{pipeline['Api']}/prod/_user_request_/order"
    request = urllib.request.Request(
        url,
        data=b'{"item": "tea & cake"}',
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert json.loads(answer.read()) == {"accepted": True}
    table = client(emulator, "dynamodb")
    items = until(lambda: table.scan(TableName="cfn-orders")["Items"], "the order is stored")
    assert items[0]["body"] == {"S": '{"item": "tea & cake"}'}


def test_the_stage_throttles_as_its_method_settings_say(
    emulator: Emulator, pipeline: dict[str, str]
) -> None:
    stage = client(emulator, "apigateway").get_stage(restApiId=pipeline["Api"], stageName="prod")
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 5.0
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 10


def test_the_subscription_and_the_queue_policy_are_made(
    emulator: Emulator, pipeline: dict[str, str]
) -> None:
    subscriptions = client(emulator, "sns").list_subscriptions()["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [
        ("email", "owner@example.com")
    ]
    assert any(m["to"] == "owner@example.com" for m in emulator.outbox.messages)
    attributes = client(emulator, "sqs").get_queue_attributes(
        QueueUrl=pipeline["OrdersUrl"], AttributeNames=["Policy", "RedrivePolicy"]
    )["Attributes"]
    assert json.loads(attributes["Policy"])["Statement"][0]["Effect"] == "Deny"
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 5


def test_resources_that_take_tags_carry_the_stacks_own(
    emulator: Emulator, pipeline: dict[str, str]
) -> None:
    """CloudFormation's aws:cloudformation:* tags, on the types whose schema says so."""
    lam = client(emulator, "lambda")
    function = lam.get_function(FunctionName="cfn-writer")
    assert function["Tags"]["aws:cloudformation:stack-name"] == "orders"
    assert function["Tags"]["aws:cloudformation:logical-id"] == "Writer"
    assert function["Tags"]["aws:cloudformation:stack-id"].startswith(
        "arn:aws:cloudformation:us-east-1:123456789012:stack/orders/"
    )
    # Not queues and tables: their registry schemas set cloudFormationSystemTags false
    # (cloudformation-coverage-roadmap #2079, #1360), as system_tags.py says.
    queue_tags = client(emulator, "sqs").list_queue_tags(QueueUrl=pipeline["OrdersUrl"])["Tags"]
    assert not [k for k in queue_tags if k.startswith("aws:")]
    table = client(emulator, "dynamodb").describe_table(TableName="cfn-orders")["Table"]
    table_tags = client(emulator, "dynamodb").list_tags_of_resource(ResourceArn=table["TableArn"])[
        "Tags"
    ]
    assert not [t for t in table_tags if t["Key"].startswith("aws:")]
    role_tags = client(emulator, "iam").list_role_tags(RoleName="cfn-writer")["Tags"]
    assert not [t for t in role_tags if t["Key"].startswith("aws:")]


def test_the_alarm_and_its_topics_policy_are_made_tagged(
    emulator: Emulator, pipeline: dict[str, str]
) -> None:
    """The alarm is PutMetricAlarm's, with the template's tags and CloudFormation's; the topic
    lets CloudWatch publish to it."""
    cloudwatch = client(emulator, "cloudwatch")
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["cfn-dead-letters"])["MetricAlarms"]
    assert pipeline["DeadAlarm"] == "cfn-dead-letters"
    assert pipeline["DeadAlarmArn"] == alarm["AlarmArn"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": "cfn-dead"}]
    assert (alarm["Threshold"], alarm["Period"], alarm["EvaluationPeriods"]) == (1.0, 60, 1)
    assert alarm["AlarmActions"] == alarm["OKActions"] == [pipeline["Alarms"]]
    listed = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
    tags = {t["Key"]: t["Value"] for t in listed}
    assert tags["purpose"] == "dead-letters"
    assert tags["aws:cloudformation:logical-id"] == "DeadAlarm"
    attributes = client(emulator, "sns").get_topic_attributes(TopicArn=pipeline["Alarms"])
    (statement,) = json.loads(attributes["Attributes"]["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}


@pytest.mark.slow  # heavy (tests/cases.py)
def test_delete_stack_leaves_nothing_behind(emulator: Emulator, tmp_path: Path) -> None:
    stack = create(emulator, tmp_path, TEMPLATE.replace("cfn-", "gone-"), "gone")
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(emulator, "gone")
    aws_cli(emulator, "cloudformation", "delete-stack", "--stack-name", "gone")
    cfn = client(emulator, "cloudformation")
    final = until(
        lambda: (
            (s := cfn.describe_stacks(StackName=stack["StackId"])["Stacks"][0])["StackStatus"]
            not in ("DELETE_IN_PROGRESS",)
            and s
        ),
        "the stack is deleted",
    )
    assert final["StackStatus"] == "DELETE_COMPLETE", [
        e for e in events(emulator, "gone") if "FAILED" in e[1]
    ]
    apis = client(emulator, "apigateway").get_rest_apis()["items"]
    assert [a["name"] for a in apis if a["name"].startswith("gone-")] == []  # moto's kept it
    assert nothing_left(emulator, "gone") == {}
    subscriptions = client(emulator, "sns").list_subscriptions()["Subscriptions"]
    assert not [s for s in subscriptions if ":gone-" in s["TopicArn"]]


LIMITED = """
Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: /limited/first}
  Table:
    Type: AWS::DynamoDB::Table
    DependsOn: Logs
    Properties:
      TableName: limited
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
"""


def test_iam_judges_the_stacks_calls_as_the_callers_and_a_failure_rolls_back(
    emulator: Emulator,
) -> None:
    """Without a service role, CloudFormation acts with the caller's credentials: a caller who
    may not create tables gets CREATE_FAILED with IAM's reason, and what was made is deleted."""
    iam = client(emulator, "iam")
    iam.create_user(UserName="limited")
    iam.put_user_policy(
        UserName="limited",
        PolicyName="no-tables",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["cloudformation:*", "logs:*"], "Resource": "*"}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="limited")["AccessKey"]["AccessKeyId"]
    emulator.settled()
    client(emulator, "cloudformation", key).create_stack(StackName="limited", TemplateBody=LIMITED)
    stack = finished(emulator, "limited")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    happened = events(emulator, "limited")
    failed = [reason for logical, status, reason in happened if status == "CREATE_FAILED"]
    assert "not authorized to perform: dynamodb:CreateTable" in failed[0], happened
    assert ("Logs", "DELETE_COMPLETE", "") in happened
    groups = client(emulator, "logs").describe_log_groups(logGroupNamePrefix="/limited/")
    assert groups["logGroups"] == []


IMPATIENT_MAPPING = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: read
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes]
                Resource: !GetAtt Queue.Arn
  Queue:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: 5}
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.13
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Timeout: 30
      Code: {ZipFile: "def handler(event, context):\n    return None\n"}
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {FunctionName: !Ref Function, EventSourceArn: !GetAtt Queue.Arn}
"""


def test_a_mapping_lambda_refuses_fails_the_stack_with_lambdas_reason(emulator: Emulator) -> None:
    """The stack's mapping meets the rules CreateEventSourceMapping keeps (mapping_rules.py)."""
    client(emulator, "cloudformation").create_stack(
        StackName="impatient", TemplateBody=IMPATIENT_MAPPING, Capabilities=["CAPABILITY_IAM"]
    )
    assert finished(emulator, "impatient")["StackStatus"] == "ROLLBACK_COMPLETE"
    happened = events(emulator, "impatient")
    reason = next(r for logical, s, r in happened if s == "CREATE_FAILED")
    assert "Queue visibility timeout: 5 seconds is less than Function timeout: 30" in reason
    assert ("Function", "DELETE_COMPLETE", "") in happened
    assert client(emulator, "lambda").list_functions()["Functions"] == [] or all(
        not f["FunctionName"].startswith("impatient-")
        for f in client(emulator, "lambda").list_functions()["Functions"]
    )


def test_iam_resources_need_the_capability(emulator: Emulator) -> None:
    cfn = client(emulator, "cloudformation")
    with pytest.raises(cfn.exceptions.InsufficientCapabilitiesException, match="CAPABILITY_IAM"):
        cfn.create_stack(StackName="uncapable", TemplateBody=IMPATIENT_MAPPING)


SERVERLESS = """
Transform: AWS::Serverless-2016-10-31
Resources:
  HelloRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: index.handler
      Role: !GetAtt HelloRole.Arn
      Tags: {purpose: greeting}
      InlineCode: "def handler(event, context):\\n    return {'hello': event['name']}\\n"
"""


def test_a_sam_template_is_transformed_by_aws_translator(emulator: Emulator) -> None:
    cfn = client(emulator, "cloudformation")
    # CreateStack with a transform needs CAPABILITY_AUTO_EXPAND; a change set does not.
    with pytest.raises(cfn.exceptions.InsufficientCapabilitiesException, match="AUTO_EXPAND"):
        cfn.create_stack(StackName="sam", TemplateBody=SERVERLESS, Capabilities=["CAPABILITY_IAM"])
    change_set = cfn.create_change_set(
        StackName="sam",
        ChangeSetName="first",
        ChangeSetType="CREATE",
        TemplateBody=SERVERLESS,
        Capabilities=["CAPABILITY_IAM"],
    )
    described = cfn.describe_change_set(ChangeSetName=change_set["Id"])
    assert {c["ResourceChange"]["ResourceType"] for c in described["Changes"]} == {
        "AWS::Lambda::Function",
        "AWS::IAM::Role",
    }
    cfn.execute_change_set(ChangeSetName=change_set["Id"])
    assert finished(emulator, "sam")["StackStatus"] == "CREATE_COMPLETE", [
        e for e in events(emulator, "sam") if "FAILED" in e[1]
    ]
    function = cfn.describe_stack_resource(StackName="sam", LogicalResourceId="Hello")
    name = function["StackResourceDetail"]["PhysicalResourceId"]
    answer = client(emulator, "lambda").invoke(FunctionName=name, Payload=b'{"name": "sam"}')
    assert json.loads(answer["Payload"].read()) == {"hello": "sam"}


@pytest.mark.slow
@pytest.mark.long  # mostly waiting: `deploy` polls the stack every 30 s (awscli's deployer)
def test_aws_cloudformation_deploy_creates_the_stack(emulator: Emulator, tmp_path: Path) -> None:
    """`deploy` as the README tells a user: a change set, described, executed, waited on."""
    package(emulator, tmp_path, TEMPLATE.replace("cfn-", "deployed-"))
    deploy_args = ("cloudformation", "deploy", "--template-file", "packaged.yaml")
    deploy_args += ("--stack-name", "deployed", "--capabilities", "CAPABILITY_NAMED_IAM")
    aws_cli(emulator, *deploy_args, cwd=tmp_path)
    stack = finished(emulator, "deployed")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    # The same template again: the change set has no changes, which `deploy` reports as such.
    again = aws_cli(emulator, *deploy_args, "--no-fail-on-empty-changeset", cwd=tmp_path)
    assert "No changes to deploy" in again
    # ... and only then: a changed template is no empty change set (updates aren't emulated).
    (tmp_path / "changed.yaml").write_text(
        (tmp_path / "packaged.yaml").read_text().replace("Timeout: 10", "Timeout: 11")
    )
    changed = ("--template-file", "changed.yaml", *deploy_args[3:])
    refused = aws_cli_run(emulator, "cloudformation", "deploy", *changed, cwd=tmp_path)
    assert refused.returncode != 0
    assert "No changes to deploy" not in refused.stdout + refused.stderr


ROLLS_BACK = """
Resources:
  First:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: /twice/same}
  Second:
    Type: AWS::Logs::LogGroup
    DependsOn: First
    Properties: {LogGroupName: /twice/same}
"""

ONE_GROUP = """
Resources:
  Group:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: /reviewed/%s}
"""


def test_a_rolled_back_stack_can_not_be_updated(emulator: Emulator, tmp_path: Path) -> None:
    """A stack in ROLLBACK_COMPLETE holds nothing: `deploy` must not say "No changes to
    deploy" but AWS's refusal (rails-lambda/lamby#132), so the user deletes it first."""
    cfn = client(emulator, "cloudformation")
    cfn.create_stack(StackName="rolled", TemplateBody=ROLLS_BACK)
    assert finished(emulator, "rolled")["StackStatus"] == "ROLLBACK_COMPLETE"
    with pytest.raises(cfn.exceptions.ClientError, match="ROLLBACK_COMPLETE state and can not"):
        cfn.create_change_set(StackName="rolled", ChangeSetName="again", TemplateBody=ROLLS_BACK)
    (tmp_path / "template.yaml").write_text(ROLLS_BACK)
    deploy = ("cloudformation", "deploy", "--template-file", "template.yaml")
    done = aws_cli_run(emulator, *deploy, "--stack-name", "rolled", cwd=tmp_path)
    assert done.returncode != 0
    assert "ROLLBACK_COMPLETE state and can not be updated" in done.stderr
    assert "No changes to deploy" not in done.stdout


def test_a_stack_under_review_is_one_stack_that_only_a_create_change_set_takes(
    emulator: Emulator,
) -> None:
    cfn = client(emulator, "cloudformation")
    first = cfn.create_change_set(
        StackName="reviewed",
        ChangeSetName="first",
        ChangeSetType="CREATE",
        TemplateBody=ONE_GROUP % "first",
    )
    with pytest.raises(cfn.exceptions.ClientError, match=r"Stack \[reviewed\] does not exist"):
        cfn.create_change_set(
            StackName="reviewed", ChangeSetName="update", TemplateBody=ONE_GROUP % "first"
        )
    with pytest.raises(cfn.exceptions.AlreadyExistsException):
        cfn.create_stack(StackName="reviewed", TemplateBody=ONE_GROUP % "first")
    second = cfn.create_change_set(
        StackName="reviewed",
        ChangeSetName="second",
        ChangeSetType="CREATE",
        TemplateBody=ONE_GROUP % "second",
    )
    assert second["StackId"] == first["StackId"]
    listed = cfn.list_stacks()["StackSummaries"]
    assert [s["StackId"] for s in listed if s["StackName"] == "reviewed"] == [first["StackId"]]
    cfn.execute_change_set(ChangeSetName=second["Id"])
    assert finished(emulator, "reviewed")["StackStatus"] == "CREATE_COMPLETE"
    groups = client(emulator, "logs").describe_log_groups(logGroupNamePrefix="/reviewed/")
    assert [g["logGroupName"] for g in groups["logGroups"]] == ["/reviewed/second"]
    with pytest.raises(cfn.exceptions.InvalidChangeSetStatusException):
        cfn.execute_change_set(ChangeSetName=first["Id"])


def test_create_stack_refuses_the_name_of_a_stack_under_review(emulator: Emulator) -> None:
    cfn = client(emulator, "cloudformation")
    cfn.create_change_set(
        StackName="twice",
        ChangeSetName="first",
        ChangeSetType="CREATE",
        TemplateBody=ONE_GROUP % "twice",
    )
    with pytest.raises(cfn.exceptions.AlreadyExistsException, match=r"Stack \[twice\]"):
        cfn.create_stack(StackName="twice", TemplateBody=ONE_GROUP % "twice")
    listed = cfn.list_stacks()["StackSummaries"]
    assert [s["StackStatus"] for s in listed if s["StackName"] == "twice"] == ["REVIEW_IN_PROGRESS"]


@pytest.mark.parametrize(
    ("stack", "change_set"),
    [
        ("under_score", "fine"),
        ("1st", "fine"),
        ("x" * 129, "fine"),
        ("fine", "change_set"),
        ("fine", "9th"),
    ],
)
def test_stack_and_change_set_names_are_validated(
    emulator: Emulator, stack: str, change_set: str
) -> None:
    cfn = client(emulator, "cloudformation")
    with pytest.raises(cfn.exceptions.ClientError, match="regular expression pattern"):
        cfn.create_change_set(
            StackName=stack,
            ChangeSetName=change_set,
            ChangeSetType="CREATE",
            TemplateBody=ONE_GROUP % "named",
        )
    if change_set == "fine":
        with pytest.raises(cfn.exceptions.ClientError, match="regular expression pattern"):
            cfn.create_stack(StackName=stack, TemplateBody=ONE_GROUP % "named")


def user_with(emulator: Emulator, name: str, statements: list[dict[str, Any]]) -> str:
    iam = client(emulator, "iam")
    iam.create_user(UserName=name)
    document = {"Version": "2012-10-17", "Statement": statements}
    iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(document))
    key: str = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    emulator.settled()
    return key


def test_iam_judges_a_stacks_calls_on_the_stacks_arn(emulator: Emulator) -> None:
    """cloudformation:CreateStack and the like take the stack's ARN as their resource (IAM
    Service Authorization Reference): a policy scoped to some stacks grants those alone."""
    logs = {"Effect": "Allow", "Action": "logs:*", "Resource": "*"}
    scoped = user_with(
        emulator,
        "scoped",
        [
            logs,
            {
                "Effect": "Allow",
                "Action": "cloudformation:*",
                "Resource": f"arn:aws:cloudformation:{REGION}:*:stack/scoped-*/*",
            },
        ],
    )
    cfn = client(emulator, "cloudformation", scoped)
    cfn.create_stack(StackName="scoped-one", TemplateBody=ONE_GROUP % "scoped")
    assert finished(emulator, "scoped-one")["StackStatus"] == "CREATE_COMPLETE"
    assert cfn.describe_stacks(StackName="scoped-one")["Stacks"][0]["StackName"] == "scoped-one"
    with pytest.raises(cfn.exceptions.ClientError, match="cloudformation:CreateStack"):
        cfn.create_stack(StackName="elsewhere", TemplateBody=ONE_GROUP % "elsewhere")

    guarded = user_with(
        emulator,
        "guarded",
        [
            logs,
            {"Effect": "Allow", "Action": "cloudformation:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "cloudformation:*",
                "Resource": f"arn:aws:cloudformation:{REGION}:*:stack/prod-*/*",
            },
        ],
    )
    cfn = client(emulator, "cloudformation", guarded)
    with pytest.raises(cfn.exceptions.ClientError, match="cloudformation:CreateStack"):
        cfn.create_stack(StackName="prod-orders", TemplateBody=ONE_GROUP % "prod")
    with pytest.raises(cfn.exceptions.ClientError, match="cloudformation:DeleteStack"):
        cfn.delete_stack(StackName="prod-orders")
    cfn.create_stack(StackName="dev-orders", TemplateBody=ONE_GROUP % "dev")
    assert finished(emulator, "dev-orders")["StackStatus"] == "CREATE_COMPLETE"


@pytest.mark.parametrize(
    ("value", "refusal"),
    [
        ("!Ref Missing", r"Unresolved resource dependencies \['Missing'\] in the Resources block"),
        ("!Sub '${Missing}-x'", r"Unresolved resource dependencies \['Missing'\]"),
        ("!GetAtt Missing.Arn", "Fn::GetAtt references undefined resource Missing"),
        ("!GetAtt Queue.Nonsense", "resource Queue does not support attribute type Nonsense"),
        ("!Sub '${Queue.Nonsense}'", "resource Queue does not support attribute type Nonsense"),
    ],
)
def test_a_template_naming_what_it_lacks_is_refused_before_anything_is_made(
    emulator: Emulator, value: str, refusal: str
) -> None:
    body = f"""
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Group:
    Type: AWS::Logs::LogGroup
    Properties: {{LogGroupName: {value}}}
"""
    cfn = client(emulator, "cloudformation")
    with pytest.raises(cfn.exceptions.ClientError, match=refusal):
        cfn.create_stack(StackName="lacking", TemplateBody=body)
    with pytest.raises(cfn.exceptions.ClientError, match=refusal):
        cfn.create_change_set(
            StackName="lacking", ChangeSetName="one", ChangeSetType="CREATE", TemplateBody=body
        )
    listed = cfn.list_stacks()["StackSummaries"]
    assert [s for s in listed if s["StackName"] == "lacking"] == []


def test_an_output_naming_what_the_template_lacks_is_refused(emulator: Emulator) -> None:
    body = (ONE_GROUP % "outputs") + "Outputs:\n  Url: {Value: !Ref Missing}\n"
    cfn = client(emulator, "cloudformation")
    with pytest.raises(cfn.exceptions.ClientError, match="in the Outputs block"):
        cfn.create_stack(StackName="outputs", TemplateBody=body)


KEPT = """
Resources:
  Retained:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Retain
    Properties: {LogGroupName: /kept/retained}
  RetainedUnlessNew:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: RetainExceptOnCreate
    Properties: {LogGroupName: /kept/unless-new}
  Deleted:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Delete
    Properties: {LogGroupName: /kept/deleted}
"""


def log_groups(emulator: Emulator, prefix: str) -> list[str]:
    found = client(emulator, "logs").describe_log_groups(logGroupNamePrefix=prefix)
    return sorted(g["logGroupName"] for g in found["logGroups"])


def test_deleting_a_stack_keeps_what_its_deletion_policy_retains(emulator: Emulator) -> None:
    cfn = client(emulator, "cloudformation")
    made = cfn.create_stack(StackName="kept", TemplateBody=KEPT)
    assert finished(emulator, "kept")["StackStatus"] == "CREATE_COMPLETE"
    cfn.delete_stack(StackName="kept")
    assert finished(emulator, made["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert log_groups(emulator, "/kept/") == ["/kept/retained", "/kept/unless-new"]
    happened = events(emulator, made["StackId"])
    assert ("Retained", "DELETE_SKIPPED", "") in happened
    assert ("RetainedUnlessNew", "DELETE_SKIPPED", "") in happened


def test_a_rolled_back_create_deletes_what_is_retained_except_on_create(
    emulator: Emulator,
) -> None:
    template = """
Resources:
  RetainedUnlessNew:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: RetainExceptOnCreate
    Properties: {LogGroupName: /rolled-kept/unless-new}
  Retained:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Retain
    Properties: {LogGroupName: /rolled-kept/retained}
  Clash:
    Type: AWS::Logs::LogGroup
    DependsOn: [Retained, RetainedUnlessNew]
    Properties: {LogGroupName: /rolled-kept/retained}
"""
    cfn = client(emulator, "cloudformation")
    cfn.create_stack(StackName="rolled-kept", TemplateBody=template)
    assert finished(emulator, "rolled-kept")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert log_groups(emulator, "/rolled-kept/") == ["/rolled-kept/retained"]


@pytest.mark.parametrize(
    ("policy", "refusal"),
    [("Snapshot", "does not emulate DeletionPolicy Snapshot"), ("Keep", "Unrecognized")],
)
def test_a_deletion_policy_not_acted_out_is_refused(
    emulator: Emulator, policy: str, refusal: str
) -> None:
    body = f"""
Resources:
  Group:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: {policy}
"""
    cfn = client(emulator, "cloudformation")
    with pytest.raises(cfn.exceptions.ClientError, match=refusal):
        cfn.create_stack(StackName="snapshot", TemplateBody=body)


@pytest.mark.parametrize(
    ("asked", "named"),
    [
        ({"RoleARN": "arn:aws:iam::123456789012:role/cfn"}, "RoleARN"),
        ({"DisableRollback": True}, "DisableRollback"),
        ({"OnFailure": "DO_NOTHING"}, "OnFailure DO_NOTHING"),
        ({"OnFailure": "DELETE"}, "OnFailure DELETE"),
    ],
)
def test_what_the_emulator_does_not_act_out_is_refused_not_ignored(
    emulator: Emulator, asked: dict[str, Any], named: str
) -> None:
    cfn = client(emulator, "cloudformation")
    with pytest.raises(cfn.exceptions.ClientError, match=f"does not emulate {named}"):
        cfn.create_stack(StackName="unacted", TemplateBody=ONE_GROUP % "unacted", **asked)
    assert [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == "unacted"] == []


def test_delete_stack_refuses_to_retain_resources_it_would_delete(emulator: Emulator) -> None:
    cfn = client(emulator, "cloudformation")
    cfn.create_stack(StackName="retaining", TemplateBody=ONE_GROUP % "retaining")
    assert finished(emulator, "retaining")["StackStatus"] == "CREATE_COMPLETE"
    with pytest.raises(cfn.exceptions.ClientError, match="does not emulate RetainResources"):
        cfn.delete_stack(StackName="retaining", RetainResources=["Group"])
    stack = finished(emulator, "retaining")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert "LastUpdatedTime" not in stack  # never updated (API Reference, Stack)


def test_validate_template_names_the_capability_named_iam_resources_need(
    emulator: Emulator,
) -> None:
    cfn = client(emulator, "cloudformation")
    named = cfn.validate_template(TemplateBody=TEMPLATE)
    assert named["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert "AWS::IAM::Role" in named["CapabilitiesReason"]
    unnamed = cfn.validate_template(TemplateBody=IMPATIENT_MAPPING)
    assert unnamed["Capabilities"] == ["CAPABILITY_IAM"]
    summary = cfn.get_template_summary(TemplateBody=TEMPLATE)
    assert summary["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
