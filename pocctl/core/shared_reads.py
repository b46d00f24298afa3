"""Answers to read calls, kept from one read-only pass over the stack for the pass after it.

`up` first reads what CloudFormation manages of the stack (its stack tag, on each resource
of a kind CloudFormation tags), then plans every step, and each plan reads its resource again:
the same calls, about a quarter of a no-op `up`'s. Nothing is written between the two passes
(SQS's CreateQueue, which a queue's plan makes to confirm it, changes nothing and is not a
read), so the second pass takes the first's answers instead of asking AWS again.

An answer kept is as good as one read a moment later only while nothing is written: a write
made through the context meanwhile (a confirming one aside) forgets every answer kept.

Each answer is handed on once, to the first call made the same way (same service, operation,
URL and request; the newest answer if the first pass made the call more than once). A second
such call goes to AWS: a plan that reads again wants what AWS says now (`read_whole` reads a
resource again when it went away between two of its calls). What is not taken is forgotten
once the second pass ends. An answer handed on is no call: the call log does not record it.

The answer kept is a copy of the response as botocore parsed it, before the handlers that
rework a parsed response (IAM's policy documents decoded, say) ran on it: handlers for
`after-call.*.*` run before those for `after-call.iam` (botocore's HierarchicalEmitter calls
those registered for more of an event name's parts first). Those run again on the answer
handed on, as they would on one from AWS. The handler that hands answers on runs before the
call log's (both are for `before-call.*.*`; it is registered first): no call is recorded."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pocctl.core.telemetry import READ_PREFIXES

Key = tuple[str, str, str, str, str, str]
_KEY = "pocctl_shared_read"  # where a kept call's key waits in botocore's request context


class SharedReads:
    def __init__(self, confirming: Callable[[], bool] = lambda: False) -> None:
        # Whether the calling thread's writes are reads that change nothing (Context.confirming).
        self._confirming = confirming
        self._lock = threading.Lock()
        self._keeping = False
        self._handing_on = False
        self._answers: dict[Key, tuple[Any, Any]] = {}

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

    def watch(self, client: Any) -> None:
        events = client.meta.events
        events.register_first("before-call.*.*", self.before_call)
        events.register_first("after-call.*.*", self.after_call)

    def unwatch(self, client: Any) -> None:
        events = client.meta.events
        events.unregister("before-call.*.*", self.before_call)
        events.unregister("after-call.*.*", self.after_call)

    def before_call(
        self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> tuple[Any, Any] | None:
        """An answer kept for this call, if one is handed on now: botocore takes it as the
        response (the first before-call handler to return one ends the call)."""
        if not model.name.startswith(READ_PREFIXES):
            if not self._confirming():
                with self._lock:  # a write: what was kept may be what it changes
                    self._answers.clear()
            return None
        key = _key(model, params)
        with self._lock:
            if self._keeping:
                context[_KEY] = key
            elif self._handing_on:
                return self._answers.pop(key, None)  # a copy no one else holds
        return None

    def after_call(
        self, http_response: Any, parsed: Any, context: dict[str, Any], **_: Any
    ) -> None:
        key = context.get(_KEY)
        if key is None:
            return
        kept = copy.deepcopy(parsed)  # as parsed: handlers registered after this one rework it
        with self._lock:
            if self._keeping:
                self._answers[key] = (http_response, kept)


def _key(model: Any, params: dict[str, Any]) -> Key:
    body = params.get("body")
    if isinstance(body, dict):  # the query protocol's, serialized later
        body = sorted(body.items())
    return (
        model.service_model.service_name,
        model.name,
        str(params.get("method")),
        str(params.get("url")),
        repr(params.get("query_string")),
        repr(body),
    )
