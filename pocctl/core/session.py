"""Making boto3 sessions that share botocore's parsed service models within the process."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import boto3
import botocore.session

from pocctl.core import botocore_caches

botocore_caches.install()

_loader: Any = None
_loader_lock = threading.Lock()
# How each session new_session made was made, while its event handlers are as made (inputs).
_made_as: weakref.WeakKeyDictionary[boto3.Session, Hashable] = weakref.WeakKeyDictionary()
# The files botocore reads settings and keys from: the environment may name others.
AWS_FILES = (
    ("AWS_CONFIG_FILE", "~/.aws/config"),
    ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
    ("BOTO_CONFIG", "~/.boto"),  # keys, when no other source has them
    ("", "/etc/boto.cfg"),
)


# Read as a client is made, besides AWS_* and BOTO*: its CA bundle (botocore/endpoint.py) and
# where TLS keys are logged (botocore/httpsession.py).
ALSO_READ = frozenset({"REQUESTS_CA_BUNDLE", "SSLKEYLOGFILE"})


def _read_by_botocore(variable: str) -> bool:
    """AWS's settings, botocore's own (BOTO_CONFIG, BOTOCORE_EXPERIMENTAL__PLUGINS), and the
    proxies urllib's getproxies() reads (botocore calls it)."""
    return (
        variable.startswith(("AWS_", "BOTO"))
        or variable in ALSO_READ
        or variable.lower().endswith("_proxy")
    )


def new_session(**kwargs: Any) -> boto3.Session:
    """A boto3 session (boto3.Session's keyword arguments) whose clients read AWS's service
    models once per process: a session of its own parses them again, about 30 ms of CPU a
    client, and every command, test and emulator context makes a session."""
    global _loader
    made_as = _inputs(kwargs)
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
    _made_as[session] = made_as
    _forget_on_change(session)
    return session


def inputs(session: boto3.Session) -> Hashable | None:
    """What made `session` what it is, if new_session made it and its event handlers are as
    made: two sessions with the same inputs make clients that behave the same (clients.py).
    None otherwise (a test's faults, --verbose's printing are handlers added to a session)."""
    return _made_as.get(session)


class MadeWhenNeeded:
    """A session new_session makes when a client is first asked of it: for the emulator's own
    clients, in place of boto3.client's default session (which parses the models again)."""

    def __init__(self) -> None:
        self._session: boto3.Session | None = None
        self._lock = threading.Lock()

    def client(self, service: str, **kwargs: Any) -> Any:
        with self._lock:
            if self._session is None:
                self._session = new_session()
            session = self._session
        return session.client(service, **kwargs)


def _inputs(kwargs: dict[str, Any]) -> Hashable:
    """new_session's arguments and settings_now(): all a session takes settings from."""
    return (tuple(sorted(kwargs.items())), *settings_now())


def settings_now() -> tuple[Hashable, Hashable]:
    """The environment botocore reads (keys, region, profile, proxies, CA bundle) and its
    files' sizes and times, as they are now."""
    environment = tuple(sorted(item for item in os.environ.items() if _read_by_botocore(item[0])))
    files: list[tuple[str, tuple[int, int] | None]] = []
    for variable, default in AWS_FILES:
        path = Path(os.environ.get(variable) or default).expanduser()
        try:
            stat = path.stat()
        except OSError:
            files.append((str(path), None))
        else:
            files.append((str(path), (stat.st_mtime_ns, stat.st_size)))
    return environment, tuple(files)


def _forget_on_change(session: boto3.Session) -> None:
    """Once anyone adds or removes one of `session`'s event handlers, its inputs are unknown."""
    made = weakref.ref(session)

    def forget(_: Any) -> None:
        found = made()
        if found is not None:
            _made_as.pop(found, None)

    on_handler_change(session.events, forget)


def on_handler_change(events: Any, changed: Callable[[Any], None]) -> None:
    """Call `changed(handler)` before each handler is added to or removed from `events` (a
    session's or a client's botocore emitter)."""
    for name in ("register", "register_first", "register_last", "unregister"):
        original = getattr(events, name)

        def changing(
            event_name: str, handler: Any = None, *args: Any, _original: Any = original, **kw: Any
        ) -> Any:
            changed(handler)
            return _original(event_name, handler, *args, **kw)

        setattr(events, name, changing)
