"""Issue 21, item 2: changing the stage must not leave the old one public. Offline, from the
user's side: what `up` and `status` say, and what the API answers at each stage's URL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.local.emulator import Emulator

from .faults import FailCalls, runtime_with
from .test_local import eventually, post

ORDER = b'{"item": "mop"}'
MISSING_STAGE = (403, {"message": "Missing Authentication Token"})

Pocctl = Callable[..., Result]


@pytest.fixture
def pocctl(emulator: Emulator, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> Pocctl:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)

    def run(*args: str, stage: str | None = "prod", obj: Any = None, **settings: str) -> Result:
        """Settings as the environment gives them, to every command alike (stage None: none)."""
        env = {f"POCCTL_{k.upper()}": v for k, v in {"stage": stage, **settings}.items() if v}
        return runner.invoke(cli, list(args), env=env, obj=obj, catch_exceptions=False)

    return run


def order_url(pocctl: Pocctl, stack: str, stage: str) -> str:
    url: str = json.loads(pocctl("outputs", "--stack", stack, "--json", stage=stage).stdout)[
        "order_url"
    ]
    return url


def test_a_new_stage_replaces_the_old_one_and_says_so(pocctl: Pocctl) -> None:
    assert pocctl("up", "--stack", "stg").exit_code == 0
    prod = order_url(pocctl, "stg", "prod")
    beta = prod.replace("/prod/", "/beta/")
    beta_settings = {"stage": "beta", "rate_limit": "1", "burst_limit": "2"}

    dry = pocctl("up", "--stack", "stg", "--dry-run", **beta_settings)
    assert dry.exit_code == 0, dry.output
    assert f"stage prod still answers at {prod}: a second public door" in dry.output
    assert post(prod, ORDER)[0] == 200  # a dry run closes nothing

    up = pocctl("up", "--stack", "stg", **beta_settings)
    assert up.exit_code == 0, up.output
    assert f"removed stage prod: the API now answers only at {beta}" in up.output
    # API Gateway answers a stage that is not there as a path it doesn't know.
    assert eventually(lambda: post(prod, ORDER) == MISSING_STAGE)
    statuses = [post(beta, ORDER)[0] for _ in range(5)]
    assert statuses[:2] == [200, 200] and 429 in statuses[2:]  # the new throttle

    status = pocctl("status", "--stack", "stg", **beta_settings)
    assert status.exit_code == 0, status.output
    assert "(public, 1 requests/s, burst 2)" in status.output
    again = pocctl("up", "--stack", "stg", **beta_settings)
    assert "removed stage" not in again.output and "0 updated" in again.output


@pytest.mark.slow  # heavy (tests/cases.py)
def test_an_old_stage_left_open_is_a_problem_status_names(pocctl: Pocctl) -> None:
    assert pocctl("up", "--stack", "stg2").exit_code == 0
    prod = order_url(pocctl, "stg2", "prod")
    fault = runtime_with(lambda s: FailCalls(s, "DeleteStage", "BadRequestException", "no", 1))
    failed = pocctl("up", "--stack", "stg2", stage="beta", obj=fault)
    assert failed.exit_code == 1, failed.output

    status = pocctl("status", "--stack", "stg2", stage="beta")
    assert status.exit_code == 1
    assert "1 problem(s)" in status.output
    assert (
        f"stage prod still answers at {prod}: a second public door; `pocctl up --stage beta` "
        "removes it" in " ".join(status.output.split())
    )
    assert pocctl("up", "--stack", "stg2", stage="beta").exit_code == 0
    assert eventually(lambda: post(prod, ORDER) == MISSING_STAGE)
    assert pocctl("status", "--stack", "stg2", stage="beta").exit_code == 0


def inheriting(stack: str) -> Callable[[boto3.Session], None]:
    """Stages listed with their REST API's tags: "child resources inherit the tags that are set
    on parent resources" (API Gateway Developer Guide, "Tag inheritance in the Amazon API
    Gateway V1 API"), for access control; whether GetStages shows them is not said."""

    def prepare(session: boto3.Session) -> None:
        def add(parsed: dict[str, Any], **_: Any) -> None:
            for stage in parsed.get("item", []):
                stage["tags"] = {"pocctl:stack": stack, **(stage.get("tags") or {})}

        session.events.register("after-call.apigateway.GetStages", add)

    return prepare


