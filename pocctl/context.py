"""The context every step receives: config, one session and its clients, the reporter, sleep."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from pocctl.arns import Arn
from pocctl.config import Config
from pocctl.pacing import LAMBDA_OUTSIDE_QUOTA, LAMBDA_REQUESTS_PER_SECOND, Pacer
from pocctl.reporting import Reporter, Wait, Why

READ_PREFIXES = ("Get", "List", "Describe", "Head")
RETRY_CONFIG = BotoConfig(retries={"mode": "standard", "max_attempts": 10})
# The first call of a run: fail in seconds when the endpoint is unreachable or the keys are bad.
PREFLIGHT_CONFIG = BotoConfig(
    retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=15
)


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    # Which engine pass ("plan", "up", "down") and step made the call; None outside steps.
    phase: str | None = None
    step: str | None = None
    # Set for calls made side by side within a step (Context.together): "group/branch".
    lane: str | None = None
    # A write call made as a read that can't be stale, which changes nothing (Context.confirming).
    confirms: bool = False

    @property
    def mutating(self) -> bool:
        return not self.operation.startswith(READ_PREFIXES) and not self.confirms


@dataclass(frozen=True)
class Span:
    """A stretch of time a step spent: an AWS call ("call"), or a pause in a retry or poll loop
    ("pause"). `loop` numbers a loop's pauses: its last one began after AWS's last "not yet"."""

    kind: str
    name: str
    phase: str | None
    step: str | None
    lane: str | None
    started: float
    ended: float
    loop: int | None = None

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class CallLog:
    """Every AWS call made through the context, for `-v`, tests and benchmarks, and the time
    each call and each pause took (`spans`), for the benchmark's critical path."""

    calls: list[Call] = field(default_factory=list)
    listeners: list[Callable[[Call], None]] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)

    def record(self, call: Call) -> None:
        self.calls.append(call)
        for listener in self.listeners:
            listener(call)

    @property
    def mutating(self) -> list[Call]:
        return [c for c in self.calls if c.mutating]


# Every service the stack's steps call.
STACK_SERVICES = ("iam", "dynamodb", "sqs", "sns", "logs", "lambda", "apigateway")

T = TypeVar("T")
_groups = itertools.count(1)
_loops = itertools.count(1)

# API Gateway applies one change at a time per REST API and answers overlapping changes with
# ConflictException, which botocore does not retry (hashicorp/terraform-provider-aws#776 retries
# every REST API operation on it); its control plane is also rate-limited per account.
API_GATEWAY_RETRY_CODES = frozenset({"ConflictException", "TooManyRequestsException"})
API_GATEWAY_RETRY_SECONDS = 120.0


class RetryingClient:
    """A boto3 client whose operations are retried, with capped backoff, on the given codes."""

    def __init__(
        self, client: Any, codes: frozenset[str], limit: float, waiting: Callable[[Why], Waiting]
    ) -> None:
        self._client, self._codes, self._limit, self._waiting = client, codes, limit, waiting

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith(("get_paginator", "get_waiter", "can_paginate")) or not callable(
            attribute
        ):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            waited, delay = 0.0, 0.1
            with self._waiting(Why(f"API Gateway to take {name}")) as waiting:
                while True:
                    try:
                        return attribute(*args, **kwargs)
                    except ClientError as exc:
                        code = exc.response.get("Error", {}).get("Code")
                        if code not in self._codes or waited >= self._limit:
                            raise
                        conflict = code == "ConflictException"
                        busy = "it applies one change at a time" if conflict else "it is throttling"
                        # No AWS document says how long a conflict lasts.
                        reason = f"{busy} ({code}); AWS gives no figure for how long"
                        waiting.because(Why(f"API Gateway to take {name}", reason))
                    waiting.pause(delay, refused=True)
                    waited += delay
                    delay = min(delay * 2, 2.0)

        return call


_loader: Any = None
_loader_lock = threading.Lock()


def new_session(**kwargs: Any) -> boto3.Session:
    """A boto3 session (boto3.Session's keyword arguments) whose clients read AWS's service
    models once per process: a session of its own parses them again, about 30 ms of CPU a
    client, and every command, test and emulator context makes a session."""
    global _loader
    core = botocore.session.Session(profile=kwargs.pop("profile_name", None))
    core.get_scoped_config()  # an unknown profile fails here (ProfileNotFound), as in boto3
    with _loader_lock:
        if _loader is None:
            _loader = core.get_component("data_loader")
        else:
            core.register_component("data_loader", _loader)
        session = boto3.Session(botocore_session=core, **kwargs)
        # boto3 adds its own data directory to the loader on every session.
        _loader.search_paths[:] = list(dict.fromkeys(_loader.search_paths))
    return session


