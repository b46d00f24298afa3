"""`pocctl demo`: the whole lab in one command, no AWS account: emulator, up, test, down."""

from __future__ import annotations

import click

from pocctl.cli.document import raise_failure
from pocctl.cli.options import runtime
from pocctl.cli.render import prove, run_down, run_up
from pocctl.cli.serving import running, start_emulator, wait_for_stop
from pocctl.cli.ui import Terminal
from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.errors import PocctlError
from pocctl.local.aws.sns import follow_confirmation_links
from pocctl.ops.smoke import DEFAULT_ORDER

DEMO_EMAIL = "you@example.com"


@click.command()
@click.option(
    "--keep",
    is_flag=True,
    help="Skip the down: leave the stack up and the emulator running, until Ctrl-C.",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Also print every AWS call made with each error AWS answered (after botocore's own "
    "retries), and each call the "
    "emulator refused as AWS would, the functions' own included (a role not yet usable by "
    "Lambda, a function still Pending): without it, `up` says once what it waits for and how "
    "many times AWS refused so far.",
)
def demo(keep: bool, verbose: bool) -> None:
    """Run the whole pipeline offline: start an emulator, up, test-order, show the email, down.

    Needs no AWS account and touches none: everything happens in an emulator on 127.0.0.1.

    \b
    Example:
      pocctl demo
    """
    term = Terminal()
    # The refusals AWS's clock makes (a queue name for 60 s, a role not yet usable) are the
    # waits pocctl itself explains, with a count: the emulator's own line for each is noise,
    # unless asked for.
    emulator = start_emulator(term, 0, show_refusals=verbose)
    endpoint = emulator.endpoint_url  # type: ignore[attr-defined]
    term.info(f"Started an AWS emulator at {endpoint} (nothing here touches a real account).")
    config = Config(email=DEMO_EMAIL, endpoint_url=endpoint)
    session = runtime().session(
        aws_access_key_id="pocctl-local",
        aws_secret_access_key="pocctl-local",
        region_name=config.region,
    )

    def context() -> Context:
        made = Context(config, term, session=session)
        if verbose:
            term.follow(made)
        return made

    ctx = context()
    with running(emulator) as received:
        raise_failure(run_up(term, ctx))
        for address in follow_confirmation_links(emulator.outbox.messages):  # type: ignore[attr-defined]
            term.info(f"Confirmed the subscription of {address} (its mail's link, followed).")
        result = prove(term, ctx, dict(DEFAULT_ORDER), timeout=60)
        for message in emulator.outbox.messages:  # type: ignore[attr-defined]
            if not message.get("confirm_url"):
                term.mail(message)
        if keep:
            term.info(
                f"Kept running: export AWS_ENDPOINT_URL={endpoint} in another terminal to use "
                "it; Ctrl-C here stops it."
            )
            wait_for_stop(term, received)
            return
        raise_failure(run_down(term, context()))
        failed = result.failed_hop
        if failed is not None:
            raise PocctlError(f"The demo order did not get past '{failed.name}': {failed.detail}")
        term.success(
            "Demo complete: an order went API -> SQS -> Lambda-1 -> DynamoDB -> Streams "
            "-> Lambda-2 -> SNS -> email, and the stack is gone again."
        )
