"""`pocctl local` refuses the event source mappings AWS refuses, and acts out their busy states.

Each rule runs on a clock the test moves forward (see test_aws_behaviours).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from pocctl.local.calls import Call
from pocctl.local.emulator import Emulator
from pocctl.local.filters import passes
from pocctl.local.replies import Reply

from . import test_aws_behaviours as behaviours
from .test_aws_behaviours import Clock, client, code_of, make_function, make_role

# The fixtures of test_aws_behaviours: an emulator on a clock the test moves, and function "f"
# whose role reads queue "q".
clock = behaviours.clock
emulator = behaviours.emulator
reader = behaviours.reader

UNCHECKED = BotoConfig(retries={"mode": "standard", "max_attempts": 1}, parameter_validation=False)


def message_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Message"])


def enabled_mapping(emulator: Emulator, clock: Clock, source: str, **settings: Any) -> str:
    lam = client(emulator, "lambda")
    uuid: str = lam.create_event_source_mapping(
        FunctionName="f", EventSourceArn=source, **settings
    )["UUID"]
    clock.advance("mapping_creating")
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    return uuid


# -- what CreateEventSourceMapping refuses ---------------------------------------------------
def test_a_queue_that_hands_messages_back_before_the_function_may_end_is_refused(
    emulator: Emulator, clock: Clock, reader: tuple[str, str]
) -> None:
    _, source = reader
    lam, sqs = client(emulator, "lambda"), client(emulator, "sqs")
    lam.update_function_configuration(FunctionName="f", Timeout=60)
    clock.advance("function_updating")
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(FunctionName="f", EventSourceArn=source)
    assert code_of(refused) == "InvalidParameterValueException"
    assert message_of(refused) == (
        "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"
    )
    assert lam.list_event_source_mappings(FunctionName="f")["EventSourceMappings"] == []
    url = sqs.get_queue_url(QueueName="q")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "360"})
    assert lam.create_event_source_mapping(FunctionName="f", EventSourceArn=source)["UUID"]


def test_the_function_timeout_raised_past_a_mapped_queue_visibility_timeout_is_accepted(
    emulator: Emulator, clock: Clock, reader: tuple[str, str]
) -> None:
    # Reported refused at CreateEventSourceMapping only (terraform-aws-github-runner#467).
    _, source = reader
    enabled_mapping(emulator, clock, source)
    lam = client(emulator, "lambda")
    assert lam.update_function_configuration(FunctionName="f", Timeout=60)["Timeout"] == 60


def test_a_queue_batch_over_ten_needs_a_batching_window(
    emulator: Emulator, clock: Clock, reader: tuple[str, str]
) -> None:
    _, source = reader
    lam = client(emulator, "lambda")
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(FunctionName="f", EventSourceArn=source, BatchSize=11)
    assert code_of(refused) == "InvalidParameterValueException"
    assert message_of(refused) == (
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
        "greater than 10"
    )
    uuid = enabled_mapping(emulator, clock, source)
    with pytest.raises(ClientError, match="Maximum batch window") as refused:
        lam.update_event_source_mapping(UUID=uuid, BatchSize=100)
    assert code_of(refused) == "InvalidParameterValueException"
    updated = lam.update_event_source_mapping(
        UUID=uuid, BatchSize=100, MaximumBatchingWindowInSeconds=1
    )
    assert updated["BatchSize"] == 100


@pytest.mark.parametrize(
    ("settings", "field", "bound"),
    [
        ({"BatchSize": 10_001, "MaximumBatchingWindowInSeconds": 1}, "batchSize", "less"),
        ({"BatchSize": 0}, "batchSize", "greater"),
        (
            {"ScalingConfig": {"MaximumConcurrency": 1001}},
            "scalingConfig.maximumConcurrency",
            "less",
        ),
        (
            {"ScalingConfig": {"MaximumConcurrency": 1}},
            "scalingConfig.maximumConcurrency",
            "greater",
        ),
        ({"MaximumBatchingWindowInSeconds": 301}, "maximumBatchingWindowInSeconds", "less"),
        ({"MaximumBatchingWindowInSeconds": -1}, "maximumBatchingWindowInSeconds", "greater"),
    ],
)
def test_settings_outside_their_range_are_refused(
    emulator: Emulator,
    reader: tuple[str, str],
    settings: dict[str, Any],
    field: str,
    bound: str,
) -> None:
    _, source = reader
    lam = boto3.client(
        "lambda",
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id="user",
        aws_secret_access_key="user",
        config=UNCHECKED,  # botocore itself checks the lower bounds: a raw caller does not
    )
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(FunctionName="f", EventSourceArn=source, **settings)
    assert code_of(refused) == "ValidationException"
    assert f"at '{field}' failed to satisfy constraint: Member must have value {bound}" in (
        message_of(refused)
    )
    assert lam.list_event_source_mappings(FunctionName="f")["EventSourceMappings"] == []


def test_a_fifo_queue_batch_is_at_most_ten(
    emulator: Emulator, clock: Clock, reader: tuple[str, str]
) -> None:
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    source = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    lam = client(emulator, "lambda")
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(
            FunctionName="f",
            EventSourceArn=source,
            BatchSize=11,
            MaximumBatchingWindowInSeconds=1,
        )
    assert code_of(refused) == "InvalidParameterValueException"
    assert message_of(refused) == "Maximum batch size must be between 1 and 10 inclusive"
    uuid = enabled_mapping(emulator, clock, source, BatchSize=10)
    with pytest.raises(ClientError, match="between 1 and 10"):
        lam.update_event_source_mapping(UUID=uuid, BatchSize=20, MaximumBatchingWindowInSeconds=1)


def test_scaling_config_is_for_queues_only(emulator: Emulator, clock: Clock) -> None:
    stream = stream_for(emulator, clock)
    with pytest.raises(ClientError, match="only supported for Amazon SQS") as refused:
        client(emulator, "lambda").create_event_source_mapping(
            FunctionName="g",
            EventSourceArn=stream,
            StartingPosition="TRIM_HORIZON",
            ScalingConfig={"MaximumConcurrency": 2},
        )
    assert code_of(refused) == "InvalidParameterValueException"


def test_more_than_five_filters_or_a_pattern_over_4096_characters_are_refused(
    emulator: Emulator, reader: tuple[str, str]
) -> None:
    _, source = reader
    lam = client(emulator, "lambda")
    six = {"Filters": [{"Pattern": json.dumps({"body": [str(n)]})} for n in range(6)]}
    with pytest.raises(ClientError, match="limit of 5") as refused:
        lam.create_event_source_mapping(FunctionName="f", EventSourceArn=source, FilterCriteria=six)
    assert code_of(refused) == "InvalidParameterValueException"
    long = json.dumps({"body": ["x" * 4090]})
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(
            FunctionName="f", EventSourceArn=source, FilterCriteria={"Filters": [{"Pattern": long}]}
        )
    assert code_of(refused) == "ValidationException"
    assert "Member must have length less than or equal to 4096" in message_of(refused)
    five = {"Filters": six["Filters"][:5]}
    assert lam.create_event_source_mapping(
        FunctionName="f", EventSourceArn=source, FilterCriteria=five
    )["UUID"]


@pytest.mark.parametrize(
    "pattern",
    [
        "null",
        "simple string",
        json.dumps({"eventSource": "aws:sqs"}),
        json.dumps({"eventSource": []}),
        json.dumps({"eventName": [{"contains": "INS"}]}),
        json.dumps({"size": [{"numeric": [">>", 5]}]}),
        json.dumps(["INSERT"]),
    ],
)
def test_an_invalid_filter_pattern_is_refused_rather_than_dropping_every_record(
    emulator: Emulator, clock: Clock, reader: tuple[str, str], pattern: str
) -> None:
    _, source = reader
    lam = client(emulator, "lambda")
    criteria = {"Filters": [{"Pattern": pattern}]}
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(
            FunctionName="f", EventSourceArn=source, FilterCriteria=criteria
        )
    assert code_of(refused) == "InvalidParameterValueException"
    assert message_of(refused) == "Invalid filter pattern definition."
    uuid = enabled_mapping(emulator, clock, source)
    with pytest.raises(ClientError, match="Invalid filter pattern definition"):
        lam.update_event_source_mapping(UUID=uuid, FilterCriteria=criteria)


# Each with a record it matches and one it doesn't, through the matcher the pollers use: what
# is accepted is applied (every operator's forms: tests/test_emulator_parts.py).
@pytest.mark.parametrize(
    ("pattern", "matched", "unmatched"),
    [
        ({"body": {"kind": ["order"]}}, {"body": {"kind": "order"}}, {"body": {"kind": "x"}}),
        (
            {"eventName": ["INSERT"], "dynamodb": {"Keys": {"id": {"S": [{"prefix": "o-"}]}}}},
            {"eventName": "INSERT", "dynamodb": {"Keys": {"id": {"S": "o-1"}}}},
            {"eventName": "INSERT", "dynamodb": {"Keys": {"id": {"S": "x-1"}}}},
        ),
        (
            {"size": [{"numeric": [">=", 5, "<", 10]}], "note": [{"exists": False}, None]},
            {"size": 5, "note": None},
            {"size": 10},
        ),
        (
            {"state": [{"anything-but": ["gone"]}], "name": [{"suffix": ".png"}]},
            {"state": "here", "name": "a.png"},
            {"state": "gone", "name": "a.png"},
        ),
        (
            {"$or": [{"a": [{"equals-ignore-case": "x"}]}, {"b": [""]}]},
            {"b": ""},
            {"a": "y", "b": "z"},
        ),
    ],
)
def test_valid_filter_patterns_are_accepted_and_applied(
    emulator: Emulator,
    reader: tuple[str, str],
    pattern: dict[str, Any],
    matched: dict[str, Any],
    unmatched: dict[str, Any],
) -> None:
    _, source = reader
    criteria = {"Filters": [{"Pattern": json.dumps(pattern)}]}
    lam = client(emulator, "lambda")
    uuid = lam.create_event_source_mapping(
        FunctionName="f", EventSourceArn=source, FilterCriteria=criteria
    )["UUID"]
    kept = lam.get_event_source_mapping(UUID=uuid)["FilterCriteria"]
    assert passes(kept, matched)
    assert not passes(kept, unmatched)


# -- busy states ------------------------------------------------------------------------------
def test_an_updated_mapping_is_updating_for_a_while_and_refuses_changes_meanwhile(
    emulator: Emulator, clock: Clock, reader: tuple[str, str]
) -> None:
    _, source = reader
    lam = client(emulator, "lambda")
    uuid = enabled_mapping(emulator, clock, source)
    assert lam.update_event_source_mapping(UUID=uuid, BatchSize=5)["State"] == "Updating"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Updating"
    for attempt in (
        lambda: lam.update_event_source_mapping(UUID=uuid, BatchSize=6),
        lambda: lam.delete_event_source_mapping(UUID=uuid),
    ):
        with pytest.raises(ClientError, match="Updating") as refused:
            attempt()
        assert code_of(refused) == "ResourceInUseException"
    clock.advance("mapping_updating")
    mapping = lam.get_event_source_mapping(UUID=uuid)
    assert (mapping["State"], mapping["BatchSize"]) == ("Enabled", 5)
    assert lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    with pytest.raises(ClientError, match="Deleting") as refused:
        lam.update_event_source_mapping(UUID=uuid, BatchSize=7)
    assert code_of(refused) == "ResourceInUseException"


def test_a_mapping_being_created_refuses_an_update_or_a_delete(
    emulator: Emulator, reader: tuple[str, str]
) -> None:
    _, source = reader
    lam = client(emulator, "lambda")
    uuid = lam.create_event_source_mapping(FunctionName="f", EventSourceArn=source)["UUID"]
    for attempt in (
        lambda: lam.update_event_source_mapping(UUID=uuid, Enabled=False),
        lambda: lam.delete_event_source_mapping(UUID=uuid),
    ):
        with pytest.raises(ClientError, match="Creating") as refused:
            attempt()
        assert code_of(refused) == "ResourceInUseException"


def test_disabling_and_enabling_take_a_while(
    emulator: Emulator, clock: Clock, reader: tuple[str, str]
) -> None:
    _, source = reader
    lam = client(emulator, "lambda")
    uuid = enabled_mapping(emulator, clock, source)
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabling"
    clock.advance("mapping_updating")
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    clock.advance("mapping_updating")
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"


# -- what AWS answers unasked -----------------------------------------------------------------
def test_a_queue_mapping_answers_with_aws_defaults(
    emulator: Emulator, reader: tuple[str, str]
) -> None:
    _, source = reader
    lam = client(emulator, "lambda")
    created = lam.create_event_source_mapping(FunctionName="f", EventSourceArn=source)
    listed = lam.list_event_source_mappings(FunctionName="f")["EventSourceMappings"][0]
    for mapping in (created, listed):
        assert mapping["StateTransitionReason"] == "USER_INITIATED"
        assert mapping["FunctionResponseTypes"] == []
        assert mapping["MaximumBatchingWindowInSeconds"] == 0
        assert mapping["BatchSize"] == 10
        for stream_only in ("StartingPosition", "MaximumRetryAttempts", "LastProcessingResult"):
            assert stream_only not in mapping


STREAM_READER = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}],
}


def stream_for(emulator: Emulator, clock: Clock) -> str:
    """Function "g", whose role may read streams, and table "t"'s stream ARN."""
    role = make_role(emulator, "streams", STREAM_READER)
    clock.advance("iam_propagation")
    make_function(emulator, "g", role)
    clock.advance("function_pending")
    ddb = client(emulator, "dynamodb")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    clock.advance("table_creating")
    stream: str = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    return stream


