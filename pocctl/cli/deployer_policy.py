"""`pocctl deployer-policy`: the least-privilege IAM policy pocctl itself needs for a stack, and
the permissions boundary of the stack's roles."""

from __future__ import annotations

from typing import Any

import click

from pocctl.cli.options import aws_options, collect, make_context, terminal
from pocctl.cli.ui import print_json
from pocctl.core.context import Context
from pocctl.pipeline.stack import boundary_policy, deployer_policy
from pocctl.resources.iam import policy_arn


def administrator_commands(ctx: Context) -> list[str]:
    """What an administrator runs, once, so that a user with only the deployer policy can run
    pocctl for this stack (AWS's pattern for delegating role creation: the boundary first)."""
    stack = ctx.config.stack
    boundary = ctx.config.names.roles_boundary
    flags = "" if stack == "POC" else f" --stack {stack}"
    return [
        f"pocctl deployer-policy{flags} --boundary > boundary.json",
        f"pocctl deployer-policy{flags} > deployer.json",
        f"aws iam create-policy --policy-name {boundary} --policy-document file://boundary.json",
        f"aws iam create-user --user-name pocctl-{stack}",
        f"aws iam put-user-policy --user-name pocctl-{stack} --policy-name pocctl-deployer "
        "--policy-document file://deployer.json",
        f"aws iam create-access-key --user-name pocctl-{stack}",
        f"# the boundary is {policy_arn(ctx, boundary)}: the deployer can use it, not change it",
    ]


@click.command("deployer-policy")
@click.option(
    "--boundary",
    is_flag=True,
    help="Print the permissions boundary of the stack's roles instead (STACK-Roles-Boundary).",
)
@aws_options
def deployer_policy_command(boundary: bool, **kwargs: Any) -> None:
    """Print the IAM policy that lets a user or CI role run up, down, status, logs, outputs and
    test-order for this stack, and nothing else (policies/deployer.json, with this account,
    region and stack filled in). With --boundary, print the managed policy every role of the
    stack carries as its permissions boundary: the most those roles may ever do. The deployer
    may create and change the roles only with that boundary, and may never change or remove it,
    so it cannot make a role more powerful than the pipeline needs. An administrator creates
    the boundary first (the commands to run are printed on stderr; see "Against a real AWS
    account" in the README).

    \b
    Examples:
      pocctl deployer-policy --stack ci --boundary > boundary.json
      pocctl deployer-policy --stack ci > deployer.json
      aws iam create-policy --policy-name ci-Roles-Boundary \\
          --policy-document file://boundary.json
      aws iam create-user --user-name pocctl-ci
      aws iam put-user-policy --user-name pocctl-ci --policy-name pocctl-deployer \\
          --policy-document file://deployer.json
      aws iam create-access-key --user-name pocctl-ci
    """
    flags = collect(kwargs)
    term = terminal(flags, as_json=True)
    ctx = make_context(flags, term, deployed=False)
    print_json(boundary_policy(ctx) if boundary else deployer_policy(ctx))
    term.info("An administrator creates the boundary and the deployer with:")
    for command in administrator_commands(ctx):
        term.info(f"  {command}")
