"""`pocctl demo`: the whole lab offline, in one command, leaving nothing behind."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from click.testing import CliRunner

from pocctl.cli import demo as demo_module
from pocctl.core.session import new_session
from pocctl.local.emulator import Emulator

from .cli_runs import run
from .emulated import TIMING


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Emulator]:
    """The emulators `demo` starts, on the suite's clock (AWS's durations at 1/50, as every
    offline test): demo itself always takes AWS's real ones."""
    emulators: list[Emulator] = []
    start = demo_module.start_emulator

    def at_test_scale(*args: Any, **kwargs: Any) -> object:
        emulator = start(*args, timing=TIMING, **kwargs)
        assert isinstance(emulator, Emulator)
        emulators.append(emulator)
        return emulator

    monkeypatch.setattr(demo_module, "start_emulator", at_test_scale)
    return emulators


def answers(emulator: Emulator) -> bool:
    try:
        socket.create_connection(("127.0.0.1", emulator.port), timeout=5).close()
    except OSError:
        return False
    return True


def test_demo_carries_an_order_to_the_email_then_leaves_nothing(
    runner: CliRunner, started: list[Emulator]
) -> None:
    result = run(runner, "demo")
    assert result.exit_code == 0, result.output
    assert "Confirmed the subscription of you@example.com" in result.output
    assert "New order " in result.output  # the notification mail, shown
    assert "Swept us-east-1: nothing tagged pocctl:stack=POC is left" in result.output
    assert "Demo complete" in result.output
    (emulator,) = started
    assert not answers(emulator), "the emulator is still listening"
    assert emulator.invoker is not None and not emulator.invoker.code_root.exists()


@pytest.mark.slow
def test_demo_keep_leaves_the_stack_running_until_ctrl_c(
    runner: CliRunner, started: list[Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    wait = demo_module.wait_for_stop

    def look_then_ctrl_c(term: Any, received: list[str], announce: Any = None) -> None:
        def kept() -> None:
            (emulator,) = started
            session = new_session(
                aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
            )
            lam = session.client("lambda", endpoint_url=emulator.endpoint_url)
            seen["functions"] = sorted(f["FunctionName"] for f in lam.list_functions()["Functions"])
            raise KeyboardInterrupt  # what Ctrl-C raises while it waits

        wait(term, received, kept)

    monkeypatch.setattr(demo_module, "wait_for_stop", look_then_ctrl_c)
    result = run(runner, "demo", "--keep")
    assert result.exit_code == 130, result.output
    assert "Kept running: export AWS_ENDPOINT_URL=http://127.0.0.1:" in result.output
    assert "Stack POC is down" not in result.output and "Demo complete" not in result.output
    assert seen["functions"] == ["POC-Lambda-1", "POC-Lambda-2"]
    (emulator,) = started
    assert not answers(emulator), "Ctrl-C stops the emulator"
