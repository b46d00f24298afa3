"""The two Lambda functions, both running code from the same zip of handlers/."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from pocctl.code.packaging import BUILT_IN, CodeSource, Package, built_in_sha, code_sha256
from pocctl.core.aws import (
    aws_errors,
    delete,
    is_not_found,
    none_if_absent,
    poll,
    retry_on_codes,
    retry_while_role_propagates,
)
from pocctl.core.config import secret_looking
from pocctl.core.context import Context
from pocctl.core.errors import PocctlError, StepError
from pocctl.core.reporting import Outcome
from pocctl.resources.base import (
    Change,
    Differs,
    Leftover,
    Live,
    Plan,
    Step,
    arn_parts,
    destroy_ours,
    diff,
    is_ours,
    removal,
    require_ours,
)
from pocctl.resources.cloudformation import Resources, cfn_resource, logical_id, tag_entries
from pocctl.resources.recorded import RecordDiffers, function_tags, record_differs

UPDATE_IN_PROGRESS = frozenset({"ResourceConflictException"})

Environment = Callable[[Context], dict[str, str]]


@dataclass(frozen=True)
class CodeChanged(Change):
    deployed: str  # CodeSha256 of what runs now
    built: str

    def __str__(self) -> str:
        return "code changed: will upload the new zip"


@dataclass(frozen=True)
class EnvironmentDiffers(Differs):
    """The variables differ: named one by one, a secret-looking one's value not shown. `now` is
    the function's; `wanted` what `up` sets (for `status`, what the last `up` set)."""

    def differences(self) -> list[tuple[str, str, str | None, str | None]]:
        """(key, "only now" | "only wanted" | "changed", now, wanted), values None if secret."""
        now, wanted = self.now["Variables"], self.wanted["Variables"]
        found = []
        for key in sorted(set(now) | set(wanted)):
            if key in now and key in wanted and now[key] == wanted[key]:
                continue
            kind = "only now" if key not in wanted else "only wanted" if key not in now else ""
            hidden = secret_looking(key)
            values = (None, None) if hidden else (now.get(key), wanted.get(key))
            found.append((key, kind or "changed", *values))
        return found

    def __str__(self) -> str:
        parts = []
        for key, kind, now, wanted in self.differences():
            values = f" {now!r} -> {wanted!r}" if kind == "changed" and now is not None else ""
            what = {"only now": "removes", "only wanted": "sets", "changed": "changes"}[kind]
            parts.append(f"{what} {key}{values}")
        return "environment variables: " + ", ".join(parts)

    def as_drift(self) -> str:
        parts = []
        for key, kind, now, deployed in self.differences():
            if kind == "only now":
                parts.append(f"{key} added (not deployed)")
            elif kind == "only wanted":
                parts.append(f"{key} removed")
            elif now is None:
                parts.append(f"{key} changed")
            else:
                parts.append(f"{key} is {now!r} (deployed: {deployed!r})")
        return "environment variables differ from the deploy: " + ", ".join(parts)


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
    source: CodeSource

    @property
    def name(self) -> str:
        return self.function_name

    def code(self, ctx: Context) -> bytes:
        """This function's zip (the package is built once for every function of the stack;
        `up` has it built and checked before any step runs)."""
        return self.source.package(ctx, check=False).archive(self.handler)

    def record(self, ctx: Context) -> dict[str, str]:
        return function_tags(ctx.config, self.timeout)

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

    @property
    def code_file(self) -> str:
        """Its zip's file name beside an exported template."""
        return f"{self.function_name}.zip"

    def tags(self, ctx: Context) -> dict[str, str]:
        """The stack's tag and the record of the settings it was deployed with."""
        return {**ctx.config.tags, **self.record(ctx)}

    def template(self, ctx: Context) -> Resources:
        """The function as CreateFunction makes it, its code the zip `code_file` names: a local
        path, which `aws cloudformation package` uploads as it is, so the function runs the
        very zip `up` would upload (aws/aws-cli, awscli/customizations/cloudformation/
        artifact_exporter.py, upload_local_artifacts: "If path refers to a file, this method
        will upload the file")."""
        properties = {
            "FunctionName": self.function_name,
            "Code": self.code_file,
            **self.desired_config(ctx),
            "Tags": tag_entries(self.tags(ctx)),
        }
        return {logical_id(self.key): cfn_resource("AWS::Lambda::Function", properties)}

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
                if not ctx.config.environment_known:
                    continue
                now = {"Variables": (now or {}).get("Variables", {})}
                if now != wanted:
                    changes.append(EnvironmentDiffers(setting, now, wanted))
                continue
            changes += diff(setting, now, wanted)
        changes += record_differs(found.get("Tags") or {}, self.record(ctx))
        try:
            built: str | None = code_sha256(self.code(ctx))
        except PocctlError:  # the handlers can't be packaged now: `live` says why, `up` stops
            built = None
        if built is not None and current.get("CodeSha256") != built:
            changes.append(CodeChanged(str(current.get("CodeSha256")), built))
        return Plan.from_changes(changes, current)

    def live(self, ctx: Context) -> Live:
        """Which code runs: the handlers directory's, pocctl's built-in, or neither."""
        function = none_if_absent(
            lambda: ctx.client("lambda").get_function(FunctionName=self.function_name)
        )
        if function is None:
            return Live()
        found = function["Configuration"]
        deployed = str(found.get("CodeSha256"))
        directory = self.source.directory
        if directory is not None and not Path(directory).is_dir():
            # Deployed from another machine's directory (the record says which): nothing here
            # to compare it with, and nothing wrong with it.
            return Live(
                detail=f": code from {directory}/ (not on this machine: not compared)",
                facts={"code_sha256": deployed, "code": {"source": str(directory)}},
            )
        try:
            package: Package | None = self.source.package(ctx, check=False)
        except PocctlError as exc:
            package, problem = None, exc.message
        facts: dict[str, Any] = {"code_sha256": deployed, "code": None}
        live = Live(facts=facts)
        if package is not None and code_sha256(package.archive(self.handler)) == deployed:
            facts["code"] = {"source": package.source, "digest": package.digest}
            live.detail = f": code from {package.label} @ {package.digest}"
            return live
        if self.source.directory is not None and built_in_sha(self.handler) == deployed:
            facts["code"] = {"source": BUILT_IN}
            live.detail = ": code: pocctl's built-in handlers"
        else:
            live.detail = f": code CodeSha256 {deployed[:12]}"
        wanted = package.label if package is not None else f"{self.source.directory}/"
        if package is None:
            live.warnings.append(f"{self.function_name}: {wanted} can't be packaged: {problem}")
        return live

    def wait_ready(self, ctx: Context) -> None:
        """Polled with GetFunction: the same State and LastUpdateStatus as
        GetFunctionConfiguration, outside Lambda's 15 control-plane requests a second (it has
        100 of its own: Lambda Developer Guide, "Lambda quotas"; "Lambda function states"
        checks a function's state with GetFunction)."""
        lam = ctx.client("lambda")

        def ready() -> bool:
            config = lam.get_function(FunctionName=self.function_name)["Configuration"]
            if config.get("State") == "Failed" or config.get("LastUpdateStatus") == "Failed":
                raise StepError(
                    self.key,
                    "GetFunction",
                    config.get("StateReasonCode", "Failed"),
                    config.get("StateReason") or config.get("LastUpdateStatusReason") or "failed",
                )
            return bool(
                config.get("State", "Active") == "Active"
                and config.get("LastUpdateStatus", "Successful") != "InProgress"
            )

        with aws_errors(self.key, "GetFunction"):
            poll(
                ctx,
                ready,
                what=f"function {self.function_name} to become ready",
                step=self.key,
                # "In most cases your function is ready to be invoked or modified after a few
                # seconds" (Lambda Developer Guide, "Lambda function states").
                why="Lambda readies a new or updated function (Pending, or update InProgress) "
                "before it takes another change: in most cases a few seconds, says AWS",
            )

    def apply(self, ctx: Context, plan: Plan[Configuration]) -> None:
        lam = ctx.client("lambda")
        desired = self.desired_config(ctx)
        if plan.current is None:
            with aws_errors(self.key, "CreateFunction"):
                retry_while_role_propagates(
                    ctx,
                    lambda: lam.create_function(
                        FunctionName=self.function_name,
                        Code={"ZipFile": self.code(ctx)},
                        Tags=self.tags(ctx),
                        **desired,
                    ),
                    what=f"{self.function_name}'s role",
                )
            # No wait for Active: while Pending a function can't be invoked or modified (Lambda
            # Developer Guide, "Lambda function states" and "Troubleshoot invocation"); its
            # mapping step asks until AWS takes the mapping, which polls once it is Active.
            return
        if plan.has(CodeChanged):
            self.update_code(ctx, self.code(ctx))
        else:
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
        for change in plan.of(RecordDiffers):
            with aws_errors(self.key, "TagResource"):
                lam.tag_resource(
                    Resource=function_arn(ctx, self.function_name), Tags=dict(change.tags)
                )

    def update_code(self, ctx: Context, archive: bytes) -> None:
        """Upload new code once the function can take it, and wait until it runs it."""
        self.wait_ready(ctx)
        with aws_errors(self.key, "UpdateFunctionCode"):
            retry_on_codes(
                ctx,
                lambda: ctx.client("lambda").update_function_code(
                    FunctionName=self.function_name, ZipFile=archive
                ),
                UPDATE_IN_PROGRESS,
                limit_seconds=60,
            )
        self.wait_ready(ctx)

    def destroy(self, ctx: Context) -> Outcome:
        def remove(_: dict[str, Any]) -> Outcome:
            lam = ctx.client("lambda")
            delete(
                ctx,
                self.key,
                "DeleteFunction",
                lambda: lam.delete_function(FunctionName=self.function_name),
            )
            return Outcome.DELETED

        return destroy_ours(
            ctx,
            self,
            "GetFunction",
            lambda: self._get(ctx),
            lambda found: is_ours(ctx, found.get("Tags") or {}),
            remove,
        )
