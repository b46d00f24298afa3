"""`pocctl export`: the stack `up` builds, as a CloudFormation or SAM template with its code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pocctl.cli.document import Finished, json_flag
from pocctl.cli.options import (
    aws_options,
    collect,
    env_option,
    handlers_option,
    resolve_settings,
    stack_options,
    terminal,
)
from pocctl.ops.export import CLOUDFORMATION, FORMATS, export


@click.command("export")
@aws_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=CLOUDFORMATION,
    show_default=True,
    help="cloudformation: plain resources, deployed with `aws cloudformation package` and "
    "`deploy`; sam: the functions as AWS::Serverless::Function, deployed with `sam deploy`.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("export"),
    show_default=True,
    help="Directory to write template.json and the functions' zips into (made if missing).",
)
@stack_options
@click.option(
    "--alarm-email",
    help="Subscribe this address to the alarm topic instead of --email's. "
    "[env: POCCTL_ALARM_EMAIL; default: the --email address]",
)
@click.option(
    "--alarms/--no-alarms",
    default=None,
    help="The CloudWatch alarms `up` makes and their topic; --no-alarms leaves them out. "
    "[env: POCCTL_ALARMS; default: on]",
)
@handlers_option
@env_option
@json_flag()
def export_command(
    fmt: str,
    out: Path,
    email: str | None,
    stage: str | None,
    rate_limit: float | None,
    burst_limit: int | None,
    alarm_email: str | None,
    alarms: bool | None,
    handlers: str | None,
    env: dict[str, str] | None,
    as_json: bool,
    **kwargs: Any,
) -> Finished:
    """Write the stack `up` would build as a CloudFormation or SAM template, with the functions'
    code beside it, for a platform team or a CI pipeline to deploy with the standard tools.

    It is exactly what `up` builds for the same settings (flags, environment, pocctl.toml:
    not a deployed stack's record, as it asks nothing of AWS): the same names, tags and record,
    least-privilege policies and permissions boundary, the API with its validation, mapping
    templates and throttle, the mappings, log groups with their retention, the email
    subscription, the CloudWatch alarms with their topic (unless --no-alarms), and the order
    URL and names as Outputs. Account, region and partition are
    CloudFormation's pseudo parameters: no AWS credentials are needed, and the template deploys
    to any account and region. The code is packaged and checked as `up` does it (your
    --handlers directory with its requirements.txt, or pocctl's built-in handlers). `pocctl
    status` on the deployed stack (--stack with the same name) compares it with these settings.

    \b
    Examples:
      pocctl export --out export/
      cd export && aws cloudformation package --template-file template.json \\
          --s3-bucket MY-BUCKET --output-template-file packaged.json --use-json
      aws cloudformation deploy --template-file packaged.json --stack-name POC \\
          --capabilities CAPABILITY_NAMED_IAM
      pocctl export --format sam --out sam/ --handlers handlers --rate-limit 50
      cd sam && sam deploy --template-file template.json --stack-name POC --resolve-s3 \\
          --capabilities CAPABILITY_NAMED_IAM
      pocctl export --no-alarms --out export/     (without the CloudWatch alarms)
      pocctl export --json | jq -r .template
    """
    flags = collect(
        kwargs,
        email=email,
        stage=stage,
        rate_limit=rate_limit,
        burst_limit=burst_limit,
        handlers=handlers,
        environment=env,
        alarm_email=alarm_email,
        alarms=alarms,
    )
    term = terminal(flags, as_json=as_json)
    config = resolve_settings(flags).config()
    made = export(config, term, out, fmt)
    term.success(
        f"Wrote {made.template} ({len(made.resources)} resources, {fmt}) and the functions' code "
        f"({made.package.describe()}): " + ", ".join(p.name for p in made.code.values())
    )
    for note in made.package.notes:
        term.note(note)
    term.info(f"Deploy it from {made.directory}:")
    for command in made.deploy_commands(config.stack):
        term.info(f"  {command}")
    return Finished(made.as_json(config.stack))
