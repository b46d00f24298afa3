"""Two caches botocore lacks, for work it does again for every session and client it makes.

Each keeps an answer only while what it was worked out from is unchanged, so botocore does
what it did, at less cost (its debug log says an aliased name once a process, not once a
client):
- An event's name with its aliases applied (EventAliaser): botocore remembers it per emitter,
  and every session and client has an emitter of its own that starts empty, so a new client
  works out each event's name again (about 40 us a name, a few dozen names a call). Emitters
  with botocore's own aliases (all of them, unless made with others) share one memory.
- Whether an event handler takes **kwargs (botocore.compat.accepts_kwargs, which reads the
  function's signature with inspect each time): a session registers a few hundred handlers.
"""

from __future__ import annotations

import threading
import types
import weakref
from typing import Any

import botocore.hooks
from botocore.utils import EVENT_ALIASES

_installed = False
_lock = threading.Lock()


def install() -> None:
    """Put both caches in place, once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        _share_alias_memory(botocore.hooks.EventAliaser)
        botocore.hooks.accepts_kwargs = _cached_accepts_kwargs(botocore.hooks.accepts_kwargs)


def _share_alias_memory(aliaser: Any) -> None:
    init = aliaser.__init__
    defaults = list(EVENT_ALIASES.items())
    shared: dict[str, str] = {}

    def __init__(self: Any, event_emitter: Any, event_aliases: Any = None) -> None:
        init(self, event_emitter, event_aliases)
        # botocore's own aliases, in its order (the first that matches wins), as a session's
        # emitter has them and as each client's copy of it has them (EventAliaser.__copy__).
        # An emitter made with other aliases keeps a memory of its own.
        if event_aliases is None or list(event_aliases.items()) == defaults:
            self._alias_name_cache = shared

    aliaser.__init__ = __init__


def _cached_accepts_kwargs(accepts_kwargs: Any) -> Any:
    # A plain function's answer, with what it was read from: its code and any signature set
    # on it (inspect honours __signature__). A bound method's is its function's.
    known: weakref.WeakKeyDictionary[Any, tuple[Any, Any, Any]] = weakref.WeakKeyDictionary()

    def cached(func: Any) -> Any:
        function = func.__func__ if isinstance(func, types.MethodType) else func
        if not isinstance(function, types.FunctionType):  # partials, callable objects...
            return accepts_kwargs(func)
        read_from = (function.__code__, function.__dict__.get("__signature__"))
        found = known.get(function)
        if found is not None and found[:2] == read_from:
            return found[2]
        answer = accepts_kwargs(func)
        known[function] = (*read_from, answer)
        return answer

    return cached
