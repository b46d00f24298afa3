"""Stacks and change sets, and carrying them out: each resource in dependency order, through its
provider; a failure rolls back what the stack made; deleting goes in the reverse order.

Statuses and events as the CloudFormation User Guide has them ("Stack status codes",
"Monitor stack progress"): CREATE_IN_PROGRESS -> CREATE_COMPLETE, or CREATE_FAILED on the
resource with its reason, then ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE, every resource made
deleted ("If stack creation fails, CloudFormation rolls back any changes by deleting the
resources that it created", "Choose how to handle failures when provisioning resources");
DELETE_IN_PROGRESS -> DELETE_COMPLETE.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from pocctl.local.cloudformation.intrinsics import Scope, references, resolve
from pocctl.local.cloudformation.providers import Clients, Made, Request
from pocctl.local.cloudformation.template import Template, TemplateError
from pocctl.local.cloudformation.types import PROVIDERS

Log = Callable[[str], None]
CREATING = ("CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS")


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class Resource:
    logical_id: str
    type: str
    status: str = ""
    reason: str = ""
    made: Made | None = None
    request: Request | None = None
    updated: datetime.datetime = field(default_factory=now)


@dataclass
class Stack:
    name: str
    id: str
    region: str
    account: str
    template: Template  # as CloudFormation processes it (after any transform)
    original: str  # the template as sent
    parameters: dict[str, str]
    tags: list[dict[str, str]]
    capabilities: list[str]
    description: str = ""
    status: str = "REVIEW_IN_PROGRESS"
    reason: str = ""
    created: datetime.datetime = field(default_factory=now)
    resources: dict[str, Resource] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delete_queued_by: str | None = None  # the access key of a DeleteStack made while creating

    def event(
        self,
        logical_id: str,
        kind: str,
        status: str,
        reason: str = "",
        physical: str = "",
        properties: dict[str, Any] | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "StackId": self.id,
            "EventId": str(uuid.uuid4()),
            "StackName": self.name,
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": physical,
            "ResourceType": kind,
            "Timestamp": now(),
            "ResourceStatus": status,
        }
        if reason:
            entry["ResourceStatusReason"] = reason
        if properties is not None:
            entry["ResourceProperties"] = json.dumps(properties)
        with self.lock:
            self.events.append(entry)

    def take(self, proposed: Stack) -> None:
        """What a change set proposed becomes what the stack is made of."""
        self.template, self.original = proposed.template, proposed.original
        self.parameters, self.tags = proposed.parameters, proposed.tags
        self.capabilities, self.description = proposed.capabilities, proposed.description

    def set_status(self, status: str, reason: str = "") -> None:
        self.status, self.reason = status, reason
        self.event(self.name, "AWS::CloudFormation::Stack", status, reason, self.id)


@dataclass
class ChangeSet:
    name: str
    id: str
    stack: Stack
    kind: str  # CREATE or UPDATE
    status: str = "CREATE_COMPLETE"
    execution: str = "AVAILABLE"
    reason: str = ""
    description: str = ""
    created: datetime.datetime = field(default_factory=now)
    proposed: Stack | None = None  # a CREATE change set's template, parameters and tags


def creation_order(template: Template) -> list[str]:
    """The resources so that each comes after what it depends on (DependsOn, Ref, GetAtt, Sub);
    a cycle is refused, as CloudFormation refuses it."""
    resources = template["Resources"]
    needs: dict[str, set[str]] = {}
    for logical_id, body in resources.items():
        depends = body.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else list(depends)
        found = references(body.get("Properties", {})) | set(depends)
        unknown = [name for name in depends if name not in resources]
        if unknown:
            raise TemplateError(
                f"Template format error: Unresolved resource dependencies {unknown} in the "
                "Resources block of the template"
            )
        needs[logical_id] = {name for name in found if name in resources}
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(resources):
        ready = [name for name in resources if name not in placed and needs[name] <= placed]
        if not ready:
            cycle = sorted(set(resources) - placed)
            raise TemplateError(f"Circular dependency between resources: {cycle}")
        order.extend(ready)
        placed.update(ready)
    return order


def conditions(template: Template, scope: Scope) -> dict[str, bool]:
    results: dict[str, bool] = {}
    scope.conditions = results
    pending = dict(template.get("Conditions") or {})
    for _ in range(len(pending) + 1):
        for name, value in list(pending.items()):
            try:
                results[name] = bool(resolve(value, scope))
            except KeyError:
                continue
            del pending[name]
    return results


class Deployer:
    """Carries stacks out in the background, as CloudFormation does after answering."""

    def __init__(
        self, clients: Callable[[str, str], Clients], role_settled: Callable[[str], None], log: Log
    ) -> None:
        self.clients = clients  # (access key, region) -> clients acting as that caller
        self.role_settled = role_settled
        self.log = log
        self.turns = threading.Lock()  # a create's end and a DeleteStack meanwhile, one at a time

    def scope(self, stack: Stack) -> Scope:
        scope = Scope(
            parameters=dict(stack.parameters),
            pseudo={
                "AWS::Region": stack.region,
                "AWS::AccountId": stack.account,
                "AWS::StackName": stack.name,
                "AWS::StackId": stack.id,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::NotificationARNs": [],
            },
            mappings=stack.template.get("Mappings") or {},
        )
        scope.refs = {r.logical_id: r.made.physical_id for r in stack.resources.values() if r.made}

        def attribute(logical_id: str, name: str) -> Any:
            made = stack.resources[logical_id].made
            return made.attributes.get(name) if made else None

        scope.attribute = attribute
        conditions(stack.template, scope)
        return scope

    def create(self, stack: Stack, access_key: str) -> None:
        stack.set_status("CREATE_IN_PROGRESS", "User Initiated")
        threading.Thread(
            target=self._create_then_delete,
            args=(stack, access_key),
            daemon=True,
            name=f"cfn-{stack.name}",
        ).start()

    def delete(self, stack: Stack, access_key: str) -> None:
        """Deleting a stack still being created is accepted (cloudtools/stacker#422): it is
        deleted once the create has ended, as that create's resources then are."""
        with self.turns:
            if stack.status in CREATING:
                stack.delete_queued_by = access_key
                return
        threading.Thread(
            target=self._delete,
            args=(stack, access_key, "DELETE"),
            daemon=True,
            name=f"cfn-{stack.name}",
        ).start()

    def _create_then_delete(self, stack: Stack, access_key: str) -> None:
        self._create(stack, access_key)
        with self.turns:
            queued, stack.delete_queued_by = stack.delete_queued_by, None
        if queued is not None:
            self._delete(stack, queued, "DELETE")

    def _create(self, stack: Stack, access_key: str) -> None:
        clients = self.clients(access_key, stack.region)
        for logical_id in creation_order(stack.template):
            body = stack.template["Resources"][logical_id]
            scope = self.scope(stack)
            if "Condition" in body and not scope.conditions.get(body["Condition"], False):
                continue
            resource = Resource(logical_id, body["Type"])
            stack.resources[logical_id] = resource
            try:
                properties = resolve(body.get("Properties") or {}, scope)
                resource.request = self._request(stack, resource, properties, clients)
                self._progress(stack, resource, "CREATE_IN_PROGRESS", properties=properties)
                resource.made = PROVIDERS[resource.type].create(resource.request)
            # Whatever stops a resource fails it, as a handler's failure does on AWS: the stack
            # rolls back rather than stay CREATE_IN_PROGRESS (a bug of ours shows in the reason).
            except Exception as exc:
                reason = failure_reason(exc)
                self.log(f"stack {stack.name}: {logical_id} failed: {reason}")
                self._progress(stack, resource, "CREATE_FAILED", reason)
                if resource.made is None:
                    del stack.resources[logical_id]
                stack.set_status(
                    "ROLLBACK_IN_PROGRESS",
                    f"The following resource(s) failed to create: [{logical_id}]. "
                    "Rollback requested by user.",
                )
                self._delete(stack, access_key, "ROLLBACK")
                return
            self._progress(stack, resource, "CREATE_COMPLETE")
        scope = self.scope(stack)
        stack.outputs = [
            {
                "OutputKey": key,
                "OutputValue": str(resolve(value["Value"], scope)),
                **({"Description": value["Description"]} if "Description" in value else {}),
            }
            for key, value in (stack.template.get("Outputs") or {}).items()
            if "Condition" not in value or scope.conditions.get(value["Condition"], False)
        ]
        stack.set_status("CREATE_COMPLETE")

    def _delete(self, stack: Stack, access_key: str, why: str) -> None:
        if why == "DELETE":
            stack.set_status("DELETE_IN_PROGRESS", "User Initiated")
        order = [name for name in creation_order(stack.template) if name in stack.resources]
        failed: list[str] = []
        for logical_id in reversed(order):
            resource = stack.resources[logical_id]
            if resource.made is None or resource.request is None:
                continue
            if resource.status == "DELETE_COMPLETE":  # by the rollback before this delete
                continue
            if kept(stack.template["Resources"][logical_id], why):
                self._progress(stack, resource, "DELETE_SKIPPED")
                continue
            request = resource.request
            # Deleting acts with the credentials of whoever asked for it.
            request.clients = self.clients(access_key, stack.region)
            self._progress(stack, resource, "DELETE_IN_PROGRESS")
            try:
                PROVIDERS[resource.type].delete(request, resource.made)
            except Exception as exc:  # as above: DELETE_FAILED, with the reason
                reason = failure_reason(exc)
                self.log(f"stack {stack.name}: deleting {logical_id} failed: {reason}")
                self._progress(stack, resource, "DELETE_FAILED", reason)
                failed.append(logical_id)
                continue
            self._progress(stack, resource, "DELETE_COMPLETE")
        if failed:
            final = "DELETE_FAILED" if why == "DELETE" else "ROLLBACK_FAILED"
            stack.set_status(
                final, f"The following resource(s) failed to delete: [{', '.join(failed)}]. "
            )
            return
        stack.set_status("DELETE_COMPLETE" if why == "DELETE" else "ROLLBACK_COMPLETE")

    def _request(
        self, stack: Stack, resource: Resource, properties: dict[str, Any], clients: Clients
    ) -> Request:
        provider = PROVIDERS[resource.type]
        tags = [dict(tag) for tag in stack.tags]
        if provider.stack_tags:
            tags += [
                {"Key": "aws:cloudformation:stack-name", "Value": stack.name},
                {"Key": "aws:cloudformation:stack-id", "Value": stack.id},
                {"Key": "aws:cloudformation:logical-id", "Value": resource.logical_id},
            ]
        return Request(
            logical_id=resource.logical_id,
            properties=properties,
            stack_name=stack.name,
            region=stack.region,
            account=stack.account,
            tags=tags,
            clients=clients,
            role_settled=self.role_settled,
        )

    def _progress(
        self,
        stack: Stack,
        resource: Resource,
        status: str,
        reason: str = "",
        properties: dict[str, Any] | None = None,
    ) -> None:
        resource.status, resource.reason, resource.updated = status, reason, now()
        physical = resource.made.physical_id if resource.made else ""
        stack.event(resource.logical_id, resource.type, status, reason, physical, properties)


def kept(body: dict[str, Any], why: str) -> bool:
    """Whether the resource's DeletionPolicy keeps it: Retain always, RetainExceptOnCreate
    except when the create that made it rolls back (Template Reference, "DeletionPolicy
    attribute"); a kept resource's event is DELETE_SKIPPED (User Guide, "Stack status codes")."""
    policy = body.get("DeletionPolicy", "Delete")
    return policy == "Retain" or (policy == "RetainExceptOnCreate" and why == "DELETE")


def failure_reason(exc: Exception) -> str:
    """As CloudFormation words a handler's failure: "Resource handler returned message: ...
    (Service: ..., Status Code: ...)" (e.g. aws/aws-lambda-dotnet#2450)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        return (
            f'Resource handler returned message: "{error.get("Message", "")}" '
            f"(Service: {exc.operation_name}, Status Code: {status}) "
            f"(HandlerErrorCode: {error.get('Code', '')})"
        )
    return str(exc)
