"""Two caches botocore lacks, for work it does again for every session and client it makes.

Both remember answers that cannot change, so nothing botocore does changes but its cost:
- An event's name with its aliases applied (EventAliaser): botocore remembers it per emitter,
  and every session and client has an emitter of its own that starts empty, so a new client
  works out each event's name again (about 40 us a name, a few dozen names a call). Emitters
  with the same aliases (all of them, unless made with others) share one memory.
- Whether an event handler takes **kwargs (botocore.compat.accepts_kwargs, which reads the
  function's signature with inspect each time): a session registers a few hundred handlers.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any

import botocore.hooks

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
    memories: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}

    def __init__(self: Any, event_emitter: Any, event_aliases: Any = None) -> None:
        init(self, event_emitter, event_aliases)
        key = tuple(sorted(self._event_aliases.items()))
        self._alias_name_cache = memories.setdefault(key, {})

    aliaser.__init__ = __init__


def _cached_accepts_kwargs(accepts_kwargs: Any) -> Any:
    known: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()

    def cached(func: Any) -> Any:
        # A bound method's signature differs from its function's only in `self`.
        function = getattr(func, "__func__", func)
        try:
            return known[function]
        except (KeyError, TypeError):  # not seen yet, or not weakly referable: ask inspect
            pass
        answer = accepts_kwargs(func)
        with contextlib.suppress(TypeError):
            known[function] = answer
        return answer

    return cached
