"""What the user asked for, and every resource name derived from it, in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pocctl.errors import ConfigError

DEFAULT_STACK = "POC"
DEFAULT_REGION = "us-east-1"
DEFAULT_STAGE = "prod"
TAG_KEY = "pocctl:stack"

STACK_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,29}$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
# API Gateway API reference, CreateStage (stageName): "Stage names can only contain alphanumeric
# characters, hyphens, and underscores. Maximum length is 128 characters."
STAGE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# Deliberately simple: one @, a dot in the domain, no spaces. SNS does the real check.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def validate_stack(stack: str) -> str:
    if not STACK_PATTERN.match(stack):
        raise ConfigError(
            f"Invalid stack name {stack!r}: use 1-30 letters, digits and hyphens, "
            "starting with a letter (for example 'dev' or 'team-a')."
        )
    return stack


def validate_region(region: str) -> str:
    if not REGION_PATTERN.match(region):
        raise ConfigError(
            f"Invalid region {region!r}: expected an AWS region code such as 'us-east-1' "
            "or 'eu-west-3'."
        )
    return region


def validate_email(email: str) -> str:
    if not EMAIL_PATTERN.match(email):
        raise ConfigError(
            f"Invalid email address {email!r}: expected something like ops@example.com."
        )
    return email


def validate_stage(stage: str) -> str:
    if not STAGE_PATTERN.match(stage):
        raise ConfigError(
            f"Invalid stage name {stage!r}: use 1-128 letters, digits, hyphens and underscores "
            "(API Gateway's rule), for example 'prod' or 'my-stage'."
        )
    return stage


@dataclass(frozen=True)
class Tuning:
    """Numbers a user may want to change; defaults suit a demo."""

    runtime: str = "python3.13"
    writer_timeout: int = 10
    notifier_timeout: int = 10
    memory_mb: int = 128
    log_retention_days: int = 14
    throttle_rate: float = 10.0
    throttle_burst: int = 20
    queue_max_receive_count: int = 5
    sqs_batch_size: int = 10
    sqs_max_concurrency: int = 2
    stream_batch_size: int = 10
    stream_max_retries: int = 3

    @property
    def queue_visibility_timeout(self) -> int:
        # AWS recommends six times the consuming function's timeout.
        return 6 * self.writer_timeout


@dataclass(frozen=True)
class Names:
    """Every resource name of one stack. The default stack keeps the lab's names."""

    stack: str

    def _prefixed(self, suffix: str) -> str:
        return f"{self.stack}-{suffix}"

    @property
    def table(self) -> str:
        return "orders" if self.stack == DEFAULT_STACK else self._prefixed("orders")

    @property
    def queue(self) -> str:
        return self._prefixed("Queue")

    @property
    def dead_letter_queue(self) -> str:
        return self._prefixed("Queue-DLQ")

    @property
    def stream_failure_queue(self) -> str:
        return self._prefixed("Stream-Failures")

    @property
    def topic(self) -> str:
        return self._prefixed("Topic")

    @property
    def writer_function(self) -> str:
        return self._prefixed("Lambda-1")

    @property
    def notifier_function(self) -> str:
        return self._prefixed("Lambda-2")

    @property
    def writer_role(self) -> str:
        return self._prefixed("Lambda-1-Role")

    @property
    def notifier_role(self) -> str:
        return self._prefixed("Lambda-2-Role")

    @property
    def api_role(self) -> str:
        return self._prefixed("APIGateway-SQS-Role")

    @property
    def api(self) -> str:
        return self._prefixed("API")

    @property
    def roles_boundary(self) -> str:
        """The managed policy every role of the stack has as its permissions boundary."""
        return self._prefixed("Roles-Boundary")

    @staticmethod
    def log_group(function_name: str) -> str:
        return f"/aws/lambda/{function_name}"


@dataclass(frozen=True)
class Config:
    stack: str = DEFAULT_STACK
    region: str = DEFAULT_REGION
    profile: str | None = None
    endpoint_url: str | None = None
    email: str | None = None
    stage: str = DEFAULT_STAGE
    tuning: Tuning = field(default_factory=Tuning)
    handlers: str | None = None  # the user's handlers directory; None: pocctl's own

    def __post_init__(self) -> None:
        validate_stack(self.stack)
        validate_region(self.region)
        validate_stage(self.stage)
        if self.email is not None:
            validate_email(self.email)

    @property
    def names(self) -> Names:
        return Names(self.stack)

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_KEY: self.stack}
