"""The record of a deploy: the settings `up` applied, as tags on the resources they shape.

What AWS itself keeps (a function's memory, a stage's throttle) changes when someone edits it
by hand; the record keeps what `up` set, so that `status` can tell a hand edit from a deploy
and every command can see the stack as it was deployed. The functions carry the code's source
and their own settings; the API's stage its name and throttle. Values of environment
variables are not recorded, only their keys and a digest of the whole set: a tag is readable by
anyone allowed to list tags (tag:GetResources), and the values may be secrets. The digest tells
a function still running the deployed variables from one edited by hand.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pocctl.core.config import Config
from pocctl.resources.base import Change

CODE = "pocctl:code"
RUNTIME = "pocctl:runtime"
MEMORY = "pocctl:memory"
TIMEOUT = "pocctl:timeout"
ENVIRONMENT = "pocctl:environment"
ENVIRONMENT_DIGEST = "pocctl:environment-sha256"
STAGE = "pocctl:stage"
RATE_LIMIT = "pocctl:rate-limit"
BURST_LIMIT = "pocctl:burst-limit"
ALARMS = "pocctl:alarms"  # "on" or "off": whether `up` made the stack's alarms
# The address given to --alarm-email ("": none, the alarms mail the stack's email), so that a
# later `up --email B` does not move the alarm mail off it.
ALARM_EMAIL = "pocctl:alarm-email"
BUILT_IN = "built-in"
# What a value that can't be a tag value is recorded as: a handlers directory whose path is too
# long or has characters tags refuse, or environment keys too many for one tag.
UNRECORDED = "unrecorded"

# Tag values: at most 256 characters; letters, digits, spaces and + - = . _ : / @ (Lambda:
# CloudFormation's AWS::Lambda::Function Tag; API Gateway Developer Guide, "Tag restrictions
# and usage conventions"; the same rule as the Tag type of AWS's tagging APIs, whose pattern is
# ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$). Each resource takes 50 tags; the record uses six at most.
TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{0,256}$")
TAG_CHARACTER = re.compile(r"[\w .:/=\-@]")  # + escapes the others
ESCAPED = re.compile(r"\+([0-9A-F]{6})")


def fits(value: str) -> bool:
    return bool(TAG_VALUE.match(value))


def code_source(config: Config) -> str:
    """Where the code came from: built-in, or the handlers directory's absolute path, each
    character a tag refuses written as + and its code point (a path with a comma or brackets)."""
    if config.handlers is None:
        return BUILT_IN
    path = str(Path(config.handlers).resolve())
    escaped = "".join(c if TAG_CHARACTER.match(c) else f"+{ord(c):06X}" for c in path)
    return escaped if fits(escaped) else UNRECORDED


def handlers_path(recorded: str) -> str:
    return ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), recorded)


def environment_digest(stack: str, variables: Mapping[str, str]) -> str:
    """SHA-256 of the user's variables as canonical JSON (64 hex digits fit a tag), salted with
    the stack's name so that equal sets in two stacks don't show as equal."""
    canonical = json.dumps(dict(variables), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"pocctl:{stack}\n{canonical}".encode()).hexdigest()


def function_tags(config: Config, timeout: int) -> dict[str, str]:
    keys = " ".join(sorted(config.environment))
    return {
        CODE: code_source(config),
        RUNTIME: config.tuning.runtime,
        MEMORY: str(config.tuning.memory_mb),
        TIMEOUT: str(timeout),
        ENVIRONMENT: keys if fits(keys) else UNRECORDED,
        ENVIRONMENT_DIGEST: environment_digest(config.stack, config.environment),
    }


def api_tags(config: Config) -> dict[str, str]:
    return {
        STAGE: config.stage,
        RATE_LIMIT: rate_tag(float(config.tuning.throttle_rate)),
        BURST_LIMIT: str(config.tuning.throttle_burst),
        ALARMS: "on" if config.alarms.enabled else "off",
        ALARM_EMAIL: alarm_email_tag(config.alarms.email),
    }


def alarm_email_tag(email: str | None) -> str:
    return "" if email is None else email if fits(email) else UNRECORDED


def rate_tag(rate: float) -> str:
    """Exact: repr is the shortest text that reads back as the same double (`10`, not `10.0`,
    as older records wrote it)."""
    return str(int(rate)) if rate.is_integer() else repr(rate)


@dataclass(frozen=True)
class RecordDiffers(Change):
    """The resource's record of the last deploy differs from this one's settings (or a stack
    made by an older pocctl has none): `up` writes it. Not drift: nothing runs differently."""

    drift = False
    tags: tuple[tuple[str, str], ...]  # the record to write

    def __str__(self) -> str:
        return "record of the deployed settings: " + ", ".join(f"{k}={v}" for k, v in self.tags)


def record_differs(found: dict[str, str], wanted: dict[str, str]) -> list[Change]:
    if all(found.get(key) == value for key, value in wanted.items()):
        return []
    return [RecordDiffers(tuple(sorted(wanted.items())))]


def parsed(tags: dict[str, str], key: str, kind: type) -> Any:
    """A recorded value, or None when it is absent or not what `up` writes (edited by hand)."""
    raw = tags.get(key)
    if raw is None or raw == UNRECORDED:
        return None
    try:
        return kind(raw)
    except ValueError:
        return None
