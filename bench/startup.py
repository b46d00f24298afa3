"""How long `pocctl --version` and `pocctl --help` take to start and answer, as a user's shell
runs them: a new process each time, the median of several.

    python bench/startup.py [--runs 20]

Beside them, the interpreter alone (`python -c pass`: what no CLI in Python can go under) and,
when it is installed, the AWS CLI v2 (`aws --version`), for comparison only (v1, a Python
program of its own, is not what the target names).
Exits 1 if pocctl's median misses the target.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.15  # seconds: issue 23, "as fast as the AWS CLI v2"


@dataclass(frozen=True)
class Timed:
    """Wall seconds of each run, and CPU seconds (user + system): on a busy machine the wall
    time is mostly waiting for a core, the CPU time what the command itself costs."""

    command: str
    seconds: list[float]
    cpu: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def timed(command: list[str], shown: str, runs: int) -> Timed:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    seconds, cpu = [], []
    for _ in range(runs):
        before = children_cpu()
        started = time.perf_counter()
        subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=True)
        seconds.append(time.perf_counter() - started)
        cpu.append(children_cpu() - before)
    return Timed(shown, seconds, cpu)


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def measure(runs: int) -> list[Timed]:
    """pocctl's two, the interpreter alone, then the AWS CLI v2's if it is on PATH."""
    python = sys.executable
    found = [
        timed([python, "-m", "pocctl", "--version"], "pocctl --version", runs),
        timed([python, "-m", "pocctl", "--help"], "pocctl --help", runs),
        timed([python, "-c", "pass"], "python -c pass (the interpreter alone)", runs),
    ]
    aws = aws_cli_v2()
    if aws is not None:
        found.append(timed([aws, "--version"], "aws --version (AWS CLI v2, for comparison)", runs))
    return found


def aws_cli_v2() -> str | None:
    aws = shutil.which("aws")
    if aws is None:
        return None
    answer = subprocess.run([aws, "--version"], capture_output=True, text=True, check=False)
    return aws if (answer.stdout + answer.stderr).startswith("aws-cli/2.") else None


def ours(found: list[Timed]) -> list[Timed]:
    return [t for t in found if t.command.startswith("pocctl ")]


def target(found: list[Timed]) -> tuple[str, str, bool]:
    slowest = max(ours(found), key=lambda t: t.median)
    return (
        f"pocctl --version and --help under {TARGET} s (median)",
        ", ".join(f"{t.command}: {t.median:.3f} s" for t in ours(found)),
        slowest.median < TARGET,
    )


def section(found: list[Timed]) -> list[str]:
    runs = len(found[0].seconds)
    lines = [
        "## Startup",
        "",
        f"A new process each time, as a shell runs it; median and spread of {runs} runs, and "
        "the CPU time they used (on a busy machine the wall time is mostly waiting for a core). "
        "`--help` lists the commands from their table without importing any of them, so "
        "neither loads boto3 or rich (tests/test_startup.py checks which modules they import).",
        "",
        "| command | median | min | max | CPU (median) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for t in found:
        lines.append(
            f"| {t.command} | {t.median:.3f} s | {min(t.seconds):.3f} s | "
            f"{max(t.seconds):.3f} s | {statistics.median(t.cpu):.3f} s |"
        )
    if not any(t.command.startswith("aws ") for t in found):
        lines += ["", "The AWS CLI v2 is not installed here: no comparison."]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each command")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    found = measure(args.runs)
    print("\n".join(section(found)))
    name, measured, met = target(found)
    print(f"\n{name}: {measured}: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
