"""`pocctl config`: the effective settings and their sources; `pocctl init`: a pocctl.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pocctl.cli.main import cli
from pocctl.cli.options import (
    Finished,
    aws_options,
    collect,
    json_flag,
    resolve_settings,
    terminal,
)
from pocctl.errors import PocctlError
from pocctl.settings import CONFIG_FILE, template


@cli.command("config")
@aws_options
@json_flag()
def show_config(as_json: bool, **kwargs: Any) -> Finished:
    """Show every setting's effective value and where it came from.

    Precedence: flags, then environment variables, then pocctl.toml in this directory, then
    defaults (the region falls back to your AWS profile's before us-east-1). Needs no AWS access.

    \b
    Examples:
      pocctl config
      AWS_REGION=eu-west-1 pocctl config --json | jq .settings.region
    """
    flags = collect(kwargs)
    resolved = resolve_settings(flags)
    document = {
        "file": str(resolved.file) if resolved.file else None,
        "settings": {
            key: {"value": value, "source": resolved.sources[key]}
            for key, value in resolved.values.items()
        },
    }
    if as_json:
        return Finished(document)  # the command group prints it
    term = terminal(flags)
    where = resolved.file or Path.cwd() / CONFIG_FILE
    term.info(f"{CONFIG_FILE}: {where}" + ("" if resolved.file else " (not present)"))
    term.table(
        [("setting", "value", "from")]
        + [
            (key, "-" if value is None else str(value), resolved.sources[key])
            for key, value in resolved.values.items()
        ]
    )
    return Finished(document)


@cli.command()
@aws_options
@click.option("--force", is_flag=True, help="Overwrite an existing pocctl.toml.")
def init(force: bool, **kwargs: Any) -> None:
    """Write a commented pocctl.toml in this directory.

    It sets the stack, region and stage (from your flags, environment or AWS profile) and lists
    every other setting at its default, commented out, with what it does.

    \b
    Examples:
      pocctl init
      pocctl init --region eu-west-1 --force
    """
    flags = collect(kwargs)
    path = Path.cwd() / CONFIG_FILE
    if path.exists() and not force:
        raise PocctlError(
            f"{path} already exists; nothing was written.",
            "Edit it, or run `pocctl init --force` to replace it.",
        )
    resolved = resolve_settings(flags, use_file=False)
    path.write_text(template(resolved.values["region"], resolved.values["stack"]))
    term = terminal(flags)
    term.success(f"Wrote {path}.")
    term.info("See the effective settings with `pocctl config`.")
