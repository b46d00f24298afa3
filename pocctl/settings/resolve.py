"""Every setting a user can give, and where its effective value came from.

Precedence: a flag, then the environment, then `pocctl.toml` in the working directory, then the
deployed stack's record (what the last `up` applied, read back from its resources: see
`record.py`), then the default. The region also falls back to the AWS profile's region before
pocctl's default.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import tomlkit

from pocctl.core.config import (
    DEFAULT_REGION,
    DEFAULT_STACK,
    DEFAULT_STAGE,
    MISSING_DATA,
    ONE_DAY,
    SEVEN_DAYS,
    Alarms,
    Config,
    Tuning,
    secret_looking,
    validate_email,
    validate_environment,
    validate_region,
    validate_stack,
    validate_stage,
)
from pocctl.core.errors import ConfigError

CONFIG_FILE = "pocctl.toml"
TUNING = Tuning()
ALARMS = Alarms()


def between(low: float, high: float) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not low <= value <= high:
            raise ConfigError(f"must be between {low:g} and {high:g}, got {value!r}")
        return value

    return check


def standard_period(value: int) -> int:
    # "For an alarm based on a metric with regular resolution, valid values are 60 or any
    # multiple of 60" (CloudWatch API reference, PutMetricAlarm, Period); the services' metrics
    # are standard resolution.
    if value < 60 or value % 60:
        raise ConfigError(
            f"must be a multiple of 60 seconds (CloudWatch's rule for the standard-resolution "
            f"metrics AWS's services publish), got {value!r}"
        )
    if value > ONE_DAY:
        # CloudWatch takes a period up to 604,800 s (Period x EvaluationPeriods <= 7 days).
        raise ConfigError(
            f"must be at most {ONE_DAY:,} seconds, got {value!r}: pocctl's limit, stricter than "
            f"CloudWatch's {SEVEN_DAYS:,} s, so that a stuck order is mailed within a day"
        )
    return value


def share_below_one(value: float) -> float:
    # 5XXError's Average is the share of requests answered 5xx (API Gateway Developer Guide,
    # "Amazon API Gateway dimensions and metrics"): at most 1, so a threshold of 1 under
    # GreaterThanThreshold could never fire.
    if not 0 <= value < 1:
        raise ConfigError(f"must be at least 0 and below 1 (a share of requests), got {value!r}")
    return value


def one_of(choices: tuple[str, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in choices:
            raise ConfigError(f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    return check


# The handlers use Python 3.11 features; these are Lambda's Python runtimes from 3.11 on that AWS
# has not deprecated (Lambda Developer Guide, "Lambda runtimes").
SUPPORTED_RUNTIMES = ("python3.11", "python3.12", "python3.13", "python3.14")


def python_runtime(value: str) -> str:
    if value not in SUPPORTED_RUNTIMES:
        raise ConfigError(
            f"must be a Lambda runtime the handlers run on ({', '.join(SUPPORTED_RUNTIMES)}), "
            f"got {value!r}"
        )
    return value


def endpoint(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"Invalid endpoint URL {value!r}: expected http(s)://host[:port], "
            "e.g. http://127.0.0.1:4566."
        )
    return value


@dataclass(frozen=True)
class Setting:
    key: str
    kind: type
    default: Any
    env: tuple[str, ...]
    help: str
    check: Callable[[Any], Any] | None = None
    flag: str | None = None  # the command-line flag, where there is one

    @property
    def kind_name(self) -> str:
        return {
            str: "a string",
            int: "an integer",
            float: "a number",
            dict: "a table",
            bool: "true or false",
        }[self.kind]


SETTINGS = (
    Setting(
        "stack",
        str,
        DEFAULT_STACK,
        ("POCCTL_STACK",),
        "name of this copy of the pipeline; every resource name derives from it",
        validate_stack,
        "--stack",
    ),
    Setting(
        "region",
        str,
        None,
        ("AWS_REGION", "AWS_DEFAULT_REGION"),
        f"AWS region (else the profile's, else {DEFAULT_REGION})",
        validate_region,
        "--region",
    ),
    Setting("profile", str, None, ("AWS_PROFILE",), "AWS named profile", None, "--profile"),
    Setting(
        "endpoint_url",
        str,
        None,
        ("AWS_ENDPOINT_URL",),
        "send every AWS call here, e.g. http://127.0.0.1:4566 for `pocctl local`",
        endpoint,
        "--endpoint-url",
    ),
    Setting(
        "email",
        str,
        None,
        ("POCCTL_EMAIL",),
        "address subscribed to order notifications (SNS asks it to confirm)",
        validate_email,
        "--email",
    ),
    Setting(
        "stage",
        str,
        DEFAULT_STAGE,
        ("POCCTL_STAGE",),
        "API Gateway stage; part of the order URL",
        validate_stage,
        "--stage",
    ),
    Setting(
        "rate_limit",
        float,
        TUNING.throttle_rate,
        ("POCCTL_RATE_LIMIT",),
        "requests per second the public API accepts: your cost ceiling",
        between(0.1, 10_000),
        "--rate-limit",
    ),
    Setting(
        "burst_limit",
        int,
        TUNING.throttle_burst,
        ("POCCTL_BURST_LIMIT",),
        "requests the API accepts at once above the rate",
        between(1, 5_000),
        "--burst-limit",
    ),
    Setting(
        "handlers",
        str,
        None,
        ("POCCTL_HANDLERS",),
        "directory of your own Lambda code (`pocctl init --handlers` makes it); "
        "unset: as deployed, else pocctl's built-in handlers; built-in: pocctl's",
        None,
        "--handlers",
    ),
    Setting(
        "runtime",
        str,
        TUNING.runtime,
        ("POCCTL_RUNTIME",),
        "Lambda runtime of both functions",
        python_runtime,
    ),
    Setting(
        "writer_timeout",
        int,
        TUNING.writer_timeout,
        ("POCCTL_WRITER_TIMEOUT",),
        "seconds Lambda-1 may run (the queue's visibility timeout is six times this)",
        between(1, 900),
    ),
    Setting(
        "notifier_timeout",
        int,
        TUNING.notifier_timeout,
        ("POCCTL_NOTIFIER_TIMEOUT",),
        "seconds Lambda-2 may run",
        between(1, 900),
    ),
    Setting(
        "memory",
        int,
        TUNING.memory_mb,
        ("POCCTL_MEMORY",),
        "MB of memory for each function",
        between(128, 10_240),
    ),
    Setting(
        "environment",
        dict,
        {},
        (),  # a table of variables has no one environment variable of its own
        "environment variables for both functions, beside pocctl's own (`up --env KEY=VALUE`)",
        validate_environment,
        "--env",
    ),
    Setting(
        "alarms",
        bool,
        ALARMS.enabled,
        ("POCCTL_ALARMS",),
        "CloudWatch alarms that mail the alarm topic: dead letters, function errors, the "
        "stream falling behind, API 5xx (`up --no-alarms` removes them)",
        None,
        "--alarms/--no-alarms",
    ),
    Setting(
        "alarm_email",
        str,
        None,
        ("POCCTL_ALARM_EMAIL",),
        "address subscribed to the alarm topic (default: the email setting)",
        validate_email,
        "--alarm-email",
    ),
    Setting(
        "alarm_period",
        int,
        ALARMS.period,
        ("POCCTL_ALARM_PERIOD",),
        "seconds each alarm's data point covers (a multiple of 60)",
        standard_period,
    ),
    Setting(
        "alarm_evaluation_periods",
        int,
        ALARMS.evaluation_periods,
        ("POCCTL_ALARM_EVALUATION_PERIODS",),
        "periods in a row that must breach before an alarm fires",
        between(1, SEVEN_DAYS // 60),
    ),
    Setting(
        "alarm_missing_data",
        str,
        ALARMS.missing_data,
        ("POCCTL_ALARM_MISSING_DATA",),
        f"how alarms treat a period without data ({', '.join(MISSING_DATA)})",
        one_of(MISSING_DATA),
    ),
    Setting(
        "alarm_dead_letters",
        int,
        ALARMS.dead_letters,
        ("POCCTL_ALARM_DEAD_LETTERS",),
        "messages in the dead-letter or stream failure queue that fire its alarm",
        between(1, 1_000_000),
    ),
    Setting(
        "alarm_function_errors",
        int,
        ALARMS.function_errors,
        ("POCCTL_ALARM_FUNCTION_ERRORS",),
        "errors of a function in a period that fire its alarm",
        between(1, 1_000_000),
    ),
    Setting(
        "alarm_iterator_age",
        int,
        ALARMS.iterator_age_seconds,
        ("POCCTL_ALARM_ITERATOR_AGE",),
        "seconds the stream mapping may fall behind (IteratorAge) before its alarm fires",
        between(1, 7 * ONE_DAY),
    ),
    Setting(
        "alarm_api_5xx_rate",
        float,
        ALARMS.api_5xx_rate,
        ("POCCTL_ALARM_API_5XX_RATE",),
        "share of API requests answered 5xx above which its alarm fires (0 to below 1)",
        share_below_one,
    ),
)
BY_KEY = {s.key: s for s in SETTINGS}


@dataclass(frozen=True)
class Resolved:
    values: dict[str, Any]
    sources: dict[str, str]
    file: Path | None

    def config(self) -> Config:
        v = self.values
        tuning = Tuning(
            runtime=v["runtime"],
            writer_timeout=v["writer_timeout"],
            notifier_timeout=v["notifier_timeout"],
            memory_mb=v["memory"],
            throttle_rate=float(v["rate_limit"]),
            throttle_burst=v["burst_limit"],
        )
        alarms = Alarms(
            enabled=v["alarms"],
            email=v["alarm_email"],
            period=v["alarm_period"],
            evaluation_periods=v["alarm_evaluation_periods"],
            missing_data=v["alarm_missing_data"],
            dead_letters=v["alarm_dead_letters"],
            function_errors=v["alarm_function_errors"],
            iterator_age_seconds=v["alarm_iterator_age"],
            api_5xx_rate=float(v["alarm_api_5xx_rate"]),
        )
        return Config(
            stack=v["stack"],
            region=v["region"],
            profile=v["profile"],
            endpoint_url=v["endpoint_url"],
            email=v["email"],
            stage=v["stage"],
            tuning=tuning,
            handlers=handlers_directory(v["handlers"]),
            environment=dict(v["environment"]),
            alarms=alarms,
        )


def _typed(setting: Setting, value: Any, where: str) -> Any:
    if setting.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, setting.kind) or (
        isinstance(value, bool) and setting.kind is not bool
    ):
        raise ConfigError(
            f"{where}: {setting.key!r} must be {setting.kind_name}, "
            f"got {type(value).__name__} {value!r}."
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(item, str):
                raise ConfigError(
                    f"{where}: [{setting.key}] {key} must be a string, "
                    f"got {type(item).__name__} {item!r} (quote it)."
                )
    return value


TRUE_WORDS = frozenset({"true", "1", "on", "yes"})
FALSE_WORDS = frozenset({"false", "0", "off", "no"})


def _parsed_env(setting: Setting, name: str, raw: str) -> Any:
    if setting.kind is str:
        return raw
    if setting.kind is bool:
        if raw.lower() in TRUE_WORDS | FALSE_WORDS:
            return raw.lower() in TRUE_WORDS
        raise ConfigError(
            f"Environment variable {name}={raw!r}: {setting.key!r} must be one of "
            f"{', '.join(sorted(TRUE_WORDS))} or {', '.join(sorted(FALSE_WORDS))}."
        )
    try:
        return setting.kind(raw)
    except ValueError:
        raise ConfigError(
            f"Environment variable {name}={raw!r}: {setting.key!r} must be {setting.kind_name}."
        ) from None


def _checked(setting: Setting, value: Any, where: str) -> Any:
    if setting.check is None or value is None:
        return value
    try:
        setting.check(value)
    except ConfigError as exc:
        sentence = exc.message
        if sentence.startswith("must"):
            sentence = f"{setting.key} {sentence}."
        raise ConfigError(f"{where}: {sentence}") from None
    return value


def read_file(path: Path) -> dict[str, Any]:
    """The settings in a pocctl.toml, typed and checked; an unknown key is an error."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    values: dict[str, Any] = {}
    for key, value in raw.items():
        setting = BY_KEY.get(key)
        if setting is None:
            close = difflib.get_close_matches(key, BY_KEY, n=1)
            suggestion = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{path}: unknown key {key!r}{suggestion}. "
                f"Known keys: {', '.join(BY_KEY)}. See `pocctl init` for a commented example."
            )
        values[key] = _checked(setting, _typed(setting, value, str(path)), str(path))
    return values


