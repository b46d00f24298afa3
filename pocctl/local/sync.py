"""Waits for tests on the emulator's own events, not on sleeps: every request answered, AWS's
changes settled, the pollers reconciled or quiet."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from pocctl.local.pollers import Supervisor

WAIT_SECONDS = 10.0


class Requests:
    """Each open connection of the emulator's HTTP server (accepted in order, in the server's
    own loop), and each request from the moment its request line is read (before its headers
    are parsed)."""

    def __init__(self) -> None:
        self.done = threading.Condition()  # a request or connection ended
        self.connections: set[Any] = set()  # sockets accepted and still being served
        self.reading = 0  # requests whose request line was read, not yet answered
        self.started = 0  # requests begun, ever
        self.stopping = False  # each answer closes its connection (stop_reading)

    def track(self, server: Any) -> None:
        accept, serve = server.process_request, server.process_request_thread
        requests = self
        with self.done:  # an emulator started again
            self.stopping = False

        def accepted(request: Any, client_address: Any) -> None:
            with self.done:
                self.connections.add(request)
            accept(request, client_address)

        def served(request: Any, client_address: Any) -> None:
            try:
                serve(request, client_address)
            finally:
                with self.done:
                    self.connections.discard(request)
                    self.done.notify_all()

        class Counted(server.RequestHandlerClass):  # type: ignore[misc]
            def must_close(self) -> bool:
                return requests.stopping or bool(super().must_close())

            def parse_request(self) -> bool:
                with requests.done:
                    requests.reading += 1
                    requests.started += 1
                    requests.done.notify_all()  # a request began
                self._pocctl_counted = True
                return bool(super().parse_request())

            def handle_one_request(self) -> None:
                try:
                    super().handle_one_request()
                finally:
                    if getattr(self, "_pocctl_counted", False):
                        self._pocctl_counted = False
                        with requests.done:
                            requests.reading -= 1
                            requests.done.notify_all()

        server.RequestHandlerClass = Counted
        server.process_request, server.process_request_thread = accepted, served

    def stop_reading(self) -> None:
        """From now on each connection closes once its request is answered, and none reads
        more: one waiting for a next request, or for the rest of a request (a client stalled
        mid-body), ends now. A request already read is still answered. Their threads are
        daemon threads that the server's server_close does not wait for: left open, a
        connection would still be served after the emulator stopped, on moto's state of the
        process (a next emulator's)."""
        with self.done:
            self.stopping = True
            connections = list(self.connections)
            self.done.notify_all()
        for connection in connections:
            # Reading only: a thread that read its request still sends the answer.
            with contextlib.suppress(OSError):  # closed meanwhile by its thread
                connection.shutdown(socket.SHUT_RD)

    def drained(self, timeout: float) -> bool:
        """Every connection has ended (after stop_reading): no request is still being carried
        out. False if some were still open after `timeout` seconds."""
        with self.done:
            return self.done.wait_for(lambda: not self.connections, timeout)

    def answered(self, health_url: str, timeout: float = WAIT_SECONDS) -> None:
        """Everything a client sent has been answered, a killed one's too (AWS also carries
        out a request whose caller went away): no request is being read or handled, no open
        connection holds unread bytes or an unread close, and none began meanwhile. A request
        of our own goes first, on a new connection: connections are accepted in order, so any
        made before it are known by the time it is answered. A request sent on a connection
        kept open is in its socket once sent (loopback), or counted once its line is read; the
        moment between the two is what the second look covers."""
        urllib.request.urlopen(health_url, timeout=timeout).read()
        deadline = time.monotonic() + timeout

        def idle() -> bool:
            with self.done:
                if self.reading:
                    return False
                connections = [c for c in self.connections if c.fileno() >= 0]
            try:
                return not connections or not readable(connections)
            except (OSError, ValueError):
                # The thread serving one closed it after the check above (EBADF, or a fileno
                # of -1): it has ended, so look again.
                return False

        while True:
            started = self.started
            if idle():
                with self.done:  # a thread woken by bytes it already read shows here
                    self.done.wait(0.05)
                if idle() and self.started == started:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"requests still being answered after {timeout:.0f} s")
            with self.done:
                self.done.wait(0.01)


def readable(sockets: list[Any]) -> bool:
    """Whether any of `sockets` has bytes (or a close) to read. poll, not select: select fails
    for a descriptor past 1024, which a long test run's kept connections reach."""
    poller = select.poll()
    for sock in sockets:
        poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def reconciled(supervisor: Supervisor | None) -> Supervisor:
    """The mappings' pollers match the mappings as they are now (started or stopped)."""
    assert supervisor is not None, "the emulator is not running"
    if not supervisor.reconcile_now():
        raise TimeoutError("the mapping supervisor did not reconcile within 10 s")
    return supervisor


def settled(
    supervisor: Supervisor | None, settled_at: list[Callable[[], float]], clock: Callable[[], float]
) -> None:
    """What changed has reached every service by `clock` (each of `settled_at` says when its
    last change does), the pollers match the mappings, and every poller has finished a poll that
    began after that: whatever it reads is judged as things are."""
    # AWS's clock, not a guess: until the last change drawn has reached every service.
    changed = max(when() for when in settled_at)
    time.sleep(max(0.0, changed - clock()))
    now = time.monotonic()
    if not reconciled(supervisor).wait_reads_from(now):
        raise TimeoutError("a mapping's poller was still reading after 10 s")


def quiet(supervisor: Supervisor | None, functions: tuple[str, ...]) -> None:
    """Every poller that feeds these functions has read its source empty since this call,
    with nothing being delivered: what was there has reached the function, and nothing more
    is on its way (for tests that check something did not happen twice)."""
    if not reconciled(supervisor).wait_quiet(set(functions), time.monotonic()):
        raise TimeoutError(f"the pollers of {', '.join(functions)} were not quiet in 10 s")
