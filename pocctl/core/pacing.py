"""Keeping one command's calls under a service's per-account request rate.

Lambda's control plane takes 15 requests a second per account and Region, across all its APIs
except invocations, GetFunction (100 a second) and GetPolicy (Lambda Developer Guide, "Lambda
quotas": "15 requests per second across all APIs ... Cannot be increased"). A command reads
and polls from several threads at once (`down` and its sweep look at everything together), so
its calls take turns here: at most `count` in any `seconds`, each one waiting for its slot.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

# Below 15: requests spaced here may arrive closer together, and other tools share the quota.
LAMBDA_REQUESTS_PER_SECOND = 12
LAMBDA_OUTSIDE_QUOTA = frozenset(
    {"Invoke", "InvokeAsync", "InvokeWithResponseStream", "GetFunction", "GetPolicy"}
)


class Pacer:
    """Hands out send times: at most `count` in any `seconds`. A call's slot is reserved when
    it asks, so waiting needs no loop (and an injected sleep that returns at once still sees
    the pauses a real run would take)."""

    def __init__(
        self,
        count: int,
        seconds: float,
        clock: Callable[[], float],
        pause: Callable[[float], None],
        exempt: frozenset[str] = frozenset(),
    ) -> None:
        self.count, self.seconds, self.clock, self.pause = count, seconds, clock, pause
        self.exempt = exempt
        self._slots: deque[float] = deque(maxlen=count)
        self._lock = threading.Lock()

    def wait_turn(self, operation: str) -> None:
        if operation in self.exempt:
            return
        with self._lock:
            now = self.clock()
            slot = now
            if len(self._slots) == self.count:
                slot = max(now, self._slots[0] + self.seconds)
            self._slots.append(slot)
        if slot > now:
            self.pause(slot - now)

    def before_send(self, event_name: str, **_: Any) -> None:
        """botocore's `before-send` hook: every attempt, retries included, takes a turn."""
        self.wait_turn(event_name.rsplit(".", 1)[-1])
