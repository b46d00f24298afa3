"""The benchmark the README quotes still runs and records what it measured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the benchmark's smoke run

ROOT = Path(__file__).resolve().parent.parent


def test_bench_run_measures_every_figure_and_writes_them_down(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    # Small and fast: the figures are not the point here (at 10 ms per call the fixed costs of
    # a run dominate, so the ratio targets may miss), only that each one is measured.
    command = [sys.executable, str(ROOT / "bench" / "run.py"), "--latency", "0.01"]
    command += ["--orders", "10", "--test-orders", "1", "--out", str(out)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert finished.returncode in (0, 1), finished.stderr
    text = out.read_text()
    assert "CPU cores, CPython" in text  # the machine it ran on
    for mode in ("serial", "parallel"):
        for run in ("cold up", "no-op up", "down"):
            assert f"| {run} | {mode} |" in text
    for hop in ("accepted", "stored", "notified"):
        assert f"| {hop} |" in text
    assert "all 10 stored and 10 notified" in text
    assert "| no-op up: zero mutating calls, under 2 s | 0 mutating" in text
    assert text in finished.stdout
