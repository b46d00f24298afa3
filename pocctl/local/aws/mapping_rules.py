"""What Lambda refuses in an event source mapping's settings, and what it fills in unasked.

moto takes any settings and answers only those it was given; Lambda checks them first and
answers every field with its default.
"""

from __future__ import annotations

from typing import Any

from pocctl.core.arns import Arn
from pocctl.local.calls import Call
from pocctl.local.filters import valid_pattern
from pocctl.local.replies import Reply, error

# botocore's Lambda model (CreateEventSourceMapping, UpdateEventSourceMapping): BatchSize 1-10000;
# ScalingConfig.MaximumConcurrency 2-1000 (Lambda API reference, ScalingConfig: "Valid Range:
# Minimum value of 2. Maximum value of 1000."). AWS answers a value outside a model constraint
# with ValidationException in this wording (recorded for startingPosition in
# localstack/localstack, tests/aws/services/lambda_/test_lambda_api.snapshot.json,
# test_create_event_source_validation).
RANGES = (
    (("BatchSize",), "batchSize", 1, 10_000),
    (("ScalingConfig", "MaximumConcurrency"), "scalingConfig.maximumConcurrency", 2, 1000),
    # botocore's model: MaximumBatchingWindowInSeconds min 0, max 300 ("any value from 0
    # seconds to 300 seconds").
    (("MaximumBatchingWindowInSeconds",), "maximumBatchingWindowInSeconds", 0, 300),
)
# botocore's model, FilterCriteria.Filters[].Pattern: max length 4096. The error names the list
# member as AWS names members of other lists (inferred: no recording of this one).
PATTERN_LIMIT = 4096
# Lambda Developer Guide, "Control which events Lambda sends to your function": "By default, you
# can define up to five different filters for a single event source mapping ... If you attempt
# to add more filters than your current quota permits, Lambda will return an error". Its type
# and wording are not recorded: InvalidParameterValueException, worded here (inferred).
FILTER_LIMIT = 5
TOO_MANY_FILTERS = (
    f"The number of filters exceeds the limit of {FILTER_LIMIT} for this event source mapping."
)
# botocore's model, BatchSize: "For FIFO queues the max is 10." AWS's wording when 10 was every
# queue's maximum: "Maximum batch size must be between 1 and 10 inclusive"
# (InvalidParameterValueException: pulumi/pulumi-aws-serverless#20); kept for FIFO (inferred).
FIFO_BATCH_LIMIT = 10
FIFO_BATCH_TOO_LARGE = "Maximum batch size must be between 1 and 10 inclusive"
# botocore's model, ScalingConfig: "(Amazon SQS only)". Wording not recorded (inferred).
SCALING_SQS_ONLY = "ScalingConfig is only supported for Amazon SQS event sources."
# Lambda API reference, CreateEventSourceMapping, MaximumBatchingWindowInSeconds: "For Kinesis,
# DynamoDB, and Amazon SQS event sources, when you set BatchSize to a value greater than 10, you
# must set MaximumBatchingWindowInSeconds to at least 1." Wording recorded against AWS in
# localstack/localstack, test_lambda_integration_sqs.snapshot.json,
# test_event_source_mapping_default_batch_size (on create and on update).
BATCH_WINDOW_NEEDED = (
    "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater "
    "than 10"
)
INVALID_FILTER = "Invalid filter pattern definition."

# What Lambda answers for the fields a request left out (Lambda API reference,
# EventSourceMappingConfiguration; answers recorded against AWS in localstack/localstack,
# tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_sqs.snapshot.json and
# test_lambda_integration_dynamodbstreams.snapshot.json). The two kinds word
# StateTransitionReason differently; moto says "User initiated" for both.
DEFAULTS = {
    "FunctionResponseTypes": [],
    "MaximumBatchingWindowInSeconds": 0,
}
QUEUE_DEFAULTS = {"StateTransitionReason": "USER_INITIATED"}
STREAM_DEFAULTS = {
    "StateTransitionReason": "User action",
    "BisectBatchOnFunctionError": False,
    "DestinationConfig": {"OnFailure": {}},
    "MaximumRecordAgeInSeconds": -1,
    "MaximumRetryAttempts": -1,
    "ParallelizationFactor": 1,
    "TumblingWindowInSeconds": 0,
}
# A stream mapping's LastProcessingResult until a batch went through (the recordings above).
NOTHING_PROCESSED = "No records processed"


