"""Every resource step: plan says create, apply, plan says nothing, destroy, destroy again."""

from __future__ import annotations

import pytest

from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.reporting import Action, Outcome
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps
from pocctl.resources.base import Step

STEP_KEYS = [s.key for s in build_steps(Config(email="ops@example.com"))]


def with_dependencies(steps: list[Step], key: str) -> list[Step]:
    by_key = {s.key: s for s in steps}
    needed, todo = set(), [key]
    while todo:
        current = todo.pop()
        if current not in needed:
            needed.add(current)
            todo.extend(by_key[current].depends_on)
    return [s for s in steps if s.key in needed]


@pytest.mark.parametrize("key", STEP_KEYS)
def test_step_lifecycle(make_ctx, key: str) -> None:  # type: ignore[no-untyped-def]
    ctx: Context = make_ctx(email="ops@example.com")
    steps = build_steps(ctx.config)
    step = next(s for s in steps if s.key == key)
    dependencies = [s for s in with_dependencies(steps, key) if s.key != key]
    assert Engine(ctx, dependencies).up().ok

    assert step.plan(ctx).action is Action.CREATE
    plan = step.plan(ctx)
    step.apply(ctx, plan)
    assert step.plan(ctx).action is Action.NONE, step.plan(ctx).changes

    assert step.destroy(ctx) is Outcome.DELETED
    assert step.destroy(ctx) is Outcome.ABSENT
    assert step.plan(ctx).action is Action.CREATE
