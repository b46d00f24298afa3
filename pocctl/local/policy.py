"""IAM policy evaluation, as AWS documents it, for the calls roles make offline.

What a call needs: its action (the service's IAM prefix and the operation, from botocore's model)
and the ARNs it touches (from the parameters that name a resource). An action whose IAM reference
lists no resource type is judged against `"*"`, so a statement scoped to an ARN does not grant it,
as on AWS. Statements are evaluated with Action/NotAction, Resource/NotResource, Deny before
Allow, and the common condition operators (String*, Arn*, Bool, Null, Numeric*, with IfExists
and ForAnyValue/ForAllValues). Sources: the IAM User Guide's "Policy evaluation logic" and
"IAM JSON policy elements: Condition operators".
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import astuple, dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlparse

from pocctl.core.arns import Arn, function_name
from pocctl.local.calls import Call

IAM_PREFIX = {"dynamodbstreams": "dynamodb", "resourcegroupstaggingapi": "tag"}
# Operations authorised under another action's name (the IAM Service Authorization Reference).
ACTION_ALIASES = {
    "sns:PublishBatch": "sns:Publish",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "lambda:Invoke": "lambda:InvokeFunction",
    "lambda:InvokeWithResponseStream": "lambda:InvokeFunction",
}


@cache
def _wildcard_only() -> frozenset[str]:
    """The actions for which the IAM Service Authorization Reference lists no resource type
    (wildcard_only.txt, derived from parliament's copy of it by tests/iam_table.py): they have
    no resource-level permission, and only `"Resource": "*"` grants them."""
    text = resources.files("pocctl.local").joinpath("wildcard_only.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def wildcard_only(action: str) -> bool:
    return action.lower() in _wildcard_only()


ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})


@dataclass(frozen=True)
class Request:
    action: str
    resources: tuple[str, ...]
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def resource(self) -> str:
        return ", ".join(self.resources)


def _sqs_arn(region: str, account: str, params: dict[str, Any]) -> str | None:
    if "QueueUrl" in params:
        parts = urlparse(str(params["QueueUrl"])).path.strip("/").split("/")
        owner = parts[0] if len(parts) > 1 and parts[0].isdigit() else account
        return str(Arn.build("sqs", region, owner, parts[-1]))
    if "QueueName" in params:
        return str(Arn.build("sqs", region, account, str(params["QueueName"])))
    if "SourceArn" in params:  # the message move tasks act on the dead-letter queue
        return str(params["SourceArn"])
    return None


def _lambda_arn(region: str, account: str, params: dict[str, Any]) -> str | None:
    name = params.get("FunctionName")
    if not name:
        return None
    arn = Arn.of(str(name))
    if arn is not None:  # the function's, without a qualifier
        return str(replace(arn, resource=f"function:{arn.name}"))
    return str(Arn.build("lambda", region, account, f"function:{function_name(str(name))}"))


def _resources(call: Call, account: str) -> list[str]:
    p, region = call.params, call.region
    prefix = IAM_PREFIX.get(call.service, call.service)

    def here(resource: str) -> str:
        return str(Arn.build(prefix, region, account, resource))

    found: list[str | None] = []
    if prefix == "sqs":
        found.append(_sqs_arn(region, account, p))
    elif prefix == "sns":
        named = here(p["Name"]) if call.operation == "CreateTopic" and "Name" in p else None
        found.append(p.get("TopicArn") or p.get("TargetArn") or p.get("ResourceArn") or named)
        subscription = Arn.of(str(p.get("SubscriptionArn", "")))
        if subscription is not None:  # a subscription's calls are on its topic
            found.append(str(replace(subscription, resource=subscription.name)))
    elif prefix == "dynamodb":
        if "StreamArn" in p:
            found.append(p["StreamArn"])
        elif "ShardIterator" in p:
            found.append(_stream_of_iterator(str(p["ShardIterator"])))
        elif "TableName" in p:
            found.append(here(f"table/{p['TableName']}"))
        elif "RequestItems" in p:
            found += [here(f"table/{name}") for name in p["RequestItems"]]
        elif "TransactItems" in p:
            for item in p["TransactItems"]:
                for body in item.values():
                    found.append(here(f"table/{body.get('TableName')}"))
        found.append(p.get("ResourceArn"))
    elif prefix == "lambda":
        # A mapping's calls are on the mapping: its function is the lambda:FunctionArn
        # condition key (IAM Service Authorization Reference).
        if "UUID" in p:
            found.append(here(f"event-source-mapping:{p['UUID']}"))
        else:
            found.append(_lambda_arn(region, account, p))
    elif prefix == "logs":
        group = p.get("logGroupName") or p.get("logGroupIdentifier")
        if group and not str(group).startswith("arn:"):
            stream = p.get("logStreamName")
            suffix = f":log-stream:{stream}" if stream else ":*"
            found.append(here(f"log-group:{group}{suffix}"))
        elif group:
            found.append(str(group))
    elif prefix == "iam":
        # A role's calls are on the role alone: the managed policy it attaches or detaches is
        # the iam:PolicyARN condition key (IAM Service Authorization Reference).
        if "RoleName" in p:
            found.append(str(Arn.iam(region, account, f"role/{p['RoleName']}")))
        elif call.operation == "CreatePolicy" and "PolicyName" in p:
            policy = f"policy/{p['PolicyName']}"
            found.append(str(Arn.iam(region, account, policy)))
        else:
            found.append(p.get("PolicyArn"))
    elif prefix == "sts":
        found.append(p.get("RoleArn"))
    elif prefix == "apigateway":
        found.append(str(Arn.build("apigateway", region, "", call.path)))
    elif prefix == "cloudwatch":
        # An alarm's calls are on the alarm (arn:...:cloudwatch:region:account:alarm:NAME: IAM
        # Service Authorization Reference, Amazon CloudWatch, resource type alarm); DeleteAlarms
        # and DescribeAlarms name several.
        names = as_list(p.get("AlarmNames") or []) + as_list(p.get("AlarmName") or [])
        found += [here(f"alarm:{name}") for name in names]
    elif prefix == "cloudformation":
        found.append(_stack_arn(region, account, p))
    found = [r for r in found if r]
    if not found:  # tagging and the like name their resource by ARN, whatever the service
        for key in ("ResourceArn", "resourceArn", "ResourceARN", "Resource", "resourceArns"):
            if key in p:
                found += [str(r) for r in as_list(p[key])]
                break
    return [r for r in found if r]


def _stack_arn(region: str, account: str, params: dict[str, Any]) -> str | None:
    """A stack's calls are on the stack, arn:${Partition}:cloudformation:${Region}:${Account}:
    stack/${StackName}/${Id} (IAM Service Authorization Reference, AWS CloudFormation, resource
    type stack); a name alone leaves the id to any, as a policy written for a stack does."""
    name = params.get("StackName")
    if not name:
        return None
    if str(name).startswith("arn:"):
        return str(name)
    return str(Arn.build("cloudformation", region, account, f"stack/{name}/*"))


def _stream_of_iterator(iterator: str) -> str | None:
    # moto's iterators start with the stream ARN; AWS's are opaque, and so is the judgement then.
    match = re.search(r"arn:aws[a-z-]*:dynamodb:[^|\s\"]+/stream/[^|\s\"]+", iterator)
    return match.group(0) if match else None


def request_for(call: Call, account: str, principal_arn: str) -> Request:
    prefix = IAM_PREFIX.get(call.service, call.service)
    action = f"{prefix}:{call.operation}"
    action = ACTION_ALIASES.get(action, action)
    if prefix == "apigateway":
        action = f"apigateway:{call.method}"
    resources = ("*",) if wildcard_only(action) else tuple(_resources(call, account)) or ("*",)
    context = {
        "aws:RequestedRegion": call.region,
        "aws:PrincipalArn": principal_arn,
        "aws:PrincipalAccount": account,
        "aws:SecureTransport": "true",
    }
    # Service condition keys pocctl's policies use (IAM Service Authorization Reference): the
    # boundary a request sets, and the function a new mapping is for.
    if action in BOUNDARY_FROM_REQUEST and call.params.get("PermissionsBoundary"):
        context["iam:PermissionsBoundary"] = str(call.params["PermissionsBoundary"])
    if action in ("iam:AttachRolePolicy", "iam:DetachRolePolicy") and call.params.get("PolicyArn"):
        context["iam:PolicyARN"] = str(call.params["PolicyArn"])
    if action.startswith("lambda:") and action.endswith("EventSourceMapping"):
        function = _lambda_arn(call.region, account, call.params)
        if function:
            context["lambda:FunctionArn"] = function
    return Request(action, resources, context)


# iam:PermissionsBoundary is the boundary the request sets for these, and the role's present
# boundary for the others that support the key ("Filters access if the specified policy is set
# as the permissions boundary on the IAM entity": IAM Service Authorization Reference).
BOUNDARY_FROM_REQUEST = frozenset({"iam:CreateRole", "iam:PutRolePermissionsBoundary"})
BOUNDARY_OF_THE_ROLE = frozenset(
    {
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:DeleteRolePermissionsBoundary",
    }
)


# Calls that hand a role to a service need iam:PassRole on it (IAM User Guide, "Granting a user
# permissions to pass a role to an AWS service"): (operation, parameter, service it goes to).
PASSES_ROLE = {
    "CreateFunction": ("Role", "lambda.amazonaws.com"),
    "UpdateFunctionConfiguration": ("Role", "lambda.amazonaws.com"),
    "PutIntegration": ("credentials", "apigateway.amazonaws.com"),
}


# Tags given to a create call need the tagging action too: "To be able to tag a queue on
# creation, you must have the sqs:CreateQueue and sqs:TagQueue permissions" (SQS API reference,
# CreateQueue), and likewise sns:TagResource for CreateTopic (SNS API reference, CreateTopic)
# and cloudwatch:TagResource for PutMetricAlarm ("To use this field to set tags for an alarm
# when you create it, you must be signed on with both the cloudwatch:PutMetricAlarm and
# cloudwatch:TagResource permissions": CloudWatch API reference, PutMetricAlarm, Tags).
TAGS_ON_CREATE = {
    "CreateQueue": ("tags", "sqs:TagQueue"),
    "CreateTopic": ("Tags", "sns:TagResource"),
    "PutMetricAlarm": ("Tags", "cloudwatch:TagResource"),
}


def requests_for(call: Call, account: str, principal_arn: str) -> list[Request]:
    """What the call needs: its own action, the tagging action where it tags what it creates,
    and iam:PassRole where it hands over a role."""
    found = [request_for(call, account, principal_arn)]
    tags = TAGS_ON_CREATE.get(call.operation)
    if tags is not None and any(  # query calls flatten lists: Tags.member.1.Key
        key == tags[0] or key.startswith(f"{tags[0]}.") for key in call.params
    ):
        found.append(Request(tags[1], found[0].resources, found[0].context))
    passed = PASSES_ROLE.get(call.operation)
    if passed is not None and call.params.get(passed[0]):
        context = {**found[0].context, "iam:PassedToService": passed[1]}
        found.append(Request("iam:PassRole", (str(call.params[passed[0]]),), context))
    return found


# -- evaluation ----------------------------------------------------------------------------
def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, *, case: bool) -> bool:
    pattern = pattern.replace("[", "[[]")
    if case:
        return fnmatch.fnmatchcase(value, pattern)
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _any_glob(patterns: Any, value: str, *, case: bool) -> bool:
    return any(_glob(str(p), value, case=case) for p in as_list(patterns))


def _arn_like(pattern: str, value: str) -> bool:
    # ARN operators compare the six colon-separated parts one by one (wildcards within a part).
    wanted, arn = Arn.of(pattern), Arn.of(value)
    if wanted is None or arn is None:
        return False
    return all(_glob(p, v, case=True) for p, v in zip(astuple(wanted), astuple(arn), strict=True))


def _compare(operator: str, expected: str, actual: str) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return expected == actual if operator == "StringEquals" else _arn_like(expected, actual)
    if operator == "StringEqualsIgnoreCase":
        return expected.lower() == actual.lower()
    if operator == "StringLike":
        return _glob(expected, actual, case=True)
    if operator == "ArnLike":
        return _arn_like(expected, actual)
    if operator == "Bool":
        return expected.lower() == actual.lower()
    if operator.startswith("Numeric"):
        try:
            a, e = float(actual), float(expected)
        except ValueError:
            return False
        return {
            "NumericEquals": a == e,
            "NumericLessThan": a < e,
            "NumericLessThanEquals": a <= e,
            "NumericGreaterThan": a > e,
            "NumericGreaterThanEquals": a >= e,
        }.get(operator, False)
    raise UnsupportedCondition(operator)


NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


class UnsupportedCondition(Exception):
    """A condition operator this evaluator does not know: the statement is not applied."""


def condition_holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    """Every operator block must hold; within a key, any listed value may match."""
    for raw_operator, block in condition.items():
        operator, qualifier = raw_operator, None
        if ":" in operator:
            qualifier, operator = operator.split(":", 1)
        if_exists = operator.endswith("IfExists")
        operator = operator.removesuffix("IfExists")
        for key, expected in block.items():
            actual = _lookup(context, key)
            if operator == "Null":
                wanted_null = str(as_list(expected)[0]).lower() == "true"
                if (actual is None) != wanted_null:
                    return False
                continue
            if actual is None:
                if if_exists or operator in NEGATED:
                    continue
                return False
            negate = operator in NEGATED
            base = NEGATED.get(operator, operator)
            values = [str(v) for v in as_list(actual)]
            wanted = [str(e) for e in as_list(expected)]
            if qualifier == "ForAllValues":
                ok = all(any(_compare(base, e, v) for e in wanted) for v in values)
            else:
                ok = any(_compare(base, e, v) for e in wanted for v in values)
            if ok == negate:
                return False
    return True


def _lookup(context: dict[str, Any], key: str) -> Any:
    for name, value in context.items():
        if name.lower() == key.lower():
            return value
    return None


def statement_applies(statement: dict[str, Any], request: Request, resource: str) -> bool:
    if "Action" in statement and not _any_glob(statement["Action"], request.action, case=False):
        return False
    if "NotAction" in statement and _any_glob(statement["NotAction"], request.action, case=False):
        return False
    if "Resource" in statement and not _any_glob(statement["Resource"], resource, case=True):
        return False
    if "NotResource" in statement and _any_glob(statement["NotResource"], resource, case=True):
        return False
    if "Condition" in statement:
        try:
            return condition_holds(statement["Condition"], request.context)
        except UnsupportedCondition:
            # Unknown to us: an Allow grants nothing and a Deny denies, the cautious reading.
            return statement.get("Effect") == "Deny"
    return True


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool = False
    resource: str = ""


def evaluate(statements: Iterable[dict[str, Any]], request: Request) -> Decision:
    """Each resource the call touches must be allowed; an explicit Deny anywhere wins."""
    statements = list(statements)
    for resource in request.resources:
        allowed = False
        for statement in statements:
            if not statement_applies(statement, request, resource):
                continue
            if statement.get("Effect") == "Deny":
                return Decision(False, explicit_deny=True, resource=resource)
            allowed = True
        if not allowed:
            return Decision(False, resource=resource)
    return Decision(True)


def principal_matches(principal: Any, principal_arn: str) -> bool:
    """Does a resource policy's Principal grant this role or user itself (by ARN, or `*`)?
    One naming the account (its id or `arn:aws:iam::<id>:root`) does not: "This delegates
    authority to the account", whose identities then need an identity-based policy that allows
    (IAM User Guide, "AWS JSON policy elements: Principal", AWS account principals; likewise
    KMS's default key policy, whose account principal "enables IAM policies" and gives no user
    or role permission by itself: KMS Developer Guide, "Default key policy")."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return any(str(value) in ("*", principal_arn) for value in as_list(principal.get("AWS", [])))


def principal_covers(principal: Any, principal_arn: str, account: str) -> bool:
    """Does a resource policy's Deny apply to this role or user? Besides the principal itself
    and `*`, an account principal does: it stands for every principal of the account ("An
    explicit deny in any of the policies overrides the allow": IAM User Guide, "Policy
    evaluation for requests within a single account"; an account principal "delegates
    authority to the account", all of its identities: "AWS JSON policy elements: Principal")."""
    if principal_matches(principal, principal_arn):
        return True
    if not isinstance(principal, dict):
        return False
    named = {str(value) for value in as_list(principal.get("AWS", []))}
    root = Arn(Arn.parse(principal_arn).partition, "iam", "", account, "root")
    return bool(named & {account, str(root)})


def principal_names_service(principal: Any, service: str) -> bool:
    """Does a resource policy's Principal take in an AWS service (`sns.amazonaws.com`)? `*`
    and `{"AWS": "*"}` name everyone, services included (IAM User Guide, "AWS JSON policy
    elements: Principal", anonymous and all principals)."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    named = [str(v) for v in as_list(principal.get("Service", []))]
    return service in named or "*" in [str(v) for v in as_list(principal.get("AWS", []))]
