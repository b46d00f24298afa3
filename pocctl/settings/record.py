"""The deployed stack's record, read back: what its last `up` applied (resources/recorded.py).

Every command that talks to AWS reads it, so that a setting left at its default takes the value
the stack was deployed with: `test-order` posts to the stage that exists, `status` compares the
code with the directory it came from. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pocctl.core.aws import none_if_absent
from pocctl.core.config import OWN_ENV
from pocctl.core.context import Context
from pocctl.resources import recorded
from pocctl.resources.api import REPLACED_TAG, find_api
from pocctl.resources.recorded import parsed

# Where the code came from, when its path could not be recorded: no such directory, so the
# deployed code is not compared with any (and `up` won't replace it unasked).
UNRECORDED_DIRECTORY = "(a handlers directory whose path could not be recorded)"


@dataclass
class Record:
    values: dict[str, Any] = field(default_factory=dict)  # setting key -> recorded value
    # The code came from a directory whose path could not be recorded (too long for a tag).
    code_unrecorded: bool = False
    # Neither function's variables match the recorded digest (both edited by hand): the values
    # deployed are not known, only their keys (values are not recorded).
    environment_lost: bool = False
    environment_keys: tuple[str, ...] = ()
    environment_digest: str | None = None
    stage_note: str | None = None  # which stage was taken, when several could be


def _when(date: datetime | None) -> float:
    return date.timestamp() if date is not None else 0.0


def read_record(ctx: Context) -> Record:
    n = ctx.config.names
    lam = ctx.client("lambda")
    writer, notifier, api = ctx.together(
        lambda: none_if_absent(lambda: lam.get_function(FunctionName=n.writer_function)),
        lambda: none_if_absent(lambda: lam.get_function(FunctionName=n.notifier_function)),
        lambda: find_api(ctx, n.api),
    )
    record = Record()
    values = record.values
    if api is not None:
        # The stage that exists; of several, the one `up` recorded itself on (naming itself; not
        # one it was removing when DeleteStage failed);
        # of several of those, the one updated last, said so (Stage.lastUpdatedDate: "The
        # timestamp when the stage last updated", botocore's apigateway model; moto omits it).
        stages = ctx.client("apigateway").get_stages(restApiId=api["id"])["item"]
        ours = [
            s
            for s in stages
            if (tags := s.get("tags") or {}).get(recorded.STAGE) == s["stageName"]
            and REPLACED_TAG not in tags
        ]
        ours.sort(key=lambda s: _when(s.get("lastUpdatedDate") or s.get("createdDate")))
        stage = ours[-1] if ours else stages[0] if len(stages) == 1 else None
        if len(ours) > 1:
            dated = all(s.get("lastUpdatedDate") for s in ours)
            record.stage_note = (
                f"stages {', '.join(s['stageName'] for s in ours)} all carry up's record; "
                f"using {ours[-1]['stageName']}, "
                + ("the one updated last" if dated else "though AWS gave no dates to choose by")
            )
        tags = (stage or {}).get("tags") or {}
        if stage is not None:
            values["stage"] = stage["stageName"]
        for key, tag, kind in (
            ("rate_limit", recorded.RATE_LIMIT, float),
            ("burst_limit", recorded.BURST_LIMIT, int),
        ):
            if (value := parsed(tags, tag, kind)) is not None:
                values[key] = value
        if (alarms := tags.get(recorded.ALARMS)) in ("on", "off"):
            values["alarms"] = alarms == "on"
        if (alarm_email := parsed(tags, recorded.ALARM_EMAIL, str)) not in (None, ""):
            values["alarm_email"] = alarm_email
    functions = [f for f in (writer, notifier) if f is not None]
    for found, timeout in ((writer, "writer_timeout"), (notifier, "notifier_timeout")):
        if found is not None and (value := parsed(found.get("Tags") or {}, recorded.TIMEOUT, int)):
            values[timeout] = value
    if not functions:
        return record
    tags = functions[0].get("Tags") or {}
    code = tags.get(recorded.CODE)
    if code == recorded.UNRECORDED:
        record.code_unrecorded = True
        values["handlers"] = UNRECORDED_DIRECTORY
    elif code is not None:
        values["handlers"] = None if code == recorded.BUILT_IN else recorded.handlers_path(code)
    if (runtime := parsed(tags, recorded.RUNTIME, str)) is not None:
        values["runtime"] = runtime
    if (memory := parsed(tags, recorded.MEMORY, int)) is not None:
        values["memory"] = memory
    variables = [
        ((f["Configuration"].get("Environment") or {}).get("Variables") or {}) for f in functions
    ]
    users = [{k: v for k, v in found.items() if k not in OWN_ENV} for found in variables]
    keys_tag = tags.get(recorded.ENVIRONMENT)
    if keys_tag is None:
        return record
    keys = users[0].keys() if keys_tag == recorded.UNRECORDED else keys_tag.split()
    digest = tags.get(recorded.ENVIRONMENT_DIGEST)
    if digest is not None:
        # The deployed values are those of a function whose variables still match the digest;
        # the other one, if it differs, was edited by hand (status names it).
        record.environment_digest = digest
        stack = ctx.config.stack
        match = [u for u in users if recorded.environment_digest(stack, u) == digest]
        if match:
            values["environment"] = match[0]
        else:
            record.environment_lost, record.environment_keys = True, tuple(keys)
        return record
    # Recorded by a pocctl that kept only the keys: the values are the functions'.
    environment = {}
    for key in keys:
        value = next((v[key] for v in variables if key in v), None)
        if value is not None:
            environment[key] = value
    if len(environment) < len(keys):
        record.environment_lost, record.environment_keys = True, tuple(keys)
    else:
        values["environment"] = environment
    return record
