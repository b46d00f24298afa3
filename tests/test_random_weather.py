"""`pocctl local --aws-timing random --seed N`: AWS's waits drawn from their ranges, replayable."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.local.aws.timing import Rule, Timing, draw

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


def test_a_rule_draws_its_own_sequence_whatever_other_rules_draw() -> None:
    """Replay holds per rule: another rule's draws in between don't shift this one's."""
    alone, interleaved = Timing(seed=5), Timing(seed=5)
    expected = [alone.seconds("table_creating") for _ in range(5)]
    got = []
    for _ in range(5):
        interleaved.seconds("iam_propagation")
        got.append(interleaved.seconds("table_creating"))
    assert got == expected


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


def test_pocctl_local_prints_the_seed_it_was_given_or_drew() -> None:
    assert "AWS timing random (seed 42), durations x0.5." in run_local(
        "--aws-timing", "random", "--seed", "42", "--time-scale", "0.5"
    )
    drawn = re.search(r"AWS timing random \(seed (\d+)\)", run_local("--aws-timing", "random"))
    assert drawn, "without --seed, the seed drawn is printed so the run can be replayed"
