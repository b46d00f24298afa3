"""A command's first contact with AWS: one call that fails in seconds when the endpoint is
unreachable or the keys are bad, while the clients the command will use are made."""

from __future__ import annotations

import threading
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from botocore.config import Config as BotoConfig

if TYPE_CHECKING:
    from pocctl.core.context import Context

# The first call of a run: fail in seconds when the endpoint is unreachable or the keys are bad.
PREFLIGHT_CONFIG = BotoConfig(
    retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=15
)
# Every service the stack's steps call.
STACK_SERVICES = ("iam", "dynamodb", "sqs", "sns", "logs", "lambda", "apigateway")


def sts_client(ctx: Context) -> Any:
    return ctx.client_with("sts", PREFLIGHT_CONFIG)


def preflight(ctx: Context, services: tuple[str, ...] = STACK_SERVICES) -> str:
    """Reach AWS once (so a bad endpoint or key fails fast and clearly) and return the
    account. While that call waits on the network, make the clients the command will use
    (CPU work), so the first steps don't queue to make them."""

    def make_clients() -> None:
        with suppress(Exception):  # a client that can't be made fails again where it's used
            for service in services:
                ctx.client(service)

    sts = sts_client(ctx)
    maker = threading.Thread(target=make_clients, name="pocctl-clients", daemon=True)
    maker.start()
    try:
        return ctx.account_from(sts)
    finally:
        maker.join()
