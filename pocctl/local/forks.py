"""Where `pocctl local`'s function workers come from: forked from one server process that has
boto3 and AWS's service models loaded (`warm.py`), so that a cold start costs a fork, not half
a second of imports and parsing. (A Lambda runtime has boto3 installed; nothing here emulates
its cold start.)

The server is a plain Python process, single-threaded, so forking it is safe (forking the
emulator itself, full of threads, is not). It receives one request at a time: the worker's
arguments and environment, with the worker's end of a socket pair; it forks, and answers the
child's process id. It ignores SIGCHLD, so its children are reaped as they exit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

MAX_MESSAGE = 1 << 20
# Where the server imports its own modules from (pocctl's, and no more than its workers need
# before they leave it: worker.enter_runtime).
POCCTL_ROOT = Path(__file__).resolve().parents[2]
# The server's Python starts with -I -S: no site-packages, no PYTHONPATH, so its sys.path is the
# standard library alone. Its workers get that, then the runtime's SDK (argv[1]); the server
# itself also imports from pocctl's root (argv[2]).
BOOT = """
import sys
runtime_path = [*sys.path, sys.argv[1]]
sys.path += sys.argv[1:]
from pocctl.local.forks import main
main(runtime_path)
"""


class ForkServer:
    def __init__(self, sdk: Path) -> None:
        """`sdk`: a directory holding only the packages Lambda's runtime bundles
        (`handler_check.runtime_modules`)."""
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", BOOT, str(sdk), str(POCCTL_ROOT)],
            pass_fds=(theirs.fileno(),),
            env={**os.environ, "POCCTL_FORK_SERVER_FD": str(theirs.fileno())},
            stdin=subprocess.DEVNULL,
            # Out of the terminal's process group: Ctrl-C (or a closed terminal) reaches the
            # emulator alone, which kills its workers, and the server as the process exits
            # (or the server sees its socket close); it would otherwise die of it with a
            # traceback of its own.
            process_group=0,
        )
        theirs.close()
        self.control = ours
        self._answers = ours.makefile("r")
        self._lock = threading.Lock()  # one request at a time
        self._closed = False

    def start(self, request: dict[str, Any]) -> tuple[int, socket.socket]:
        """A new worker: its process id, and our end of its socket (a line protocol)."""
        ours, theirs = socket.socketpair()
        with self._lock:
            answer = ""
            if not self._closed:  # else its socket is closed, and its number may be another's
                message = json.dumps(request).encode() + b"\n"
                try:
                    socket.send_fds(self.control, [message], [theirs.fileno()])
                    answer = self._answers.readline()
                except OSError:  # killed by close() meanwhile
                    answer = ""
        theirs.close()
        if not answer:
            ours.close()
            raise OSError("the worker fork server has stopped")
        return int(json.loads(answer)["pid"]), ours

    def close(self) -> None:
        # Killed before taking the lock: a start() waiting inside it for a server that hangs
        # then reads the end of the socket, instead of holding close() (and the emulator) up.
        self._closed = True
        self.process.kill()
        self.process.wait()
        with self._lock:
            self._answers.close()
            self.control.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(runtime_path: list[str]) -> None:
    control = socket.socket(fileno=int(os.environ.pop("POCCTL_FORK_SERVER_FD")))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    from pocctl.local import warm, worker  # noqa: F401  (what every worker inherits)

    while True:
        received, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, 1)
        if not received:
            return  # the emulator has gone
        while not received.endswith(b"\n"):
            more = control.recv(MAX_MESSAGE)
            if not more:
                return  # the emulator went mid-request
            received += more
        request = json.loads(received)
        pid = os.fork()
        if pid == 0:
            control.close()
            try:
                worker.forked(**request, channel=fds[0], runtime_path=runtime_path)
            finally:
                os._exit(0)
        os.close(fds[0])
        control.sendall(json.dumps({"pid": pid}).encode() + b"\n")
