"""The Resource Groups Tagging API keeps listing a resource for a while after it is deleted.

GetResources "returns all the tagged or previously tagged resources" (its API reference), and
users find deleted resources listed minutes to hours later (boto/boto3#3341, aws/aws-cli#8197,
aws/aws-sdk#676): whoever reads it must confirm each hit with the resource's own service.
moto forgets a resource the moment it is deleted, so each delete is watched here: what the
tagging API listed before and no longer lists after is listed still until `tagging_after_delete`
is over (timing.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pocctl.core.arns import Arn
from pocctl.local.aws.base import Rules
from pocctl.local.calls import Call
from pocctl.local.replies import Reply

SERVICE = "resourcegroupstaggingapi"
# The deletions of resources the tagging API lists (not DeleteMessage, DeleteItem, ...).
DELETES = frozenset(
    {
        "DeleteQueue",
        "DeleteTable",
        "DeleteFunction",
        "DeleteTopic",
        "DeleteLogGroup",
        "DeleteRestApi",
        "DeleteStage",
        "DeleteEventSourceMapping",
        "DeleteAlarms",
    }
)


# The parts of an ARN that are new each run (a mapping's UUID, an API's id): a ghost's wait is
# drawn for the ARN without them, so a seed replays.
GENERATED = re.compile(r"(event-source-mapping:|/restapis/)[^/:]+")


def stable(arn: str) -> str:
    return GENERATED.sub(r"\1*", arn)


@dataclass(frozen=True)
class Listed:
    """A deleted resource the tagging API lists still, with the tags it had."""

    region: str
    tags: tuple[tuple[str, str], ...]
    until: float


class TaggingRules(Rules):
    services = (SERVICE,)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.ghosts: dict[str, Listed] = {}
        self._before_delete: dict[int, dict[str, tuple[tuple[str, str], ...]]] = {}

    def watches(self, call: Call) -> bool:
        return self.world.timing.enabled and not call.internal and call.operation in DELETES

    def deleting(self, call: Call) -> None:
        """Before a delete reaches moto: what the tagging API lists now."""
        if self.watches(call):
            listed = self._listed(call.region, call.service)
            with self.world.lock:
                self._before_delete[id(call)] = listed

    def deleted(self, call: Call, reply: Reply) -> None:
        """After it: what it no longer lists is listed still, for a while."""
        with self.world.lock:
            before = self._before_delete.pop(id(call), None)
        if before is None or not reply.ok:
            return
        self._remember(call.region, before, self._listed(call.region, call.service))

    def removed(self, region: str, arn: str, tags: dict[str, str]) -> None:
        """The emulator itself removed a resource, at the end of AWS's deletion (a queue's 60
        s): the tagging API lists it still, as after any delete. (Told, not listed: a listing
        here would let another call see the queue meanwhile.)"""
        if self.world.timing.enabled and tags:
            self._remember(region, {arn: tuple(sorted(tags.items()))}, {})

    def _remember(
        self,
        region: str,
        before: dict[str, tuple[tuple[str, str], ...]],
        after: dict[str, tuple[tuple[str, str], ...]],
    ) -> None:
        gone = {arn: tags for arn, tags in before.items() if arn not in after}
        until = {arn: self.world.after("tagging_after_delete", stable(arn)) for arn in gone}
        with self.world.lock:
            for arn, tags in gone.items():
                # A resource deleted again (made anew in between) is listed until the later end.
                known = self.ghosts.get(arn)
                if known is None or known.until < until[arn]:
                    self.ghosts[arn] = Listed(region, tags, until[arn])

    def _listed(self, region: str, service: str) -> dict[str, tuple[tuple[str, str], ...]]:
        """What the tagging API lists of one service's resources: a delete removes only its own
        service's (an API's stages are API Gateway's; DeleteFunction leaves the function's
        mappings). Not the whole region: with a few stacks up, that took dozens of pages for
        each delete."""
        tagging = self.world.client(SERVICE, region)
        listed: dict[str, tuple[tuple[str, str], ...]] = {}
        pages = tagging.get_paginator("get_resources").paginate(ResourceTypeFilters=[service])
        for page in pages:
            for resource in page["ResourceTagMappingList"]:
                tags = tuple((t["Key"], t["Value"]) for t in resource.get("Tags", []))
                listed[resource["ResourceARN"]] = tags
        return listed

    def after(self, call: Call, reply: Reply) -> Reply:
        if call.operation != "GetResources" or call.internal or not reply.ok:
            return reply
        document = reply.json()
        if not isinstance(document, dict) or document.get("PaginationToken"):
            return reply  # the ghosts go on the last page
        now = self.world.clock()
        with self.world.lock:
            for arn in [a for a, g in self.ghosts.items() if g.until <= now]:
                del self.ghosts[arn]
            ghosts = dict(self.ghosts)
        mappings = document.setdefault("ResourceTagMappingList", [])
        listed = {m["ResourceARN"] for m in mappings}
        for arn, ghost in ghosts.items():
            if arn not in listed and ghost.region == call.region and matches(call, arn, ghost):
                tags = [{"Key": k, "Value": v} for k, v in ghost.tags]
                mappings.append({"ResourceARN": arn, "Tags": tags})
        return reply.with_json(document)


def matches(call: Call, arn: str, ghost: Listed) -> bool:
    """Whether GetResources' filters (tags, resource types, ARNs) select the resource."""
    tags = dict(ghost.tags)
    for wanted in call.params.get("TagFilters") or []:
        key, values = wanted.get("Key"), wanted.get("Values") or []
        if key not in tags or (values and tags[key] not in values):
            return False
    arns = call.params.get("ResourceARNList")
    if arns and arn not in arns:
        return False
    types = call.params.get("ResourceTypeFilters")
    return not types or any(of_type(arn, t) for t in types)


def of_type(arn: str, resource_type: str) -> bool:
    """ "sqs" or "lambda:function": the ARN's service, and its resource type if named."""
    parsed = Arn.of(arn)
    wanted_service, _, wanted_type = resource_type.partition(":")
    if parsed is None or parsed.service != wanted_service:
        return False
    # An SQS queue's ARN names no type.
    return not wanted_type or not parsed.resource_type or parsed.resource_type == wanted_type
