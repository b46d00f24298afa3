"""AWS behaviours moto does not act out: asynchrony, control-plane limits, propagation.

Each service's rules may refuse a call before moto sees it, or amend moto's answer (a table's
status, a function's state, a subscription still pending). Every duration is in `timing.py`,
with its source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pocctl.local.aws.apigateway import ApiGatewayRules
from pocctl.local.aws.base import Rules, World
from pocctl.local.aws.dynamodb import DynamoDbRules
from pocctl.local.aws.lambda_ import LambdaRules
from pocctl.local.aws.sns import SnsRules
from pocctl.local.aws.sqs import SqsRules
from pocctl.local.calls import Call
from pocctl.local.iam import Authorizer, Propagation
from pocctl.local.replies import Reply

ROLE_CHANGES_ALL = frozenset({"CreatePolicyVersion", "SetDefaultPolicyVersion", "DeletePolicy"})


class IamRules(Rules):
    """Every change to a role is recorded, so other services can see it only after a delay."""

    services = ("iam",)

    def __init__(self, world: World, propagation: Propagation) -> None:
        super().__init__(world)
        self.propagation = propagation

    def after(self, call: Call, reply: Reply) -> Reply:
        if reply.ok and call.mutating:
            if "RoleName" in call.params:
                self.propagation.changed(str(call.params["RoleName"]))
            elif call.operation in ROLE_CHANGES_ALL:
                self.propagation.all_changed()
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
        self.lambda_ = LambdaRules(world, authorizer.propagation.effective, authorizer.allows)
        self.dynamodb = DynamoDbRules(world)
        self.sqs = SqsRules(world, base_url)
        self.sns = SnsRules(world, mail, base_url)
        self.iam = IamRules(world, authorizer.propagation)
        self._by_service: dict[str, Rules] = {}
        for rules in (self.apigateway, self.lambda_, self.dynamodb, self.sqs, self.sns, self.iam):
            for service in rules.services:
                self._by_service[service] = rules

    def before(self, call: Call) -> Reply | None:
        self.lambda_.tick()
        rules = self._by_service.get(call.service)
        return rules.before(call) if rules is not None else None

    def after(self, call: Call, reply: Reply) -> Reply:
        rules = self._by_service.get(call.service)
        return rules.after(call, reply) if rules is not None else reply
