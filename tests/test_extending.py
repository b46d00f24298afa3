"""An eighth kind of resource, added the way ARCHITECTURE.md says: one module (here, this file)
and the stack's list of steps. `up`, `status` and `down` with its sweep pick it up unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pocctl.cli.status import pipeline
from pocctl.core.aws import tag_dict, tag_list
from pocctl.core.context import Context
from pocctl.core.reporting import Outcome
from pocctl.ops.health import check
from pocctl.ops.sweep import sweep
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps
from pocctl.resources.base import (
    AnyStep,
    Leftover,
    Live,
    Plan,
    Step,
    arn_parts,
    diff,
    is_ours,
    removal,
    require_ours,
)

Parameter = dict[str, Any]  # GetParameter's "Parameter"


def find(ctx: Context, name: str) -> Parameter | None:
    ssm = ctx.client("ssm")
    try:
        return dict(ssm.get_parameter(Name=name)["Parameter"])
    except ssm.exceptions.ParameterNotFound:
        return None


def tags(ctx: Context, name: str) -> dict[str, str]:
    found = ctx.client("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=name)
    return tag_dict(found["TagList"])


@dataclass(eq=False, kw_only=True)
class ParameterStep(Step[Parameter]):
    kind: ClassVar[str] = "SSM parameter"
    arns: ClassVar[tuple[str, str] | None] = ("ssm", "parameter/")
    parameter_name: str
    value: str
    key: str = "archive-switch"
    depends_on: tuple[str, ...] = ("table",)

    @property
    def name(self) -> str:
        return self.parameter_name

    def plan(self, ctx: Context) -> Plan[Parameter]:
        found = find(ctx, self.parameter_name)
        if found is None:
            return Plan.create()
        require_ours(ctx, self, tags(ctx, self.parameter_name))
        return Plan.from_changes(diff("value", found["Value"], self.value), found)

    def apply(self, ctx: Context, plan: Plan[Parameter]) -> None:
        ssm = ctx.client("ssm")
        if plan.current is None:
            ssm.put_parameter(
                Name=self.parameter_name,
                Value=self.value,
                Type="String",
                Tags=tag_list(ctx.config.tags),
            )
        else:
            ssm.put_parameter(
                Name=self.parameter_name, Value=self.value, Type="String", Overwrite=True
            )

    def destroy(self, ctx: Context) -> Outcome:
        if find(ctx, self.parameter_name) is None:
            return Outcome.ABSENT
        if not is_ours(ctx, tags(ctx, self.parameter_name)):
            return Outcome.SKIPPED
        ctx.client("ssm").delete_parameter(Name=self.parameter_name)
        return Outcome.DELETED

    def live(self, ctx: Context) -> Live:
        found = find(ctx, self.parameter_name)
        return Live() if found is None else Live(detail=f": version {found['Version']}")

    @classmethod
    def leftover_at(cls, ctx: Context, arn: str) -> Leftover | None:
        name = arn_parts(arn)[1].removeprefix("parameter")
        if find(ctx, name) is None:
            return None
        return Leftover(cls.kind, name, removal(ctx, f"aws ssm delete-parameter --name {name}"))


def with_parameter(ctx: Context) -> list[AnyStep]:
    """What stack.py's `_steps` would list with the new kind added."""
    return [*build_steps(ctx.config), ParameterStep(parameter_name="/POC/archive", value="on")]


def test_up_status_and_down_pick_up_a_new_kind_of_resource(ctx: Context) -> None:
    steps = with_parameter(ctx)
    report = Engine(ctx, steps).up()
    assert report.ok
    assert "SSM parameter /POC/archive" in report.titles(Outcome.CREATED)

    health = check(ctx, steps)
    assert health.healthy, health.problems
    drawn = [node.label for node in pipeline(health)]
    assert "SSM parameter /POC/archive: version 1" in drawn

    ctx.client("ssm").put_parameter(Name="/POC/archive", Value="off", Overwrite=True)
    assert check(ctx, steps).problems == [
        "SSM parameter /POC/archive has drifted (value: 'off' -> 'on')"
    ]
    assert Engine(ctx, steps).up().titles(Outcome.UPDATED) == ["SSM parameter /POC/archive"]

    # A pocctl without the new kind leaves it behind; its sweep (with the kind) says so.
    assert Engine(ctx, build_steps(ctx.config)).down().ok
    left = sweep(ctx, steps).left
    assert [(item.kind, item.name) for item in left] == [("SSM parameter", "/POC/archive")]
    assert left[0].remove == "aws ssm delete-parameter --name /POC/archive --region us-east-1"

    assert Engine(ctx, steps).down().titles(Outcome.DELETED) == ["SSM parameter /POC/archive"]
    assert sweep(ctx, steps).left == []
