"""What every resource step shares: the plan it hands from `plan` to `apply`, and ownership."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from botocore.exceptions import ClientError

from pocctl.core.arns import Arn
from pocctl.core.aws import NOT_FOUND_CODES, aws_errors, is_not_found
from pocctl.core.config import TAG_KEY
from pocctl.core.context import Context, Outputs
from pocctl.core.errors import ForeignResourceError, StepError
from pocctl.core.reporting import Action, Outcome
from pocctl.core.retry import Again, Policy, keep_trying


@dataclass(frozen=True)
class Change:
    """One difference between what is and what should be. `apply` decides on a change's type and
    fields, never on its wording: `str()` is for display only."""

    # `status` shows this change through the resource's `live` problems (a mapping that is
    # Disabled): not a second time as drift.
    shown_live: ClassVar[bool] = False
    drift: ClassVar[bool] = True  # whether `status` counts it as drift

    def __str__(self) -> str:
        raise NotImplementedError

    def as_drift(self) -> str:
        """As `status` words it (what differs from the deploy); `str()` is what `up` will do."""
        return str(self)


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
R = TypeVar("R")


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


@dataclass(frozen=True)
class Leftover:
    """Something of the stack still there after `down`, and the command that removes it."""

    kind: str
    name: str
    remove: str
    # AWS is still deleting it (a DELETING table, a Deleting mapping, a queue deleted moments ago
    # that still answers): it stops billing on its own, nothing to do.
    being_deleted: bool = False


@dataclass
class Live:
    """How a resource is doing beyond its settings, for `status`: queue depths, mapping states,
    subscriptions. Read by the resource's own step."""

    detail: str = ""  # shown after its title: ": 3 waiting, 0 in flight"
    lines: list[tuple[str, bool]] = field(default_factory=list)  # drawn under it: (text, ok)
    problems: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)  # what to do about the problems
    warnings: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # for `status --json`


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
    def apply(self, ctx: Context, plan: Plan[S]) -> S | None:
        """Make the resource as planned. Returns its new state when other steps need outputs
        from it (see `outputs`), else None."""

    @abstractmethod
    def destroy(self, ctx: Context) -> Outcome: ...

    def settle(self, ctx: Context) -> None:
        """Once every step of `up` has applied: wait until what this step changed can be in
        effect where it is used (a role's permissions, as the services acting for it see them)."""

    def outputs(self, ctx: Context, state: S) -> Outputs:
        """What other steps and the commands need from the resource's state (read by `plan`, or
        returned by `apply`). The engine passes it on in `ctx.outputs`."""
        return Outputs()

    @property
    def wanted(self) -> bool:
        """False when the stack asks nothing of it this run (no email address given): `status`
        still shows what it finds, but doesn't count it as part of a deployed stack."""
        return True

    def live(self, ctx: Context) -> Live:
        """How the resource is doing, for `status` (read side by side with the plans). Nothing
        to say when it is missing: the plan says that."""
        return Live()

    @classmethod
    def leftovers(cls, ctx: Context, steps: Sequence[Any]) -> list[Leftover]:
        """What of this kind (`steps`: the stack's steps of it) the sweep after `down` must look
        for directly, because the tagging API doesn't list it (IAM roles) or not reliably
        (mappings, a DELETING table, REST APIs in some emulators)."""
        return []

    # The service and resource prefix of this kind's ARNs, as the tagging API lists them:
    # ("lambda", "function:"). None: the tagging API doesn't list this kind.
    arns: ClassVar[tuple[str, str] | None] = None

    @classmethod
    def recognises(cls, arn: str) -> bool:
        """Whether a tagged ARN the tagging API lists is a resource of this kind."""
        if cls.arns is None:
            return False
        service, resource = arn_parts(arn)
        return service == cls.arns[0] and resource.startswith(cls.arns[1])

    @classmethod
    def leftover_at(cls, ctx: Context, arn: str) -> Leftover | None:
        """The resource at a tagged ARN this kind recognises, if it is still there: the tagging
        API can list a resource for a while after it is gone."""
        return None

    def cloudformation_tags(self, ctx: Context) -> dict[str, str] | None:
        """The resource's tags, read only for the kinds CloudFormation tags with the stack that
        manages it (`CLOUDFORMATION_STACK_TAG`); None when it is not there, or for a kind
        CloudFormation leaves untagged (see `managed_by`)."""
        return None


AnyStep = Step[Any]  # a step of any kind, as the engine and the stack hold them


# CloudFormation tags what it creates with its stack's name ("CloudFormation resource tagging",
# AWS CloudFormation Template Reference: aws:cloudformation:stack-name, stack-id, logical-id).
CLOUDFORMATION_STACK_TAG = "aws:cloudformation:stack-name"


