"""The emulators a process starts one after another share one fork server (a module of its
own: one process runs one emulator at a time, and the other modules keep one running)."""

from __future__ import annotations

import time

from pocctl.local.forks import alive

from .clocked import Clock, clocked_emulator
from .test_lambda_runtime import invoked, made_role


def test_the_emulators_of_one_process_share_one_fork_server_and_keep_their_own_workers() -> None:
    """A fork server imports boto3 and reads AWS's models (half a second of CPU): a process
    that starts many emulators (the tests) starts it once. A stopped emulator's workers go."""
    source = "import os\ndef handler(event, context):\n    return [os.getppid(), os.getpid()]\n"
    ran = []
    for _ in range(2):
        clock = Clock()
        with clocked_emulator(clock) as emulator:
            role = made_role(emulator, clock)
            _, (server, worker) = invoked(emulator, clock, role, "forked", {"app.py": source})
            assert alive(worker)
        ran.append((server, worker))
    (server, worker), (next_server, next_worker) = ran
    assert next_server == server and next_worker != worker
    assert alive(server) and ended(worker) and ended(next_worker)


def ended(pid: int, timeout: float = 10.0) -> bool:
    """Killed with its emulator: gone once the kernel has ended it (a moment, on a busy
    machine)."""
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)
