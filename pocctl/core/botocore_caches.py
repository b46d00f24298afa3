"""Caches botocore lacks, for work it does again for every session, client and loader it makes.

Each keeps an answer only while what it was worked out from is unchanged, so botocore does
what it did (but for the service lists, below), at less cost (its debug log says an aliased
name once a process, not once a client):
- An event's name with its aliases applied (EventAliaser): botocore remembers it per emitter,
  and every session and client has an emitter of its own that starts empty, so a new client
  works out each event's name again (about 40 us a name, a few dozen names a call). Emitters
  with botocore's own aliases (all of them, unless made with others) share one memory.
- Whether an event handler takes **kwargs (botocore.compat.accepts_kwargs, which reads the
  function's signature with inspect each time): a session registers a few hundred handlers.
- Which services have a model of a kind (Loader.list_available_services): each loader walks
  every service's directory for it, some 3,500 system calls (7,000 with moto's), once per
  kind. moto makes a loader for each model it reads, botocore one for each session made apart
  from new_session's: a process walked them some 130 times as its first stack came up. Loaders
  of botocore's own walk (moto's included) with the same search paths share one answer, walked
  again when a search path's listing changes (a service's directory added or removed). Not
  seen: a version or a kind of model added to a service's directory already there, as by a
  botocore loader that listed before it; a loader that listed before gets the newer answer.
- A model or data file a loader is reading already (Loader.load_service_model, load_data): its
  first readers at once each read it, since botocore's per-loader cache (instance_cache) fills
  after the read, and a command's first clients are made side by side. A second reader waits
  for the first and takes its answer from that cache. (moto makes a loader per read: the
  emulator keeps its readers to one apart, local/patches.py.)

Walks and reads side by side were also what made a process's first `up` slow: each of their
system calls hands the GIL to another thread, some 3 million futex calls in all.
"""

from __future__ import annotations

import copy
import os
import threading
import types
import weakref
from collections.abc import Callable
from typing import Any

import botocore.hooks
import botocore.loaders
from botocore.utils import EVENT_ALIASES

_installed = False
_lock = threading.Lock()


def install() -> None:
    """Put the caches in place, once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        _share_alias_memory(botocore.hooks.EventAliaser)
        botocore.hooks.accepts_kwargs = _cached_accepts_kwargs(botocore.hooks.accepts_kwargs)
        loader = botocore.loaders.Loader
        loader.list_available_services = _shared_service_lists(loader.list_available_services)
        loader.load_service_model = _one_reader_at_a_time(loader.load_service_model)
        loader.load_data = _one_reader_at_a_time(loader.load_data)


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


def _listings(paths: tuple[str, ...]) -> tuple[tuple[str, ...] | None, ...]:
    """What each search path holds: a service's directory added or removed changes it."""
    listings: list[tuple[str, ...] | None] = []
    for path in paths:
        try:
            listings.append(tuple(sorted(os.listdir(path))))
        except OSError:
            listings.append(None)
    return tuple(listings)


def _walks_as_botocore(loader: Any) -> bool:
    """Lists as botocore's Loader does, its file loader's answers included: neither its class
    nor the loader itself (a test's patch, say) changed how."""
    Loader, JSONFileLoader = botocore.loaders.Loader, botocore.loaders.JSONFileLoader
    kind, own = type(loader), vars(loader)
    exists = getattr(loader.file_loader, "exists", None)
    return (
        kind.list_available_services is Loader.list_available_services
        and kind._potential_locations is Loader._potential_locations
        and "list_available_services" not in own
        and "_potential_locations" not in own
        and getattr(exists, "__func__", None) is JSONFileLoader.exists
    )


def _shared_service_lists(list_available_services: Any) -> Any:
    # (loader's and file loader's kinds, search paths, model kind)
    #   -> (what the search paths held, the answer)
    known: dict[tuple[Any, ...], tuple[Any, tuple[str, ...]]] = {}
    walking = threading.Lock()  # one walk at a time: a second asker takes the first's answer

    def shared(self: Any, type_name: str) -> list[str]:
        if not _walks_as_botocore(self):  # a loader that lists its own way keeps to itself
            return list_available_services(self, type_name)  # type: ignore[no-any-return]
        paths = tuple(self.search_paths)
        key = (type(self), type(self.file_loader), paths, type_name)
        with walking:
            held = _listings(paths)
            found = known.get(key)
            if found is None or found[0] != held:
                # Walked by a copy with no memory: this loader's own (instance_cache) would
                # give back what it listed before, for other search paths or files.
                walker = copy.copy(self)
                walker._cache, walker._search_paths = {}, list(paths)
                found = known[key] = (held, tuple(list_available_services(walker, type_name)))
        return list(found[1])

    return shared


def _one_reader_at_a_time(read: Callable[..., Any]) -> Callable[..., Any]:
    guarding = threading.Lock()

    def one_at_a_time(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = (read, *args, *sorted(kwargs.items()))
        with guarding:  # kept on the loader: a loader need not be hashable
            guards = self.__dict__.setdefault("_pocctl_readers", {})
            guard = guards.setdefault(key, threading.RLock())
        with guard:
            return read(self, *args, **kwargs)

    return one_at_a_time
