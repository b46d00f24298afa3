"""Inject AWS errors moto can't produce (IAM propagation, throttling, access denied)."""

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
