"""What a command returns, and its `--json` flag. Imports only click: the command group uses it
before any command's module is loaded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
WANTS_JSON = "pocctl.json"
COMMAND = "pocctl.command"  # the command's name in its JSON document: "up", "local mail"


class Finished(NamedTuple):  # not a dataclass: `pocctl --help` would import dataclasses
    """What a command returns: what it did, as `--json` prints it, and the error it ends with,
    if any. The command group prints the document with "ok" (and "error"), then raises the
    failure: a script always gets one document, whatever happened."""

    document: dict[str, Any]
    failure: Exception | None = None


def raise_failure(finished: Finished) -> None:
    """For a command made of others (`demo`): stop where one of them failed."""
    if finished.failure is not None:
        raise finished.failure


def json_flag(help: str = "Print one JSON document on stdout, for scripts.") -> Callable[[F], F]:
    """The `--json` flag: the command group then prints the command's document."""

    def wanted(click_ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        if value:
            click_ctx.meta[WANTS_JSON] = True
            click_ctx.meta[COMMAND] = " ".join(click_ctx.command_path.split()[1:])
        return value

    option: Callable[[F], F] = click.option(
        "--json", "as_json", is_flag=True, callback=wanted, help=help
    )
    return option
