"""`pocctl outputs`: what scripts need from a deployed stack."""

from __future__ import annotations

from typing import Any

from pocctl.cli.main import cli
from pocctl.cli.options import Finished, aws_options, collect, json_flag, make_context, terminal
from pocctl.errors import PocctlError
from pocctl.stack import read_outputs


@cli.command()
@aws_options
@json_flag()
def outputs(as_json: bool, **kwargs: Any) -> Finished:
    """Print the stack's order endpoint URL and resource names (the table, the queue URL, the
    topic ARN and the function names), for scripts with --json.

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
