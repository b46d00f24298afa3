"""`pocctl ls`: every pocctl stack in a region, or in every enabled region.

A stack is found by what carries its `pocctl:stack` tag (the Resource Groups Tagging API, per
region) and by its roles' names (IAM is global and its roles are not in the tagging API)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pocctl.aws import error_code
from pocctl.config import TAG_KEY
from pocctl.context import Context
from pocctl.health import MISSING, check
from pocctl.resources.base import arn_parts
from pocctl.stack import build_steps

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

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def enabled_regions(ctx: Context) -> list[str]:
    """The regions this account can use (DescribeRegions lists the enabled ones by default)."""
    regions = ctx.client("ec2").describe_regions()["Regions"]
    return sorted(r["RegionName"] for r in regions)


def tagged_stacks(ctx: Context, region: str) -> dict[str, list[str]]:
    """Per stack name, the ARNs tagged with it in `region`."""
    tagging = ctx.session.client(
        "resourcegroupstaggingapi", region_name=region, endpoint_url=ctx.config.endpoint_url
    )
    found: dict[str, list[str]] = {}
    for page in tagging.get_paginator("get_resources").paginate(TagFilters=[{"Key": TAG_KEY}]):
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
    if service == "apigateway":
        name = resource.rsplit("/", 1)[-1]
    return f"{kind.kind if kind else service} {name}"


def judge(ctx: Context, found: FoundStack) -> None:
    """A one-word health, the order URL and the problems, from `status`'s own check. Drift is
    left to `status`: ls can't know which code or settings each stack was deployed with."""
    config = replace(ctx.config, stack=found.stack, region=found.region, email=None)
    there = Context(config, ctx.reporter, session=ctx.session, sleep=ctx.sleep, clock=ctx.clock)
    try:
        health = check(there, build_steps(config))
    except (ClientError, BotoCoreError) as exc:
        code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        found.problems = [f"could not read it ({code})"]
        return
    found.order_url = health.order_url
    missing = [r for r in health.resources.values() if r.wanted and r.state == MISSING]
    failing = [problem for r in health.resources.values() for problem in r.live.problems]
    found.problems = [f"{r.title} is missing" for r in missing] + failing
    found.health = "partial" if missing else "failing" if failing else "healthy"


def find_stacks(
    ctx: Context, regions: list[str], *, every_region: bool = False
) -> tuple[list[FoundStack], list[str]]:
    """The stacks in `regions`, and the names of stacks that have IAM roles but no resources
    there. Looking in every region, those are what is left of a stack: listed as roles-only."""
    kinds = list({type(step) for step in build_steps(ctx.config)})
    with ThreadPoolExecutor(max_workers=8) as pool:
        roles_future = pool.submit(stack_roles, ctx)
        tagged = dict(zip(regions, pool.map(lambda r: tagged_stacks(ctx, r), regions), strict=True))
        roles = roles_future.result()
    stacks: list[FoundStack] = []
    for region, by_stack in tagged.items():
        for name, arns in by_stack.items():
            found = FoundStack(name, region, sorted(_described(a, kinds) for a in arns))
            stacks.append(found)
    regional = {s.stack for s in stacks}
    elsewhere = sorted(name for name in roles if name not in regional)
    if every_region:
        stacks += [FoundStack(name, GLOBAL, health="roles-only") for name in elsewhere]
        elsewhere = []
    for found in stacks:
        made = roles.get(found.stack, [])
        found.resources += [f"IAM role {role}" for role, _ in sorted(made)]
        if made:
            found.created = min(when for _, when in made).isoformat()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda s: judge(ctx, s), [s for s in stacks if s.region != GLOBAL]))
    for found in stacks:
        if found.region == GLOBAL:
            found.problems = [
                "only its IAM roles are left: remove them with `pocctl down --stack "
                f"{found.stack}` (roles are global; any region will do)"
            ]
    return sorted(stacks, key=lambda s: (s.region, s.stack)), elsewhere
