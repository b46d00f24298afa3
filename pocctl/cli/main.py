"""The command group, and the one place where errors become messages and exit codes."""

from __future__ import annotations

import os
from typing import Any

import click
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from pocctl import __version__
from pocctl.aws import HINTS, error_code, error_message
from pocctl.cli.options import COMMAND, WANTS_JSON, Finished
from pocctl.errors import ConfigError, Interrupted, PocctlError
from pocctl.ui import print_json

ARGV = "pocctl.argv"


class InterruptedExit(click.ClickException):
    exit_code = Interrupted.exit_code


class PocctlGroup(click.Group):
    """Turns domain and AWS errors into `Error: ...` lines; `--debug` shows the traceback.
    A command run with --json gets its one JSON document printed here, success or failure,
    a usage error included (which click finds before --json's own callback has run)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        argv = list(args)  # click's parser consumes the list
        try:
            click_ctx = super().make_context(info_name, argv.copy(), parent, **extra)
        except click.UsageError as exc:  # `pocctl --json up`, `pocctl --bogus --json`
            if asks_for_json(argv):
                print_json({"ok": False, "command": None, "error": exc.format_message()})
            raise
        click_ctx.meta[ARGV] = argv
        return click_ctx

    def invoke(self, click_ctx: click.Context) -> Any:
        document: dict[str, Any] = {}
        try:
            result = super().invoke(click_ctx)
            if isinstance(result, Finished):
                document = result.document
                if result.failure is not None:
                    raise result.failure
        except click.exceptions.Exit as exc:
            finish_json(click_ctx, document, exit_error(exc.exit_code))
            raise
        except click.ClickException as exc:
            if isinstance(exc, click.UsageError) and asks_for_json(click_ctx.meta.get(ARGV, [])):
                click_ctx.meta[WANTS_JSON] = True
            finish_json(click_ctx, document, exc.format_message())
            raise
        except click.Abort:
            finish_json(click_ctx, document, "Aborted.")
            raise
        except KeyboardInterrupt:
            error = as_click_error(Interrupted("Interrupted."))
            finish_json(click_ctx, document, error.format_message())
            raise error from None
        except Exception as exc:
            error = as_click_error(exc)
            finish_json(click_ctx, document, error.format_message())
            if click_ctx.meta.get("pocctl.debug") or os.environ.get("POCCTL_DEBUG"):
                raise
            raise error from None
        finish_json(click_ctx, document, None)
        return result


def stopped_by_user() -> click.exceptions.Exit:
    """How a command that runs until Ctrl-C (`logs -f`, `up --watch`, `pocctl local`) ends on
    it, once it has said it stopped: exit 130, as any interrupted command, with no `Error:`."""
    return click.exceptions.Exit(Interrupted.exit_code)


def exit_error(code: int) -> str | None:
    if code == 0:
        return None
    return "Interrupted." if code == Interrupted.exit_code else f"exit {code}"


def asks_for_json(argv: list[str]) -> bool:
    """--json anywhere on the command line (before a `--`)."""
    return "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv


def finish_json(click_ctx: click.Context, document: dict[str, Any], error: str | None) -> None:
    """Print the command's one JSON document, if it was asked for with --json."""
    if not click_ctx.meta.pop(WANTS_JSON, False):
        return
    command = {"command": click_ctx.meta.get(COMMAND) or click_ctx.invoked_subcommand}
    print_json({"ok": error is None, **command, **document, **({"error": error} if error else {})})


def as_click_error(exc: Exception) -> click.ClickException:
    if isinstance(exc, ConfigError):
        return click.UsageError(str(exc))
    if isinstance(exc, PocctlError):
        if isinstance(exc, Interrupted):
            return InterruptedExit(str(exc))
        return click.ClickException(str(exc))
    if isinstance(exc, NoCredentialsError):
        return click.ClickException(
            "No AWS credentials found.\n"
            "Configure them with `aws configure` (or set AWS_PROFILE / AWS_ACCESS_KEY_ID), "
            "or try pocctl without an account: `pocctl local` in another terminal."
        )
    if isinstance(exc, ProfileNotFound):
        return click.UsageError(f"{exc}. List your profiles with `aws configure list-profiles`.")
    if isinstance(exc, EndpointConnectionError):
        return click.ClickException(
            f"Could not reach the AWS endpoint {exc.kwargs.get('endpoint_url', '')}.\n"
            "Check your network, the region, and AWS_ENDPOINT_URL (is `pocctl local` running?)."
        )
    if isinstance(exc, NoRegionError):
        return click.UsageError("No AWS region set: pass --region or set AWS_REGION.")
    if isinstance(exc, ClientError):
        code = error_code(exc)
        hint = HINTS.get(code)
        return click.ClickException(
            f"AWS refused the request ({code}): {error_message(exc)}"
            + (f"\n{hint}" if hint else "")
        )
    if isinstance(exc, BotoCoreError):
        return click.ClickException(f"AWS client error: {exc}")
    return click.ClickException(
        f"Unexpected error: {exc!r}. Run again with --debug and report it with the traceback."
    )


@click.group(cls=PocctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pocctl")
@click.option(
    "--debug", is_flag=True, help="Show the full traceback of an error (for bug reports)."
)
@click.pass_context
def cli(click_ctx: click.Context, debug: bool) -> None:
    """Build, prove and remove the AWS serverless order pipeline from the hands-on lab.

    \b
      POST /order -> API Gateway -> SQS -> Lambda-1 -> DynamoDB
                  -> DynamoDB Streams -> Lambda-2 -> SNS (email)

    \b
    Typical use:
      pocctl up --email you@example.com   build it (run again: changes nothing)
      pocctl outputs                      the order URL and resource names
      pocctl invoke 1                     run Lambda-1 once with a sample event
      pocctl down                         remove everything `up` made

    AWS settings follow the usual rules: --profile/AWS_PROFILE, --region/AWS_REGION,
    --endpoint-url/AWS_ENDPOINT_URL. Every command takes --stack to work on another copy.
    """
    click_ctx.meta["pocctl.debug"] = debug


def main() -> None:
    cli(prog_name="pocctl")
