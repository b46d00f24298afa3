"""`pocctl config`: the effective settings and their sources; `pocctl init`: a pocctl.toml."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import click

from pocctl.cli.document import Finished, json_flag
from pocctl.cli.options import aws_options, collect, resolve_settings, terminal
from pocctl.cli.ui import Terminal
from pocctl.code.bundle import bundled_dir
from pocctl.code.dependencies import REQUIREMENTS
from pocctl.code.packaging import source_files
from pocctl.core.config import secret_looking
from pocctl.core.errors import ConfigError, PocctlError
from pocctl.settings.resolve import (
    CONFIG_FILE,
    RECORDED,
    read_file,
    shown,
    template,
    toml_value,
)


@click.command("config")
@aws_options
@json_flag()
def show_config(as_json: bool, **kwargs: Any) -> Finished:
    """Show every setting's effective value and where it came from.

    Precedence: flags, then environment variables, then pocctl.toml in this directory, then
    what the stack was last deployed with, then defaults (the region falls back to your AWS
    profile's before us-east-1). Needs no AWS access, so a setting at its default is shown at
    its default, marked `*`: commands that reach AWS use the deployed stack's value in its place.

    \b
    Examples:
      pocctl config
      AWS_REGION=eu-west-1 pocctl config --json | jq .settings.region
    """
    flags = collect(kwargs)
    resolved = resolve_settings(flags)
    as_deployed = [
        key for key in RECORDED if resolved.sources[key] == "default"
    ]  # what commands that reach AWS take from the stack's record instead
    document = {
        "file": str(resolved.file) if resolved.file else None,
        "settings": {
            key: {
                "value": hidden(value) if key == "environment" else value,
                "source": resolved.sources[key],
                **({"deployed_value_wins": True} if key in as_deployed else {}),
            }
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
            (
                key,
                "-" if value is None else shown(key, value) if key == "environment" else str(value),
                resolved.sources[key] + (" *" if key in as_deployed else ""),
            )
            for key, value in resolved.values.items()
        ]
    )
    if as_deployed:
        term.info(
            "* at its default here; commands that reach AWS use the value the stack was last "
            "deployed with, when it was deployed by this version of pocctl."
        )
    return Finished(document)


def hidden(variables: dict[str, str]) -> dict[str, str]:
    """Secret-looking variables' values as the text view shows them (`--json` ends up in CI
    logs too)."""
    return {k: "***" if secret_looking(k) else v for k, v in variables.items()}


DEFAULT_HANDLERS = "handlers"
# In pocctl's own repository ./handlers is pocctl's source (the built-in handlers).
BESIDE_OWN_SOURCE = "my-handlers"


@click.command()
@aws_options
@click.option(
    "--handlers",
    "handlers_dir",
    is_flag=False,
    flag_value="",
    metavar="[DIR]",
    help="Also copy pocctl's Lambda code into DIR (default: ./handlers, or ./my-handlers in "
    "pocctl's own repository) and deploy from there.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite an existing pocctl.toml, and with --handlers, pocctl's handler files in DIR.",
)
def init(handlers_dir: str | None, force: bool, **kwargs: Any) -> None:
    """Write a commented pocctl.toml in this directory; with --handlers, also your own copy of
    the Lambda code.

    pocctl.toml sets the stack, region and stage (from your flags, environment or AWS profile)
    and lists every other setting at its default, commented out, with what it does.

    With --handlers, pocctl copies its two handlers (order_writer.py for Lambda-1,
    order_notifier.py for Lambda-2) into ./handlers and sets `handlers = "handlers"`: from then
    on `pocctl up` deploys that directory, with what its requirements.txt lists. In pocctl's own
    repository, whose ./handlers is pocctl's source, the default is ./my-handlers. An existing
    pocctl.toml is kept and gets the `handlers` line; existing files are overwritten only with
    --force (then the handler files and pocctl.toml; requirements.txt and your other files stay).

    \b
    Examples:
      pocctl init
      pocctl init --handlers
      pocctl init --handlers src/functions --region eu-west-1
    """
    flags = collect(kwargs)
    path = Path.cwd() / CONFIG_FILE
    term = terminal(flags)
    if handlers_dir is not None:
        handlers_dir = handlers_directory(term, handlers_dir)
        copy_handlers(term, Path(handlers_dir), force=force)
        if path.exists() and not force:
            point_at_handlers(path, handlers_dir)
            term.success(f"Set handlers = {toml_value(handlers_dir)} in {path}.")
            term.info(f"Change the code in {handlers_dir}/, then run `pocctl up`.")
            return
    elif path.exists() and not force:
        raise PocctlError(
            f"{path} already exists; nothing was written.",
            "Edit it, or run `pocctl init --force` to replace it.",
        )
    resolved = resolve_settings(flags, use_file=False)
    path.write_text(
        template(resolved.values["region"], resolved.values["stack"], handlers=handlers_dir)
    )
    term.success(f"Wrote {path}.")
    if handlers_dir is not None:
        term.info(f"Change the code in {handlers_dir}/, then run `pocctl up`.")
    term.info("See the effective settings with `pocctl config`.")


def is_pocctl_source(directory: Path) -> bool:
    """Whether `directory` is the handlers/ of pocctl's own source: what pocctl deploys as its
    built-in code (a checkout it runs from, or the repository it was installed from)."""
    resolved = directory.resolve()
    if resolved == bundled_dir("handlers").resolve():
        return True
    try:
        project = tomllib.loads((resolved.parent / "pyproject.toml").read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return resolved.name == "handlers" and project.get("project", {}).get("name") == "pocctl"


def handlers_directory(term: Terminal, given: str) -> str:
    """Where `init --handlers [DIR]` copies to: never into pocctl's own source."""
    if not given:
        if not is_pocctl_source(Path(DEFAULT_HANDLERS)):
            return DEFAULT_HANDLERS
        term.info(
            f"./{DEFAULT_HANDLERS} is pocctl's own source (this is its repository): "
            f"your copy goes into ./{BESIDE_OWN_SOURCE}."
        )
        return BESIDE_OWN_SOURCE
    if is_pocctl_source(Path(given)):
        raise ConfigError(
            f"{given.rstrip('/')}/ is pocctl's own source (its built-in handlers), not a place "
            "for your copy; nothing was written. Give another directory: "
            f"`pocctl init --handlers {BESIDE_OWN_SOURCE}`"
        )
    return given


