"""Domain and AWS errors as the messages and exit codes a user sees."""

from __future__ import annotations

import click
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from pocctl.core.aws import HINTS, error_code, error_message
from pocctl.core.errors import ConfigError, Interrupted, PocctlError


class InterruptedExit(click.ClickException):
    exit_code = Interrupted.exit_code


def stopped_by_user() -> click.exceptions.Exit:
    """How a command that runs until Ctrl-C (`logs -f`, `up --watch`, `pocctl local`) ends on
    it, once it has said it stopped: exit 130, as any interrupted command, with no `Error:`."""
    return click.exceptions.Exit(Interrupted.exit_code)


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
