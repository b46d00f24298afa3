"""Tags only CloudFormation sets (aws:cloudformation:*), written as CloudFormation would: into
moto's memory, past the services' TagResource, which refuse keys starting with aws: as AWS does
(pocctl/local/aws/reserved_tags.py). Works with the `aws` fixture and with the emulator alike,
both in this process."""

from __future__ import annotations

from moto.backends import get_backend

from pocctl.core.arns import Arn

ACCOUNT = "123456789012"


def tag_as_cloudformation(arn: str, tags: dict[str, str]) -> None:
    """Add `tags` to the resource at `arn`: a Lambda function or event source mapping, a log
    group, an SNS topic, a CloudWatch alarm, a REST API or a stage of one."""
    parsed = Arn.parse(arn)
    backend = get_backend(parsed.service)[ACCOUNT][parsed.region]  # type: ignore[misc]
    if parsed.service == "apigateway":  # /restapis/ID or /restapis/ID/stages/NAME
        parts = parsed.resource.strip("/").split("/")
        api = backend.get_rest_api(parts[1])
        target = api.stages[parts[3]] if len(parts) > 3 else api
        target.tags = {**(target.tags or {}), **tags}
    elif parsed.service == "logs":
        backend.tag_log_group(parsed.resource.removeprefix("log-group:").removesuffix(":*"), tags)
    else:
        backend.tag_resource(arn, tags)