def resolve(
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    profile_region: Callable[[str | None], str | None] = lambda profile: None,
    *,
    use_file: bool = True,
) -> Resolved:
    """Each setting's value and its source. `flags` holds only flags the user gave (or None)."""
    environ = os.environ if environ is None else environ
    path = (cwd or Path.cwd()) / CONFIG_FILE
    from_file = read_file(path) if use_file and path.is_file() else {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        if flags.get(setting.key) is not None:
            where = f"flag {setting.flag}"
            values[setting.key] = _checked(setting, flags[setting.key], where)
            sources[setting.key] = where
            continue
        name = next((n for n in setting.env if environ.get(n)), None)
        if name is not None:
            where = f"env {name}"
            value = _parsed_env(setting, name, environ[name])
            values[setting.key] = _checked(setting, value, f"Environment variable {name}")
            sources[setting.key] = where
        elif setting.key in from_file:
            values[setting.key] = from_file[setting.key]
            sources[setting.key] = CONFIG_FILE
        else:
            values[setting.key] = setting.default
            sources[setting.key] = "default"
    if values["region"] is None:
        found = profile_region(values["profile"])
        if found:
            values["region"] = _checked(BY_KEY["region"], found, "AWS config")
            sources["region"] = f"profile {values['profile'] or 'default'}"
        else:
            values["region"] = DEFAULT_REGION
    return Resolved(values, sources, path if use_file and path.is_file() else None)


DEPLOYED = "deployed stack"
# The settings `up` records on the stack's resources (record.py), which later commands read back.
RECORDED = (
    "stage",
    "rate_limit",
    "burst_limit",
    "handlers",
    "runtime",
    "memory",
    "writer_timeout",
    "notifier_timeout",
    "environment",
    "alarms",
    "alarm_email",
)


# `--handlers built-in` (or handlers = "built-in"): pocctl's own code, given explicitly, so that
# it wins over a handlers directory the stack was deployed from (./built-in is a directory).
BUILT_IN_HANDLERS = "built-in"


def handlers_directory(value: str | None) -> str | None:
    return None if value == BUILT_IN_HANDLERS else value


def same_setting(key: str, one: Any, other: Any) -> bool:
    if key == "handlers":
        one, other = handlers_directory(one), handlers_directory(other)
    if key == "handlers" and one is not None and other is not None:
        return bool(Path(one).resolve() == Path(other).resolve())
    if key == "rate_limit" and one is not None and other is not None:
        return float(one) == float(other)
    return bool(one == other)


def with_record(
    resolved: Resolved, recorded: Mapping[str, Any], *, over: str = "default"
) -> Resolved:
    """The settings with the deployed stack's record in the place of each one at its default
    (`over="default"`: what commands use), or of every one (`over="all"`: the stack as it was
    deployed, which `status` checks the resources against)."""
    values, sources = dict(resolved.values), dict(resolved.sources)
    for key, value in recorded.items():
        try:  # a record edited by hand into something `up` never writes is no record
            _checked(BY_KEY[key], value, "the stack's record")
        except ConfigError:
            continue
        if sources[key] != "default" and same_setting(key, values[key], value):
            continue  # as given (a relative handlers path stays as the user wrote it)
        if over == "all" or sources[key] == "default":
            values[key], sources[key] = value, DEPLOYED
    return Resolved(values, sources, resolved.file)


@dataclass(frozen=True)
class Pending:
    """A setting given explicitly that differs from what the stack was deployed with."""

    key: str
    deployed: Any
    wanted: Any
    source: str

    def __str__(self) -> str:
        # A new stage replaces the deployed one: say which door `up` would close.
        removes = f" (and remove stage {self.deployed})" if self.key == "stage" else ""
        return (
            f"`up` would change {self.key} {shown(self.key, self.deployed)} -> "
            f"{shown(self.key, self.wanted)}, from {self.source}{removes}"
        )


def pending(resolved: Resolved, recorded: Mapping[str, Any]) -> list[Pending]:
    return [
        Pending(key, value, resolved.values[key], resolved.sources[key])
        for key, value in recorded.items()
        if resolved.sources[key] not in ("default", DEPLOYED)
        and not same_setting(key, value, resolved.values[key])
    ]


def shown(key: str, value: Any) -> str:
    """A setting's value for people: built-in for no handlers, secret-looking variables hidden."""
    if key == "handlers":
        return BUILT_IN_HANDLERS if value is None else str(value)
    if key == "environment":
        return (
            "{"
            + ", ".join(
                f"{k}={'***' if secret_looking(k) else v}" for k, v in sorted(value.items())
            )
            + "}"
        )
    return str(value)


def template(region: str, stack: str, handlers: str | None = None) -> str:
    """A commented pocctl.toml: the usual keys set, the rest shown at their defaults."""
    lines = [
        "# pocctl settings for this directory. Precedence: flags > environment > this file >",
        "# what the stack was last deployed with > defaults; `pocctl config` shows the effective",
        "# values and where each came from. `up` updates a key set here when a flag changes it.",
        "",
    ]
    # Only these are set: a setting pinned here at its default would beat what the stack was
    # deployed with (see `with_record`).
    active: dict[str, Any] = {"stack": stack, "region": region}
    if handlers is not None:
        active["handlers"] = handlers
    for setting in SETTINGS:
        if setting.key in ("profile", "endpoint_url"):
            continue  # machine-specific: better in the environment than in a shared file
        if setting.env:
            lines.append(f"# {setting.help} [env: {', '.join(setting.env)}]")
        if setting.key in active:
            lines.append(f"{setting.key} = {toml_value(active[setting.key])}")
        elif setting.key == "handlers":
            lines.append('# handlers = "handlers"')
        elif setting.key == "environment":
            continue  # a table: after every key (TOML puts tables last)
        elif setting.default is None:
            lines.append(f'# {setting.key} = "you@example.com"')
        else:
            lines.append(f"# {setting.key} = {toml_value(setting.default)}")
        lines.append("")
    environment = BY_KEY["environment"]
    lines += [f"# {environment.help}", "# [environment]", '# LOG_LEVEL = "INFO"', ""]
    return "\n".join(lines)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # Escaped as TOML wants (control characters too): a basic string on one line.
        return tomlkit.string(value).as_string()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)
