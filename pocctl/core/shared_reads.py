"""Answers to read calls: kept from one read-only pass over the stack for the pass after it
(`up`), or shared within one pass whose parts run side by side (`status`).

`up` first reads what CloudFormation manages of the stack (its stack tag, on each resource
of a kind CloudFormation tags), then plans every step, and each plan reads its resource again:
the same calls, about a quarter of a no-op `up`'s. The plans take the check's answers instead
of asking AWS again: a plan's answers are then as old as the check (at most the check's
duration before), and a change made meanwhile is found as one made between the plan and its
apply would be.

Only for passes of pure reads: the operations whose names begin Get, List, Describe, Head,
Filter, Query, Scan or BatchGet (telemetry.READ_PREFIXES; not, say, STS's GetSessionToken,
which makes new keys each time, and which no pass calls). A write made through the context
meanwhile (a confirming one aside, Context.confirming: SQS's CreateQueue, which changes nothing
where the queue exists) forgets every answer kept, and those of the reads made before it that
come back after it: it may have changed them. An error is an answer like any other (a
resource not found is handed on as such; a refusal too, but pocctl's retries ask again).

In `up`, each answer is handed on once, to the first call made the same way: through the same
client (botocore gives each client a config object of its own, which the key holds by id; the
context keeps its clients, so no id is reused during the passes), to the same operation, with
the same request (method, URL with its query, body). If the first pass made the call more than
once, the answer kept is that of the call made last. A second such call goes to AWS. Only
answers to a call for which botocore made a request are kept (not a test's fault injected
before the call), and none with a stream in it. Everything kept is forgotten when the passes
end (`passes`).

`status` reads the plans, the CloudFormation check and what each resource is doing at once:
they asked AWS 114 times, 46 of them what another part had asked. Within `shared`, the first
call made a given way asks AWS, and its answer is handed to every call made the same way after
it (each a copy of its own); one made while it is on its way waits for it. A call a later
before-call handler answers (a test's fault) or ends with an exception is not AWS's answer:
those waiting ask AWS themselves, told at once, or after HANDLERS_WAIT_SECONDS when an
exception left no trace (`before_call_last` says when a call got past them all).

A try made again (`keep_trying`: `read_whole` reading again what went away between two of its
calls, a retry after a refusal) is `fresh`, in either kind of pass: it wants what AWS says now.
It asks AWS, the answer kept before it is handed to no one, and while `shared`, its answer is
the one handed on after it (not that of a call made before it and back after it). So are the
reads of what a confirming CreateQueue may have made (queues.being_deleted).

A call handed on an answer ends at this module's before-call handler, the first of all: any
other before-call handler (a test's fault, say) never sees it.

What an answer handed on is not: a call. The call log does not record it (the handler that
hands it on is the first for `before-call.*.*`, registered first, so the log's never runs), and
`-v` prints no error of it (`handed_on_in`): AWS was not asked. botocore's `after-call`
handlers do run on it, as on an answer from AWS: the one kept is a copy of the response as
botocore parsed it, before any of them reworked it (IAM's policy documents decoded, say).
`after-call.*.*` is the last node botocore's `_PrefixTrie._get_items` visits for a three-part
event name, so its handlers are called before any `after-call.<service>[.<Operation>|.*]` one,
whenever either was registered. (botocore's standard retry mode credits its retry quota for
the answer, as for any success: at most a token, and the quota is full unless AWS failed.)"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pocctl.core.telemetry import READ_PREFIXES

Key = tuple[Any, ...]
_KEY = "pocctl_shared_read"  # where a kept call's key waits in botocore's request context
_SENT = "pocctl_sent"  # set in the request context once a request for the call is made
_HANDED_ON = "pocctl_handed_on"  # set in the request context of a call answered from here
_ASKING = "pocctl_asking"  # set in the request context of the call others wait for (`shared`)
_MADE = "pocctl_made"  # when the call asking AWS was made, in calls: the later one's answer wins
# How long a call waits for an identical one on its way before asking AWS itself: while that
# one's before-call handlers run (a call one of them ends with an exception never comes back,
# unseen), then once they all let it through (botocore calls after-call or after-call-error for
# whatever its request comes to, but for an interrupt and for an exception in the two steps
# before it, maybe_compress_request and apply_request_checksum; and its retries can take
# minutes). Waiting less costs a call, no more: the call that stopped waiting asks AWS in place
# of the other, and the calls made the same way after it wait for it instead.
HANDLERS_WAIT_SECONDS = 2.0
WAIT_LIMIT_SECONDS = 30.0


class _Asking:
    """A call on its way, that the calls made the same way meanwhile wait for (`shared`)."""

    def __init__(self) -> None:
        self.back = threading.Event()
        self.sent = False  # past every before-call handler: botocore makes its request

    def wait(self) -> None:
        if not self.back.wait(HANDLERS_WAIT_SECONDS) and self.sent:
            self.back.wait(WAIT_LIMIT_SECONDS - HANDLERS_WAIT_SECONDS)


def handed_on_in(context: dict[str, Any]) -> bool:
    """Whether botocore's request `context` is that of a call answered from what was kept."""
    return bool(context.get(_HANDED_ON))


