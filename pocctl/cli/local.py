"""`pocctl local`: the AWS emulator, and `pocctl local mail`: what it would have emailed."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from typing import Any

import click

from pocctl.cli.document import Finished, json_flag
from pocctl.cli.serving import running, start_emulator, wait_for_stop
from pocctl.cli.ui import Terminal
from pocctl.core.errors import ConfigError, PocctlError
from pocctl.settings.resolve import resolve

DEFAULT_PORT = 4566


@click.group(invoke_without_command=True)
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
    metavar="SECONDS",
    default=0.0,
    show_default=True,
    help="Seconds added to every AWS call, to feel (or benchmark) a real region's round trip.",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    metavar="SHARE",
    default=0.0,
    help="Share of function invocations made to fail before the handler runs (fault injection).",
)
@click.option(
    "--timeout-rate",
    type=click.FloatRange(0, 1),
    metavar="SHARE",
    default=0.0,
    help="Share of function invocations made to time out before the handler runs.",
)
@click.option(
    "--aws-timing",
    type=click.Choice(["on", "off", "random"]),
    default="on",
    show_default=True,
    help="Act out AWS's asynchrony and limits (IAM propagation, Pending functions, CREATING "
    "tables, mappings that take a while, API Gateway conflicts and quotas) at one typical "
    "duration each (on), drawn from the range AWS documents or users report (random), or not "
    "at all (off).",
)
@click.option(
    "--seed",
    type=click.IntRange(0),
    help="With --aws-timing random: the seed of the draws, to replay a run. [default: a new "
    "one, printed at start]",
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
    click_ctx: click.Context,
    port: int,
    latency: float,
    fail_rate: float,
    timeout_rate: float,
    aws_timing: str,
    seed: int | None,
    time_scale: float,
) -> None:
    """Run an AWS emulator on 127.0.0.1 where the pipeline really runs (Ctrl-C stops it).

    Built on moto's server. Deployed functions run their uploaded code, mappings poll their
    queue and stream, the API answers at a local URL, and email lands in an outbox. It behaves
    like AWS where AWS is slow or strict: a new role takes seconds to reach Lambda, functions
    are Pending, tables CREATING, mappings Creating, overlapping API changes conflict, and an
    email subscription waits for its confirmation link (`pocctl local mail` shows it). It
    prints each call it refuses as AWS would (the commands themselves say only what they wait
    for, with how many times AWS refused).

    --latency adds seconds to every AWS call; the rates make a share of function invocations
    fail or time out, to watch retries and dead-letter queues work. --aws-timing random draws
    each of AWS's waits from its range (see "AWS's clock" in the README) and prints its seed:
    --seed N replays a run. A port in use is an error that says so (--port 0 takes any free
    one and prints its URL). Ctrl-C stops it (exit 130); SIGTERM and SIGHUP (a process manager,
    a closed terminal, the end of a CI job) stop it the same way, exiting 0; either way its
    worker processes and temporary code directory go with it.

    \b
    Examples:
      pocctl local                 then, in another terminal:
      export AWS_ENDPOINT_URL=http://127.0.0.1:4566
      pocctl up && pocctl test-order && pocctl local mail && pocctl down --yes
      pocctl local --time-scale 0.1     # AWS's delays, ten times shorter
      pocctl local --aws-timing off     # every change at once, as plain moto
      pocctl local --aws-timing random --seed 7   # AWS's variability, replayable
    """
    if click_ctx.invoked_subcommand is not None:
        return
    from pocctl.local.aws.timing import Timing

    if seed is not None and aws_timing != "random":
        raise click.UsageError("--seed needs --aws-timing random (it seeds the random waits).")
    if aws_timing == "random" and seed is None:
        seed = secrets.randbelow(1_000_000)
    term = Terminal()
    timing = Timing(enabled=aws_timing != "off", scale=time_scale, seed=seed)
    emulator = start_emulator(term, port, latency, fail_rate, timeout_rate, timing)
    url = emulator.endpoint_url  # type: ignore[attr-defined]

    def announce() -> None:
        term.success(f"pocctl local is listening on {url}")
        term.info(timing.describe() + ".")
        term.info("In another terminal:")
        term.info(f"  export AWS_ENDPOINT_URL={url}")
        term.info("  pocctl up && pocctl test-order")
        term.info("Stop with Ctrl-C (everything it holds is in memory and goes with it).")

    with running(emulator) as received:
        wait_for_stop(term, received, announce)


@local.command()
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="URL of the running `pocctl local`. [env: AWS_ENDPOINT_URL; else pocctl.toml's "
    "endpoint_url, else http://127.0.0.1:4566]",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help=f"Port of the running `pocctl local` on 127.0.0.1 (short for --endpoint-url "
    f"http://127.0.0.1:PORT). [default: {DEFAULT_PORT}]",
)
@json_flag('Print {"ok": true, "endpoint": ..., "messages": [...]} on stdout, for scripts.')
def mail(endpoint_url: str | None, port: int | None, as_json: bool) -> Finished:
    """Show the email SNS sent through the running emulator (nothing leaves this machine).

    It reads the emulator the other commands use: --endpoint-url, else AWS_ENDPOINT_URL, else
    pocctl.toml's endpoint_url, else http://127.0.0.1:4566, named at the top; it says when
    nothing answers there, or something that is not `pocctl local`.

    \b
    Examples:
      pocctl local mail
      pocctl local mail --port 4599 --json | jq '.messages[].subject'
    """
    if endpoint_url is not None and port is not None:
        raise click.UsageError("Give --endpoint-url or --port, not both.")
    if port is not None:
        endpoint_url = f"http://127.0.0.1:{port}"
    resolved = resolve({"endpoint_url": endpoint_url}, use_file=True)
    url = resolved.values["endpoint_url"] or f"http://127.0.0.1:{DEFAULT_PORT}"
    source = "flag --port" if port is not None else resolved.sources["endpoint_url"]
    where = url if source == "default" else f"{url} (from {source})"
    messages = read_outbox(url, where)
    document = {"endpoint": url, "messages": messages}
    if as_json:
        return Finished(document)
    term = Terminal()
    term.info(f"Mail sent through pocctl local at {where}:")
    if not messages:
        term.info("No email yet. Subscribe with `pocctl up --email you@example.com`.")
    for message in messages:
        term.mail(message)
    return Finished(document)


def read_outbox(url: str, where: str) -> list[dict[str, Any]]:
    """The emulator's outbox; an error that says whether nothing answers at the URL, or
    something that is not `pocctl local` (LocalStack, moto's server, AWS itself)."""
    from pocctl.local.emulator import MAIL_PATH

    not_ours = PocctlError(
        f"{where} answers, but it is not pocctl local: it has no outbox at {MAIL_PATH}.",
        "`pocctl local mail` shows the mail of pocctl's own emulator only; point it at one "
        "with --endpoint-url (or AWS_ENDPOINT_URL), or start one with `pocctl local`.",
    )
    try:
        with urllib.request.urlopen(url.rstrip("/") + MAIL_PATH, timeout=5) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise not_ours from exc
    except ValueError as exc:  # not a URL urllib can open
        raise ConfigError(f"Invalid endpoint URL {url!r}: {exc}.") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        why = getattr(reason, "strerror", None) or str(reason)
        raise PocctlError(
            f"No pocctl local emulator answers at {where}: {why}.",
            "Start one with `pocctl local`, or point at the running one with --endpoint-url "
            "(or AWS_ENDPOINT_URL, as printed by `pocctl local`).",
        ) from exc
    try:
        messages = json.loads(body)
    except ValueError:
        raise not_ours from None
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise not_ours
    return messages
