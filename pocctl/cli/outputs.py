"""`pocctl outputs`: what scripts need from a deployed stack."""

from __future__ import annotations

from typing import Any

import click

from pocctl.cli.document import Finished, json_flag
from pocctl.cli.options import aws_options, collect, make_context, terminal
from pocctl.core.errors import PocctlError
from pocctl.pipeline.stack import read_outputs


@click.command()
@aws_options
@json_flag()
def outputs(as_json: bool, **kwargs: Any) -> Finished:
    """Print the stack's order URL and resource names, for scripts with --json.

    The names: the table, the queue URL, the topic ARN and the function names.

    \b
    Examples:
      pocctl outputs
      curl -X POST "$(pocctl outputs --json | jq -r .order_url)" \\
           -H 'Content-Type: application/json' -d '{"item": "latex gloves"}'
    """
    flags = collect(kwargs)
    term = terminal(flags, as_json=as_json)
    ctx = make_context(flags, term, read_only=True)
    values = read_outputs(ctx)
    if values["api_id"] is None:
        raise PocctlError(
            f"Stack {ctx.config.stack} is not deployed in {ctx.config.region} (no API found).",
            "Run `pocctl up` first, or check --stack and --region.",
        )
    if not as_json:
        term.table(
            [
                (key, ", ".join(value) if isinstance(value, list) else str(value))
                for key, value in values.items()
            ]
        )
    return Finished(values)
