"""Amazon Resource Names, built and read in one place.

The format (IAM User Guide, "IAM identifiers", ARNs; AWS General Reference, "Amazon Resource
Names"): `arn:partition:service:region:account-id:resource`, where the resource is
`resource-id`, `resource-type/resource-id` or `resource-type:resource-id`, and may itself hold
':' and '/' (a function's qualifier, a table's stream, a role's path).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

# Services whose resource is a bare name, with no type before it: a queue's ARN ends in its
# name, a topic's too, and a subscription's in "topic:id" (SQS and SNS Developer Guides).
UNTYPED = frozenset({"sqs", "sns"})
# IAM's resource name is the last part of a path (IAM User Guide, "IAM identifiers":
# arn:aws:iam::123456789012:role/application_abc/component_xyz/S3Access).
PATHED = frozenset({"iam"})


@functools.cache
def _resolver() -> Any:
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver

    return EndpointResolver(create_loader().load_data("endpoints"))


@functools.cache
def partition_of(region: str) -> str:
    """The partition a region belongs to, from botocore's own table (its regionRegex per
    partition): us-east-1 -> aws, cn-north-1 -> aws-cn, us-gov-west-1 -> aws-us-gov. A region
    no partition claims is in the commercial one, as boto3 builds its endpoint there."""
    from botocore.exceptions import UnknownRegionError

    try:
        return str(_resolver().get_partition_for_region(region))
    except UnknownRegionError:
        return "aws"


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> Arn:
        """Raises ValueError for what is not an ARN."""
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
            raise ValueError(f"not an ARN: {text!r}")
        return cls(*parts[1:])

    @classmethod
    def of(cls, text: str) -> Arn | None:
        """The ARN, or None for what is not one (a name, an empty parameter)."""
        try:
            return cls.parse(text)
        except ValueError:
            return None

    @classmethod
    def build(cls, service: str, region: str, account: str, resource: str) -> Arn:
        """An ARN of a resource in `region`, in the region's partition."""
        return cls(partition_of(region), service, region, account, resource)

    @classmethod
    def iam(cls, region: str, account: str, resource: str) -> Arn:
        """An IAM role's, user's or policy's ARN: IAM is global, so it names no region, but
        its partition is that of the region the call was made in (IAM User Guide, "IAM
        identifiers": arn:aws-cn:iam::123456789012:... in China)."""
        return cls(partition_of(region), "iam", "", account, resource)

    def __str__(self) -> str:
        fields = (self.partition, self.service, self.region, self.account, self.resource)
        return ":".join(("arn", *fields))

    def _typed(self) -> tuple[str, str, str]:
        """The resource's type, the separator after it, and the rest."""
        if self.service in UNTYPED:
            return "", ":", self.resource
        if self.resource.startswith("/"):  # API Gateway's paths: /restapis/ID/stages/NAME
            kind, _, rest = self.resource[1:].partition("/")
            return kind, "/", rest
        cuts = [i for i in (self.resource.find("/"), self.resource.find(":")) if i > 0]
        if not cuts:
            return "", ":", self.resource
        cut = min(cuts)
        return self.resource[:cut], self.resource[cut], self.resource[cut + 1 :]

    @property
    def resource_type(self) -> str:
        """The type the resource names ("function", "table", "role", "log-group",
        "restapis"), or "" (a queue, a topic)."""
        return self._typed()[0]

    @property
    def resource_id(self) -> str:
        """The resource after its type: "POC-Lambda-1:live", "orders/stream/2026-...",
        "service-role/POC-Role"; the whole resource when it names no type."""
        return self._typed()[2]

    @property
    def name(self) -> str:
        """The resource's own name: a queue's, a function's (without its qualifier), a table's
        (of its stream's ARN too), a role's (without its path), a topic's (of a subscription's
        ARN too), a REST API's id."""
        _, separator, rest = self._typed()
        if self.service in PATHED:
            return rest.rsplit("/", 1)[-1]
        return rest.split(separator, 1)[0]


def function_name(value: str) -> str:
    """The function a Lambda API call names, however it names it: "my-function", its ARN, a
    partial ARN ("123456789012:function:my-function") or any of these with a ":qualifier"
    (Lambda API Reference, e.g. GetFunction, FunctionName)."""
    arn = Arn.of(value)
    if arn is not None:
        return arn.name
    return value.split(":function:")[-1].split(":")[0]
