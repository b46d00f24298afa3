"""`pocctl down`: remove everything `up` made for a stack, and only that."""

from __future__ import annotations

import sys
from typing import Any

import click

from pocctl.cli.main import cli
from pocctl.cli.options import aws_options, collect, make_context
from pocctl.context import Context
from pocctl.engine import DEFAULT_WORKERS, Engine
from pocctl.errors import Interrupted, TeardownIncomplete
from pocctl.reporting import Outcome
from pocctl.stack import build_steps
from pocctl.ui import Terminal


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


@cli.command()
@aws_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--serial", is_flag=True, help="One resource at a time (for comparison and debugging)."
)
def down(yes: bool, serial: bool, **kwargs: Any) -> None:
    """Delete every resource of the stack, in reverse dependency order.

    Only resources tagged pocctl:stack=<stack> are touched. Safe to run again: what is already
    gone counts as done, and a failure on one resource doesn't stop the others.

    \b
    Examples:
      pocctl down
      pocctl down --stack dev --yes
    """
    term = Terminal()
    ctx = make_context(collect(kwargs), term)
    config = ctx.config
    if not yes:
        if not stdin_is_terminal():
            raise click.ClickException(
                f"Refusing to delete stack {config.stack} without confirmation: there is no "
                "terminal to ask on. Re-run with --yes to confirm."
            )
        click.confirm(
            f"Delete every resource of stack {config.stack} in {config.region} "
            f"(account {ctx.account_id})?",
            abort=True,
        )
    teardown(term, ctx, serial=serial)


def teardown(term: Terminal, ctx: Context, *, serial: bool = False) -> None:
    """Run `down` on a context and render it; raises TeardownIncomplete listing what is left."""
    config = ctx.config
    term.heading(f"Removing stack {config.stack} from {config.region}")
    started = ctx.clock()
    report = Engine(ctx, build_steps(config), workers=1 if serial else DEFAULT_WORKERS).down()
    if report.interrupted:
        removed = report.titles(Outcome.DELETED)
        still = report.titles(Outcome.INTERRUPTED, Outcome.NOT_RUN)
        raise Interrupted(
            "Interrupted: "
            + (f"removed {', '.join(removed)}; " if removed else "nothing was removed; ")
            + f"not yet removed: {', '.join(still)}.",
            "Run `pocctl down` again to finish: it only removes what is left.",
        )
    left = [f"{r.title}: {r.error}" for r in report.results if r.outcome is Outcome.FAILED]
    if left:
        raise TeardownIncomplete(left)
    deleted = sum(r.outcome is Outcome.DELETED for r in report.results)
    term.success(
        f"Stack {config.stack} is down ({ctx.clock() - started:.1f}s): {deleted} deleted, "
        "nothing of it is left."
    )