@dataclass(frozen=True)
class Managed:
    """A resource of the stack that a CloudFormation stack manages: pocctl must not write to it."""

    kind: str
    name: str
    cloudformation_stack: str

    @property
    def title(self) -> str:
        return f"{self.kind} {self.name}"


def managed_by(ctx: Context, step: AnyStep) -> Managed | None:
    """The step's resource if it carries CloudFormation's stack tag: only read, before any write
    (`up` and `down` refuse then, `status` says whose the stack is).

    The propagation of that tag "varies by resource type" (same page), so only the kinds that
    get it are read (`Step.cloudformation_tags`): those whose registry schema sets
    `"cloudFormationSystemTags": true` (CloudFormation CLI User Guide, "Resource type schema",
    tagging: "whether or not the resource type supports CloudFormation system tags"; the
    schemas as cfn-lint vendors them, data/schemas/providers/us-east-1): REST APIs and their
    stages, event source mappings, Lambda functions, log groups, SNS topics and CloudWatch
    alarms. SQS queues, DynamoDB tables and IAM roles set it false (cloudformation-coverage-
    roadmap #2079, #1360, #277), IAM managed policies and subscriptions have no tags: those are
    the CloudFormation stack's all the same when its functions are, so one tagged resource is
    enough to hold the whole stack back."""
    tags = read_whole(ctx, partial(step.cloudformation_tags, ctx))
    if tags is None or CLOUDFORMATION_STACK_TAG not in tags:
        return None
    return Managed(step.kind, step.name, tags[CLOUDFORMATION_STACK_TAG])


def managed_by_cloudformation(ctx: Context, steps: Sequence[AnyStep]) -> list[Managed]:
    """Those of the steps' resources that CloudFormation manages, read all at once."""
    found = ctx.together(*(partial(managed_by, ctx, step) for step in steps))
    return [managed for managed in found if managed is not None]


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


def destroy_ours(
    ctx: Context,
    step: AnyStep,
    reading: str,
    read: Callable[[], R | None],
    ours: Callable[[R], bool],
    remove: Callable[[R], Outcome],
) -> Outcome:
    """What every step's `destroy` does: read what is there (`reading`, the AWS operation named
    if the read or the ownership check fails); nothing there is done already; what lacks the
    stack's tag is left alone, with a note; the rest `remove` deletes, saying how it went."""
    with aws_errors(step.key, reading):
        found = read()
        if found is None:
            return Outcome.ABSENT
        mine = ours(found)
    if not mine:
        ctx.reporter.note(not_ours_note(ctx, step))
        return Outcome.SKIPPED
    return remove(found)


def arn_parts(arn: str) -> tuple[str, str]:
    """An ARN's service and resource: ("sqs", "POC-Queue"), ("lambda", "function:POC-Lambda-1")."""
    parsed = Arn.parse(arn)
    return parsed.service, parsed.resource


def removal(ctx: Context, command: str) -> str:
    """An AWS CLI command that removes a leftover, in the stack's region."""
    return f"{command} --region {ctx.config.region}"


def diff(setting: str, current: Any, desired: Any) -> list[Change]:
    """A Differs when current differs from desired, else nothing."""
    return [] if current == desired else [Differs(setting, current, desired)]


# A read that found its resource gone part way is made again, at most READS times in all,
# after pauses from a tenth of a second, each twice the last (see `read_whole`).
READS = 4
READ_AGAIN = Policy(0.1, 2.0, math.inf, attempts=READS)


def says_gone(exc: BaseException) -> bool:
    """Whether an error is AWS saying "no such resource", raw or wrapped by `aws_errors`."""
    if isinstance(exc, ClientError):
        return is_not_found(exc)
    return isinstance(exc, StepError) and exc.code in NOT_FOUND_CODES


def read_whole(ctx: Context, read: Callable[[], R]) -> R:
    """What `read` finds about a resource, read again if the resource went away between two of
    its calls (a table described, then "not found" when its tags are read: its deletion finished
    meanwhile). Read again, it is seen as gone, or as it now is. Each step treats "not found" on
    its first call as missing; this is the one place that handles it on a later call, for every
    step's plan, `live`, and the sweep. An error that stays after a few reads is a real one."""
    gone: list[ClientError | StepError] = []

    def attempt() -> R | Again:
        try:
            return read()
        except (ClientError, StepError) as exc:
            if not says_gone(exc):
                raise
            gone.append(exc)
            return Again()

    def stays(_: Again) -> R:
        raise gone[-1]

    return keep_trying(ctx, attempt, READ_AGAIN, gave_up=stays)


@dataclass(frozen=True)
class Unwanted(Change):
    """The stack no longer asks for it (a setting turned it off: `up --no-alarms`): `apply`
    deletes it, as `down` would."""

    why: str

    def __str__(self) -> str:
        return f"{self.why}: will delete it"