@pytest.mark.slow  # heavy (tests/cases.py)
@pytest.mark.parametrize("inherited", [False, True], ids=["own-tags", "inherited-tags"])
def test_a_stage_made_by_hand_is_left_and_named(
    pocctl: Pocctl, emulator: Emulator, inherited: bool
) -> None:
    stack = f"stg3-{int(inherited)}"
    assert pocctl("up", "--stack", stack).exit_code == 0
    outputs = json.loads(pocctl("outputs", "--stack", stack, "--json").stdout)
    api_id = outputs["api_id"]
    ag = boto3.client("apigateway", endpoint_url=emulator.endpoint_url, region_name="us-east-1")
    deployment = ag.get_stage(restApiId=api_id, stageName="prod")["deploymentId"]
    ag.create_stage(restApiId=api_id, stageName="mine", deploymentId=deployment)
    mine = outputs["order_url"].replace("/prod/", "/mine/")
    remove = f"aws apigateway delete-stage --rest-api-id {api_id} --stage-name mine"

    runtime = runtime_with(inheriting(stack)) if inherited else None
    up = pocctl("up", "--stack", stack, stage="beta", obj=runtime)
    assert up.exit_code == 0, up.output
    text = " ".join(up.output.split())
    assert "removed stage prod" in text
    assert f"stage mine of REST API {stack}-API was not made by pocctl" in text and remove in text
    # CreateStage sets no throttle: only the account's applies to it
    assert f"takes orders at {mine}, with no throttle of its own" in text
    assert post(mine, ORDER)[0] == 200

    status = pocctl("status", "--stack", stack, stage="beta", obj=runtime)
    assert status.exit_code == 0
    assert remove in " ".join(status.output.split())


def text(result: Result) -> str:
    return " ".join(result.output.split())


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_stage_given_once_is_the_stack_s_from_then_on(pocctl: Pocctl, tmp_path: Path) -> None:
    """`up --stage beta`, then commands with no stage anywhere: beta is the stack's stage, and
    nothing advises removing it; pocctl.toml saying another stage is a change `up` would make,
    naming the stage it would remove."""
    assert pocctl("up", "--stack", "stg4", stage=None).exit_code == 0
    prod = order_url(pocctl, "stg4", "prod")
    beta = prod.replace("/prod/", "/beta/")
    changed = pocctl("up", "--stack", "stg4", "--stage", "beta", stage=None)
    assert changed.exit_code == 0, changed.output
    assert eventually(lambda: post(prod, ORDER) == MISSING_STAGE)

    status = pocctl("status", "--stack", "stg4", stage=None)
    assert status.exit_code == 0, status.output
    assert "healthy" in status.output and "--stage prod" not in status.output
    assert "pending" not in status.output and f"POST {beta}" in status.output
    again = pocctl("up", "--stack", "stg4", stage=None)
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated" in again.output and "removed stage" not in again.output
    assert post(beta, ORDER)[0] == 200

    (tmp_path / "pocctl.toml").write_text('stage = "prod"\n')
    status = pocctl("status", "--stack", "stg4", stage=None)
    assert status.exit_code == 0, status.output
    assert (
        "pending: `up` would change stage beta -> prod, from pocctl.toml (and remove stage beta)"
        in text(status)
    )
    dry = pocctl("up", "--stack", "stg4", "--dry-run", stage=None)
    assert dry.exit_code == 0, dry.output
    assert f"stage beta still answers at {beta}" in text(dry)
    assert "`pocctl up --stage prod` removes it once stage prod serves" in text(dry)
    assert post(beta, ORDER)[0] == 200


@pytest.mark.slow  # heavy (tests/cases.py)
def test_an_old_stage_left_open_names_the_recorded_stage(pocctl: Pocctl) -> None:
    """DeleteStage failed: both stages are up's; a plain status names the one the stack was
    deployed with last as the one to keep."""
    assert pocctl("up", "--stack", "stg5", stage=None).exit_code == 0
    prod = order_url(pocctl, "stg5", "prod")
    fault = runtime_with(lambda s: FailCalls(s, "DeleteStage", "BadRequestException", "no", 1))
    failed = pocctl("up", "--stack", "stg5", "--stage", "beta", stage=None, obj=fault)
    assert failed.exit_code == 1, failed.output

    status = pocctl("status", "--stack", "stg5", stage=None)
    assert status.exit_code == 1
    assert (
        f"stage prod still answers at {prod}: a second public door; `pocctl up --stage beta` "
        "removes it" in text(status)
    )
    assert "--stage prod" not in status.output
    assert pocctl("up", "--stack", "stg5", stage=None).exit_code == 0
    assert eventually(lambda: post(prod, ORDER) == MISSING_STAGE)
    assert pocctl("status", "--stack", "stg5", stage=None).exit_code == 0


