"""Running `pocctl local`'s emulator inside a command (`local`, `demo`): started, served until
Ctrl-C or a stop signal, and stopped however the command ends."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pocctl.cli.failures import stopped_by_user
from pocctl.cli.ui import Terminal
from pocctl.core.errors import PocctlError

# How the emulator logs a call it refused as AWS would (pocctl/local/emulator.py).
REFUSED = " refused: "


def start_emulator(
    term: Terminal,
    port: int,
    latency: float = 0.0,
    fail_rate: float = 0.0,
    timeout_rate: float = 0.0,
    timing: object = None,
    *,
    show_refusals: bool = True,
) -> object:
    from pocctl.local.aws.timing import Timing
    from pocctl.local.emulator import Emulator
    from pocctl.local.functions import Faults
    from pocctl.local.patches import EmulatorUnavailable

    emulator = Emulator(
        port=port,
        log=lambda message: (
            term.info(f"[local] {message}") if show_refusals or REFUSED not in message else None
        ),
        latency=latency,
        faults=Faults(fail_rate=fail_rate, timeout_rate=timeout_rate),
        timing=timing if isinstance(timing, Timing) else Timing(),
    )
    try:
        emulator.start()
    except EmulatorUnavailable as exc:
        raise PocctlError(str(exc)) from exc
    except OSError as exc:
        raise PocctlError(
            f"Cannot listen on 127.0.0.1:{port}: {os.strerror(exc.errno) if exc.errno else exc}.",
            "Is another `pocctl local` running there? Stop it, or pick another port: "
            f"--port {port + 1 if 0 < port < 65535 else 4567}, or --port 0 for any free one "
            "(then export the AWS_ENDPOINT_URL it prints).",
        ) from exc
    return emulator


STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextmanager
def stopped_by_signals() -> Iterator[list[str]]:
    """SIGTERM and SIGHUP (a process manager, a closed terminal, a CI job ending) stop the
    command as Ctrl-C does, so that it cleans up the same way; yields the names of the signals
    received (none: it was Ctrl-C, or nothing)."""
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received  # only the main thread may handle signals (an embedding, a test)
        return

    def stop(signum: int, frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def signals_ignored() -> Iterator[None]:
    """While cleaning up: a second Ctrl-C or SIGTERM must not leave the cleaning half done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    numbers = (signal.SIGINT, *STOP_SIGNALS)
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


# A signal sent to the process may be handed by the kernel to any of its threads (the emulator
# runs dozens); Python then runs its handler, and raises KeyboardInterrupt, only when the main
# thread next runs Python code. A main thread in an unbounded wait never does, and Ctrl-C is
# ignored (test_user_edges shows it). A bounded wait lets the handler run within this long
# (the same fix: jellyfin/jellyfin-mpv-shim#432, dask/distributed#121).
SIGNAL_CHECK_SECONDS = 0.25


@contextmanager
def running(emulator: Any) -> Iterator[list[str]]:
    """The emulator, stopped at the end however the command ends (its worker processes and
    temporary code directory go with it), with SIGTERM and SIGHUP stopping it as Ctrl-C does.
    Yields the names of those signals received."""
    with stopped_by_signals() as received:
        try:
            yield received
        finally:
            with signals_ignored():
                emulator.stop()


def wait_for_stop(
    term: Terminal, received: list[str], announce: Callable[[], None] = lambda: None
) -> None:
    """Inside `running`: serve until Ctrl-C (then exit 130, as any interrupted command), or
    SIGTERM or SIGHUP (then return, to exit 0: a requested stop, as process managers expect).
    `announce` prints what tells a user (or a script) that it is listening: a signal that comes
    as soon as that is read is a stop like any other."""
    try:
        announce()
        never = threading.Event()
        while not never.wait(SIGNAL_CHECK_SECONDS):
            pass
    except KeyboardInterrupt:
        term.info(f"Stopping pocctl local{f' ({received[0]})' if received else ''}.")
        if not received:
            raise stopped_by_user() from None
