"""The context every step receives: config, one session and its clients, the reporter, sleep."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from pocctl.core import clients as idle_clients
from pocctl.core import preflight as first_contact
from pocctl.core.arns import Arn
from pocctl.core.config import Config
from pocctl.core.pacing import LAMBDA_OUTSIDE_QUOTA, LAMBDA_REQUESTS_PER_SECOND, Pacer
from pocctl.core.preflight import STACK_SERVICES
from pocctl.core.reporting import Reporter, Wait, Why
from pocctl.core.retry import Policy, call_with_retries, error_code
from pocctl.core.session import inputs, new_session
from pocctl.core.shared_reads import SharedReads
from pocctl.core.telemetry import CallLog, Label, Telemetry

RETRY_CONFIG = BotoConfig(retries={"mode": "standard", "max_attempts": 10})
# The configs whose clients a finished command gives back (a config made for one call is not).
SHARED_CONFIGS = (RETRY_CONFIG, first_contact.PREFLIGHT_CONFIG)
# The handlers a context adds to its clients and takes off on release: any other handler keeps a
# client from being given back (clients.notice_changes).
OWN_HANDLERS: frozenset[Callable[..., Any]] = frozenset(
    {
        Telemetry._record_call,
        Telemetry._call_done,
        idle_clients.Wear.answered,
        idle_clients.Wear.failed,
        Pacer.before_send,
        SharedReads.before_call,
        SharedReads.before_call_last,
        SharedReads.request_created,
        SharedReads.after_call_error,
        SharedReads.after_call,
    }
)

T = TypeVar("T")
_groups = itertools.count(1)
_loops = itertools.count(1)

# API Gateway applies one change at a time per REST API and answers overlapping changes with
# ConflictException, which botocore does not retry (hashicorp/terraform-provider-aws#776 retries
# every REST API operation on it); its control plane is also rate-limited per account.
API_GATEWAY_RETRY_CODES = frozenset({"ConflictException", "TooManyRequestsException"})
API_GATEWAY_RETRY_SECONDS = 120.0
API_GATEWAY_RETRY = Policy(
    0.1, 2.0, 2.0, limit=API_GATEWAY_RETRY_SECONDS, codes=API_GATEWAY_RETRY_CODES
)


class RetryingClient:
    """A boto3 client whose operations are retried as `policy` says (API Gateway's conflicts)."""

    def __init__(self, client: Any, policy: Policy, ctx: Context) -> None:
        self._client, self._policy, self._ctx = client, policy, ctx

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith(("get_paginator", "get_waiter", "can_paginate")) or not callable(
            attribute
        ):
            return attribute

        def why_refused(exc: ClientError) -> Why:
            code = error_code(exc)
            conflict = code == "ConflictException"
            busy = "it applies one change at a time" if conflict else "it is throttling"
            # No AWS document says how long a conflict lasts.
            reason = f"{busy} ({code}); AWS gives no figure for how long"
            return Why(f"API Gateway to take {name}", reason)

        def call(*args: Any, **kwargs: Any) -> Any:
            return call_with_retries(
                self._ctx,
                lambda: attribute(*args, **kwargs),
                self._policy,
                why=Why(f"API Gateway to take {name}"),
                why_refused=why_refused,
            )

        return call


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
            _, step, _ = self._ctx.label()
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
        self._ctx.telemetry.span("pause", "", started, self._ctx.clock(), self._loop)

    def _report(self, waited: float) -> None:
        _, step, _ = self._ctx.label()
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
        self.telemetry = Telemetry(CallLog(), lambda: self.clock(), self.label, self._confirming)
        # What steps found or made that later steps and commands need, filled by plan/apply.
        self.outputs = Outputs()
        # Answers one read-only pass keeps for the next (`up`'s check, then its plans).
        self.shared_reads = SharedReads(self._confirming)
        self._clients: dict[str, Any] = {}
        # Every client this context made or took, with what give_back needs (clients.py).
        self._made: list[tuple[tuple[Any, ...] | None, Any, BotoConfig, idle_clients.Wear]] = []
        self._lock = threading.RLock()  # client() holds it while client_with() takes it
        self._account_id: str | None = None
        self._account_lock = threading.RLock()  # the first to need it asks; the others wait
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

    @property
    def calls(self) -> CallLog:
        """Every call and span recorded so far (a context may be handed another's log)."""
        return self.telemetry.log

    @calls.setter
    def calls(self, log: CallLog) -> None:
        self.telemetry.log = log

    def label(self) -> Label:
        """What this thread works on: (phase, step, lane)."""
        label: Label = getattr(self._working, "label", (None, None, None))
        return label

    def _confirming(self) -> bool:
        return bool(getattr(self._working, "confirming", False))

    @contextmanager
    def working_on(self, phase: str, step: str) -> Iterator[None]:
        """Label the calls this thread makes meanwhile (steps run on several threads)."""
        previous = self.label()
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
        phase, step, _ = self.label()
        group = next(_groups)
        fresh = self.shared_reads.is_fresh()

        def run(branch: int, action: Callable[[], T]) -> T:
            self._working.label = (phase, step, f"{group}/{branch}")
            with self.shared_reads.fresh(fresh):
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
                    client = RetryingClient(client, API_GATEWAY_RETRY, self)
                self._clients[service] = client
            return self._clients[service]

    def client_with(self, service: str, config: BotoConfig) -> Any:
        """A client of its own with this botocore config (timeouts, retries), not shared with
        other calls; its calls are recorded like every other. With one of pocctl's own configs,
        one a finished command gave back is taken when it was made the same way (clients.py)."""
        made_as = inputs(self.session)
        key = None
        if made_as is not None and any(config is own for own in SHARED_CONFIGS):
            key = (made_as, service, self.config.region, self.config.endpoint_url, id(config))
        client = idle_clients.take(key) if key is not None else None
        if client is None:
            client = self.session.client(
                service,
                region_name=self.config.region,
                endpoint_url=self.config.endpoint_url,
                config=config,
            )
            if key is not None:
                idle_clients.notice_changes(client, OWN_HANDLERS)
        self.telemetry.watch(client)
        self.shared_reads.watch(client)
        wear = idle_clients.Wear()
        wear.watch(client)
        with self._lock:
            self._made.append((key, client, config, wear))
        return client

    def release(self) -> None:
        """The command is over: its clients go back, without this context's handlers, for the
        next command of this process to take (clients.py). The context makes new ones if it is
        used again."""
        with self._lock:
            made, self._made, self._clients = self._made, [], {}
        for key, client, config, wear in made:
            self.telemetry.unwatch(client)
            self.shared_reads.unwatch(client)
            wear.unwatch(client)
            client.meta.events.unregister("before-send.lambda", self._lambda_pacer.before_send)
            if key is not None and not wear.spent:
                idle_clients.give_back(key, client, config)

    def wait_turn(self) -> None:
        """Before a step's first deletion on `down`: wait for the steps it must follow. What it
        reads before (is the resource there, is it ours) runs meanwhile."""
        phase, step, _ = self.label()
        turn = self.turns.get(step) if phase == "down" and step else None
        if turn is not None:
            turn()
            now = self.clock()
            self.telemetry.span("turn", "", now, now)

    def waiting(self, why: Why | None = None, *, began: float | None = None) -> Waiting:
        """Start a retry or poll loop; pause between its attempts with `.pause(seconds)`. `why`
        is what users are told once it has waited about a second; `began`, when the wait
        started, if before now."""
        return Waiting(self, why, began)

    def preflight(self, services: tuple[str, ...] = STACK_SERVICES) -> str:
        """Reach AWS once, making the command's clients meanwhile; the account (preflight.py)."""
        return first_contact.preflight(self, services)

    def account_from(self, sts: Any) -> str:
        """The account, asked of `sts` the first time (once, however many steps need it at
        once: a failed ask is made again by the next)."""
        with self._account_lock:
            if self._account_id is None:
                self._account_id = str(sts.get_caller_identity()["Account"])
            return self._account_id

    @property
    def account_id(self) -> str:
        return self._account_id or self.account_from(first_contact.sts_client(self))

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

    @property
    def region(self) -> str:
        return self.config.region

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return str(Arn(self.partition, service, region, self.account_id, resource))
