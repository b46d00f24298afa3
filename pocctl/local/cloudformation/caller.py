"""CloudFormation as the emulator runs it: clients that act as the stack's caller, and the wait
for a role's propagation that a role resource ends with."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.config import Config

from pocctl.core.session import MadeWhenNeeded
from pocctl.local.calls import CLOUDFORMATION_HEADER
from pocctl.local.cloudformation.providers import POLL_SECONDS, STABILIZE_SECONDS, Clients
from pocctl.local.cloudformation.service import CloudFormation
from pocctl.local.cloudformation.stacks import Deployer
from pocctl.local.iam import SEEN_BY, Propagation

# Like CloudFormation's handlers, retry what AWS throttles; nothing else is retried.
CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=16)


def as_cloudformation(request: Any, **_: Any) -> None:
    """CloudFormation's calls may set its aws:cloudformation:* tags (aws/reserved_tags.py)."""
    request.headers[CLOUDFORMATION_HEADER] = "1"


class CallerClients:
    """boto3 clients signed with the caller's access key: the emulator judges each call as the
    caller's (its IAM policies), not as its own."""

    def __init__(self, endpoint_url: Callable[[], str]) -> None:
        self.endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()
        self._sessions = MadeWhenNeeded()  # of its own clients

    def __call__(self, access_key: str, region: str) -> Clients:
        def client(service: str) -> Any:
            key = (access_key, region, service)
            with self._lock:
                if key not in self._clients:
                    self._clients[key] = self._sessions.client(
                        service,
                        region_name=region,
                        endpoint_url=self.endpoint_url(),
                        aws_access_key_id=access_key,
                        aws_secret_access_key="pocctl-local",  # the emulator checks no signature
                        config=CONFIG,
                    )
                    self._clients[key].meta.events.register("before-sign.*.*", as_cloudformation)
                return self._clients[key]

        return client


def cloudformation(
    account: str,
    endpoint_url: Callable[[], str],
    propagation: Propagation,
    clock: Callable[[], float],
    log: Callable[[str], None],
) -> CloudFormation:
    def role_settled(arn: str) -> None:
        reached = max(propagation.reaches(arn, service) for service in SEEN_BY)
        deadline = time.monotonic() + STABILIZE_SECONDS
        while clock() < reached and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)

    clients = CallerClients(endpoint_url)
    return CloudFormation(account, clients, Deployer(clients, role_settled, log))
