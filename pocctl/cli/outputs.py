"""`pocctl outputs`: what scripts need from a deployed stack."""

from __future__ import annotations

from typing import Any

import click

from pocctl.cli.main import cli
from pocctl.cli.options import aws_options, collect, make_context
from pocctl.errors import PocctlError
from pocctl.reporting import RecordingReporter
from pocctl.stack import read_outputs
from pocctl.ui import Terminal, print_json


@cli.command()
@aws_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document, for scripts.")
def outputs(as_json: bool, **kwargs: Any) -> None:
    """Print the stack's order endpoint URL and resource names.

    \b
    Examples:
      pocctl outputs
      curl -X POST "$(pocctl outputs --json | jq -r .order_url)" \\
           -H 'Content-Type: application/json' -d '{"item": "latex gloves"}'
    """
    ctx = make_context(collect(kwargs), RecordingReporter())
    values = read_outputs(ctx)
    if values["api_id"] is None:
        raise PocctlError(
            f"Stack {ctx.config.stack} is not deployed in {ctx.config.region} (no API found).",
            "Run `pocctl up` first, or check --stack and --region.",
        )
    if as_json:
        print_json(values)
        return
    Terminal().table(
        [
            (key, ", ".join(value) if isinstance(value, list) else str(value))
            for key, value in values.items()
        ]
    )