@pytest.mark.slow  # heavy (tests/cases.py)
def test_back_to_the_stage_up_was_removing(pocctl: Pocctl) -> None:
    """DeleteStage of prod failed, and the user goes back to prod: beta is removed, and prod is
    the stack's stage for every later command."""
    assert pocctl("up", "--stack", "stg7", stage=None).exit_code == 0
    prod = order_url(pocctl, "stg7", "prod")
    beta = prod.replace("/prod/", "/beta/")
    fault = runtime_with(lambda s: FailCalls(s, "DeleteStage", "BadRequestException", "no", 1))
    assert pocctl("up", "--stack", "stg7", "--stage", "beta", stage=None, obj=fault).exit_code
    back = pocctl("up", "--stack", "stg7", "--stage", "prod", stage=None)
    assert back.exit_code == 0, back.output
    assert f"removed stage beta: the API now answers only at {prod}" in text(back)
    assert eventually(lambda: post(beta, ORDER) == MISSING_STAGE)
    status = pocctl("status", "--stack", "stg7", stage=None)
    assert status.exit_code == 0, status.output
    assert f"POST {prod}" in status.output and "pending" not in status.output


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_stage_an_older_pocctl_made_is_replaced_too(pocctl: Pocctl, emulator: Emulator) -> None:
    """A pocctl older than the stage's tags left it untagged; its deployment says "pocctl up"."""
    assert pocctl("up", "--stack", "stg6", stage=None).exit_code == 0
    outputs = json.loads(pocctl("outputs", "--stack", "stg6", "--json", stage=None).stdout)
    ag = boto3.client("apigateway", endpoint_url=emulator.endpoint_url, region_name="us-east-1")
    arn = f"arn:aws:apigateway:us-east-1::/restapis/{outputs['api_id']}/stages/prod"
    tags = ag.get_stage(restApiId=outputs["api_id"], stageName="prod").get("tags") or {}
    ag.untag_resource(resourceArn=arn, tagKeys=list(tags))
    prod = outputs["order_url"]

    up = pocctl("up", "--stack", "stg6", "--stage", "beta", stage=None)
    assert up.exit_code == 0, up.output
    assert "removed stage prod" in text(up) and "not made by pocctl" not in up.output
    assert eventually(lambda: post(prod, ORDER) == MISSING_STAGE)
    assert pocctl("status", "--stack", "stg6", stage=None).exit_code == 0


def test_a_stage_sharing_an_older_pocctl_s_deployment_is_left(
    pocctl: Pocctl, emulator: Emulator
) -> None:
    """On a stack of an older pocctl (untagged stages), a stage made by hand at pocctl's
    deployment (CreateStage) can't be told from the one pocctl made: both are left, and named
    for what they are, not as "not made by pocctl"."""
    assert pocctl("up", "--stack", "stg8", stage=None).exit_code == 0
    outputs = json.loads(pocctl("outputs", "--stack", "stg8", "--json", stage=None).stdout)
    api_id, prod = outputs["api_id"], outputs["order_url"]
    ag = boto3.client("apigateway", endpoint_url=emulator.endpoint_url, region_name="us-east-1")
    tags = ag.get_stage(restApiId=api_id, stageName="prod").get("tags") or {}
    ag.untag_resource(
        resourceArn=f"arn:aws:apigateway:us-east-1::/restapis/{api_id}/stages/prod",
        tagKeys=list(tags),
    )
    deployment = ag.get_stage(restApiId=api_id, stageName="prod")["deploymentId"]
    ag.create_stage(restApiId=api_id, stageName="mine", deploymentId=deployment)

    up = pocctl("up", "--stack", "stg8", "--stage", "beta", stage=None)
    assert up.exit_code == 0, up.output
    assert "removed stage" not in up.output and "not made by pocctl" not in up.output
    for stage, other in (("prod", "mine"), ("mine", "prod")):
        assert (
            f"stage {stage} of REST API stg8-API shares pocctl's deployment with stage {other}, "
            "and which of them an older pocctl made AWS doesn't say, so it is left as it is"
        ) in text(up)
        assert post(prod.replace("/prod/", f"/{stage}/"), ORDER)[0] == 200
