"""`pocctl deployer-policy`: the least-privilege IAM policy pocctl itself needs for a stack."""

from __future__ import annotations

from typing import Any

from pocctl.cli.main import cli
from pocctl.cli.options import aws_options, collect, make_context, terminal
from pocctl.stack import deployer_policy
from pocctl.ui import print_json


@cli.command("deployer-policy")
@aws_options
def deployer_policy_command(**kwargs: Any) -> None:
    """Print the IAM policy that lets a user or CI role run up, down, status, logs, outputs and
    test-order for this stack, and nothing else (policies/deployer.json, with this account,
    region and stack filled in).

    \b
    Examples:
      pocctl deployer-policy --stack ci > deployer.json
      aws iam create-user --user-name pocctl-ci
      aws iam put-user-policy --user-name pocctl-ci --policy-name pocctl-deployer \\
          --policy-document file://deployer.json
      aws iam create-access-key --user-name pocctl-ci
    """
    flags = collect(kwargs)
    ctx = make_context(flags, terminal(flags, as_json=True))
    print_json(deployer_policy(ctx))