def test_a_stream_mapping_answers_with_aws_defaults(emulator: Emulator, clock: Clock) -> None:
    stream = stream_for(emulator, clock)
    lam = client(emulator, "lambda")
    created = lam.create_event_source_mapping(
        FunctionName="g", EventSourceArn=stream, StartingPosition="TRIM_HORIZON"
    )
    assert created["LastProcessingResult"] == "No records processed"
    expected = {
        "StateTransitionReason": "User action",
        "MaximumRetryAttempts": -1,
        "MaximumRecordAgeInSeconds": -1,
        "BisectBatchOnFunctionError": False,
        "DestinationConfig": {"OnFailure": {}},
        "FunctionResponseTypes": [],
        "MaximumBatchingWindowInSeconds": 0,
        "ParallelizationFactor": 1,
        "TumblingWindowInSeconds": 0,
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 100,
    }
    got = lam.get_event_source_mapping(UUID=created["UUID"])
    assert {k: got.get(k) for k in expected} == expected
    (listed,) = lam.list_event_source_mappings(FunctionName="g")["EventSourceMappings"]
    clock.advance("mapping_creating")
    updated = lam.update_event_source_mapping(UUID=created["UUID"], BatchSize=50)
    clock.advance("mapping_updating")
    deleting = lam.delete_event_source_mapping(UUID=created["UUID"])
    assert deleting["StateTransitionReason"] == "User action"
    # Until a batch went through (the recordings in pocctl/local/aws/mapping_rules.py)
    for answer in (got, listed, updated, deleting):
        assert answer["LastProcessingResult"] == "No records processed"


