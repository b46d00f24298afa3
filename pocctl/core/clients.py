"""Clients a finished command gives back, for the next command in the same process.

A botocore client costs some 3 ms of CPU to make (its class, its copy of the session's event
handlers, its endpoint rules), and its first calls cost more (it works out each event name it
emits once). A process that runs many commands (`demo`, the tests) would make the same clients
again for each: about a sixth of the test suite's CPU. A command's context takes a client from
here when one was made the same way, and gives its clients back when the command ends.

"The same way": the same service, region, endpoint and botocore config (one of pocctl's own,
not one made for a call), from a session made by `new_session` with the same arguments,
environment and AWS config files, whose event handlers no one has changed since
(`session.inputs`). A client given back carries none of the handlers its last context added
(`Context.release` takes them off first). One that retried a call, or failed one for want of
an answer, is not given back: in botocore's standard retry mode each client has a retry quota
that retries spend, and a fresh client's is full."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from botocore.config import Config as BotoConfig

from pocctl.core.session import on_handler_change

# Idle clients kept at most; the oldest goes first (an emulator's endpoint that is gone, a
# config made for one call).
KEPT = 64

_idle: OrderedDict[tuple[Hashable, ...], list[tuple[Any, BotoConfig]]] = OrderedDict()
_lock = threading.Lock()


def take(key: tuple[Hashable, ...]) -> Any | None:
    """An idle client made as `key` says, no longer idle; None if there is none."""
    with _lock:
        found = _idle.get(key)
        while found:
            client, _ = found.pop()
            if client not in _changed:  # not changed while it waited (someone kept it)
                break
            client.close()
        else:
            client = None
        if found is not None and not found:
            del _idle[key]
        return client


# Clients whose event handlers someone other than their context changed (a test's faults).
_changed: weakref.WeakSet[Any] = weakref.WeakSet()


def notice_changes(client: Any, own: frozenset[Callable[..., Any]]) -> None:
    """From now on, a handler added to or removed from `client` that is not one of `own`'s
    functions (those its contexts add and take off themselves) keeps it from being given back."""
    made = weakref.ref(client)

    def changed(handler: Any) -> None:
        found = made()
        if found is not None and not _is_own(handler, own):
            _changed.add(found)

    on_handler_change(client.meta.events, changed)


def _is_own(handler: Any, own: frozenset[Callable[..., Any]]) -> bool:
    try:
        return getattr(handler, "__func__", handler) in own
    except TypeError:  # unhashable: a callable object, never one of ours
        return False


def give_back(key: tuple[Hashable, ...], client: Any, config: BotoConfig) -> None:
    """Keep `client` for the next context that asks for one made as `key` says. `config` is
    kept with it: the key holds its id, which must not name another config meanwhile."""
    if client in _changed:
        return
    with _lock:
        _idle.setdefault(key, []).append((client, config))
        _idle.move_to_end(key)
        while _count() > KEPT:
            oldest = next(iter(_idle))
            dropped, _ = _idle[oldest].pop(0)
            if not _idle[oldest]:
                del _idle[oldest]
            dropped.close()  # its idle connections


def idle() -> int:
    """How many clients wait to be taken (for the tests)."""
    with _lock:
        return _count()


def _count() -> int:
    return sum(len(clients) for clients in _idle.values())


class Wear:
    """Whether a client's retry quota may be spent: one of its calls was retried, or failed
    without an answer. Its handlers go on the client while a context holds it."""

    def __init__(self) -> None:
        self.spent = False

    def answered(self, parsed: Any = None, **_: Any) -> None:
        metadata = parsed.get("ResponseMetadata", {}) if isinstance(parsed, dict) else {}
        if metadata.get("RetryAttempts"):
            self.spent = True

    def failed(self, **_: Any) -> None:
        self.spent = True

    def watch(self, client: Any) -> None:
        client.meta.events.register("after-call.*.*", self.answered)
        client.meta.events.register("after-call-error.*.*", self.failed)

    def unwatch(self, client: Any) -> None:
        client.meta.events.unregister("after-call.*.*", self.answered)
        client.meta.events.unregister("after-call-error.*.*", self.failed)
