"""`pocctl down`: remove everything `up` made for a stack, and only that."""

from __future__ import annotations

from typing import Any

import click

from pocctl.cli.document import Finished, json_flag
from pocctl.cli.options import aws_options, collect, make_context, runtime, terminal
from pocctl.cli.render import run_down
from pocctl.core.errors import Interrupted, PocctlError
from pocctl.ops.deploy import held_by_cloudformation


@click.command()
@aws_options
@click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed without a terminal)."
)
@click.option(
    "--serial", is_flag=True, help="One resource at a time (for comparison and debugging)."
)
@json_flag()
def down(yes: bool, serial: bool, as_json: bool, **kwargs: Any) -> Finished:
    """Delete every resource of the stack, then sweep the region to confirm nothing is left.

    Only resources tagged pocctl:stack=<stack> are touched, at once where AWS allows it (a
    function only after its mapping's deletion has started). Safe to run again: what is already
    gone counts as done, and a failure on one resource doesn't stop the others. The sweep asks
    the tagging API, IAM, API Gateway, the table and the mappings for anything of the stack
    still there, and says that nothing of it is left or lists what is with the command that
    removes it. It asks first; without a terminal and without --yes it refuses.

    \b
    Examples:
      pocctl down
      pocctl down --stack dev --yes
      pocctl down --yes --json | jq .left
    """
    flags = collect(kwargs)
    term = terminal(flags, as_json=as_json)
    ctx = make_context(flags, term, deployed=False)
    config = ctx.config
    # Held by CloudFormation: `down` refuses without asking (run_down says why).
    if not yes and held_by_cloudformation(ctx, "down") is None:
        if not runtime().stdin_is_terminal():
            raise click.ClickException(
                f"Refusing to delete stack {config.stack} without confirmation: there is no "
                "terminal to ask on. Re-run with --yes to confirm."
            )
        confirmed(
            f"Delete every resource of stack {config.stack} in {config.region} "
            f"(account {ctx.account_id})?"
        )
    return run_down(term, ctx, serial=serial)


def confirmed(question: str) -> None:
    """Ask on the terminal; anything but yes deletes nothing (exit 1), and Ctrl-C at the prompt
    is an interruption (exit 130), which click.confirm would make one "Aborted!" (exit 1)."""
    click.echo(f"{question} [y/N]: ", nl=False, err=True)
    try:
        answer = input()
    except EOFError:
        answer = ""
    except KeyboardInterrupt:
        click.echo(err=True)
        raise Interrupted("Interrupted at the prompt: nothing was deleted.") from None
    if answer.strip().lower() not in ("y", "yes"):
        raise PocctlError("Not confirmed: nothing was deleted.")
