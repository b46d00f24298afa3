"""`pocctl ls`: every pocctl stack in a region, or in every enabled region.

A stack is found by what carries its `pocctl:stack` tag (the Resource Groups Tagging API, per
region) and by its roles' names (IAM is global and its roles are not in the tagging API). The
tagging API lists a resource for a while after it is gone, so each one is confirmed as the sweep
after `down` confirms it. A region that can't be read (a service control policy can deny a region
that DescribeRegions still lists as enabled: AWS Organizations User Guide, the SCP example "Deny
access to AWS based on the requested AWS Region"; "explicit deny in a service control policy" per
region in turbot/steampipe-mod-aws-compliance#934) is reported, and the others are listed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pocctl.core.aws import error_code
from pocctl.core.config import TAG_KEY
from pocctl.core.context import Context
from pocctl.ops.cost import StackShape, idle_month
from pocctl.ops.health import DRIFTED, MISSING, PRESENT, check
from pocctl.ops.sweep import Kinds, kinds_of, still_there
from pocctl.pipeline.stack import build_steps
from pocctl.resources.alarms import AlarmStep
from pocctl.resources.base import arn_parts
from pocctl.settings.record import read_record

ROLE_SUFFIXES = ("-Lambda-1-Role", "-Lambda-2-Role", "-APIGateway-SQS-Role")
GLOBAL = "global"  # where a stack found only by its IAM roles is listed


@dataclass
class FoundStack:
    stack: str
    region: str
    resources: list[str] = field(default_factory=list)  # "SQS queue POC-Queue", ...
    created: str | None = None  # ISO 8601: when its first role was made
    order_url: str | None = None
    health: str = "unknown"  # healthy | failing | partial | roles-only | unknown
    problems: list[str] = field(default_factory=list)
    # What it costs a month with no order coming, at list price (None: no prices for its region,
    # or only its global IAM roles are left, which cost nothing).
    idle_monthly_usd: float | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Listing:
    stacks: list[FoundStack]
    # Stacks with IAM roles but nothing in the regions looked at (when not every region).
    elsewhere: list[str]
    # Regions whose resources could not be listed, with the AWS error code.
    unreadable: dict[str, str] = field(default_factory=dict)


def enabled_regions(ctx: Context) -> list[str]:
    """The regions this account can use (DescribeRegions lists the enabled ones by default)."""
    regions = ctx.client("ec2").describe_regions()["Regions"]
    return sorted(r["RegionName"] for r in regions)


def tagged_stacks(ctx: Context, region: str) -> dict[str, list[str]]:
    """Per stack name, the ARNs tagged with it in `region`."""
    here = there(ctx, ctx.config.stack, region)
    tagging = here.client("resourcegroupstaggingapi")  # its calls are shown with -v
    found: dict[str, list[str]] = {}
    pages = tagging.get_paginator("get_resources").paginate(TagFilters=[{"Key": TAG_KEY}])
    with here.working_on("ls", region):
        for page in pages:
            for mapping in page["ResourceTagMappingList"]:
                tags = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
                found.setdefault(tags[TAG_KEY], []).append(mapping["ResourceARN"])
    return found


def stack_roles(ctx: Context) -> dict[str, list[tuple[str, datetime]]]:
    """Per stack name, its roles (found by name) and when each was made."""
    found: dict[str, list[tuple[str, datetime]]] = {}
    for page in ctx.client("iam").get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            name = role["RoleName"]
            suffix = next((s for s in ROLE_SUFFIXES if name.endswith(s)), None)
            if suffix:
                found.setdefault(name.removesuffix(suffix), []).append((name, role["CreateDate"]))
    return found


def _described(arn: str, kinds: list[Any]) -> str:
    service, resource = arn_parts(arn)
    kind = next((k for k in kinds if k.recognises(arn)), None)
    name = resource.split(":", 1)[-1] if ":" in resource else resource
    if service in ("apigateway", "dynamodb"):  # "/restapis/ID", "table/NAME"
        name = resource.rsplit("/", 1)[-1]
    return f"{kind.kind if kind else service} {name}"


def there(ctx: Context, stack: str, region: str) -> Context:
    """A context on another stack and region, sharing this one's session and its record of
    calls (so -v shows every region's)."""
    config = replace(ctx.config, stack=stack, region=region, email=None)
    here = Context(config, ctx.reporter, session=ctx.session, sleep=ctx.sleep, clock=ctx.clock)
    here.calls = ctx.calls
    return here


def confirmed(ctx: Context, kinds: Kinds, arns: list[str]) -> list[str]:
    """The ARNs whose resources are still there and not being deleted; one that can't be
    confirmed (no permission to read it) is kept."""
    kept = []
    for arn in arns:
        try:
            found = still_there(ctx, kinds, arn)
        except (ClientError, BotoCoreError):
            kept.append(arn)
            continue
        if found is not None and not found.being_deleted:
            kept.append(arn)
    return kept


def _reason(exc: Exception) -> str:
    return error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__


def judge(here: Context, found: FoundStack) -> None:
    """A one-word health, the order URL and the problems, from `status`'s own check. Drift is
    left to `status`: ls can't know which code or settings each stack was deployed with."""
    try:
        recorded = read_record(here).values
        here.config = replace(here.config, stage=recorded.get("stage", here.config.stage))
        health = check(here, build_steps(here.config))
    except (ClientError, BotoCoreError) as exc:
        found.problems = [f"could not read it ({_reason(exc)})"]
        return
    found.order_url = health.order_url
    # Every resource `status` shows that is there (the tagging API lists neither the REST API's
    # stage nor always the mappings, and names by ARN: "table/orders"), by its kind and name.
    found.resources = [r.title for r in health.resources.values() if r.state in (PRESENT, DRIFTED)]
    missing = [r for r in health.resources.values() if r.wanted and r.state == MISSING]
    failing = [problem for r in health.resources.values() for problem in r.live.problems]
    found.problems = [f"{r.title} is missing" for r in missing] + failing
    found.health = "partial" if missing else "failing" if failing else "healthy"


def _tagged_or_error(ctx: Context, region: str) -> dict[str, list[str]] | Exception:
    try:
        return tagged_stacks(ctx, region)
    except (ClientError, BotoCoreError) as exc:
        error: Exception = exc
        return error


def find_stacks(ctx: Context, regions: list[str], *, every_region: bool = False) -> Listing:
    """The stacks in `regions`, and the names of stacks that have IAM roles but no resources
    there. Looking in every region, those are what is left of a stack: listed as roles-only.
    A region that can't be read is set aside in `unreadable`, unless none can be read."""
    kinds = kinds_of(build_steps(ctx.config))
    with ThreadPoolExecutor(max_workers=8) as pool:
        roles_future = pool.submit(stack_roles, ctx)
        answers = dict(
            zip(regions, pool.map(lambda r: _tagged_or_error(ctx, r), regions), strict=True)
        )
        roles = roles_future.result()
    errors = {region: a for region, a in answers.items() if isinstance(a, Exception)}
    if errors and len(errors) == len(regions):
        raise next(iter(errors.values()))
    tagged = [
        (region, name, arns)
        for region, by_stack in answers.items()
        if not isinstance(by_stack, Exception)
        for name, arns in by_stack.items()
    ]

    def with_roles(found: FoundStack) -> FoundStack:
        made = roles.get(found.stack, [])
        found.resources += [f"IAM role {role}" for role, _ in sorted(made)]
        if made:
            found.created = min(when for _, when in made).isoformat()
        return found

    def look(region: str, name: str, arns: list[str]) -> FoundStack | None:
        """The stack, if any of its tagged resources is still there, judged. One context, in
        one pass (core/shared_reads.py): judging asks again much of what confirming asked. An
        error confirming got (a refusal that passes) is not handed on to the judging."""
        here = there(ctx, name, region)
        with here.shared_reads.shared():
            still = confirmed(here, kinds, arns)
            if not still:
                return None
            described = sorted(_described(a, list(kinds)) for a in still)
            found = with_roles(FoundStack(name, region, described))
            here.shared_reads.forget_errors()
            judge(here, found)
        return found

    with ThreadPoolExecutor(max_workers=4) as pool:
        looked = list(pool.map(lambda t: look(*t), tagged))
    stacks = [found for found in looked if found is not None]
    regional = {s.stack for s in stacks}
    elsewhere = sorted(name for name in roles if name not in regional)
    if every_region:
        # With a region unread, roles alone may belong to a stack living there: not roles-only.
        alone = "unknown" if errors else "roles-only"
        stacks += [with_roles(FoundStack(name, GLOBAL, health=alone)) for name in elsewhere]
        elsewhere = []
    for found in stacks:
        if found.region == GLOBAL:
            found.problems = [roles_alone(found.stack, sorted(errors))]
        else:
            idle = idle_month(found.region, deployed_shape(found))
            found.idle_monthly_usd = None if idle is None else round(idle.idle_total, 2)
    unreadable = {region: _reason(exc) for region, exc in sorted(errors.items())}
    return Listing(sorted(stacks, key=lambda s: (s.region, s.stack)), elsewhere, unreadable)


def deployed_shape(found: FoundStack) -> StackShape:
    """What of a found stack changes its idle cost: the alarms it has."""
    alarms = [r for r in found.resources if r.startswith(f"{AlarmStep.kind} ")]
    return StackShape(alarms=len(alarms))


def roles_alone(stack: str, unread: list[str]) -> str:
    """What to say of a stack found only by its roles. `down` would delete its roles, which a
    stack in a region that could not be read still needs: then it is only named."""
    if unread:
        return (
            f"only its IAM roles were found, but it may live in {', '.join(unread)}, which "
            "could not be read: look there with permission to read it (`pocctl ls --region "
            f"{unread[0]}`) before removing anything"
        )
    return (
        f"only its IAM roles are left: remove them with `pocctl down --stack {stack}` "
        "(roles are global; any region will do)"
    )