class SharedReads:
    def __init__(self, confirming: Callable[[], bool] = lambda: False) -> None:
        # Whether the calling thread's writes are reads that change nothing (Context.confirming).
        self._confirming = confirming
        self._lock = threading.Lock()
        self._keeping = False
        self._handing_on = False
        self._sharing = 0  # passes `shared` is in (one within another)
        # Each answer kept: when the call that got it was made (in calls), the HTTP response,
        # the parsed one.
        self._answers: dict[Key, tuple[int, Any, Any]] = {}
        self._calls = itertools.count()
        self._cleared = -1  # the last write, in calls: answers to calls made before it are old
        self._asking: dict[Key, _Asking] = {}  # calls on their way, while `shared`
        self._here = threading.local()  # whether this thread's reads are `fresh`

    @contextmanager
    def passes(self) -> Iterator[SharedReads]:
        """Two passes, `kept` then `handed_on`: whatever happens in them (no second pass, when
        the first refuses; Ctrl-C), nothing kept outlives them."""
        try:
            yield self
        finally:
            with self._lock:
                self._keeping, self._handing_on, self._answers = False, False, {}

    @contextmanager
    def kept(self) -> Iterator[None]:
        """Keep the answers to the read calls made meanwhile (forgetting any kept before)."""
        with self._lock:
            self._keeping, self._answers = True, {}
        try:
            yield
        finally:
            with self._lock:
                self._keeping = False

    @contextmanager
    def handed_on(self) -> Iterator[None]:
        """Answer the read calls made meanwhile from what was kept, each answer once."""
        with self._lock:
            self._handing_on = True
        try:
            yield
        finally:
            with self._lock:
                self._handing_on, self._answers = False, {}

    @contextmanager
    def shared(self) -> Iterator[None]:
        """One read-only pass whose parts run side by side (`status`: the check, the plans and
        what each resource is doing): the answer AWS gave a call is handed to every call made
        the same way after it, and a call made while an identical one is on its way waits for
        that one's answer. A part reads as of the moment of the first such call. A pass within
        a pass (`ls`'s, around `status`'s check) is part of it."""
        with self._lock:
            if not self._sharing:
                self._answers = {}
            self._sharing += 1
        try:
            yield
        finally:
            asking = {}
            with self._lock:
                self._sharing -= 1
                if not self._sharing:
                    self._answers, asking, self._asking = {}, self._asking, {}
            for waited_for in asking.values():
                waited_for.back.set()

    def forget_errors(self) -> None:
        """The error answers kept are handed to no one from now on (a refusal that passed, in a
        part of the pass whose errors are set aside: `ls`'s confirming of what is tagged)."""
        with self._lock:
            self._answers = {
                key: answer
                for key, answer in self._answers.items()
                if not (isinstance(answer[2], dict) and "Error" in answer[2])
            }

    @contextmanager
    def fresh(self, on: bool = True) -> Iterator[None]:
        """The calling thread's reads ask AWS meanwhile, in any pass (`on`; a thread already
        fresh stays so): a try made again wants what AWS says now. A pass that keeps answers
        keeps theirs, in place of older ones. (Context.together carries it into the threads it
        starts.)"""
        before = self.is_fresh()
        self._here.fresh = on or before
        try:
            yield
        finally:
            self._here.fresh = before

    def is_fresh(self) -> bool:
        return bool(getattr(self._here, "fresh", False))

    def watch(self, client: Any) -> None:
        events = client.meta.events
        events.register_first("before-call.*.*", self.before_call)
        events.register_last("before-call", self.before_call_last)  # after any other's
        events.register_first("request-created.*.*", self.request_created)
        events.register_first("after-call.*.*", self.after_call)
        events.register_first("after-call-error.*.*", self.after_call_error)

    def unwatch(self, client: Any) -> None:
        events = client.meta.events
        events.unregister("before-call.*.*", self.before_call)
        events.unregister("before-call", self.before_call_last)
        events.unregister("request-created.*.*", self.request_created)
        events.unregister("after-call.*.*", self.after_call)
        events.unregister("after-call-error.*.*", self.after_call_error)

    def before_call(
        self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> tuple[Any, Any] | None:
        """An answer kept for this call, if one is handed on now: botocore takes it as the
        response (the first before-call handler to return one ends the call)."""
        if not model.name.startswith(READ_PREFIXES):
            if not self._confirming():
                with self._lock:  # a write: what was kept may be what it changes
                    self._answers.clear()
                    self._cleared = next(self._calls)  # and what calls made before it find
            return None
        if not (self._keeping or self._handing_on or self._sharing):
            return None  # outside the passes (read again under the lock below)
        if model.has_streaming_output or model.has_event_stream_output:
            return None  # a stream is read once, and can't be copied
        key = _key(model, params, context)
        fresh = self.is_fresh()
        with self._lock:
            if self._handing_on:
                found = self._answers.pop(key, None)  # a copy no one else holds; or older
                if found is not None and not fresh:
                    context[_HANDED_ON] = True
                    return found[1:]
                return None
            if self._keeping or (self._sharing and fresh):
                self._asks(key, context)
                return None
            if not self._sharing:
                return None
            found = self._answers.get(key)
            on_its_way = self._asking.get(key) if found is None else None
            if found is None and on_its_way is None:
                self._asks(key, context, waited_for=True)
                return None
        if on_its_way is not None:
            on_its_way.wait()
            with self._lock:
                found = self._answers.get(key)
                if found is None:  # it came back with none, or not in time
                    if self._asking.get(key) is on_its_way:
                        del self._asking[key]  # may never come back: this call asks in its place
                    self._asks(key, context, waited_for=key not in self._asking)
                    return None
        assert found is not None  # found at first, or once the one on its way came back
        context[_HANDED_ON] = True
        return found[1], copy.deepcopy(found[2])  # an answer that no other call holds

    def _asks(self, key: Key, context: dict[str, Any], *, waited_for: bool = False) -> None:
        """The call asks AWS, and its answer is kept; `waited_for`: the calls made the same way
        meanwhile wait for it. (Under the lock.)"""
        context[_KEY], context[_MADE] = key, next(self._calls)
        if waited_for:
            self._asking[key] = context[_ASKING] = _Asking()

    def before_call_last(self, context: dict[str, Any], **_: Any) -> None:
        """No before-call handler answered the call or ended it with an exception: botocore
        makes its request, and then calls after-call, or after-call-error for an exception
        (not for an interrupt, nor one raised before the request by maybe_compress_request or
        apply_request_checksum: WAIT_LIMIT_SECONDS)."""
        on_its_way = context.get(_ASKING)
        if on_its_way is not None:
            on_its_way.sent = True

    def request_created(self, request: Any, **_: Any) -> None:
        """A request for the call is made (each attempt), to be signed and sent: the call was
        not answered by a before-call handler. `request` is botocore's AWSRequest; its context
        is the request context before-call and after-call see. (The prepared request
        before-send gets has none in the oldest botocore pocctl takes.)"""
        request.context[_SENT] = True

    def after_call(
        self, http_response: Any, parsed: Any, context: dict[str, Any], **_: Any
    ) -> None:
        key = context.get(_KEY)
        if key is not None and context.get(_SENT):  # not a before-call handler's answer
            kept = copy.deepcopy(parsed)  # as parsed: the handlers after this one rework it
            made = context[_MADE]
            with self._lock:
                # A call made before another that came back first has an older answer.
                older = self._answers.get(key, (-1,))[0]
                if (self._keeping or self._sharing) and made > max(older, self._cleared):
                    self._answers[key] = (made, http_response, kept)
        self._done_asking(context)

    def after_call_error(self, context: dict[str, Any], **_: Any) -> None:
        """The call failed with no answer (a connection error, say): those waiting ask AWS."""
        self._done_asking(context)

    def _done_asking(self, context: dict[str, Any]) -> None:
        waited_for = context.pop(_ASKING, None)
        if waited_for is None:
            return
        with self._lock:
            if self._asking.get(context[_KEY]) is waited_for:
                del self._asking[context[_KEY]]
        waited_for.back.set()


def _key(model: Any, params: dict[str, Any], context: dict[str, Any]) -> Key:
    body = params.get("body")
    if isinstance(body, dict):  # the query protocol's, serialized later
        body = sorted(body.items())
    return (
        model.service_model.service_name,
        model.name,
        id(context.get("client_config")),  # the client: each has its own config object
        str(params.get("method")),
        str(params.get("url")),  # with its query string
        repr(body),
    )
