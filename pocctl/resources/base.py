"""What every resource step shares: the plan it hands from `plan` to `apply`, and ownership."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pocctl.config import TAG_KEY
from pocctl.context import Context
from pocctl.errors import ForeignResourceError
from pocctl.reporting import Action, Outcome


@dataclass(frozen=True)
class Change:
    """One difference between what is and what should be. `apply` decides on a change's type and
    fields, never on its wording: `str()` is for display only."""

    def __str__(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Missing(Change):
    why: str = "does not exist"

    def __str__(self) -> str:
        return self.why


@dataclass(frozen=True)
class Differs(Change):
    """A setting with another value than wanted."""

    setting: str
    now: Any
    wanted: Any

    def __str__(self) -> str:
        return f"{self.setting}: {self.now!r} -> {self.wanted!r}"


@dataclass(frozen=True)
class Busy(Change):
    """AWS is still changing it (CREATING, UPDATING): `apply` waits, then looks again."""

    status: str

    def __str__(self) -> str:
        return f"{self.status}: will wait until it is ready"


S = TypeVar("S")


@dataclass(frozen=True)
class Plan(Generic[S]):
    """What `plan` found (`current`, the state `apply` starts from, None if missing) and what
    `apply` will change about it."""

    action: Action
    changes: tuple[Change, ...] = ()
    current: S | None = None

    @classmethod
    def create(cls, change: Change | None = None, current: S | None = None) -> Plan[S]:
        return cls(Action.CREATE, (change or Missing(),), current)

    @classmethod
    def from_changes(cls, changes: Sequence[Change], current: S | None = None) -> Plan[S]:
        return cls(Action.UPDATE if changes else Action.NONE, tuple(changes), current)

    def has(self, kind: type[Change]) -> bool:
        return any(isinstance(change, kind) for change in self.changes)

    def of(self, kind: type[C]) -> list[C]:
        return [change for change in self.changes if isinstance(change, kind)]

    def described(self) -> list[str]:
        return [str(change) for change in self.changes]


C = TypeVar("C", bound=Change)


class Step(ABC, Generic[S]):
    """A resource of the stack. `plan` only reads; `apply` and `destroy` are the only writers.
    `S` is what `plan` reads and hands to `apply` in `Plan.current`."""

    key: str
    kind: ClassVar[str]  # what it is, for people: "IAM role", "SQS queue"
    depends_on: tuple[str, ...] = ()
    # Steps whose plan must run before this one's, because this plan reads what they found
    # (ctx.outputs). Plans need nothing else from each other, so they all run at once.
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
    def plan(self, ctx: Context) -> Plan[S]: ...

    @abstractmethod
    def apply(self, ctx: Context, plan: Plan[S]) -> None: ...

    @abstractmethod
    def destroy(self, ctx: Context) -> Outcome: ...


AnyStep = Step[Any]  # a step of any kind, as the engine and the stack hold them


def is_ours(ctx: Context, tags: dict[str, str]) -> bool:
    return tags.get(TAG_KEY) == ctx.config.stack


def require_ours(ctx: Context, step: AnyStep, tags: dict[str, str]) -> None:
    if not is_ours(ctx, tags):
        raise ForeignResourceError(step.kind, step.name, ctx.config.stack)


def not_ours_note(ctx: Context, step: AnyStep) -> str:
    return (
        f"left {step.title} alone: it exists but lacks the tag "
        f"{TAG_KEY}={ctx.config.stack}, so this stack did not create it"
    )


def diff(setting: str, current: Any, desired: Any) -> list[Change]:
    """A Differs when current differs from desired, else nothing."""
    return [] if current == desired else [Differs(setting, current, desired)]
