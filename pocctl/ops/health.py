"""`pocctl status`: every resource of the stack and how the pipeline is doing, read-only.

Each step says two things about its resource, read side by side: its state from the same `plan`
pass `up` makes (present, missing, drifted and what differs, or taken by a look-alike), and how
it is doing (`Step.live`: mapping states, queue depths, email subscriptions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pocctl.core.context import Context
from pocctl.core.errors import PACKAGED_TEMPLATE, cloudformation_deploy
from pocctl.core.reporting import Action
from pocctl.pipeline.engine import Engine
from pocctl.resources.base import AnyStep, Live, Plan, read_whole

PRESENT, MISSING, DRIFTED, FOREIGN = "present", "missing", "drifted", "not ours"
REPAIR = "Run `pocctl up` to repair what is missing or drifted."
LOOK_ALIKE = (
    "A resource without the pocctl tag holds one of the stack's names: remove it, or deploy "
    "another copy with --stack NAME."
)


@dataclass
class Resource:
    kind: str
    name: str
    state: str
    changes: list[str] = field(default_factory=list)
    live: Live = field(default_factory=Live)
    wanted: bool = True

    @property
    def title(self) -> str:
        return f"{self.kind} {self.name}"

    def problems(self) -> list[str]:
        if self.state == MISSING:
            return [f"{self.title} is missing"]
        if self.state == FOREIGN:  # what it is doing is someone else's business
            return [f"{self.title} exists but is not this stack's (no pocctl tag)"]
        drifted = self.state == DRIFTED and bool(self.changes)
        drift = [f"{self.title} has drifted ({'; '.join(self.changes)})"] * drifted
        return drift + self.live.problems

    def hints(self) -> list[str]:
        """What to do about each of its problems, in their order."""
        if self.state == FOREIGN:
            return [LOOK_ALIKE]
        # A drift `live` shows as a problem (a disabled mapping) has its own hint there.
        repaired = self.state == MISSING or (self.state == DRIFTED and bool(self.changes))
        repair = [REPAIR] * repaired
        return repair + self.live.hints * bool(self.live.problems)


@dataclass
class Health:
    stack: str
    region: str
    resources: dict[str, Resource] = field(default_factory=dict)
    order_url: str | None = None
    # The CloudFormation stacks that manage it (their tag on its resources): `up` and `down`
    # leave it to them.
    cloudformation: list[str] = field(default_factory=list)

    @property
    def deployed(self) -> bool:
        return any(r.state != MISSING for r in self.resources.values() if r.wanted)

    @property
    def problems(self) -> list[str]:
        if not self.deployed:
            return [f"stack {self.stack} is not deployed in {self.region}: run `pocctl up`"]
        return [problem for r in self.resources.values() for problem in r.problems()]

    @property
    def hints(self) -> list[str]:
        """What to do, once each: each hint fits a problem found (orders in the dead-letter
        queue need a fixed writer and a redrive, not `pocctl up`)."""
        if not self.deployed:
            return ["Run `pocctl up`, or check --stack and --region (see `pocctl config`)."]
        found = [hint for r in self.resources.values() if r.problems() for hint in r.hints()]
        if self.cloudformation:  # `up` refuses to write to it: the repair is CloudFormation's
            found = [self.through_cloudformation() if h == REPAIR else h for h in found]
        return list(dict.fromkeys(found))

    def through_cloudformation(self) -> str:
        stacks = ", ".join(self.cloudformation)
        first = self.cloudformation[0]
        return (
            f"CloudFormation stack {stacks} manages it, so `pocctl up` leaves it alone: deploy "
            f"the template again to repair it (`{cloudformation_deploy(first, self.region)}`; "
            f"{PACKAGED_TEMPLATE}), or see what was changed "
            f"outside it with `aws cloudformation detect-stack-drift --stack-name {first} "
            f"--region {self.region}`."
        )

    @property
    def warnings(self) -> list[str]:
        """Nothing to warn about in a stack that is not there: it is not deployed, that's all."""
        if not self.deployed:
            return []
        return [warning for r in self.resources.values() for warning in r.live.warnings]

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        resources = {}
        for key, resource in self.resources.items():
            resources[key] = {
                "kind": resource.kind,
                "name": resource.name,
                "state": resource.state,
                "changes": resource.changes,
                **resource.live.facts,
            }
        return {
            "stack": self.stack,
            "region": self.region,
            "order_url": self.order_url,
            "managed_by_cloudformation": self.cloudformation,
            "resources": resources,
            "healthy": self.healthy,
            "deployed": self.deployed,
            "problems": self.problems,
            "hints": self.hints if self.problems else [],
            "warnings": self.warnings,
        }


def state_of(plan: Plan[Any] | None) -> str:
    if plan is None:
        return FOREIGN
    if plan.action is Action.UPDATE and not any(change.drift for change in plan.changes):
        return PRESENT  # only its record of the deploy to write (`RecordDiffers`)
    return {Action.CREATE: MISSING, Action.UPDATE: DRIFTED}.get(plan.action, PRESENT)


def check(ctx: Context, steps: list[AnyStep]) -> Health:
    """Read everything about the stack at once and judge it. Changes nothing (a queue's
    CreateQueue confirms it is not one being deleted, and changes nothing where it exists:
    queues.being_deleted). The plans, the CloudFormation check and the live reads ask AWS many
    of the same things: one pass shares the answers (core/shared_reads.py)."""
    engine = Engine(ctx, steps)
    with ctx.shared_reads.shared():
        read: list[Any] = ctx.together(
            engine.plan_all,
            engine.managed_by_cloudformation,
            *(partial(read_whole, ctx, partial(step.live, ctx)) for step in steps),
        )
    (plans, _conflicts), managed, *lives = read
    health = Health(ctx.config.stack, ctx.config.region, order_url=ctx.outputs.order_url)
    health.cloudformation = list(dict.fromkeys(m.cloudformation_stack for m in managed))
    for step, live in zip(steps, lives, strict=True):
        plan = plans.get(step.key)  # none: a look-alike holds its name
        state = state_of(plan)
        if not step.wanted and any(
            health.resources[d].state == MISSING for d in step.depends_on if d in health.resources
        ):
            state = MISSING  # nothing asked of it, and what it would be part of is not there
        changes = []
        if plan is not None and state == DRIFTED:
            changes = [c.as_drift() for c in plan.changes if c.drift and not c.shown_live]
        health.resources[step.key] = Resource(
            step.kind, step.name, state, changes, live, step.wanted
        )
    return health
