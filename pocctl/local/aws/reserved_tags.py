"""Tag keys starting with aws: are AWS's own: a user can't set them, on create or through the
tagging calls. Each service refuses them as a bad parameter, with its own error code:

- Lambda: "You can't use the aws: prefix", InvalidParameterValueException (Lambda Developer
  Guide, "Using tags on Lambda functions"; TagResource errors).
- SNS: InvalidParameter (SNS Developer Guide, "Amazon SNS tags": keys "can't start with aws:").
- CloudWatch Logs: InvalidParameterException (Logs User Guide, "Tag log groups": "the aws:
  prefix is reserved").
- API Gateway: BadRequestException (Developer Guide, "Tagging your API Gateway resources":
  "tag keys ... can't start with aws:").
- CloudWatch: InvalidParameterValue (CloudWatch API Reference, Tag: keys "that start with aws:
  are reserved").
- SQS: InvalidParameterValue (SQS Developer Guide, "Tagging": "the aws: prefix ... is reserved").
- DynamoDB: ValidationException (Developer Guide, "Tagging restrictions in DynamoDB":
  "AWS-assigned tag names ... the aws: prefix, which you can't assign").
The prefix is reserved in any case ("aws:", "AWS:"; awsdocs/aws-cloudformation-user-guide#371,
amazon-ecs-developer-guide#72). CloudFormation itself sets aws:cloudformation:* on what it
creates ("CloudFormation resource tagging"): the emulator's CloudFormation may, users may not.
moto accepts them all.
"""

from __future__ import annotations

from typing import Any

from pocctl.local.calls import Call
from pocctl.local.replies import Reply, error

RESERVED_PREFIX = "aws:"

# The calls that set tags, and each service's error for a bad parameter.
TAGGING_CALLS: dict[str, frozenset[str]] = {
    "lambda": frozenset({"TagResource", "CreateFunction", "CreateEventSourceMapping"}),
    "sns": frozenset({"TagResource", "CreateTopic"}),
    "logs": frozenset({"TagResource", "TagLogGroup", "CreateLogGroup"}),
    "apigateway": frozenset({"TagResource", "CreateRestApi", "CreateStage"}),
    "cloudwatch": frozenset({"TagResource", "PutMetricAlarm"}),
    "sqs": frozenset({"TagQueue", "CreateQueue"}),
    "dynamodb": frozenset({"TagResource", "CreateTable"}),
}
ERROR_CODES = {
    "lambda": "InvalidParameterValueException",
    "sns": "InvalidParameter",
    "logs": "InvalidParameterException",
    "apigateway": "BadRequestException",
    "cloudwatch": "InvalidParameterValue",
    "sqs": "InvalidParameterValue",
    "dynamodb": "ValidationException",
}


def tag_keys(params: dict[str, Any]) -> list[str]:
    """The tag keys a call sets: a map (Lambda, Logs, API Gateway, SQS), a list of Key/Value
    (DynamoDB, CloudWatch and SNS in JSON) or the query protocol's Tags.member.N.Key."""
    keys: list[str] = []
    for name in ("Tags", "tags"):
        given = params.get(name)
        if isinstance(given, dict):
            keys += [str(key) for key in given]
        elif isinstance(given, list):
            keys += [str(tag.get("Key", "")) for tag in given if isinstance(tag, dict)]
    keys += [str(value) for name, value in params.items() if name.endswith(".Key")]
    return keys


def refuse_reserved_tags(call: Call) -> Reply | None:
    """The service's refusal of a user's call that sets a tag key starting with aws:."""
    if call.by_cloudformation or call.operation not in TAGGING_CALLS.get(call.service, ()):
        return None
    reserved = [key for key in tag_keys(call.params) if key.lower().startswith(RESERVED_PREFIX)]
    if not reserved:
        return None
    return error(
        call,
        400,
        ERROR_CODES[call.service],
        f"Invalid tag key {reserved[0]!r}: tag keys starting with 'aws:' are reserved for AWS use.",
    )