def test_two_updates_at_once_one_is_refused(
    emulator: Emulator, clock: Clock, reader: tuple[str, str]
) -> None:
    """Two UpdateEventSourceMapping requests in flight together (each checked, neither yet
    applied): the check that a mapping is not busy and its switch to Updating are one step, so
    the second is refused as AWS refuses an update while Updating."""
    _, source = reader
    uuid = enabled_mapping(emulator, clock, source)
    rules = emulator.aws.lambda_

    def update(size: int) -> Call:
        return Call(
            "lambda",
            "UpdateEventSourceMapping",
            {"UUID": uuid, "BatchSize": size},
            "us-east-1",
            "user",
            "rest-json",
        )

    first, second = update(5), update(6)
    assert rules.before(first) is None
    refused = rules.before(second)
    assert refused is not None and refused.header("x-amzn-ErrorType") == "ResourceInUseException"
    assert "while it is Updating" in refused.body.decode()
    deleting = Call(
        "lambda", "DeleteEventSourceMapping", {"UUID": uuid}, "us-east-1", "user", "rest-json"
    )
    refused = rules.before(deleting)
    assert refused is not None and refused.header("x-amzn-ErrorType") == "ResourceInUseException"
    rules.after(first, Reply(500))  # the first failed after all: the mapping is free again
    assert (
        client(emulator, "lambda").update_event_source_mapping(UUID=uuid, BatchSize=7)["State"]
        == "Updating"
    )
