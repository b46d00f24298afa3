"""What every resource provider shares: how it is called, what it hands back, and CloudFormation's
rules for names and tags.

Each provider makes its resource through the emulator's own service API with the caller's
credentials, as CloudFormation does without a service role ("By default, CloudFormation uses a
temporary session that it generates from your user credentials for stack operations",
CloudFormation User Guide, "CloudFormation service role"): IAM judges every call as the
caller's, and the emulator's AWS behaviours (states, propagation, mapping rules, workers,
pollers, the API's data plane) apply to what the stack makes as to what the API makes.
"""

from __future__ import annotations

import json
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

Clients = Callable[[str], Any]  # service name -> a boto3 client acting as the caller
STABILIZE_SECONDS = 600.0
POLL_SECONDS = 0.05


class ResourceFailed(Exception):
    """The reason a resource could not be made or deleted, as its stack events show it."""


@dataclass
class Made:
    physical_id: str  # what Ref returns
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request:
    """One resource to make: its template values resolved, and where it lives."""

    logical_id: str
    properties: dict[str, Any]
    stack_name: str
    region: str
    account: str
    tags: list[dict[str, str]]  # the stack's tags to add (CloudFormation's own among them)
    clients: Clients
    # Waits until IAM's latest change to this role has reached the services that use it.
    role_settled: Callable[[str], None] = lambda arn: None

    def client(self, service: str) -> Any:
        return self.clients(service)

    def name(self, key: str, limit: int = 64) -> str:
        """The resource's name: the template's, or CloudFormation's own "stack-logicalId-RANDOM"
        (User Guide, "Name type": "CloudFormation generates a unique physical ID to name a
        resource ... stack name, logical ID and a unique string")."""
        given = self.properties.get(key)
        if given:
            return str(given)
        suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=12))
        head = f"{self.stack_name}-{self.logical_id}"[: limit - len(suffix) - 1]
        return f"{head}-{suffix}"

    def all_tags(self) -> list[dict[str, str]]:
        """The template's Tags and the stack's, the template's winning for the same key."""
        own = [dict(tag) for tag in self.properties.get("Tags") or []]
        keys = {tag["Key"] for tag in own}
        return own + [tag for tag in self.tags if tag["Key"] not in keys]

    def tag_map(self) -> dict[str, str]:
        return {tag["Key"]: str(tag["Value"]) for tag in self.all_tags()}


class Provider(Protocol):
    # Whether CloudFormation's stack-level tags (aws:cloudformation:*) reach this type.
    stack_tags: bool

    def create(self, request: Request) -> Made: ...

    def delete(self, request: Request, made: Made) -> None: ...


def as_json(value: Any) -> str:
    """A policy or schema given as an object in the template, as the API takes it: a string."""
    return value if isinstance(value, str) else json.dumps(value)


def absent(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code in (
        "NoSuchEntity",
        "ResourceNotFoundException",
        "NotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NotFound",
    )


def delete_quietly(action: Callable[[], Any]) -> None:
    """Deleting what is already gone counts as done (CloudFormation's handlers contract:
    a delete of a missing resource succeeds with NotFound)."""
    try:
        action()
    except ClientError as error:
        if not absent(error):
            raise


def stabilize(what: str, ready: Callable[[], bool]) -> None:
    """CloudFormation reports a resource complete only once it is usable (its handler's
    stabilisation): the table ACTIVE, the function Active."""
    deadline = time.monotonic() + STABILIZE_SECONDS
    while not ready():
        if time.monotonic() > deadline:
            raise ResourceFailed(f"{what} did not stabilize")
        time.sleep(POLL_SECONDS)


def until_gone(what: str, describe: Callable[[], Any]) -> None:
    """A deletion is complete once the resource no longer answers (its describe says not
    found): a table stays DELETING, a mapping Deleting, a while."""

    def gone() -> bool:
        try:
            describe()
        except ClientError as error:
            if absent(error):
                return True
            raise
        return False

    stabilize(f"{what} deletion", gone)


def only(properties: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: properties[name] for name in names if name in properties}
