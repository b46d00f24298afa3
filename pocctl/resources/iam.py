"""IAM roles: one per function and one for API Gateway, each with one inline policy."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from pocctl.core.aws import (
    aws_errors,
    delete,
    error_code,
    is_not_found,
    none_if_absent,
    poll,
    tag_dict,
    tag_list,
)
from pocctl.core.context import Context
from pocctl.core.errors import StepError
from pocctl.core.reporting import Outcome, Why
from pocctl.resources.base import (
    Change,
    Leftover,
    Plan,
    Step,
    destroy_ours,
    is_ours,
    require_ours,
)
from pocctl.resources.cloudformation import Resources, cfn_resource, logical_id, tag_entries
from pocctl.resources.policies import as_list, render, statements

# Policy documents can only be rendered once the account id is known, so steps hold a function.
PolicyVariables = Callable[[Context], dict[str, str]]

# How long after a change to a role IAM may still show other services the role as it was. AWS
# publishes no bound ("changes ... can take some time to propagate": IAM User Guide,
# troubleshooting, eventual consistency); a new role reaches Lambda "between 5 and 10 seconds"
# (ansible-collections/community.aws#710, aws/aws-cli#7700). Until then a running function may
# still be refused what its repaired policy grants, and API Gateway may not yet assume a new
# role ("API Gateway doesn't have permissions to assume the IAM role configured on the
# integration": a 500, terraform-aws-modules/terraform-aws-apigateway-v2#87).
IAM_PROPAGATION_SECONDS = 10.0
# How long a role CreateRole says exists may stay unknown to GetRole: terraform-provider-aws's
# propagationTimeout for the same read (internal/service/iam/wait.go: 2 minutes).
IAM_READ_TIMEOUT = 120.0


def canonical(document: dict[str, Any]) -> str:
    """A form of a policy document that ignores key order and str-vs-list spelling."""
    normalised = []
    for statement in statements(document):
        item = dict(statement)
        for key in ("Action", "Resource", "NotAction", "NotResource"):
            if key in item:
                item[key] = sorted(as_list(item[key]))
        normalised.append(item)
    return json.dumps({**document, "Statement": normalised}, sort_keys=True)


def settle(ctx: Context, changed_at: float | None, changed: str | None, what: str = "") -> None:
    """Not ready before IAM can have applied what this run made or changed: nothing tells when
    it has, so wait out the usual propagation, counted from the change. What was changed (not
    just made: a fresh stack's roles are seconds old by the end of `up`) is said as a note;
    what was made (`what`), as a wait once it has lasted a second."""
    if changed_at is None:
        return
    remaining = changed_at + IAM_PROPAGATION_SECONDS - ctx.clock()
    if remaining <= 0:
        return
    if changed is not None:
        ctx.reporter.note(
            f"waiting {remaining:.1f}s for IAM to apply the changed permissions of {changed} (IAM "
            "is eventually consistent: until then AWS may still use the roles as they were)"
        )
    made = Why(
        f"IAM to apply {what or 'the new roles'}",
        "IAM is eventually consistent: a new role reaches Lambda in 5-10 s",
        remaining,
    )
    ctx.waiting(made).pause(remaining, said=changed is not None)


def recently_made(ctx: Context, role: dict[str, Any], answered: datetime) -> float | None:
    """When (on ctx.clock) a role IAM may not have propagated yet was made, from its
    CreateDate; None for an older one. A run killed after CreateRole, before its wait, leaves
    such a role, and its re-run finds nothing to change (issue 22's soak, seed 40).

    The role's age is measured on AWS's clock (`answered`: the Date of IAM's answer), not this
    machine's, which AWS lets be minutes off (signatures are accepted within about 15 minutes'
    skew); CreateDate is to the second, so the role may be up to a second older than it says."""
    age = role_age(role, answered)
    return ctx.clock() - age if age is not None and age < IAM_PROPAGATION_SECONDS else None


def role_age(role: dict[str, Any], answered: datetime) -> float | None:
    """A role's age in seconds at `answered` (AWS's clock), at least: CreateDate is to the
    second, so the role may be up to a second older than it says. None without a CreateDate."""
    created = role.get("CreateDate")
    if not isinstance(created, datetime):
        return None
    return max((answered - created).total_seconds() - CREATE_DATE_RESOLUTION, 0.0)


CREATE_DATE_RESOLUTION = 1.0  # seconds: IAM's CreateDate has no fraction


def role_age_now(ctx: Context, role_name: str) -> float | None:
    """A role's age in seconds on AWS's clock (`role_age`); None when it can't be read."""
    try:
        response = ctx.client("iam").get_role(RoleName=role_name)
    except ClientError:
        return None
    return role_age(response["Role"], answered_at(response))


def answered_at(response: dict[str, Any]) -> datetime:
    """AWS's clock when it answered (the HTTP Date header), else this machine's."""
    header = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return parsedate_to_datetime(header) if header else datetime.now(UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)


def policy_arn(ctx: Context, name: str) -> str:
    return ctx.arn("iam", f"policy/{name}", regional=False)


@dataclass
class RoleState:
    trust: dict[str, Any]
    policy: dict[str, Any] | None
    extra_inline: list[str]
    attached: list[str]
    boundary: str | None = None  # its permissions boundary's ARN


@dataclass(frozen=True)
class TrustDiffers(Change):
    def __str__(self) -> str:
        return "trust policy differs: will be replaced"


@dataclass(frozen=True)
class PolicyDiffers(Change):
    name: str
    missing: bool

    def __str__(self) -> str:
        state = "missing" if self.missing else "differs: will be replaced"
        return f"inline policy {self.name} {state}"


@dataclass(frozen=True)
class BoundaryDiffers(Change):
    now: str | None

    def __str__(self) -> str:
        return f"permissions boundary {self.now or 'missing'}: will be set to the stack's"


@dataclass(frozen=True)
class ExtraPolicy(Change):
    name: str  # an inline policy's name, or a managed policy's ARN
    managed: bool

    def __str__(self) -> str:
        if self.managed:
            return f"extra managed policy {self.name}: will be detached"
        return f"extra inline policy {self.name}: will be removed"


@dataclass(eq=False, kw_only=True)
class RoleStep(Step[RoleState]):
    kind: ClassVar[str] = "IAM role"
    key: str
    role_name: str
    trust_template: str
    policy_template: str
    variables: PolicyVariables
    boundary_name: str  # the managed policy that bounds what the role's own policies grant
    depends_on: tuple[str, ...]
    # When this run last made or changed the role or its permissions (ctx.clock), for `settle`.
    changed_at: float | None = field(default=None, init=False)
    made: bool = field(default=False, init=False)
    # When the role was made (ctx.clock), if that was too recent for IAM to have propagated it:
    # by a run that was killed before its own wait, so this run must wait instead.
    made_at: float | None = field(default=None, init=False)
    answered: datetime = field(default_factory=lambda: datetime.now(UTC), init=False)

    @property
    def name(self) -> str:
        return self.role_name

    @property
    def policy_name(self) -> str:
        return self.policy_template

    def arn(self, ctx: Context) -> str:
        return ctx.arn("iam", f"role/{self.role_name}", regional=False)

    def desired_policy(self, ctx: Context) -> dict[str, Any]:
        return render(self.policy_template, self.variables(ctx))

    def boundary_arn(self, ctx: Context) -> str:
        return policy_arn(ctx, self.boundary_name)

    def description(self, ctx: Context) -> str:
        return f"pocctl stack {ctx.config.stack}: {self.policy_template}"

    def template(self, ctx: Context) -> Resources:
        """The role with its one inline policy (PutRolePolicy's, as AWS::IAM::Role's Policies
        makes it) and its permissions boundary."""
        properties = {
            "RoleName": self.role_name,
            "AssumeRolePolicyDocument": render(self.trust_template, {}),
            "Description": self.description(ctx),
            "PermissionsBoundary": self.boundary_arn(ctx),
            "Policies": [
                {"PolicyName": self.policy_name, "PolicyDocument": self.desired_policy(ctx)}
            ],
            "Tags": tag_entries(ctx.config.tags),
        }
        return {logical_id(self.key): cfn_resource("AWS::IAM::Role", properties)}

    def _get_role(self, ctx: Context) -> dict[str, Any] | None:
        try:
            response = ctx.client("iam").get_role(RoleName=self.role_name)
            self.answered = answered_at(response)
            role: dict[str, Any] = response["Role"]
            return role
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise

    def _read(self, ctx: Context, role: dict[str, Any]) -> RoleState:
        iam = ctx.client("iam")

        def our_policy() -> Any:
            try:
                policy = iam.get_role_policy(RoleName=self.role_name, PolicyName=self.policy_name)
            except ClientError as exc:
                if not is_not_found(exc):
                    raise
                return None
            return policy["PolicyDocument"]

        document, inline, attached = ctx.together(
            our_policy,
            lambda: iam.list_role_policies(RoleName=self.role_name)["PolicyNames"],
            lambda: iam.list_attached_role_policies(RoleName=self.role_name)["AttachedPolicies"],
        )
        return RoleState(
            trust=role["AssumeRolePolicyDocument"],
            policy=document,
            extra_inline=[n for n in inline if n != self.policy_name],
            attached=[p["PolicyArn"] for p in attached],
            boundary=(role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        )

    def plan(self, ctx: Context) -> Plan[RoleState]:
        with aws_errors(self.key, "GetRole"):
            role = self._get_role(ctx)
            if role is None:
                return Plan.create()
            require_ours(ctx, self, tag_dict(role.get("Tags")))
            state = self._read(ctx, role)
        self.made_at = recently_made(ctx, role, self.answered)
        changes: list[Change] = []
        if canonical(state.trust) != canonical(render(self.trust_template, {})):
            changes.append(TrustDiffers())
        if state.policy is None or canonical(state.policy) != canonical(self.desired_policy(ctx)):
            changes.append(PolicyDiffers(self.policy_name, missing=state.policy is None))
        if state.boundary != self.boundary_arn(ctx):
            changes.append(BoundaryDiffers(state.boundary))
        changes += [ExtraPolicy(name, managed=False) for name in state.extra_inline]
        changes += [ExtraPolicy(arn, managed=True) for arn in state.attached]
        return Plan.from_changes(changes, state)

    def apply(self, ctx: Context, plan: Plan[RoleState]) -> None:
        iam = ctx.client("iam")
        trust = json.dumps(render(self.trust_template, {}))
        if plan.current is None:
            try:
                with aws_errors(self.key, "CreateRole"):
                    iam.create_role(
                        RoleName=self.role_name,
                        AssumeRolePolicyDocument=trust,
                        Description=self.description(ctx),
                        PermissionsBoundary=self.boundary_arn(ctx),
                        Tags=tag_list(ctx.config.tags),
                    )
            except StepError as exc:
                if exc.code != "EntityAlreadyExists":
                    raise
                self._made_meanwhile(ctx)
                return
        elif plan.has(TrustDiffers):
            with aws_errors(self.key, "UpdateAssumeRolePolicy"):
                iam.update_assume_role_policy(RoleName=self.role_name, PolicyDocument=trust)
        if plan.has(BoundaryDiffers):
            with aws_errors(self.key, "PutRolePermissionsBoundary"):
                iam.put_role_permissions_boundary(
                    RoleName=self.role_name, PermissionsBoundary=self.boundary_arn(ctx)
                )
        if plan.current is None or plan.has(PolicyDiffers):
            with aws_errors(self.key, "PutRolePolicy"):
                iam.put_role_policy(
                    RoleName=self.role_name,
                    PolicyName=self.policy_name,
                    PolicyDocument=json.dumps(self.desired_policy(ctx)),
                )
        extra = plan.of(ExtraPolicy)
        self._remove_policies(
            ctx,
            [p.name for p in extra if not p.managed],
            [p.name for p in extra if p.managed],
        )
        self.changed_at, self.made = ctx.clock(), plan.current is None

    def _made_meanwhile(self, ctx: Context) -> None:
        """GetRole did not find the role, CreateRole finds it: made moments ago (by an `up`
        that was stopped), and IAM's reads do not show it yet (eventually consistent; terraform
        reads a new role again until found: internal/service/iam/role.go). Once IAM shows it,
        it is planned for and brought in line like any role found (and refused if not ours)."""
        with aws_errors(self.key, "GetRole"):
            poll(
                ctx,
                lambda: self._get_role(ctx) is not None,
                what=f"IAM to show the role {self.role_name}",
                step=self.key,
                why="CreateRole says it exists but GetRole does not find it yet: IAM's reads are "
                "eventually consistent; AWS gives no figure",
                timeout=IAM_READ_TIMEOUT,
            )
        self.apply(ctx, self.plan(ctx))

    def settle(self, ctx: Context) -> None:
        role = f"role {self.role_name}"
        if self.changed_at is None:  # unchanged by this run, perhaps made by a killed one
            settle(ctx, self.made_at, None, role)
            return
        settle(ctx, self.changed_at, None if self.made else role, role)

    def _remove_policies(self, ctx: Context, inline: list[str], attached: list[str]) -> None:
        """Side by side: IAM removes a role's policies in any order, only all before the role."""
        iam = ctx.client("iam")
        removals = [
            partial(
                delete,
                ctx,
                self.key,
                "DeleteRolePolicy",
                partial(iam.delete_role_policy, RoleName=self.role_name, PolicyName=name),
            )
            for name in inline
        ] + [
            partial(
                delete,
                ctx,
                self.key,
                "DetachRolePolicy",
                partial(iam.detach_role_policy, RoleName=self.role_name, PolicyArn=arn),
            )
            for arn in attached
        ]
        ctx.together(*removals)

    @classmethod
    def leftovers(cls, ctx: Context, steps: Sequence[Any]) -> list[Leftover]:
        """Roles named like the stack's that carry its tag: IAM is outside the tagging API, and
        ListRoles doesn't return tags."""
        iam = ctx.client("iam")
        prefix = f"{ctx.config.stack}-"
        found = []
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                name = role["RoleName"]
                if not name.startswith(prefix):
                    continue
                tags = none_if_absent(lambda: iam.list_role_tags(RoleName=name))  # noqa: B023
                if tags is not None and is_ours(ctx, tag_dict(tags["Tags"])):
                    remove = (
                        "pocctl down again, or remove its policies, then "
                        f"aws iam delete-role --role-name {name}"
                    )
                    found.append(Leftover(cls.kind, name, remove))
        return found

    def destroy(self, ctx: Context) -> Outcome:
        iam = ctx.client("iam")

        def read() -> list[Any] | None:
            found: list[Any] = ctx.together(  # all three at once: one round trip, not three
                lambda: self._get_role(ctx),
                lambda: none_if_absent(lambda: iam.list_role_policies(RoleName=self.role_name)),
                lambda: none_if_absent(
                    lambda: iam.list_attached_role_policies(RoleName=self.role_name)
                ),
            )
            return None if found[0] is None else found

        def remove(found: list[Any]) -> Outcome:
            _, inline, attached = found
            self._remove_policies(
                ctx,
                (inline or {}).get("PolicyNames", []),
                [p["PolicyArn"] for p in (attached or {}).get("AttachedPolicies", [])],
            )
            delete(ctx, self.key, "DeleteRole", lambda: iam.delete_role(RoleName=self.role_name))
            return Outcome.DELETED

        return destroy_ours(
            ctx,
            self,
            "GetRole",
            read,
            lambda found: is_ours(ctx, tag_dict(found[0].get("Tags"))),
            remove,
        )


@dataclass
class BoundaryState:
    document: dict[str, Any]
    ours: bool  # made by `up` (tagged): `down` removes it; else by an administrator
    versions: list[dict[str, Any]]


@dataclass(frozen=True)
class BoundaryDocumentDiffers(Change):
    def __str__(self) -> str:
        return "document differs: a new default version will replace it"


# Who holds the deployer policy may not make or change the boundary: an administrator does.
ADMINISTRATOR_MAKES_IT = (
    "The stack's roles need this permissions boundary, and these credentials may not make or "
    "change it (as pocctl's deployer policy intends): an administrator creates it, with the "
    "commands `pocctl deployer-policy --help` shows."
)


def boundary_description(ctx: Context) -> str:
    return f"pocctl stack {ctx.config.stack}: the most its roles may do"


@dataclass(eq=False, kw_only=True)
class BoundaryStep(Step[BoundaryState]):
    """The managed policy every role of the stack has as its permissions boundary: whatever a
    role's own policies say, it may do no more than this (IAM User Guide, "Permissions
    boundaries for IAM entities"). An administrator makes it for a deployer that may not; `up`
    run with enough rights makes it itself, and then `down` removes it too."""

    kind: ClassVar[str] = "IAM permissions boundary"
    key: str
    policy_name: str
    document: Callable[[Context], dict[str, Any]]
    changed_at: float | None = field(default=None, init=False)
    made: bool = field(default=False, init=False)
    # `down` was refused its deletion: left, as said, to an administrator (not a leftover).
    left_to_administrator: bool = field(default=False, init=False)

    @property
    def name(self) -> str:
        return self.policy_name

    def _read(self, ctx: Context) -> BoundaryState | None:
        iam = ctx.client("iam")
        arn = policy_arn(ctx, self.policy_name)
        policy = none_if_absent(lambda: iam.get_policy(PolicyArn=arn)["Policy"])
        if policy is None:
            return None
        version, tags, versions = ctx.together(
            lambda: iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"]),
            lambda: iam.list_policy_tags(PolicyArn=arn)["Tags"],
            lambda: iam.list_policy_versions(PolicyArn=arn)["Versions"],
        )
        document = version["PolicyVersion"]["Document"]
        if isinstance(document, str):
            document = json.loads(document)
        return BoundaryState(document, is_ours(ctx, tag_dict(tags)), versions)

    def plan(self, ctx: Context) -> Plan[BoundaryState]:
        with aws_errors(self.key, "GetPolicy"):
            state = self._read(ctx)
        if state is None:
            return Plan.create()
        differs = canonical(state.document) != canonical(self.document(ctx))
        return Plan.from_changes([BoundaryDocumentDiffers()] if differs else [], state)

    def apply(self, ctx: Context, plan: Plan[BoundaryState]) -> None:
        iam = ctx.client("iam")
        arn = policy_arn(ctx, self.policy_name)
        document = json.dumps(self.document(ctx))
        try:
            if plan.current is None:
                with aws_errors(self.key, "CreatePolicy"):
                    iam.create_policy(
                        PolicyName=self.policy_name,
                        PolicyDocument=document,
                        Description=boundary_description(ctx),
                        Tags=tag_list(ctx.config.tags),
                    )
            else:
                # A policy keeps at most five versions: make room by the oldest non-default.
                spare = [v for v in plan.current.versions if not v["IsDefaultVersion"]]
                if len(plan.current.versions) >= 5 and spare:
                    oldest = min(spare, key=lambda v: v["CreateDate"])
                    with aws_errors(self.key, "DeletePolicyVersion"):
                        iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
                with aws_errors(self.key, "CreatePolicyVersion"):
                    iam.create_policy_version(
                        PolicyArn=arn, PolicyDocument=document, SetAsDefault=True
                    )
        except StepError as exc:
            if exc.code in ("AccessDenied", "AccessDeniedException"):
                exc.hint = ADMINISTRATOR_MAKES_IT
            raise
        self.changed_at, self.made = ctx.clock(), plan.current is None

    def template(self, ctx: Context) -> Resources:
        properties = {
            "ManagedPolicyName": self.policy_name,
            "Description": boundary_description(ctx),
            "PolicyDocument": self.document(ctx),
        }
        return {logical_id(self.key): cfn_resource("AWS::IAM::ManagedPolicy", properties)}

    def settle(self, ctx: Context) -> None:
        boundary = f"the roles' permissions boundary {self.policy_name}"
        settle(ctx, self.changed_at, None if self.made else boundary, boundary)

    def destroy(self, ctx: Context) -> Outcome:
        # One not the stack's is an administrator's: the next `up` needs it again.
        return destroy_ours(
            ctx,
            self,
            "GetPolicy",
            lambda: self._read(ctx),
            lambda state: state.ours,
            lambda state: self._delete(ctx, state),
        )

    def _delete(self, ctx: Context, state: BoundaryState) -> Outcome:
        iam = ctx.client("iam")
        arn = policy_arn(ctx, self.policy_name)
        try:
            for version in state.versions:  # DeletePolicy needs them gone first
                if not version["IsDefaultVersion"]:
                    delete(
                        ctx,
                        self.key,
                        "DeletePolicyVersion",
                        partial(
                            iam.delete_policy_version,
                            PolicyArn=arn,
                            VersionId=version["VersionId"],
                        ),
                    )
            delete(ctx, self.key, "DeletePolicy", partial(self._delete_unless_held, ctx, arn))
        except StepError as exc:
            # An administrator's `up` made it (tagged as the stack's); a deployer may never
            # change it (deployer policy, NeverChangeTheRolesBoundary). It costs nothing.
            if exc.code not in ("AccessDenied", "AccessDeniedException"):
                raise
            ctx.reporter.note(
                f"{self.title} is left: this identity may not delete it (an administrator made "
                "it, and the next `up` needs it again). An administrator removes it with "
                f"`pocctl down` or `aws iam delete-policy --policy-arn {arn}` "
                "(after its roles are gone)."
            )
            self.left_to_administrator = True
            return Outcome.SKIPPED
        return Outcome.DELETED

    def _delete_unless_held(self, ctx: Context, arn: str) -> None:
        """DeletePolicy, refused while anyone holds the policy (DeleteConflict). The stack's own
        roles, deleted just before, may hold it for a moment more; anyone else's hold is named
        at once, with the command that lets go, instead of waited out."""
        try:
            ctx.client("iam").delete_policy(PolicyArn=arn)
        except ClientError as exc:
            if error_code(exc) != "DeleteConflict":
                raise
            try:
                others = holders_besides_the_stack(ctx, arn)
            except ClientError:
                others = []  # who holds it can't be read: wait, as for the stack's own roles
            if not others:
                raise
            raise StepError(
                self.key,
                "DeletePolicy",
                "DeleteConflict",
                f"{self.title} is left: IAM roles, users or groups this stack did not make "
                f"still use it. {'; '.join(others)}",
                "Once nothing else uses it, `pocctl down` removes it.",
            ) from exc

    @classmethod
    def leftovers(cls, ctx: Context, steps: Sequence[Any]) -> list[Leftover]:
        """IAM policies are outside the tagging API: look each one up by name."""
        found = []
        for step in steps:
            state = none_if_absent(lambda: step._read(ctx))  # noqa: B023
            if state is not None and state.ours and not step.left_to_administrator:
                arn = policy_arn(ctx, step.policy_name)
                remove = f"aws iam delete-policy --policy-arn {arn} (after its roles are gone)"
                found.append(Leftover(cls.kind, step.policy_name, remove))
        return found


def holders_besides_the_stack(ctx: Context, arn: str) -> list[str]:
    """Who holds the managed policy (ListEntitiesForPolicy), other than the stack's own roles
    (IAM may list one deleted a moment ago): each said with how it holds the policy and what
    lets go of it. A permissions boundary is not simply removed: that "might increase" what the
    role may do (IAM API Reference, DeleteRolePermissionsBoundary)."""
    iam = ctx.client("iam")
    found: dict[str, str] = {}
    for usage in ("PermissionsBoundary", "PermissionsPolicy"):
        pages = iam.get_paginator("list_entities_for_policy").paginate(
            PolicyArn=arn, PolicyUsageFilter=usage
        )
        for page in pages:
            for kind, key in (
                ("role", "PolicyRoles"),
                ("user", "PolicyUsers"),
                ("group", "PolicyGroups"),
            ):
                for entity in page.get(key, []):
                    name = entity[f"{kind.title()}Name"]
                    holder = f"{kind} {name}"
                    if holder in found or (kind == "role" and _the_stacks_or_gone(ctx, name)):
                        continue
                    found[holder] = _how_to_let_go(holder, usage, arn)
    return list(found.values())


def _how_to_let_go(holder: str, usage: str, arn: str) -> str:
    kind, name = holder.split(" ", 1)
    if usage == "PermissionsBoundary":
        return (
            f"{holder} has it as its permissions boundary: give it another "
            f"(aws iam put-{kind}-permissions-boundary --{kind}-name {name} "
            "--permissions-boundary ARN), or delete it if it is a leftover"
        )
    return (
        f"{holder} has it attached: aws iam detach-{kind}-policy --{kind}-name {name} "
        f"--policy-arn {arn}"
    )


def _the_stacks_or_gone(ctx: Context, role_name: str) -> bool:
    role = none_if_absent(lambda: ctx.client("iam").get_role(RoleName=role_name)["Role"])
    return role is None or is_ours(ctx, tag_dict(role.get("Tags", [])))
