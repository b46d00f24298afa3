"""`pocctl down`: remove everything `up` made for a stack, and only that."""

from __future__ import annotations

from typing import Any

import click

from pocctl.cli.main import cli
from pocctl.cli.options import (
    Finished,
    aws_options,
    collect,
    json_flag,
    make_context,
    runtime,
    terminal,
)
from pocctl.cli.up import summary
from pocctl.config import TAG_KEY
from pocctl.context import Context
from pocctl.engine import DEFAULT_WORKERS, Engine
from pocctl.errors import Interrupted, PocctlError, TeardownIncomplete
from pocctl.reporting import Outcome
from pocctl.stack import build_steps
from pocctl.sweep import sweep_after_down
from pocctl.ui import Terminal


@cli.command()
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
    if not yes:
        if not runtime().stdin_is_terminal():
            raise click.ClickException(
                f"Refusing to delete stack {config.stack} without confirmation: there is no "
                "terminal to ask on. Re-run with --yes to confirm."
            )
        confirmed(
            f"Delete every resource of stack {config.stack} in {config.region} "
            f"(account {ctx.account_id})?"
        )
    return teardown(term, ctx, serial=serial)


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


def teardown(term: Terminal, ctx: Context, *, serial: bool = False) -> Finished:
    """Run `down` and the sweep on a context and render them. Its failure names what is left."""
    config = ctx.config
    term.heading(f"Removing stack {config.stack} from {config.region}")
    started = ctx.clock()
    steps = build_steps(config)
    report = Engine(ctx, steps, workers=1 if serial else DEFAULT_WORKERS).down()
    document = {**summary(ctx, report, ctx.clock() - started), "notes": term.notes}
    if report.interrupted:
        removed = report.titles(Outcome.DELETED)
        still = report.titles(Outcome.INTERRUPTED, Outcome.NOT_RUN)
        return Finished(
            document,
            Interrupted(
                "Interrupted: "
                + (f"removed {', '.join(removed)}; " if removed else "nothing was removed; ")
                + f"not yet removed: {', '.join(still)}.",
                "Run `pocctl down` again to finish: it only removes what is left.",
            ),
        )
    left = [f"{r.title}: {r.error}" for r in report.results if r.outcome is Outcome.FAILED]
    if left:
        return Finished(document, TeardownIncomplete(left))
    deleted = frozenset(r.title for r in report.results if r.outcome is Outcome.DELETED)
    swept = sweep_after_down(ctx, steps, deleted)
    for name in swept.inboxes_removed:
        term.note(f"removed {name}, a test-order queue left by an interrupted test-order")
    document["left"] = [vars(item) for item in swept.left]
    document["being_deleted"] = [vars(item) for item in swept.being_deleted]
    document["sweep"] = {"tagged_resources_checked": swept.checked}
    if swept.incomplete:
        document["sweep"]["incomplete"] = swept.incomplete
    if swept.left:
        return Finished(
            document,
            PocctlError(
                f"The sweep after down found {len(swept.left)} resource(s) tagged "
                f"{TAG_KEY}={config.stack} still in {config.region}:\n"
                + "\n".join(f"  - {item.kind} {item.name}" for item in swept.left),
                "pocctl's steps don't manage them, so `pocctl down` leaves them; to stop paying "
                "for them, remove each with:\n"
                + "\n".join(f"  {item.remove}" for item in swept.left),
            ),
        )
    if swept.being_deleted:
        term.info(
            "Still being deleted by AWS (it finishes on its own and bills nothing meanwhile): "
            + ", ".join(f"{item.kind} {item.name}" for item in swept.being_deleted)
        )
    count = sum(r.outcome is Outcome.DELETED for r in report.results)
    term.success(f"Stack {config.stack} is down ({ctx.clock() - started:.1f}s): {count} deleted.")
    if swept.incomplete:
        term.warning(f"Not confirmed: {swept.incomplete}.")
    else:
        term.info(
            f"Swept {config.region}: nothing tagged {TAG_KEY}={config.stack} is left "
            "(tagging API, IAM roles, API Gateway, the table and the mappings checked), "
            "so nothing of it can bill you."
        )
    return Finished(document)
