"""API Gateway's control plane: one change at a time per REST API, and per-account rate limits."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from pocctl.local.aws.base import Rules, World
from pocctl.local.aws.timing import API_RATE_LIMITS, API_TOTAL_RATE
from pocctl.local.calls import Call
from pocctl.local.replies import Reply, error

CONFLICT_MESSAGE = (
    "Unable to complete operation due to concurrent modification. Please try again later."
)
THROTTLED_MESSAGE = "Too Many Requests"
# A stage's name. The API reference (CreateStage, stageName): "Stage names can only contain
# alphanumeric characters, hyphens, and underscores. Maximum length is 128 characters." AWS's
# own refusal reads "Stage name only allows a-zA-Z0-9_" (Miserlou/Zappa#356 in 2016, still so in
# klothoplatform/klotho#235 in 2023), which names no hyphen, while serverless/serverless#5693
# reports a hyphen accepted. So hyphens are allowed unless `hyphenated_stages` says not, for
# tests of pocctl under the other answer.
STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
STAGE_NAME_MESSAGE = "Stage name only allows a-zA-Z0-9_"


class TokenBucket:
    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = burst, now
        self.lock = threading.Lock()

    def take(self, now: float) -> bool:
        with self.lock:
            self.tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.rate)
            self.updated = max(self.updated, now)
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


@dataclass
class ApiChanges:
    """The change being applied to one REST API: it takes `api_change` seconds, during which
    any other change to that API is refused."""

    busy_until: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class ApiGatewayRules(Rules):
    services = ("apigateway",)

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self._apis: dict[str, ApiChanges] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self.hyphenated_stages = True  # see STAGE_NAME: the sources disagree

    def _bucket(self, name: str, rate: float, burst: float) -> TokenBucket:
        with self.world.lock:
            if name not in self._buckets:
                self._buckets[name] = TokenBucket(rate, burst, self.world.clock())
            return self._buckets[name]

    def _throttled(self, call: Call) -> bool:
        scale = self.world.timing.scale
        now = self.world.clock()
        rate, burst = API_TOTAL_RATE
        if not self._bucket("*", rate / scale, burst).take(now):
            return True
        if call.operation in API_RATE_LIMITS:
            count, seconds = API_RATE_LIMITS[call.operation]
            return not self._bucket(call.operation, count / (seconds * scale), count).take(now)
        return False

    def _changes(self, call: Call) -> ApiChanges | None:
        api_id = call.params.get("restApiId")
        if not api_id or not call.mutating:
            return None
        with self.world.lock:
            return self._apis.setdefault(str(api_id), ApiChanges())

    def _bad_stage_name(self, call: Call) -> bool:
        if call.operation not in ("CreateDeployment", "CreateStage"):
            return False
        name = call.params.get("stageName")
        if name is None:  # CreateDeployment without a stage
            return False
        allowed = STAGE_NAME.match(str(name))
        return not allowed or (not self.hyphenated_stages and "-" in str(name))

    def before(self, call: Call) -> Reply | None:
        if self._bad_stage_name(call):
            return error(call, 400, "BadRequestException", STAGE_NAME_MESSAGE)
        if call.internal or not self.world.timing.enabled:
            return None
        if self._throttled(call):
            return error(call, 429, "TooManyRequestsException", THROTTLED_MESSAGE)
        changes = self._changes(call)
        if changes is None:
            return None
        with changes.lock:
            if changes.busy_until is not None:
                return error(call, 409, "ConflictException", CONFLICT_MESSAGE)
            # Keyed by nothing: an API's id is new each run, and a stack has one API.
            changes.busy_until = self.world.after("api_change")
        return None

    def after(self, call: Call, reply: Reply) -> Reply:
        if call.internal or not self.world.timing.enabled:
            return reply
        changes = self._changes(call)
        if changes is not None and changes.busy_until is not None:  # (refused calls: never)
            # The answer comes once the change is applied, as on AWS.
            self.world.sleep(max(0.0, changes.busy_until - self.world.clock()))
            with changes.lock:
                changes.busy_until = None
        return reply
