"""The two Lambda functions, both running code from the same zip of handlers/."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from pocctl.aws import (
    aws_errors,
    delete,
    is_not_found,
    none_if_absent,
    poll,
    retry_on_codes,
    retry_while_role_propagates,
)
from pocctl.context import Context
from pocctl.errors import StepError
from pocctl.packaging import build_zip, code_sha256
from pocctl.reporting import Outcome
from pocctl.resources.base import (
    Change,
    Differs,
    Leftover,
    Plan,
    Step,
    arn_parts,
    diff,
    is_ours,
    not_ours_note,
    removal,
    require_ours,
)

UPDATE_IN_PROGRESS = frozenset({"ResourceConflictException"})

Environment = Callable[[Context], dict[str, str]]


@dataclass(frozen=True)
class CodeChanged(Change):
    deployed: str  # CodeSha256 of what runs now
    built: str

    def __str__(self) -> str:
        return "code changed: will upload the new zip"


Configuration = dict[str, Any]  # GetFunction's "Configuration"


def function_arn(ctx: Context, function_name: str) -> str:
    return ctx.arn("lambda", f"function:{function_name}")


@dataclass(eq=False, kw_only=True)
class FunctionStep(Step[Configuration]):
    kind: ClassVar[str] = "Lambda function"
    arns: ClassVar[tuple[str, str] | None] = ("lambda", "function:")
    key: str
    function_name: str
    role_name: str
    handler: str
    timeout: int
    environment: Environment
    depends_on: tuple[str, ...]
    description: str
    _zip: bytes | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return self.function_name

    @property
    def code(self) -> bytes:
        if self._zip is None:
            self._zip = build_zip()
        return self._zip

    def desired_config(self, ctx: Context) -> dict[str, Any]:
        return {
            "Runtime": ctx.config.tuning.runtime,
            "Role": ctx.arn("iam", f"role/{self.role_name}", regional=False),
            "Handler": self.handler,
            "Timeout": self.timeout,
            "MemorySize": ctx.config.tuning.memory_mb,
            "Description": self.description,
            "Environment": {"Variables": self.environment(ctx)},
        }

    def _get(self, ctx: Context) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = ctx.client("lambda").get_function(
                FunctionName=self.function_name
            )
            return found
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise

    @classmethod
    def leftover_at(cls, ctx: Context, arn: str) -> Leftover | None:
        name = arn_parts(arn)[1].removeprefix("function:")
        if none_if_absent(lambda: ctx.client("lambda").get_function(FunctionName=name)) is None:
            return None
        command = f"aws lambda delete-function --function-name {name}"
        return Leftover(cls.kind, name, removal(ctx, command))

    def plan(self, ctx: Context) -> Plan[Configuration]:
        with aws_errors(self.key, "GetFunction"):
            found = self._get(ctx)
        if found is None:
            return Plan.create()
        require_ours(ctx, self, found.get("Tags") or {})
        current = found["Configuration"]
        changes: list[Change] = []
        for setting, wanted in self.desired_config(ctx).items():
            now = current.get(setting)
            if setting == "Environment":
                now = {"Variables": (now or {}).get("Variables", {})}
            changes += diff(setting, now, wanted)
        built = code_sha256(self.code)
        if current.get("CodeSha256") != built:
            changes.append(CodeChanged(str(current.get("CodeSha256")), built))
        return Plan.from_changes(changes, current)

    def wait_ready(self, ctx: Context) -> None:
        lam = ctx.client("lambda")

        def ready() -> bool:
            config = lam.get_function_configuration(FunctionName=self.function_name)
            if config.get("State") == "Failed" or config.get("LastUpdateStatus") == "Failed":
                raise StepError(
                    self.key,
                    "GetFunctionConfiguration",
                    config.get("StateReasonCode", "Failed"),
                    config.get("StateReason") or config.get("LastUpdateStatusReason") or "failed",
                )
            return bool(
                config.get("State", "Active") == "Active"
                and config.get("LastUpdateStatus", "Successful") != "InProgress"
            )

        with aws_errors(self.key, "GetFunctionConfiguration"):
            poll(ctx, ready, what=f"function {self.function_name} becoming ready", step=self.key)

    def apply(self, ctx: Context, plan: Plan[Configuration]) -> None:
        lam = ctx.client("lambda")
        desired = self.desired_config(ctx)
        if plan.current is None:
            with aws_errors(self.key, "CreateFunction"):
                retry_while_role_propagates(
                    ctx,
                    lambda: lam.create_function(
                        FunctionName=self.function_name,
                        Code={"ZipFile": self.code},
                        Tags=ctx.config.tags,
                        **desired,
                    ),
                )
            # No wait for Active: while Pending a function can't be invoked or modified (Lambda
            # Developer Guide, "Lambda function states" and "Troubleshoot invocation"), but its
            # mapping can be created, and polls only once the function is Active.
            return
        self.wait_ready(ctx)
        if plan.has(CodeChanged):
            with aws_errors(self.key, "UpdateFunctionCode"):
                retry_on_codes(
                    ctx,
                    lambda: lam.update_function_code(
                        FunctionName=self.function_name, ZipFile=self.code
                    ),
                    UPDATE_IN_PROGRESS,
                    limit_seconds=60,
                )
            self.wait_ready(ctx)
        if plan.has(Differs):
            with aws_errors(self.key, "UpdateFunctionConfiguration"):
                retry_on_codes(
                    ctx,
                    lambda: retry_while_role_propagates(
                        ctx,
                        lambda: lam.update_function_configuration(
                            FunctionName=self.function_name, **desired
                        ),
                    ),
                    UPDATE_IN_PROGRESS,
                    limit_seconds=60,
                )
            self.wait_ready(ctx)

    def destroy(self, ctx: Context) -> Outcome:
        with aws_errors(self.key, "GetFunction"):
            found = self._get(ctx)
        if found is None:
            return Outcome.ABSENT
        if not is_ours(ctx, found.get("Tags") or {}):
            ctx.reporter.note(not_ours_note(ctx, self))
            return Outcome.SKIPPED
        delete(
            ctx,
            self.key,
            "DeleteFunction",
            lambda: ctx.client("lambda").delete_function(FunctionName=self.function_name),
        )
        return Outcome.DELETED
