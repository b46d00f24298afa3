"""Making boto3 sessions that share botocore's parsed service models within the process."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.session

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
