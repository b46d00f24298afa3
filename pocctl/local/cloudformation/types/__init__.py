"""The resource types the emulator's CloudFormation makes, one module per service."""

from __future__ import annotations

from pocctl.local.cloudformation.providers import Provider
from pocctl.local.cloudformation.types import (
    apigateway,
    cloudwatch,
    dynamodb,
    iam,
    lambda_,
    logs,
    sns,
    sqs,
)

PROVIDERS: dict[str, Provider] = {
    **iam.PROVIDERS,
    **sqs.PROVIDERS,
    **dynamodb.PROVIDERS,
    **lambda_.PROVIDERS,
    **logs.PROVIDERS,
    **sns.PROVIDERS,
    **apigateway.PROVIDERS,
    **cloudwatch.PROVIDERS,
}
