"""How fast pocctl is: provisioning against a region-like latency, and the offline pipeline.

    python bench/run.py [--latency 0.1] [--orders 1000] [--test-orders 10] [--out BENCHMARKS.md]

Part 1 starts `pocctl local` in a process of its own (as AWS is not in yours), adding a fixed
latency to every AWS call (default 100 ms, standing in for a region's round trip), and measures
cold `up`, no-op `up` and `down`, serially and in parallel: wall time, calls, mutating calls,
the longest chain of calls that had to wait for each other, and wall time over that chain's
latency.
Part 2 runs the offline pipeline with no added latency: `test-order` several times (latency per
hop), then many orders at once (orders per second, until all are stored and notified).
Prints the figures, writes them with the machine to BENCHMARKS.md, and exits 1 if a target missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from pocctl.config import Config, Tuning
from pocctl.context import Context
from pocctl.engine import DEFAULT_WORKERS, Engine, longest_chain
from pocctl.local.loadtest import run_load
from pocctl.reporting import RecordingReporter
from pocctl.smoke import run_test_order
from pocctl.stack import build_steps

EMAIL = "bench@example.com"
LOAD_EMAIL = "load@example.com"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    name: str
    mode: str
    wall: float
    calls: int
    mutating: int
    chain: int
    latency: float

    @property
    def over_chain(self) -> float:
        return self.wall / (self.chain * self.latency)


@contextmanager
def local(latency: float = 0.0) -> Iterator[str]:
    """`pocctl local` in a process of its own; yields its endpoint URL."""
    # Round trips only, as before: AWS's own waits (IAM propagation, Pending, CREATING) are off.
    command = [sys.executable, "-m", "pocctl", "local", "--port", "0", "--latency", str(latency)]
    command += ["--aws-timing", "off"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        found = re.search(r"listening on (http://\S+)", banner)
        if not found:
            raise SystemExit(f"pocctl local did not start: {banner}{process.stdout.read()}")
        # Keep reading what it prints (a line per email): a full pipe would stall it.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield found[1]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def context(endpoint: str, stack: str = "bench", email: str = EMAIL, **tuning: Any) -> Context:
    """A fresh context, as a new `pocctl` process would have (no cached clients or account)."""
    session = boto3.Session(
        aws_access_key_id="pocctl-local",
        aws_secret_access_key="pocctl-local",
        region_name="us-east-1",
    )
    config = Config(stack=stack, endpoint_url=endpoint, email=email, tuning=Tuning(**tuning))
    return Context(config, RecordingReporter(), session=session)


def measure(endpoint: str, name: str, serial: bool, latency: float) -> Run:
    ctx = context(endpoint)
    steps = build_steps(ctx.config)
    engine = Engine(ctx, steps, workers=1 if serial else DEFAULT_WORKERS)
    started = time.monotonic()
    _ = ctx.account_id  # the CLI's preflight, part of every command
    report = engine.down() if name == "down" else engine.up()
    wall = time.monotonic() - started
    if not report.ok:
        raise SystemExit(f"{name} failed: {[(r.title, r.error) for r in report.results]}")
    calls = ctx.calls.calls
    outside = sum(c.step is None for c in calls)
    phases = ("down",) if name == "down" else ("plan", "up")
    chain = outside + sum(longest_chain(steps, calls, phase) for phase in phases)
    mutating = len(ctx.calls.mutating)
    mode = "serial" if serial else "parallel"
    return Run(name, mode, wall, len(calls), mutating, chain, latency)


def provisioning(latency: float) -> list[Run]:
    runs = []
    with local(latency) as endpoint:
        # moto builds each service's handlers on first use; don't let the first run pay for it.
        warm = context(endpoint, "warm-up")
        Engine(warm, build_steps(warm.config)).up()
        Engine(context(endpoint, "warm-up"), build_steps(warm.config)).down()
        for serial in (True, False):
            for name in ("cold up", "no-op up", "down"):
                runs.append(measure(endpoint, name, serial, latency))
                print(f"  {runs[-1].mode:<8} {name:<9} {runs[-1].wall:6.2f}s", file=sys.stderr)
    return runs


def offline(test_orders: int, orders: int) -> dict[str, Any]:
    with local() as endpoint:
        ctx = context(endpoint, throttle_rate=10_000, throttle_burst=5_000)
        if not Engine(ctx, build_steps(ctx.config)).up().ok:
            raise SystemExit("offline up failed")
        hops: dict[str, list[float]] = {}
        for _ in range(test_orders):
            result = run_test_order(ctx, timeout=30)
            if not result.ok:
                raise SystemExit(f"test-order failed: {result.failed_hop}")
            for hop in result.hops:
                hops.setdefault(hop.name, []).append(hop.seconds or 0.0)
        print(f"  {test_orders} test orders done", file=sys.stderr)
        # A stack of its own, so the test orders above don't count as strangers.
        loaded = context(endpoint, "load", LOAD_EMAIL, throttle_rate=10_000, throttle_burst=5_000)
        if not Engine(loaded, build_steps(loaded.config)).up().ok:
            raise SystemExit("offline up failed")
        load = run_load(loaded, count=orders, email=LOAD_EMAIL, timeout=600)
    summary = load.summary()
    return {
        "hops": {name: statistics.median(values) for name, values in hops.items()},
        "hops_max": {name: max(values) for name, values in hops.items()},
        "test_orders": test_orders,
        "orders": orders,
        "load": summary,
        "orders_per_second": len(load.stored) / load.done_seconds if load.done_seconds else 0.0,
    }


def by(runs: list[Run], name: str, mode: str) -> Run:
    return next(r for r in runs if r.name == name and r.mode == mode)


def targets(runs: list[Run], off: dict[str, Any]) -> list[tuple[str, str, bool]]:
    cold, cold_serial = by(runs, "cold up", "parallel"), by(runs, "cold up", "serial")
    noop = by(runs, "no-op up", "parallel")
    down, down_serial = by(runs, "down", "parallel"), by(runs, "down", "serial")
    load = off["load"]
    complete = load["stored"] == load["notified"] == off["orders"] and not load["problems"]
    return [
        (
            "cold up at most half of serial",
            f"{cold.wall:.2f} s vs {cold_serial.wall:.2f} s ({cold.wall / cold_serial.wall:.0%})",
            cold.wall <= cold_serial.wall / 2,
        ),
        (
            "cold up within 1.5x of its longest chain",
            f"{cold.over_chain:.2f}x ({cold.chain} calls in a row)",
            cold.over_chain <= 1.5,
        ),
        (
            "no-op up: zero mutating calls, under 2 s",
            f"{noop.mutating} mutating, {noop.wall:.2f} s",
            noop.mutating == 0 and noop.wall < 2.0,
        ),
        (
            "down at most half of serial",
            f"{down.wall:.2f} s vs {down_serial.wall:.2f} s ({down.wall / down_serial.wall:.0%})",
            down.wall <= down_serial.wall / 2,
        ),
        (
            "offline POST to notification under 1.5 s (median)",
            f"{off['hops']['notified']:.2f} s",
            off["hops"]["notified"] < 1.5,
        ),
        (
            f"{off['orders']:,} orders all stored and notified within 60 s",
            f"{load['stored']:,} stored, {load['notified']:,} notified in "
            f"{load['done_seconds']:.1f} s",
            complete and load["done_seconds"] <= 60,
        ),
    ]


def machine() -> str:
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def report(runs: list[Run], off: dict[str, Any], latency: float, command: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Taken {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}, with `{command}`.",
        "",
        f"## Provisioning, {latency * 1000:.0f} ms added to every AWS call",
        "",
        "`pocctl local --latency` stands in for a region's round trip. *Chain* is the longest run "
        "of calls that had to wait for each other (a step's calls, after those of the steps it "
        "depends on), the floor no amount of parallelism goes below.",
        "",
        "| run | mode | wall | calls | mutating | chain | wall / chain latency |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        lines.append(
            f"| {r.name} | {r.mode} | {r.wall:.2f} s | {r.calls} | {r.mutating} | {r.chain} | "
            f"{r.over_chain:.2f}x |"
        )
    load = off["load"]
    lines += [
        "",
        "## Offline pipeline (`pocctl local`, no added latency)",
        "",
        f"`test-order` run {off['test_orders']} times; seconds from the POST (median, max):",
        "",
        "| hop | median | max |",
        "| --- | ---: | ---: |",
    ]
    for hop, median in off["hops"].items():
        lines.append(f"| {hop} | {median:.2f} s | {off['hops_max'][hop]:.2f} s |")
    lines += [
        "",
        f"{off['orders']:,} orders posted by 16 clients (another stack): posting took "
        f"{load['post_seconds']:.1f} s; "
        f"all {load['stored']:,} stored and {load['notified']:,} notified "
        f"{load['done_seconds']:.1f} s after the first POST "
        f"(**{off['orders_per_second']:.0f} orders/s** end to end), "
        f"{len(load['problems'])} problems.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
    ]
    for target, measured, met in targets(runs, off):
        lines.append(f"| {target} | {measured} | {'yes' if met else '**no**'} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added per AWS call")
    parser.add_argument("--orders", type=int, default=1000, help="orders in the load run")
    parser.add_argument("--test-orders", type=int, default=10, help="test-order repetitions")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    if args.latency <= 0:
        parser.error("--latency must be positive: the chain ratio divides by it")
    command = "python bench/run.py" + " ".join(["", *sys.argv[1:]])
    print(f"Provisioning with {args.latency * 1000:.0f} ms per call:", file=sys.stderr)
    runs = provisioning(args.latency)
    print("Offline pipeline:", file=sys.stderr)
    off = offline(args.test_orders, args.orders)
    text = report(runs, off, args.latency, command)
    args.out.write_text(text)
    print(text)
    print(f"Written to {args.out}", file=sys.stderr)
    return 0 if all(met for _, _, met in targets(runs, off)) else 1


if __name__ == "__main__":
    sys.exit(main())
