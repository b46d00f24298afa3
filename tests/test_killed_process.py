"""The issue's acceptance run: a real `pocctl up` process SIGKILLed part way, over a slow link."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pocctl.core.context import Context
from pocctl.local.emulator import Emulator
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps

from .emulated import TIMING, local_context
from .inventory import everything, flatten, of_stack

pytestmark = pytest.mark.slow  # real pocctl processes killed mid-up

LATENCY = 0.2  # per AWS call (a slow region), so that a parallel `up` can be killed part way


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[Emulator]:
    with Emulator(port=0, latency=LATENCY, timing=TIMING) as running:
        yield running


def context(emulator: Emulator, stack: str) -> Context:
    return local_context(emulator, stack, email="ops@example.com")


@pytest.mark.parametrize("kill_after", [0.8, 1.6, 2.6])
def test_up_killed_then_down_is_clean_and_up_completes(
    slow_emulator: Emulator, kill_after: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", slow_emulator.endpoint_url)
    stack = f"kill{int(kill_after * 10)}"
    env = {**os.environ, "AWS_ENDPOINT_URL": slow_emulator.endpoint_url, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pocctl", "up", "--stack", stack, "--email", "ops@example.com"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    slow_emulator.latency = LATENCY
    time.sleep(kill_after)
    assert process.poll() is None, "up finished before it could be killed: raise the latency"
    process.send_signal(signal.SIGKILL)
    process.wait()
    slow_emulator.answered()  # what it had sent before it died is carried out first
    slow_emulator.latency = 0  # the slow link was only needed to kill `up` part way
    session = context(slow_emulator, stack).session
    table = f"{stack}-orders"

    down = context(slow_emulator, stack)
    assert Engine(down, build_steps(down.config)).down().ok
    gone(session, stack, table)  # DELETING, as `down` said: AWS finishes it on its own
    assert flatten(of_stack(everything(session), stack, table)) == []

    complete = context(slow_emulator, stack)
    assert Engine(complete, build_steps(complete.config)).up().ok
    found = of_stack(everything(session), stack, table)
    assert len(found["mappings"]) == 2 and found["apis"] == [f"{stack}-API"]
    again = context(slow_emulator, stack)
    assert Engine(again, build_steps(again.config)).up().ok
    assert again.calls.mutating == []


def gone(session: Any, stack: str, table: str, timeout: float = 10.0) -> None:
    """Until DynamoDB has finished deleting the table (ListTables shows it while DELETING) and
    SQS the queues (a deleted queue may be listed for 60 s: SQS API reference, DeleteQueue)."""
    ddb, sqs = session.client("dynamodb"), session.client("sqs")
    deadline = time.monotonic() + timeout
    while table in ddb.list_tables()["TableNames"] or sqs.list_queues(
        QueueNamePrefix=f"{stack}-"
    ).get("QueueUrls"):
        assert time.monotonic() < deadline, f"{stack} still being deleted after {timeout:.0f} s"
        time.sleep(0.02)
