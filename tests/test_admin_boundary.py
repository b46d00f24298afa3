"""A stack an administrator brought up, taken down by the deployer (issue 20, item 19)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.local.emulator import Emulator
from pocctl.pipeline.stack import deployer_policy
from pocctl.resources.iam import holders_besides_the_stack

from .clocked import Clock, fixtures
from .emulated import TIMING, local_context, up_local
from .test_deployer import TRUST_LAMBDA, wait_until_iam_knows

clock, emulator = fixtures()


def test_the_deployers_down_leaves_the_boundary_an_administrators_up_made_and_exits_0(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Emulator(port=0, timing=TIMING) as emulator:
        admin = up_local(emulator, "adm")  # makes the boundary, tagged as the stack's
        iam = admin.client("iam")
        iam.create_user(UserName="adm-deployer")
        iam.put_user_policy(
            UserName="adm-deployer",
            PolicyName="deployer",
            PolicyDocument=json.dumps(deployer_policy(admin)),
        )
        key = iam.create_access_key(UserName="adm-deployer")["AccessKey"]
        keys = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
        wait_until_iam_knows(emulator, keys)
        monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
        for name, value in keys.items():
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(cli, ["down", "--yes", "--stack", "adm", "--json"])
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        assert document["left"] == []
        boundary = "IAM permissions boundary adm-Roles-Boundary"
        assert any(note.startswith(f"{boundary} is left") for note in document["notes"])
        arn = f"arn:aws:iam::{admin.account_id}:policy/adm-Roles-Boundary"
        assert iam.get_policy(PolicyArn=arn)["Policy"]["PolicyName"] == "adm-Roles-Boundary"
        # The roles are gone: the administrator's own `down` removes the boundary.
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "pocctl-local")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "pocctl-local")
        again = CliRunner().invoke(cli, ["down", "--yes", "--stack", "adm"])
        assert again.exit_code == 0, again.output
        assert not iam.list_policies(Scope="Local")["Policies"]


def test_down_names_a_role_not_the_stacks_that_keeps_the_boundary_and_what_lets_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Emulator(port=0, timing=TIMING) as emulator:
        admin = up_local(emulator, "kept")
        iam = admin.client("iam")
        arn = f"arn:aws:iam::{admin.account_id}:policy/kept-Roles-Boundary"
        iam.create_role(
            RoleName="someone-elses",
            AssumeRolePolicyDocument=TRUST_LAMBDA,
            PermissionsBoundary=arn,
        )
        monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "pocctl-local")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "pocctl-local")
        result = CliRunner().invoke(cli, ["down", "--yes", "--stack", "kept"])
        assert result.exit_code == 1, result.output
        output = " ".join(result.output.split())
        assert "IAM roles, users or groups this stack did not make still use it" in output
        assert (
            "role someone-elses has it as its permissions boundary: give it another (aws iam "
            "put-role-permissions-boundary --role-name someone-elses --permissions-boundary ARN)"
        ) in output
        assert iam.get_policy(PolicyArn=arn)["Policy"]["PolicyName"] == "kept-Roles-Boundary"

        iam.delete_role_permissions_boundary(RoleName="someone-elses")
        again = CliRunner().invoke(cli, ["down", "--yes", "--stack", "kept"])
        assert again.exit_code == 0, again.output
        assert not iam.list_policies(Scope="Local")["Policies"]


def test_what_else_holds_the_boundary_is_named_and_the_stacks_own_roles_are_not(
    emulator: Emulator, clock: Clock
) -> None:
    ctx = local_context(emulator, "held")
    iam = ctx.client("iam")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"}],
    }
    arn = iam.create_policy(PolicyName="held", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    ours = [{"Key": "pocctl:stack", "Value": "held"}]
    for role, tags in (("ours", ours), ("theirs", []), ("bounded", [])):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_LAMBDA, Tags=tags)
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.put_role_permissions_boundary(RoleName="ours", PermissionsBoundary=arn)
    iam.put_role_permissions_boundary(RoleName="bounded", PermissionsBoundary=arn)
    iam.create_user(UserName="someone")
    iam.attach_user_policy(UserName="someone", PolicyArn=arn)
    iam.create_group(GroupName="team")
    iam.attach_group_policy(GroupName="team", PolicyArn=arn)
    clock.advance("iam_read")  # IAM's reads see the new roles

    assert holders_besides_the_stack(ctx, arn) == [
        "role bounded has it as its permissions boundary: give it another (aws iam "
        "put-role-permissions-boundary --role-name bounded --permissions-boundary ARN), or "
        "delete it if it is a leftover",
        f"role theirs has it attached: aws iam detach-role-policy --role-name theirs "
        f"--policy-arn {arn}",
        f"user someone has it attached: aws iam detach-user-policy --user-name someone "
        f"--policy-arn {arn}",
        f"group team has it attached: aws iam detach-group-policy --group-name team "
        f"--policy-arn {arn}",
    ]