@dataclass
class Outputs:
    """What steps found or made that others need: the table's stream (the stream mapping's
    source) and the REST API (the order URL the commands print)."""

    stream_arn: str | None = None
    api_id: str | None = None
    order_url: str | None = None

    def take(self, found: Outputs) -> None:
        """Keep what a step returned (the fields it set)."""
        for name in vars(found):
            if getattr(found, name) is not None:
                setattr(self, name, getattr(found, name))


# A pause is said once a wait has lasted about this long (shorter ones would only flicker).
REPORT_AFTER = 1.0


class Waiting:
    """One retry or poll loop: its pauses sleep, and are recorded as spans of one loop. Once
    the loop has waited about a second, each pause is reported (`Reporter.waiting`) with what it
    waits for and why (`because`); the reporter decides how often to show it."""

    def __init__(self, ctx: Context, why: Why | None = None, began: float | None = None) -> None:
        self._ctx = ctx
        self._loop = next(_loops)
        self._why = why
        self._began = ctx.clock() if began is None else began
        self._reported = False
        self._refusals = 0

    def __enter__(self) -> Waiting:
        return self

    def __exit__(self, *_: object) -> None:
        self.over()

    def over(self) -> None:
        """The loop has stopped waiting: what it said is taken down (the step may go on)."""
        if self._reported:
            self._reported = False
            _, step, _ = getattr(self._ctx._working, "label", (None, None, None))
            self._ctx.reporter.wait_over(step, self._loop)

    def because(self, why: Why) -> Waiting:
        """What the loop waits for from now on (a loop may wait for another reason later)."""
        self._why = why
        return self

    def pause(self, seconds: float, *, said: bool = False, refused: bool = False) -> None:
        """Sleep; `said`: the caller has told users about this pause already (a note);
        `refused`: AWS refused the call the loop retries after this pause (counted, and said)."""
        self._refusals += refused
        started = self._ctx.clock()
        waited = started - self._began
        if waited + seconds >= REPORT_AFTER and not said:
            self._report(waited)
        self._ctx.sleep(seconds)
        self._ctx._span("pause", "", started, self._ctx.clock(), self._loop)

    def _report(self, waited: float) -> None:
        _, step, _ = getattr(self._ctx._working, "label", (None, None, None))
        why = self._why or Why(f"{step or 'AWS'}", "AWS has not finished yet")
        self._reported = True
        self._ctx.reporter.waiting(Wait(step, self._loop, why, waited, self._refusals))