def is_queue(source: str) -> bool:
    arn = Arn.of(source)
    return arn is not None and arn.service == "sqs"


def with_defaults(mapping: dict[str, Any]) -> None:
    """Fill in what AWS answers for the fields the mapping was made without."""
    queue = is_queue(str(mapping.get("EventSourceArn", "")))
    for key, value in {**DEFAULTS, **(QUEUE_DEFAULTS if queue else STREAM_DEFAULTS)}.items():
        if key == "StateTransitionReason" or mapping.get(key) is None:
            mapping[key] = value


def refused_settings(call: Call, current: dict[str, Any] | None = None) -> Reply | None:
    """Lambda's refusal of a CreateEventSourceMapping (current None) or of an
    UpdateEventSourceMapping of the mapping `current` (as GetEventSourceMapping answers it)."""
    params = call.params
    for path, name, low, high in RANGES:
        value: Any = params
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int) and not low <= value <= high:
            bound = (
                f"less than or equal to {high}"
                if value > high
                else (f"greater than or equal to {low}")
            )
            return error(
                call,
                400,
                "ValidationException",
                f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy "
                f"constraint: Member must have value {bound}",
            )
    filters = (params.get("FilterCriteria") or {}).get("Filters") or []
    for number, one in enumerate(filters, start=1):
        pattern = one.get("Pattern") if isinstance(one, dict) else None
        if isinstance(pattern, str) and len(pattern) > PATTERN_LIMIT:
            return error(
                call,
                400,
                "ValidationException",
                f"1 validation error detected: Value '{pattern}' at "
                f"'filterCriteria.filters.{number}.member.pattern' failed to satisfy "
                f"constraint: Member must have length less than or equal to {PATTERN_LIMIT}",
            )
    if any(not valid_pattern(f.get("Pattern")) for f in filters if isinstance(f, dict)):
        return error(call, 400, "InvalidParameterValueException", INVALID_FILTER)
    if len(filters) > FILTER_LIMIT:
        return error(call, 400, "InvalidParameterValueException", TOO_MANY_FILTERS)
    settings = {**(current or {}), **params}
    source = str(settings.get("EventSourceArn", ""))
    batch = settings.get("BatchSize")
    window = settings.get("MaximumBatchingWindowInSeconds") or 0
    if params.get("ScalingConfig") and not is_queue(source):
        return error(call, 400, "InvalidParameterValueException", SCALING_SQS_ONLY)
    fifo = is_queue(source) and source.endswith(".fifo")
    if fifo and isinstance(batch, int) and batch > FIFO_BATCH_LIMIT:
        return error(call, 400, "InvalidParameterValueException", FIFO_BATCH_TOO_LARGE)
    if is_queue(source) and isinstance(batch, int) and batch > 10 and window < 1:
        return error(call, 400, "InvalidParameterValueException", BATCH_WINDOW_NEEDED)
    return None


def visibility_refusal(call: Call, visibility: int, function_timeout: int) -> Reply | None:
    """Lambda refuses to map a queue whose messages come back before the function may end:
    "Queue visibility timeout: 60 seconds is less than Function timeout: 120 seconds"
    (InvalidParameterValueException, 400: winglang/wing#1507, 18F/identity-terraform#27,
    github-aws-runners/terraform-aws-github-runner#465). Public reports show it on
    CreateEventSourceMapping only: a function's timeout raised later is not refused
    (github-aws-runners/terraform-aws-github-runner#467), and neither is it here."""
    if visibility >= function_timeout:
        return None
    return error(
        call,
        400,
        "InvalidParameterValueException",
        f"Queue visibility timeout: {visibility} seconds is less than Function timeout: "
        f"{function_timeout} seconds",
    )
