"""Options every command shares, and building the settings, terminal and context from them."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlparse

import boto3
import click
from botocore.exceptions import ProfileNotFound

from pocctl.cli.ui import Terminal
from pocctl.core.context import Context
from pocctl.core.errors import ConfigError, CredentialsError
from pocctl.core.reporting import Reporter
from pocctl.core.session import new_session
from pocctl.settings.record import Record, read_record
from pocctl.settings.resolve import Resolved, pending, resolve, with_record

F = TypeVar("F", bound=Callable[..., Any])
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass
class Flags:
    """What the user typed: settings given as flags (None when not given), and output choices."""

    settings: dict[str, Any] = field(default_factory=dict)
    quiet: bool = False
    verbose: bool = False


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


@dataclass(frozen=True)
class Runtime:
    """What commands take from the world outside: AWS sessions (made from boto3.Session's
    keyword arguments), time, and whether a person is at the keyboard. Tests pass their own:
    `CliRunner().invoke(cli, args, obj=Runtime(...))`."""

    session: Callable[..., boto3.Session] = new_session
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], float] = time.time  # the wall clock: seconds since the epoch
    stdin_is_terminal: Callable[[], bool] = _stdin_is_terminal


def runtime() -> Runtime:
    """The runtime the command line was started with (the real one unless a test gave one)."""
    current = click.get_current_context(silent=True)
    given = current.find_root().obj if current is not None else None
    return given if isinstance(given, Runtime) else Runtime()


def aws_options(command: F) -> F:
    """--stack, --region, --profile, --endpoint-url, --quiet and --verbose, on every command."""
    decorators = [
        click.option(
            "--stack",
            help="Name of this copy of the pipeline; resource names derive from it. "
            "[env: POCCTL_STACK; default: POC]",
        ),
        click.option(
            "--region",
            help="AWS region. [env: AWS_REGION; else pocctl.toml, the profile's, us-east-1]",
        ),
        click.option("--profile", help="AWS named profile. [env: AWS_PROFILE]"),
        click.option(
            "--endpoint-url",
            help="Send every AWS call here, e.g. http://127.0.0.1:4566 for `pocctl local`. "
            "[env: AWS_ENDPOINT_URL]",
        ),
        click.option("--quiet", "-q", is_flag=True, help="Print only errors and the result."),
        click.option(
            "--verbose",
            "-v",
            is_flag=True,
            help="Also print every AWS call made, and each error AWS answered once botocore's "
            "own retries (throttling) were spent: the refusals `up` waits out included.",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def stack_options(command: F) -> F:
    """--email, --stage, --rate-limit and --burst-limit: what the stack is built with, beside
    the code (`up`, and `export`, which writes what `up` would build)."""
    decorators = [
        click.option(
            "--email",
            help="Send order notifications to this address (SNS asks it to confirm). "
            "[env: POCCTL_EMAIL]",
        ),
        click.option("--stage", help="API Gateway stage name. [env: POCCTL_STAGE; default: prod]"),
        click.option(
            "--rate-limit",
            type=click.FloatRange(min=0.1, max=10_000),
            help="Requests per second the public API accepts (stage throttling): your cost "
            "ceiling. [env: POCCTL_RATE_LIMIT; default: 10]",
        ),
        click.option(
            "--burst-limit",
            type=click.IntRange(min=1, max=5_000),
            help="Requests the API accepts at once above the rate. "
            "[env: POCCTL_BURST_LIMIT; default: 20]",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def handlers_option(command: F) -> F:
    """--handlers DIR: deploy the code in DIR instead of pocctl's built-in handlers."""
    option: Callable[[F], F] = click.option(
        "--handlers",
        metavar="DIR",
        help="Deploy your own Lambda code from DIR (make it with `pocctl init --handlers`); "
        "`--handlers built-in` deploys pocctl's own again. "
        "[env: POCCTL_HANDLERS; default: as deployed, else pocctl's built-in handlers]",
    )
    return option(command)


