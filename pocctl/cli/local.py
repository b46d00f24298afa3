"""`pocctl local`: the AWS emulator, and `pocctl local mail`: what it would have emailed."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import click

from pocctl.cli.main import cli
from pocctl.errors import PocctlError
from pocctl.ui import Terminal, print_json

DEFAULT_PORT = 4566


def start_emulator(
    term: Terminal,
    port: int,
    latency: float = 0.0,
    fail_rate: float = 0.0,
    timeout_rate: float = 0.0,
    timing: object = None,
) -> object:
    from pocctl.local.aws.timing import Timing
    from pocctl.local.emulator import Emulator
    from pocctl.local.functions import Faults
    from pocctl.local.patches import EmulatorUnavailable

    emulator = Emulator(
        port=port,
        log=lambda message: term.info(f"[local] {message}"),
        latency=latency,
        faults=Faults(fail_rate=fail_rate, timeout_rate=timeout_rate),
        timing=timing if isinstance(timing, Timing) else Timing(),
    )
    try:
        emulator.start()
    except EmulatorUnavailable as exc:
        raise PocctlError(str(exc)) from exc
    except OSError as exc:
        raise PocctlError(
            f"Cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}.",
            "Is another emulator running there? Pick another port with --port.",
        ) from exc
    return emulator


@cli.group(invoke_without_command=True)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on, on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--latency",
    type=click.FloatRange(0, 5),
    default=0.0,
    show_default=True,
    help="Seconds added to every AWS call, to feel (or benchmark) a real region's round trip.",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of function invocations made to fail before the handler runs (fault injection).",
)
@click.option(
    "--timeout-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of function invocations made to time out before the handler runs.",
)
@click.option(
    "--aws-timing",
    type=click.Choice(["on", "off"]),
    default="on",
    show_default=True,
    help="Act out AWS's asynchrony and limits (IAM propagation, Pending functions, CREATING "
    "tables, mappings that take a while, API Gateway conflicts and quotas), or not.",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(0.001, 10),
    default=1.0,
    show_default=True,
    help="Multiply AWS's durations: 1 is real time; 0.1 ten times faster (for tests).",
)
@click.pass_context
def local(
    ctx: click.Context,
    port: int,
    latency: float,
    fail_rate: float,
    timeout_rate: float,
    aws_timing: str,
    time_scale: float,
) -> None:
    """Run an AWS emulator on 127.0.0.1 where the pipeline really runs (Ctrl-C stops it).

    Built on moto's server. Deployed functions run their uploaded code, mappings poll their
    queue and stream, the API answers at a local URL, and email lands in an outbox. It behaves
    like AWS where AWS is slow or strict: a new role takes seconds to reach Lambda, functions
    are Pending, tables CREATING, mappings Creating, overlapping API changes conflict, and an
    email subscription waits for its confirmation link (`pocctl local mail` shows it).

    \b
    Examples:
      pocctl local                 then, in another terminal:
      export AWS_ENDPOINT_URL=http://127.0.0.1:4566
      pocctl up && pocctl test-order && pocctl local mail && pocctl down --yes
      pocctl local --time-scale 0.1     # AWS's delays, ten times shorter
      pocctl local --aws-timing off     # every change at once, as plain moto
    """
    if ctx.invoked_subcommand is not None:
        return
    from pocctl.local.aws.timing import Timing

    term = Terminal()
    timing = Timing(enabled=aws_timing == "on", scale=time_scale)
    emulator = start_emulator(term, port, latency, fail_rate, timeout_rate, timing)
    url = emulator.endpoint_url  # type: ignore[attr-defined]
    term.success(f"pocctl local is listening on {url}")
    term.info(timing.describe() + ".")
    term.info("In another terminal:")
    term.info(f"  export AWS_ENDPOINT_URL={url}")
    term.info("  pocctl up && pocctl test-order")
    term.info("Stop with Ctrl-C (everything it holds is in memory and goes with it).")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        term.info("Stopping pocctl local.")
    finally:
        emulator.stop()  # type: ignore[attr-defined]


@local.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port of the running `pocctl local`.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the messages as JSON.")
def mail(port: int, as_json: bool) -> None:
    """Show the email SNS sent through the running emulator (nothing leaves this machine).

    \b
    Examples:
      pocctl local mail
      pocctl local mail --port 4599 --json | jq '.[].subject'
    """
    from pocctl.local.emulator import MAIL_PATH

    url = f"http://127.0.0.1:{port}{MAIL_PATH}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            messages = json.loads(response.read())
    except (urllib.error.URLError, OSError) as exc:
        raise PocctlError(
            f"No pocctl local emulator answers on port {port}.",
            "Start one with `pocctl local` (or pass --port).",
        ) from exc
    if as_json:
        print_json(messages)
        return
    term = Terminal()
    if not messages:
        term.info("No email yet. Subscribe with `pocctl up --email you@example.com`.")
    for message in messages:
        term.mail(message)
