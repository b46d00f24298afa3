"""What every resource step shares: the plan it hands from `plan` to `apply`, and ownership."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from pocctl.config import TAG_KEY
from pocctl.context import Context
from pocctl.errors import ForeignResourceError
from pocctl.reporting import Action, Outcome


@dataclass
class Plan:
    action: Action
    changes: list[str] = field(default_factory=list)
    # What `plan` read, so `apply` does not read it again.
    current: Any = None

    @classmethod
    def create(cls, why: str = "does not exist") -> Plan:
        return cls(Action.CREATE, [why])

    @classmethod
    def from_changes(cls, changes: list[str], current: Any = None) -> Plan:
        return cls(Action.UPDATE if changes else Action.NONE, changes, current)


class Step(ABC):
    """A resource of the stack. `plan` only reads; `apply` and `destroy` are the only writers."""

    key: str
    kind: str
    depends_on: tuple[str, ...] = ()
    # Steps whose plan must run before this one's, because this plan reads what they found
    # (ctx.facts). Plans need nothing else from each other, so they all run at once.
    plan_after: tuple[str, ...] = ()
    # Steps whose destroy must run before this one's on `down`. None: every step that depends on
    # this one (the safe default). A stack can say less where AWS enforces less.
    teardown_after: tuple[str, ...] | None = None

    @property
    @abstractmethod
    def name(self) -> str: ...

    @property
    def title(self) -> str:
        return f"{self.kind} {self.name}"

    @abstractmethod
    def plan(self, ctx: Context) -> Plan: ...

    @abstractmethod
    def apply(self, ctx: Context, plan: Plan) -> None: ...

    @abstractmethod
    def destroy(self, ctx: Context) -> Outcome: ...


def is_ours(ctx: Context, tags: dict[str, str]) -> bool:
    return tags.get(TAG_KEY) == ctx.config.stack


def require_ours(ctx: Context, step: Step, tags: dict[str, str]) -> None:
    if not is_ours(ctx, tags):
        raise ForeignResourceError(step.kind, step.name, ctx.config.stack)


def not_ours_note(ctx: Context, step: Step) -> str:
    return (
        f"left {step.title} alone: it exists but lacks the tag "
        f"{TAG_KEY}={ctx.config.stack}, so this stack did not create it"
    )


def diff(label: str, current: Any, desired: Any) -> list[str]:
    """One human-readable change line when current differs from desired, else none."""
    return [] if current == desired else [f"{label}: {current!r} -> {desired!r}"]