def _environment(
    click_ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> dict[str, str] | None:
    if not value:
        return None
    variables: dict[str, str] = {}
    for pair in value:
        if pair == "":
            continue  # `--env ""`: no variables (clears the deployed ones)
        key, equals, item = pair.partition("=")
        if not equals:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE.", param=param)
        variables[key] = item
    return variables


def env_option(command: F) -> F:
    """--env KEY=VALUE (repeatable): the functions' environment variables."""
    option: Callable[[F], F] = click.option(
        "--env",
        multiple=True,
        metavar="KEY=VALUE",
        callback=_environment,
        help="An environment variable for both functions (repeat for more); the set replaces "
        'the one in pocctl.toml or deployed; --env "" sets none. '
        "[default: as deployed; pocctl.toml [environment]]",
    )
    return option(command)


def collect(kwargs: dict[str, Any], **more_settings: Any) -> Flags:
    """Take the shared options out of a command's kwargs; add the command's own setting flags."""
    settings = {key: kwargs.pop(key) for key in ("stack", "region", "profile", "endpoint_url")}
    settings.update(more_settings)
    return Flags(settings, quiet=kwargs.pop("quiet"), verbose=kwargs.pop("verbose"))


def terminal(flags: Flags, *, as_json: bool = False, to_stderr: bool = False) -> Terminal:
    """Human output; on stderr when stdout carries JSON (or other results: `to_stderr`)."""
    return Terminal(to_stderr=as_json or to_stderr, quiet=flags.quiet)


def profile_region(profile: str | None) -> str | None:
    region: str | None = make_session(profile).region_name
    return region


def resolve_settings(flags: Flags, *, use_file: bool = True) -> Resolved:
    return resolve(flags.settings, profile_region=profile_region, use_file=use_file)


def make_session(profile: str | None) -> boto3.Session:
    try:
        return runtime().session(profile_name=profile)
    except ProfileNotFound as exc:
        raise ConfigError(
            f"AWS profile {profile!r} not found. List your profiles with "
            "`aws configure list-profiles`."
        ) from exc


@dataclass(frozen=True)
class Stack:
    """A command's context on the stack, with the settings as given (`given`: without the
    stack's record) and the deployed stack's record, read back from its resources."""

    ctx: Context
    given: Resolved
    record: Record


def make_context(
    flags: Flags,
    term: Terminal,
    *,
    reporter: Reporter | None = None,
    deployed: bool = True,
    read_only: bool = False,
) -> Context:
    """The context a command works with; `term` shows progress unless another reporter is
    given, and every AWS call with --verbose. With `deployed`, each setting left at its default
    takes the value the stack was deployed with (its record)."""
    return open_stack(flags, term, reporter=reporter, deployed=deployed, read_only=read_only).ctx


def open_stack(
    flags: Flags,
    term: Terminal,
    *,
    reporter: Reporter | None = None,
    deployed: bool = True,
    read_only: bool = False,
) -> Stack:
    given = resolve_settings(flags)
    context = _context(given, flags, term, reporter)
    record = read_record(context) if deployed else Record()
    settings = with_record(given, record.values)
    if read_only:
        settings = with_record(settings, served(term, given, record), over="all")
    if record.stage_note:
        term.warning(f"note: {record.stage_note}")
    context.config = settings.config()
    return Stack(context, given, record)


# What a command that only reads takes from the deployed stack even when told otherwise: another
# stage is one that doesn't exist (403 Missing Authentication Token), not a choice.
SERVED = ("stage",)


def served(term: Terminal, given: Resolved, record: Record) -> dict[str, Any]:
    values = {key: record.values[key] for key in SERVED if key in record.values}
    for change in pending(given, values):
        term.warning(
            f"note: {change.source} says {change.key} {change.wanted}; the stack serves at "
            f"{change.deployed} (its last up): `pocctl up` would move it"
        )
    return values


def _context(
    resolved: Resolved, flags: Flags, term: Terminal, reporter: Reporter | None
) -> Context:
    config = resolved.config()
    session = make_session(config.profile)
    if session.get_credentials() is None:
        host = urlparse(config.endpoint_url or "").hostname
        if host not in LOCAL_HOSTS:
            raise CredentialsError(
                "No AWS credentials found.",
                "Configure them with `aws configure` (or set AWS_PROFILE, or AWS_ACCESS_KEY_ID "
                "and AWS_SECRET_ACCESS_KEY), or try pocctl without an account: run `pocctl local` "
                "and set AWS_ENDPOINT_URL as it says.",
            )
        # A local emulator accepts any credentials; don't make users invent some.
        session = runtime().session(
            aws_access_key_id="pocctl-local",
            aws_secret_access_key="pocctl-local",
            region_name=config.region,
        )
    world = runtime()
    context = Context(
        config, reporter or term, session=session, sleep=world.sleep, clock=world.clock
    )
    current = click.get_current_context(silent=True)
    if current is not None:
        current.call_on_close(context.release)
    if flags.verbose:
        term.follow(context)
    context.preflight()
    return context
