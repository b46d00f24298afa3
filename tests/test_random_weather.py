"""`pocctl local --aws-timing random --seed N`: AWS's waits drawn from their ranges, replayable."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.local.aws.timing import Rule, Timing, draw
from pocctl.local.emulator import Emulator
from pocctl.resources import iam
from tests.emulated import up_local

WIDE = Rule(1.0, "test", low=0.5, high=60.0, range_source="test")


def test_seed_needs_random_timing() -> None:
    result = CliRunner().invoke(cli, ["local", "--seed", "3"])
    assert result.exit_code == 2
    assert "--seed needs --aws-timing random" in result.output


def test_draws_replay_for_a_seed_and_differ_between_seeds() -> None:
    first = [draw(WIDE, 7, "rule", n) for n in range(20)]
    assert first == [draw(WIDE, 7, "rule", n) for n in range(20)]
    assert first != [draw(WIDE, 8, "rule", n) for n in range(20)]
    assert all(0.5 <= seconds <= 60.0 for seconds in first)
    assert len({round(seconds, 3) for seconds in first}) > 10  # drawn, not one fixed figure


def test_a_resource_gets_its_waits_whatever_other_resources_draw_first() -> None:
    """Replay holds per resource: `up` creates tables, roles and queues from several threads, in
    an order that differs between runs; each resource's wait must not depend on that order."""
    alone, crowded = Timing(seed=5), Timing(seed=5)
    expected = [alone.seconds("table_creating", "orders") for _ in range(3)]
    got = []
    for _ in range(3):
        crowded.seconds("table_creating", "other-orders")  # another table's, drawn first
        crowded.seconds("iam_propagation", "role|lambda")
        got.append(crowded.seconds("table_creating", "orders"))
    assert got == expected
    assert alone.seconds("table_creating", "a") != alone.seconds("table_creating", "b")


@pytest.mark.slow  # heavy (tests/cases.py)
def test_up_gives_each_resource_the_same_waits_for_a_seed(monkeypatch: Any) -> None:
    """Two runs of `up` under one seed: every resource's drawn wait is the same in both, though
    `up` creates them from a thread pool in whatever order the threads run."""
    runs = []
    for _ in range(2):
        drawn: dict[tuple[str, str], list[float]] = {}
        original = Timing.seconds

        def recording(
            self: Timing,
            rule: str,
            key: str = "",
            original: Any = original,
            drawn: dict[tuple[str, str], list[float]] = drawn,
        ) -> float:
            seconds = original(self, rule, key)
            drawn.setdefault((rule, key), []).append(seconds)
            return seconds

        monkeypatch.setattr(Timing, "seconds", recording)
        with Emulator(port=0, timing=Timing(scale=0.02, seed=7)) as emulator:
            monkeypatch.setattr(iam, "IAM_PROPAGATION_SECONDS", 0.2)
            up_local(emulator, "replay")
        monkeypatch.setattr(Timing, "seconds", original)
        runs.append({key: waits for key, waits in drawn.items() if key[1]})
    first, second = runs
    assert len(first) > 10  # roles by service, tables, queues, functions, mappings
    shared = first.keys() & second.keys()
    assert shared == first.keys()
    for key in shared:
        n = min(len(first[key]), len(second[key]))
        assert first[key][:n] == second[key][:n], key


def run_local(*flags: str) -> str:
    process = subprocess.Popen(
        [sys.executable, "-m", "pocctl", "local", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        assert process.stdout is not None
        banner = ""
        while "Stop with Ctrl-C" not in banner:  # the last line, once it is listening
            line = process.stdout.readline()
            assert line, banner
            banner += line
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
        assert process.returncode == 0
        return banner
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.slow  # heavy (tests/cases.py)
def test_pocctl_local_prints_the_seed_it_was_given_or_drew() -> None:
    assert "AWS timing random (seed 42), durations x0.5." in run_local(
        "--aws-timing", "random", "--seed", "42", "--time-scale", "0.5"
    )
    drawn = re.search(r"AWS timing random \(seed (\d+)\)", run_local("--aws-timing", "random"))
    assert drawn, "without --seed, the seed drawn is printed so the run can be replayed"
