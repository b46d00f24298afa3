"""AWS behaviours moto does not act out: asynchrony, control-plane limits, propagation.

Each service's rules may refuse a call before moto sees it, or amend moto's answer (a table's
status, a function's state, a subscription still pending). Every duration is in `timing.py`,
with its source.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pocctl.core.arns import Arn
from pocctl.local.aws.alarm_rules import AlarmRules
from pocctl.local.aws.apigateway import ApiGatewayRules
from pocctl.local.aws.base import Rules, World
from pocctl.local.aws.dynamodb import DynamoDbRules
from pocctl.local.aws.iam_policy_use import (
    list_entities_for_policy,
    refuse_a_policy_in_use,
    refuse_user_boundaries,
)
from pocctl.local.aws.iam_reads import IamReads
from pocctl.local.aws.lambda_ import LambdaRules
from pocctl.local.aws.logs import LogsRules
from pocctl.local.aws.reserved_tags import refuse_reserved_tags
from pocctl.local.aws.sns import SnsRules
from pocctl.local.aws.sqs import SqsRules
from pocctl.local.aws.tagging import TaggingRules
from pocctl.local.calls import Call
from pocctl.local.iam import Authorizer
from pocctl.local.replies import Reply

CHANGES_ALL = frozenset(
    {
        "CreatePolicyVersion",
        "SetDefaultPolicyVersion",
        "DeletePolicy",
        "PutGroupPolicy",
        "DeleteGroupPolicy",
        "AttachGroupPolicy",
        "DetachGroupPolicy",
    }
)
ACCESS_KEY = re.compile(r"<AccessKeyId>([^<]+)</AccessKeyId>")


class IamRules(Rules):
    """Every change to a role or user is recorded, so other services see it only after a
    delay, and IAM's own reads only after another (`IamReads`); a user's new access key is
    judged as that user."""

    services = ("iam",)

    def __init__(self, world: World, authorizer: Authorizer) -> None:
        super().__init__(world)
        self.authorizer = authorizer
        self.propagation = authorizer.propagation
        self.reads = IamReads(world)

    def before(self, call: Call) -> Reply | None:
        return (
            refuse_user_boundaries(call)
            or refuse_a_policy_in_use(call, self.world.account)
            or list_entities_for_policy(call, self.world.account)
            or self.reads.before(call)
        )

    def after(self, call: Call, reply: Reply) -> Reply:
        reply = self.reads.after(call, reply)
        if not reply.ok or not call.mutating:
            return reply
        account = self.world.account
        if "RoleName" in call.params:
            role = Arn.iam(call.region, account, f"role/{call.params['RoleName']}")
            self.propagation.changed(str(role))
        elif "UserName" in call.params:
            user = str(Arn.iam(call.region, account, f"user/{call.params['UserName']}"))
            self.propagation.changed(user)
            key = (
                ACCESS_KEY.search(reply.body.decode())
                if call.operation == "CreateAccessKey"
                else None
            )
            if key is not None:
                self.authorizer.register(key.group(1), user)
        elif call.operation in CHANGES_ALL:
            # A managed policy's operations name it; a group's affect its users, whoever they are.
            policy = call.params.get("PolicyArn") if "GroupName" not in call.params else None
            self.propagation.all_changed(str(policy) if policy else None)
        return reply


class AwsBehaviours:
    def __init__(
        self,
        world: World,
        authorizer: Authorizer,
        mail: Callable[[dict[str, Any]], None],
        base_url: Callable[[], str],
    ) -> None:
        self.world = world
        self.apigateway = ApiGatewayRules(world)
        # Lambda judges a role's trust and a mapping's source as Lambda sees the role.
        self.lambda_ = LambdaRules(
            world,
            authorizer.propagation.effective,
            lambda role, request: authorizer.allows(role, request, "lambda"),
            authorizer.role_of,
        )
        authorizer.mapping_function = self.lambda_.mapping_function
        self.dynamodb = DynamoDbRules(world)
        self.sqs = SqsRules(world, base_url)
        self.sns = SnsRules(world, mail, base_url)
        self.iam = IamRules(world, authorizer)
        self.tagging = TaggingRules(world)
        self.sqs.on_removed = self.tagging.removed
        self.logs = LogsRules(world)
        self._by_service: dict[str, Rules] = {}
        every = (
            self.apigateway,
            self.lambda_,
            self.dynamodb,
            self.sqs,
            self.sns,
            self.iam,
            self.logs,
            AlarmRules(world),  # PutMetricAlarm's limits
        )
        for rules in (*every, self.tagging):
            for service in rules.services:
                self._by_service[service] = rules

    def before(self, call: Call) -> Reply | None:
        self.lambda_.tick()
        rules = self._by_service.get(call.service)
        refused = refuse_reserved_tags(call)
        if refused is None and rules is not None:
            refused = rules.before(call)
        if refused is None:
            self.tagging.deleting(call)
        return refused

    def after(self, call: Call, reply: Reply) -> Reply:
        self.tagging.deleted(call, reply)
        rules = self._by_service.get(call.service)
        return rules.after(call, reply) if rules is not None else reply
