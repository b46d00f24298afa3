"""After `down`: look for anything of the stack still there, so nothing keeps billing.

Two sources, both asked side by side. The Resource Groups Tagging API lists every resource
tagged pocctl:stack=<stack>; the step kind that recognises each hit confirms it still exists (the
tagging API can list a resource for a while after it is gone). Each kind of step also looks
directly for what the tagging API misses (`Step.leftovers`): IAM roles, mappings, the table
while DELETING, REST APIs in some emulators.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from pocctl.core.aws import error_code
from pocctl.core.config import TAG_KEY
from pocctl.core.context import Context
from pocctl.ops.smoke import remove_inboxes, remove_leftover_inboxes
from pocctl.resources.base import AnyStep, Leftover, arn_parts, read_whole
from pocctl.resources.queues import QueueStep

Kinds = dict[type[AnyStep], list[AnyStep]]


@dataclass
class SweepResult:
    left: list[Leftover] = field(default_factory=list)
    being_deleted: list[Leftover] = field(default_factory=list)
    checked: int = 0
    # Set when the sweep itself could not run (no permission for the tagging API, ...).
    incomplete: str | None = None
    # Temporary test-order queues an interrupted test-order left, which `down` removed.
    inboxes_removed: list[str] = field(default_factory=list)


def kinds_of(steps: Sequence[AnyStep]) -> Kinds:
    kinds: Kinds = {}
    for step in steps:
        kinds.setdefault(type(step), []).append(step)
    return kinds


def _tagged(ctx: Context) -> list[str]:
    tagging = ctx.client("resourcegroupstaggingapi")
    arns: list[str] = []
    pages = tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": TAG_KEY, "Values": [ctx.config.stack]}]
    )
    for page in pages:
        arns += [r["ResourceARN"] for r in page["ResourceTagMappingList"]]
    return arns


def still_there(ctx: Context, kinds: Kinds, arn: str) -> Leftover | None:
    """The tagged resource if it is still there; one of no kind the stack knows is reported as
    it is, since it can't be confirmed."""
    kind = next((k for k in kinds if k.recognises(arn)), None)
    if kind is not None:
        return read_whole(ctx, lambda: kind.leftover_at(ctx, arn))
    service = arn_parts(arn)[0]
    return Leftover(service, arn, f"remove it in the AWS console (search for {arn})")


def _confirmed_tagged(ctx: Context, kinds: Kinds) -> tuple[int, list[Leftover]]:
    """How many resources the tagging API lists for the stack, and those still there."""
    hits = _tagged(ctx)
    return len(hits), [
        leftover for arn in hits if (leftover := still_there(ctx, kinds, arn)) is not None
    ]


def sweep(
    ctx: Context, steps: Sequence[AnyStep], deleted: frozenset[str] = frozenset()
) -> SweepResult:
    """What of the stack is still there. `deleted` names ("SQS queue POC-Queue") what this run
    just deleted: such a queue may still answer for up to 60 s (SQS API reference,
    DeleteQueue), and is being deleted, not left."""
    kinds = kinds_of(steps)
    result = SweepResult()
    try:
        looks: list[Any] = ctx.together(
            lambda: _confirmed_tagged(ctx, kinds),
            *(
                partial(read_whole, ctx, partial(kind.leftovers, ctx, of_kind))
                for kind, of_kind in kinds.items()
            ),
        )
    except ClientError as exc:
        result.incomplete = (
            f"could not sweep for leftovers ({error_code(exc)}): check the console, or grant "
            "tag:GetResources and the read permissions of `pocctl deployer-policy`"
        )
        return result
    (result.checked, tagged), *direct = looks
    found: dict[tuple[str, str], Leftover] = {}
    for item in [*tagged, *(leftover for of_kind in direct for leftover in of_kind)]:
        found.setdefault((item.kind, item.name), item)
    for item in found.values():
        if item.being_deleted or f"{item.kind} {item.name}" in deleted:
            result.being_deleted.append(item)
        else:
            result.left.append(item)
    return result


def sweep_after_down(
    ctx: Context, steps: Sequence[AnyStep], deleted: frozenset[str] = frozenset()
) -> SweepResult:
    """The sweep after `down`, which also removes test-order's temporary queues: those it lists
    (a killed test-order could not remove them), then those only the tagging API lists. Each
    one deleted, like each step `down` deleted, is being deleted, not left."""
    inboxes, going = remove_leftover_inboxes(ctx)
    gone = {f"{QueueStep.kind} {name}" for name in inboxes + going}
    swept = sweep(ctx, steps, deleted | gone)
    late = remove_inboxes(ctx, [i.name for i in swept.left if i.kind == QueueStep.kind])
    swept.being_deleted += [i for i in swept.left if i.kind == QueueStep.kind and i.name in late]
    swept.left = [i for i in swept.left if not (i.kind == QueueStep.kind and i.name in late)]
    swept.inboxes_removed = inboxes
    return swept