def copy_handlers(term: Terminal, target: Path, *, force: bool = False) -> None:
    """pocctl's handlers into `target`, leaving any file already there as it is; `force`
    replaces pocctl's handler files (and only those)."""
    if target.exists() and not target.is_dir():
        raise PocctlError(f"{target} exists and is not a directory; nothing was written.")
    source = bundled_dir("handlers")
    present = [p.name for p in source_files(source) if (target / p.name).exists()]
    if present and not force:
        raise PocctlError(
            f"{target}/ already has {', '.join(present)}; nothing was copied.",
            f"Your code stays as it is. To deploy it, set handlers = {toml_value(str(target))} "
            "in pocctl.toml; to replace those files with pocctl's, add --force.",
        )
    target.mkdir(parents=True, exist_ok=True)
    for file in source_files(source):
        shutil.copyfile(file, target / file.relative_to(source))
    if not (target / REQUIREMENTS).exists():
        (target / REQUIREMENTS).write_text(REQUIREMENTS_TEMPLATE)
    if present:
        term.success(
            f"Replaced {', '.join(present)} in {target}/ with pocctl's handlers "
            "(its other files are as they were)."
        )
    else:
        term.success(f"Copied pocctl's handlers into {target}/.")


REQUIREMENTS_TEMPLATE = """\
# Packages your handlers import, one per line (pip's format). `pocctl up` installs them into
# the functions' zip as binary wheels for Lambda's Linux. boto3 is already in Lambda's runtime.
"""


def point_at_handlers(path: Path, handlers_dir: str) -> None:
    """Set `handlers` in an existing pocctl.toml, keeping everything else as written."""
    read_file(path)  # a broken file is reported, not edited
    lines = path.read_text().splitlines()
    line = f"handlers = {toml_value(handlers_dir)}"
    for index, text in enumerate(lines):
        if re.match(r"\s*#?\s*handlers\s*=", text):
            lines[index] = line
            break
    else:
        lines += ["", "# directory of your own Lambda code", line]
    path.write_text("\n".join(lines) + "\n")
