"""What the user asked for, and every resource name derived from it, in one place."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pocctl.core.errors import ConfigError

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


# Lambda Developer Guide, "Working with Lambda environment variables": a key starts with a letter,
# has at least two characters, only letters, digits and underscores; all of them together at
# most 4 KB ("Lambda quotas"). The keys Lambda lists as reserved can't be set ("Defined runtime
# environment variables"; the same list in boltops-tools/jets's reserved_variables), and
# AWS_DEFAULT_REGION is refused the same way (zuka-e/laravel-react-task-spa#146). Other
# AWS_LAMBDA_ keys are the user's to set: AWS_LAMBDA_EXEC_WRAPPER runs a wrapper script
# ("Modifying the runtime environment", Wrapper scripts).
ENV_KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]+$")
LAMBDA_RESERVED_ENV = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "TZ",
    }
)
# The variables pocctl gives its own handlers.
OWN_ENV = frozenset({"TABLE_NAME", "TOPIC_ARN"})
ENV_LIMIT_BYTES = 4 * 1024


def validate_environment(environment: Mapping[str, str]) -> Mapping[str, str]:
    for key, value in environment.items():
        if key in OWN_ENV:
            raise ConfigError(
                f"Environment variable {key} is set by pocctl itself (the handlers need it); "
                "choose another name."
            )
        if key in LAMBDA_RESERVED_ENV:
            raise ConfigError(
                f"Environment variable {key} is reserved by Lambda (it sets it in every "
                "function); choose another name."
            )
        if not ENV_KEY_PATTERN.match(key):
            raise ConfigError(
                f"Invalid environment variable name {key!r}: Lambda wants a letter first, then "
                "at least one more letter, digit or underscore."
            )
        if not isinstance(value, str):
            raise ConfigError(f"Environment variable {key} must be a string, got {value!r}.")
    return environment


# Names that usually hold a secret: their values are not printed (status and config output end
# up in CI logs and shared terminals).
SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH", "PRIVATE")


def secret_looking(name: str) -> bool:
    return any(word in name.upper() for word in SECRET_WORDS)


def environment_size(variables: Mapping[str, str]) -> int:
    """Lambda doesn't say how it counts its 4 KB; the JSON the API carries is the most any
    reading could count, so a set under it in this measure is under it in every measure."""
    return len(json.dumps(dict(variables), separators=(",", ":")).encode("utf-8"))


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


# CloudWatch's treatments of missing data (PutMetricAlarm, TreatMissingData).
MISSING_DATA = ("notBreaching", "breaching", "ignore", "missing")
# "Period multiplied by EvaluationPeriods can't be more than 604,800 seconds. For alarms with a
# period of less than one hour (3,600 seconds), the total evaluation period can't be longer than
# one day (86,400 seconds)" (CloudWatch API reference, PutMetricAlarm, Period).
ONE_DAY = 86_400
SEVEN_DAYS = 7 * ONE_DAY


@dataclass(frozen=True)
class Alarms:
    """The stack's CloudWatch alarms (defaults from the CloudWatch User Guide, "Recommended
    alarms": see resources/alarms.py)."""

    enabled: bool = True
    email: str | None = None  # subscribed to the alarm topic (None: Config.email's)
    period: int = 60  # seconds; standard resolution: a multiple of 60
    evaluation_periods: int = 1
    missing_data: str = "notBreaching"
    dead_letters: int = 1  # messages visible in the dead-letter or the stream's failure queue
    function_errors: int = 1  # Errors (Sum) of either function in a period
    iterator_age_seconds: int = 30  # the stream mapping's IteratorAge (Maximum)
    api_5xx_rate: float = 0.05  # the API's 5XXError (Average: the share of requests)

    def __post_init__(self) -> None:
        if self.email is not None:
            validate_email(self.email)
        limit = ONE_DAY if self.period < 3600 else SEVEN_DAYS
        if self.period * self.evaluation_periods > limit:
            raise ConfigError(
                f"Alarms would look back alarm_period x alarm_evaluation_periods = "
                f"{self.period * self.evaluation_periods:,} s, over CloudWatch's limit of "
                f"{limit:,} s for a period of {self.period} s: lower one of them."
            )


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
    def alarm_topic(self) -> str:
        """The topic the stack's alarms notify (ALARM and OK), apart from order notifications."""
        return self._prefixed("Alarms")

    @property
    def alarm_prefix(self) -> str:
        """What every alarm's name of the stack starts with (the alarm topic's policy lets
        CloudWatch publish for these)."""
        return self._prefixed("Alarm-")

    @property
    def dead_letters_alarm(self) -> str:
        return f"{self.alarm_prefix}Dead-Letters"

    @property
    def stream_failures_alarm(self) -> str:
        return f"{self.alarm_prefix}Stream-Failures"

    @property
    def writer_errors_alarm(self) -> str:
        return f"{self.alarm_prefix}Lambda-1-Errors"

    @property
    def notifier_errors_alarm(self) -> str:
        return f"{self.alarm_prefix}Lambda-2-Errors"

    @property
    def iterator_age_alarm(self) -> str:
        return f"{self.alarm_prefix}Stream-Iterator-Age"

    @property
    def api_errors_alarm(self) -> str:
        return f"{self.alarm_prefix}API-5XX"

    @property
    def alarms(self) -> tuple[str, ...]:
        return (
            self.dead_letters_alarm,
            self.stream_failures_alarm,
            self.writer_errors_alarm,
            self.notifier_errors_alarm,
            self.iterator_age_alarm,
            self.api_errors_alarm,
        )

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
    # The user's variables for both functions, beside pocctl's own.
    environment: Mapping[str, str] = field(default_factory=dict)
    alarms: Alarms = field(default_factory=Alarms)
    # False when the deployed variables' values can't be known (both functions edited by hand,
    # values not recorded): `status` then compares no function's variables with these.
    environment_known: bool = True

    def __post_init__(self) -> None:
        validate_stack(self.stack)
        validate_region(self.region)
        validate_stage(self.stage)
        if self.email is not None:
            validate_email(self.email)
        validate_environment(self.environment)
        # pocctl's own variables at their longest (the longest partition, a 12-digit account).
        n = self.names
        own = {
            "TABLE_NAME": n.table,
            "TOPIC_ARN": f"arn:aws-iso-b:sns:{self.region}:000000000000:{n.topic}",
        }
        size = environment_size({**self.environment, **own})
        if size > ENV_LIMIT_BYTES:
            raise ConfigError(
                f"The functions' environment variables take {size:,} bytes with pocctl's own, "
                f"over Lambda's limit of {ENV_LIMIT_BYTES:,} (4 KB); keep large values elsewhere "
                "(SSM Parameter Store, Secrets Manager)."
            )

    @property
    def names(self) -> Names:
        return Names(self.stack)

    @property
    def alarm_email(self) -> str | None:
        """Who the alarms mail: the alarm email setting, else the stack's email."""
        return self.alarms.email or self.email

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_KEY: self.stack}
