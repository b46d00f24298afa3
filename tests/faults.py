"""Inject AWS errors moto can't produce (IAM propagation, throttling, access denied).

A fault on a read that `up`'s plans make is not seen by a plan whose read is answered from the
CloudFormation check's (pocctl/core/shared_reads.py): that answer is handed on before any other
before-call handler runs. A fault meant for the plans' read of something the check reads (a
function's or a topic's tags) fires in the check: its first call. (An answer a fault made is
never handed on: the plans then ask AWS.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from pocctl.cli.options import Runtime
from pocctl.core.session import new_session


class FailCalls:
    """Fail the first `times` calls of one operation with the given AWS error: of one client,
    or of every client a boto3 session makes afterwards."""

    def __init__(self, target: Any, operation: str, code: str, message: str, times: int) -> None:
        self.remaining = times
        self.failed = 0
        self.code, self.message = code, message
        events = target.events if isinstance(target, boto3.Session) else target.meta.events
        events.register(f"before-call.*.{operation}", self)

    def __call__(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if self.remaining == 0:
            return None
        self.remaining -= 1
        self.failed += 1
        response = AWSResponse("https://fault.invalid", 400, {}, None)
        return response, {"Error": {"Code": self.code, "Message": self.message}}


def raising(exception: BaseException) -> Callable[..., None]:
    """An event handler that raises, as a Ctrl-C or a bug would in the middle of a call."""

    def handler(**_: Any) -> None:
        raise exception

    return handler


def runtime_with(*prepare: Callable[[boto3.Session], object], **more: Any) -> Runtime:
    """The CLI's runtime, with each session it makes prepared first (faults registered on its
    events reach every client made from it)."""

    def session(**kwargs: Any) -> boto3.Session:
        made = new_session(**kwargs)
        for step in prepare:
            step(made)
        return made

    return Runtime(session=session, **more)
