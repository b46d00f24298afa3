"""`pocctl ls` in an organisation: a region that a service control policy denies is still listed
by DescribeRegions ("An SCP can deny a region that DescribeRegions still lists as enabled");
`ls --all-regions` says that region could not be read and lists the others. Here the denial is
the caller's own policy (a Deny on `aws:RequestedRegion`, as the SCP that AWS's documentation
gives for denying regions is written), which the emulator judges as IAM does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.core.config import Config
from pocctl.local.emulator import Emulator
from pocctl.ops.listing import _described
from pocctl.ops.sweep import kinds_of
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps
from pocctl.resources.queues import QueueStep

from .emulated import local_context, up_local
from .faults import runtime_with
from .test_deployer import TRUST_LAMBDA, wait_until_iam_knows

DENY_EU_WEST_1 = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
        },
    ],
}


def user_denied_eu_west_1(emulator: Emulator, user: str = "in-an-org") -> dict[str, str]:
    iam = local_context(emulator, "admin").client("iam")
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user, PolicyName="scp-like", PolicyDocument=json.dumps(DENY_EU_WEST_1)
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    keys = {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }
    wait_until_iam_knows(emulator, keys)
    return keys


def two_regions_enabled(session: Any) -> None:
    """DescribeRegions lists both regions as enabled (moto would list every region it knows,
    which takes seconds to look through)."""

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        regions = [{"RegionName": name} for name in ("us-east-1", "eu-west-1")]
        return AWSResponse("https://ec2.invalid", 200, {}, None), {"Regions": regions}

    session.events.register("before-call.ec2.DescribeRegions", answer)


def test_ls_all_regions_reports_a_denied_region_and_lists_the_others(
    emulator: Emulator,
) -> None:
    ctx = local_context(emulator, "orgstack")
    queues = [step for step in build_steps(ctx.config) if isinstance(step, QueueStep)]
    assert Engine(ctx, queues).up().ok
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url, **user_denied_eu_west_1(emulator)}

    result = CliRunner().invoke(
        cli, ["ls", "--all-regions", "--json"], obj=runtime_with(two_regions_enabled), env=env
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["regions"] == ["eu-west-1", "us-east-1"]
    assert document["unreadable_regions"] == {"eu-west-1": "AccessDeniedException"}
    assert [(s["stack"], s["region"]) for s in document["stacks"] if s["stack"] == "orgstack"] == [
        ("orgstack", "us-east-1")
    ]
    assert "eu-west-1: could not be read (AccessDeniedException)" in result.stderr

    alone = CliRunner().invoke(cli, ["ls", "--region", "eu-west-1"], env=env)
    assert alone.exit_code == 1
    assert "AccessDenied" in alone.output and "Traceback" not in alone.output


def test_a_stack_in_the_denied_region_is_not_called_roles_only(emulator: Emulator) -> None:
    """Its roles (global) are all ls can see of a stack living in the unreadable region:
    advising `down` would delete the roles a live stack runs with."""
    admin = local_context(emulator, "euonly", region="eu-west-1")
    queues = [step for step in build_steps(admin.config) if isinstance(step, QueueStep)]
    assert Engine(admin, queues).up().ok
    admin.client("iam").create_role(
        RoleName="euonly-Lambda-1-Role", AssumeRolePolicyDocument=TRUST_LAMBDA
    )
    keys = user_denied_eu_west_1(emulator, "in-an-org-2")
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url, **keys}

    result = CliRunner().invoke(
        cli, ["ls", "--all-regions", "--json"], obj=runtime_with(two_regions_enabled), env=env
    )
    assert result.exit_code == 0, result.output
    (found,) = [s for s in json.loads(result.stdout)["stacks"] if s["stack"] == "euonly"]
    assert found["health"] == "unknown"
    assert "it may live in eu-west-1, which could not be read" in found["problems"][0]
    assert "pocctl down --stack euonly" not in result.output


@pytest.mark.slow  # heavy (tests/cases.py)
def test_ls_counts_and_names_every_resource_status_shows(emulator: Emulator) -> None:
    # Issue 21, item 11: "RESOURCES 12" for a 16-resource stack, without the REST API and the
    # mappings, and the table named "table/orders".
    up_local(emulator, "lsall", email="ls@example.com")
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    status = CliRunner().invoke(cli, ["status", "--stack", "lsall", "--json"], env=env)
    there = [
        f"{r['kind']} {r['name']}"
        for r in json.loads(status.stdout)["resources"].values()
        if r["state"] == "present"
    ]
    result = CliRunner().invoke(
        cli, ["ls", "--all-regions", "--json"], obj=runtime_with(two_regions_enabled), env=env
    )
    assert result.exit_code == 0, result.output
    (found,) = [s for s in json.loads(result.stdout)["stacks"] if s["stack"] == "lsall"]
    assert sorted(found["resources"]) == sorted(there)
    assert "REST API lsall-API" in found["resources"]
    assert "DynamoDB table lsall-orders" in found["resources"]
    assert sum(r.startswith("event source mapping") for r in found["resources"]) == 2
    assert not any("table/" in r for r in found["resources"])

    table = CliRunner().invoke(
        cli, ["ls", "--all-regions", "-v"], obj=runtime_with(two_regions_enabled), env=env
    )
    (row,) = [line for line in table.stdout.splitlines() if line.startswith("lsall ")]
    assert f" {len(there)} " in row
    assert "stack(s) in all 2 enabled regions." in table.output
    for region in ("us-east-1", "eu-west-1"):  # -v: each region's calls, with the region
        assert f"aws resourcegroupstaggingapi GetResources  [{region}]" in table.output
    assert "aws lambda GetFunction" in table.output  # the health check's, per stack


def test_a_tagged_table_is_named_by_its_name_not_its_arns_resource() -> None:
    # What ls lists for a stack whose health it could not read: the tagging API's ARNs.
    kinds = list(kinds_of(build_steps(Config(stack="t", region="us-east-1"))))
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t-orders"
    assert _described(arn, kinds) == "DynamoDB table t-orders"
