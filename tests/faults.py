"""Inject AWS errors moto can't produce (IAM propagation, throttling, access denied)."""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSResponse


class FailCalls:
    """Fail the first `times` calls of one operation with the given AWS error."""

    def __init__(self, client: Any, operation: str, code: str, message: str, times: int) -> None:
        self.remaining = times
        self.failed = 0
        self.code, self.message = code, message
        client.meta.events.register(f"before-call.*.{operation}", self)

    def __call__(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if self.remaining == 0:
            return None
        self.remaining -= 1
        self.failed += 1
        response = AWSResponse("https://fault.invalid", 400, {}, None)
        return response, {"Error": {"Code": self.code, "Message": self.message}}
