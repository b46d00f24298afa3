"""Options every command shares, and building the config and context from them."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

import boto3
import click
from botocore.exceptions import ProfileNotFound

from pocctl.config import DEFAULT_REGION, DEFAULT_STACK, DEFAULT_STAGE, Config, Tuning
from pocctl.context import Context
from pocctl.errors import ConfigError, CredentialsError
from pocctl.reporting import Reporter

F = TypeVar("F", bound=Callable[..., Any])
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class AwsOptions:
    stack: str
    region: str | None
    profile: str | None
    endpoint_url: str | None


def aws_options(command: F) -> F:
    """--stack, --region, --profile and --endpoint-url, on every command."""
    decorators = [
        click.option(
            "--stack",
            envvar="POCCTL_STACK",
            default=DEFAULT_STACK,
            show_default=True,
            help="Name of this copy of the pipeline; resource names derive from it. "
            "[env: POCCTL_STACK]",
        ),
        click.option(
            "--region", help="AWS region. [env: AWS_REGION, default: profile's, else us-east-1]"
        ),
        click.option("--profile", help="AWS named profile. [env: AWS_PROFILE]"),
        click.option(
            "--endpoint-url",
            help="Send every AWS call here, e.g. http://127.0.0.1:4566 for `pocctl local`. "
            "[env: AWS_ENDPOINT_URL]",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def collect(kwargs: dict[str, Any]) -> AwsOptions:
    return AwsOptions(
        stack=kwargs.pop("stack"),
        region=kwargs.pop("region"),
        profile=kwargs.pop("profile"),
        endpoint_url=kwargs.pop("endpoint_url"),
    )


def make_session(options: AwsOptions) -> boto3.Session:
    profile = options.profile or os.environ.get("AWS_PROFILE") or None
    try:
        return boto3.Session(profile_name=profile)
    except ProfileNotFound as exc:
        raise ConfigError(
            f"AWS profile {profile!r} not found. List your profiles with "
            "`aws configure list-profiles`."
        ) from exc


def resolve_endpoint(options: AwsOptions) -> str | None:
    endpoint = options.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint is not None:
        parsed = urlparse(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(
                f"Invalid endpoint URL {endpoint!r}: expected http(s)://host[:port], "
                "e.g. http://127.0.0.1:4566."
            )
    return endpoint


def build_config(
    options: AwsOptions,
    session: boto3.Session,
    *,
    email: str | None = None,
    stage: str = DEFAULT_STAGE,
    tuning: Tuning | None = None,
) -> Config:
    region = options.region or os.environ.get("AWS_REGION") or session.region_name or DEFAULT_REGION
    return Config(
        stack=options.stack,
        region=region,
        profile=session.profile_name if options.profile or os.environ.get("AWS_PROFILE") else None,
        endpoint_url=resolve_endpoint(options),
        email=email,
        stage=stage,
        tuning=tuning or Tuning(),
    )


def make_context(
    options: AwsOptions,
    reporter: Reporter,
    *,
    email: str | None = None,
    stage: str = DEFAULT_STAGE,
    tuning: Tuning | None = None,
) -> Context:
    session = make_session(options)
    config = build_config(options, session, email=email, stage=stage, tuning=tuning)
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
        session = boto3.Session(
            aws_access_key_id="pocctl-local",
            aws_secret_access_key="pocctl-local",
            region_name=config.region,
        )
    context = Context(config, reporter, session=session)
    _ = context.account_id  # reach AWS once now, so a bad endpoint or key fails fast and clearly
    return context