class Context:
    def __init__(
        self,
        config: Config,
        reporter: Reporter,
        *,
        session: boto3.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.reporter = reporter
        self.sleep = sleep
        self.clock = clock
        self.session = session or new_session(
            profile_name=config.profile, region_name=config.region
        )
        self.calls = CallLog()
        # What steps found or made that later steps and commands need, filled by plan/apply.
        self.outputs = Outputs()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._account_id: str | None = None
        self._working = threading.local()
        # On `down`, per step: blocks until the steps it is deleted after are done (Engine.down).
        self.turns: dict[str, Callable[[], None]] = {}
        self._lambda_pacer = Pacer(
            LAMBDA_REQUESTS_PER_SECOND,
            1.0,
            self.clock,
            lambda seconds: self.waiting().pause(seconds),
            LAMBDA_OUTSIDE_QUOTA,
        )

    @contextmanager
    def working_on(self, phase: str, step: str) -> Iterator[None]:
        """Label the calls this thread makes meanwhile (steps run on several threads)."""
        previous = getattr(self._working, "label", (None, None, None))
        self._working.label = (phase, step, None)
        try:
            yield
        finally:
            self._working.label = previous

    @contextmanager
    def confirming(self) -> Iterator[None]:
        """Calls made meanwhile are reads through a write API, made only where they change
        nothing (SQS's CreateQueue of a queue that exists): not counted as mutating."""
        previous = getattr(self._working, "confirming", False)
        self._working.confirming = True
        try:
            yield
        finally:
            self._working.confirming = previous

    def together(self, *actions: Callable[[], T]) -> list[T]:
        """Run calls that don't depend on each other at the same time; results in order.
        Every action runs to the end; then the first exception, if any, is raised."""
        if len(actions) < 2:
            return [action() for action in actions]
        phase, step, _ = getattr(self._working, "label", (None, None, None))
        group = next(_groups)

        def run(branch: int, action: Callable[[], T]) -> T:
            self._working.label = (phase, step, f"{group}/{branch}")
            return action()

        with ThreadPoolExecutor(max_workers=len(actions)) as pool:
            futures = [pool.submit(run, i, action) for i, action in enumerate(actions)]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]  # type: ignore[misc]
        return [f.result() for f in futures]

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                client = self.client_with(service, RETRY_CONFIG)
                if service == "lambda":
                    client.meta.events.register(
                        "before-send.lambda", self._lambda_pacer.before_send
                    )
                if service == "apigateway":
                    client = RetryingClient(
                        client, API_GATEWAY_RETRY_CODES, API_GATEWAY_RETRY_SECONDS, self.waiting
                    )
                self._clients[service] = client
            return self._clients[service]

    def client_with(self, service: str, config: BotoConfig) -> Any:
        """A client of its own with this botocore config (timeouts, retries), not shared with
        other calls; its calls are recorded like every other."""
        client = self.session.client(
            service,
            region_name=self.config.region,
            endpoint_url=self.config.endpoint_url,
            config=config,
        )
        self._watch(client)
        return client

    def wait_turn(self) -> None:
        """Before a step's first deletion on `down`: wait for the steps it must follow. What it
        reads before (is the resource there, is it ours) runs meanwhile."""
        phase, step, _ = getattr(self._working, "label", (None, None, None))
        turn = self.turns.get(step) if phase == "down" and step else None
        if turn is not None:
            turn()
            now = self.clock()
            self._span("turn", "", now, now)

    def waiting(self, why: Why | None = None, *, began: float | None = None) -> Waiting:
        """Start a retry or poll loop; pause between its attempts with `.pause(seconds)`. `why`
        is what users are told once it has waited about a second; `began`, when the wait
        started, if before now."""
        return Waiting(self, why, began)

    def _watch(self, client: Any) -> None:
        client.meta.events.register("before-call.*.*", self._record_call)
        client.meta.events.register("after-call.*.*", self._call_done)
        client.meta.events.register("after-call-error.*.*", self._call_done)

    def _record_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        phase, step, lane = getattr(self._working, "label", (None, None, None))
        confirms = getattr(self._working, "confirming", False)
        call = Call(model.service_model.service_name, model.name, phase, step, lane, confirms)
        context["pocctl_call"] = (f"{call.service} {call.operation}", self.clock())
        self.calls.record(call)

    def _call_done(self, context: dict[str, Any], **_: Any) -> None:
        """After the response, or after the exception (no connection): the call's span."""
        if "pocctl_call" in context:
            name, started = context["pocctl_call"]
            self._span("call", name, started, self.clock())

    def _span(
        self, kind: str, name: str, started: float, ended: float, loop: int | None = None
    ) -> None:
        phase, step, lane = getattr(self._working, "label", (None, None, None))
        self.calls.spans.append(Span(kind, name, phase, step, lane, started, ended, loop))

    def preflight(self, services: tuple[str, ...] = STACK_SERVICES) -> str:
        """Reach AWS once (so a bad endpoint or key fails fast and clearly) and return the
        account. While that call waits on the network, make the clients the command will use
        (CPU work), so the first steps don't queue to make them."""

        def make_clients() -> None:
            with suppress(Exception):  # a client that can't be made fails again where it's used
                for service in services:
                    self.client(service)

        sts = self._sts()
        maker = threading.Thread(target=make_clients, name="pocctl-clients", daemon=True)
        maker.start()
        try:
            return self._caller_account(sts)
        finally:
            maker.join()

    def _sts(self) -> Any:
        sts = self.session.client(
            "sts",
            region_name=self.config.region,
            endpoint_url=self.config.endpoint_url,
            config=PREFLIGHT_CONFIG,
        )
        self._watch(sts)
        return sts

    def _caller_account(self, sts: Any) -> str:
        if self._account_id is None:
            self._account_id = str(sts.get_caller_identity()["Account"])
        return self._account_id

    @property
    def account_id(self) -> str:
        return self._account_id or self._caller_account(self._sts())

    @property
    def partition(self) -> str:
        partition: str = self.session.get_partition_for_region(self.config.region)
        return partition

    @property
    def dns_suffix(self) -> str:
        """The partition's domain: amazonaws.com, or amazonaws.com.cn in China."""
        endpoints = self.session._session.get_data("endpoints")  # botocore's own partitions
        for partition in endpoints["partitions"]:
            if partition["partition"] == self.partition:
                return str(partition["dnsSuffix"])
        return "amazonaws.com"

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.config.region if regional else ""
        return str(Arn(self.partition, service, region, self.account_id, resource))
