"""Watching a thread from a test: where it is, to act at the moment it waits."""

from __future__ import annotations

import sys
import threading
import time

DEADLINE = 30.0  # seconds: a deadline only, a loaded machine may be slow


def waiting_in(thread: threading.Thread, function: str) -> bool:
    """The thread's innermost Python frame is `function`'s: blocked in C code (a lock's
    acquire) called from there, or passing through."""
    frame = sys._current_frames().get(thread.ident or 0)
    return frame is not None and frame.f_code.co_name == function


def ask_meanwhile(asker: threading.Thread, asked_too: threading.Event, waits_in: str) -> None:
    """From a first reader, reading: start `asker`, a second reader of the same thing, and go
    on once it waits in `waits_in` (for the first's answer) or reads it too (`asked_too`).
    A blocked thread signals nothing: its stack is looked at until then."""
    asker.start()
    deadline = time.monotonic() + DEADLINE
    while not asked_too.is_set() and not waiting_in(asker, waits_in):
        assert asker.is_alive(), "the second reader ended without reading or waiting"
        assert time.monotonic() < deadline, f"the second reader never waited in {waits_in}"
        time.sleep(0.001)
