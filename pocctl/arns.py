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
    def build(
        cls, service: str, region: str, account: str, resource: str, *, regional: bool = True
    ) -> Arn:
        """An ARN in `region`'s partition; a global service's (IAM's) names no region."""
        return cls(partition_of(region), service, region if regional else "", account, resource)

    def __str__(self) -> str:
        fields = (self.partition, self.service, self.region, self.account, self.resource)
        return ":".join(("arn", *fields))

    @property
    def _separator(self) -> str | None:
        if self.service in UNTYPED or self.resource.startswith("/"):
            return None
        slash, colon = self.resource.find("/"), self.resource.find(":")
        found = [i for i in (slash, colon) if i > 0]
        return self.resource[min(found)] if found else None

    @property
    def resource_type(self) -> str:
        """ "function", "table", "role", "log-group"; "" when the resource names no type."""
        separator = self._separator
        return self.resource.split(separator, 1)[0] if separator else ""

    @property
    def resource_id(self) -> str:
        """The resource after its type: "POC-Lambda-1:live", "orders/stream/2026-...",
        "app/Role"; the whole resource when it names no type."""
        separator = self._separator
        return self.resource.split(separator, 1)[1] if separator else self.resource

    @property
    def name(self) -> str:
        """The resource's own name: a queue's, a function's (without its qualifier), a table's
        (of its stream's ARN too), a role's (without its path), a topic's (of a subscription's
        ARN too)."""
        if self.service in PATHED:
            return self.resource_id.rsplit("/", 1)[-1]
        separator = self._separator or ":"
        return self.resource_id.split(separator, 1)[0]
