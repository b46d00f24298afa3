"""How fast pocctl is on AWS's clock, how fast `down` is against a naive script, and offline.

    python bench/run.py [--latency 0.05] [--down-latency 0.1] [--time-scale 1] [--repeats 3]
                        [--orders 1000] [--test-orders 10] [--saves 5] [--out BENCHMARKS.md]

Each part starts `pocctl local` in a process of its own (as AWS is not in yours).
1. On AWS's clock: AWS's waits acted out at real durations (IAM propagation, Pending functions,
   CREATING tables, Creating mappings, API Gateway's one change at a time and rate limits), plus
   a round trip per call. Cold `up`, no-op `up` and `down`, in parallel and serially: wall time,
   the critical path computed from what the run waited on (bench/critical.py), their ratio.
2. `down` (sweep included) against bench/naive.py's sequential boto3 teardown of the same stack,
   with a round trip per call and no other delay.
3. The offline pipeline with AWS's waits off and no added latency: `test-order` several times
   (seconds per hop), then many orders at once (orders per second, until all are stored and
   notified), then `up --watch`: the time from saving a handler to its function running it.
4. Startup (bench/startup.py): `pocctl --version` and `--help` as new processes, measured first,
   before any emulator loads the machine.
Prints the figures, writes them with the machine to BENCHMARKS.md, and exits 1 if a target missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from critical import Chain, critical_path  # bench/ is the script's own directory
from naive import timed_teardown
from startup import Timed
from startup import measure as measure_startup
from startup import section as startup_section
from startup import target as startup_target

from pocctl.code.bundle import bundled_dir
from pocctl.core.config import Config, Tuning
from pocctl.core.context import Context
from pocctl.core.reporting import RecordingReporter
from pocctl.local.loadtest import run_load
from pocctl.ops.smoke import run_test_order
from pocctl.ops.sweep import sweep
from pocctl.ops.watch import watching
from pocctl.pipeline.engine import DEFAULT_WORKERS, Engine
from pocctl.pipeline.stack import build_steps
from pocctl.resources.functions import FunctionStep

SOAK_SECTION = "## Soak: "  # bench/soak.py records its runs there
EMAIL = "bench@example.com"
LOAD_EMAIL = "load@example.com"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    name: str
    mode: str
    wall: float
    critical: Chain
    calls: int
    mutating: int

    @property
    def ratio(self) -> float:
        return self.wall / self.critical.seconds if self.critical.seconds else float("inf")


@contextmanager
def local(
    latency: float = 0.0, aws_timing: bool = False, scale: float = 1.0, seed: int | None = None
) -> Iterator[str]:
    """`pocctl local` in a process of its own; yields its endpoint URL. With `aws_timing`, AWS's
    own waits (IAM propagation, Pending, CREATING, ...) at their real durations times `scale`
    (with `seed`, each drawn from its range: `--aws-timing random`); else none."""
    command = [sys.executable, "-m", "pocctl", "local", "--port", "0", "--latency", str(latency)]
    timing = (
        ["random", "--seed", str(seed)] if seed is not None else ["on" if aws_timing else "off"]
    )
    command += ["--aws-timing", *timing, "--time-scale", str(scale)]
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
        # SIGTERM stops it as Ctrl-C does; SIGINT is ignored when this runs as a script's
        # background job (POSIX, Shell Command Language, "Signals and Error Handling").
        process.send_signal(signal.SIGTERM)
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


def measure(endpoint: str, name: str, stack: str, serial: bool) -> Run:
    """One `pocctl` command as a new process runs it: preflight, the engine, and on `down` the
    sweep."""
    ctx = context(endpoint, stack)
    steps = build_steps(ctx.config)
    engine = Engine(ctx, steps, workers=1 if serial else DEFAULT_WORKERS)
    started = time.monotonic()
    ctx.preflight()  # as the CLI does first, in every command
    report = engine.down() if name == "down" else engine.up()
    if name == "down":
        swept = sweep(ctx, steps, frozenset(r.title for r in report.results))
        if swept.left or swept.incomplete:
            raise SystemExit(f"down left {swept.left} {swept.incomplete or ''}")
    wall = time.monotonic() - started
    if not report.ok:
        raise SystemExit(f"{name} failed: {[(r.title, r.error) for r in report.results]}")
    phases = ("down",) if name == "down" else ("plan", "up")
    critical = critical_path(steps, ctx.calls.spans, phases)
    mode = "serial" if serial else "parallel"
    return Run(name, mode, wall, critical, len(ctx.calls.calls), len(ctx.calls.mutating))


def warm_up(endpoint: str) -> None:
    """moto builds each service's backend on first use: a read of each, so no run pays for it."""
    ctx = context(endpoint, "warm-up")
    _ = ctx.account_id
    ctx.client("iam").list_roles()
    ctx.client("dynamodb").list_tables()
    ctx.client("sqs").list_queues()
    ctx.client("sns").list_topics()
    ctx.client("logs").describe_log_groups()
    ctx.client("lambda").list_functions()
    ctx.client("apigateway").get_rest_apis()
    ctx.client("resourcegroupstaggingapi").get_resources()


def on_aws_clock(latency: float, scale: float) -> list[Run]:
    """Cold up, no-op up and down, in parallel then serially, with AWS's waits acted out. Each
    mode has an emulator of its own, as an account of its own: API Gateway allows one
    DeleteRestApi per 30 s per account, and one mode's `down` must not hold up the other's."""
    runs = []
    for serial in (False, True):
        with local(latency, aws_timing=True, scale=scale) as endpoint:
            warm_up(endpoint)
            for name in ("cold up", "no-op up", "down"):
                runs.append(measure(endpoint, name, "bench", serial))
                run = runs[-1]
                print(
                    f"  {run.mode:<8} {name:<9} {run.wall:6.2f}s "
                    f"(critical path {run.critical.seconds:.2f}s)",
                    file=sys.stderr,
                )
    return runs


@dataclass
class Teardowns:
    pocctl: list[float]
    naive: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.pocctl) / statistics.median(self.naive)


def down_against_naive(latency: float, repeats: int) -> Teardowns:
    """`pocctl down` (sweep included) and the naive script's teardown, same stack, same latency,
    no other delay; each run on a stack of its own."""
    pocctl, naive = [], []
    with local(latency) as endpoint:
        warm_up(endpoint)
        for i in range(repeats):
            naive.append(timed_teardown(endpoint, f"naive{i}"))
            stack = f"bench-down{i}"
            ctx = context(endpoint, stack)
            if not Engine(ctx, build_steps(ctx.config)).up().ok:
                raise SystemExit("up before down failed")
            pocctl.append(measure(endpoint, "down", stack, serial=False).wall)
            print(f"  down {pocctl[-1]:.2f}s, naive teardown {naive[-1]:.2f}s", file=sys.stderr)
    return Teardowns(pocctl, naive)


def offline(test_orders: int, orders: int, saves: int = 5) -> dict[str, Any]:
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
        watched = watched_saves(endpoint, saves)
    summary = load.summary()
    return {
        "hops": {name: statistics.median(values) for name, values in hops.items()},
        "hops_max": {name: max(values) for name, values in hops.items()},
        "test_orders": test_orders,
        "orders": orders,
        "load": summary,
        "orders_per_second": len(load.stored) / load.done_seconds if load.done_seconds else 0.0,
        "watch": watched,
    }


def watched_saves(endpoint: str, count: int) -> list[float]:
    """`up --watch` on a stack with its own handlers: seconds from each save of the notifier
    to "updated" (the function runs the new code)."""
    with tempfile.TemporaryDirectory() as scratch:
        handlers = Path(scratch) / "handlers"
        shutil.copytree(bundled_dir("handlers"), handlers)
        ctx = context(endpoint, "watch")
        ctx = Context(
            replace(ctx.config, handlers=str(handlers)), ctx.reporter, session=ctx.session
        )
        if not Engine(ctx, build_steps(ctx.config)).up().ok:
            raise SystemExit("offline up for the watch failed")
        functions = [s for s in build_steps(ctx.config) if isinstance(s, FunctionStep)]
        seconds = []
        with watching(ctx, functions) as updates:
            notifier = handlers / "order_notifier.py"
            for n in range(count):
                notifier.write_text(notifier.read_text() + f"\n# save {n}\n")
                update = updates.get(timeout=60)
                if update.error or update.updated != ["watch-Lambda-2"]:
                    raise SystemExit(f"watch did not update the notifier: {update}")
                seconds.append(update.seconds)
                time.sleep(0.2)  # a person saves again later, not within the same poll
    print(f"  {count} watched saves done", file=sys.stderr)
    return seconds


def by(runs: list[Run], name: str, mode: str) -> Run:
    return next(r for r in runs if r.name == name and r.mode == mode)


def targets(
    runs: list[Run], downs: Teardowns, off: dict[str, Any], started: list[Timed]
) -> list[tuple[str, str, bool]]:
    cold, noop = by(runs, "cold up", "parallel"), by(runs, "no-op up", "parallel")
    pocctl_down, naive_down = statistics.median(downs.pocctl), statistics.median(downs.naive)
    load = off["load"]
    complete = load["stored"] == load["notified"] == off["orders"] and not load["problems"]
    return [
        (
            "cold up within 1.25x of its critical path (AWS's clock)",
            f"{cold.wall:.2f} s over {cold.critical.seconds:.2f} s: {cold.ratio:.2f}x",
            cold.ratio <= 1.25,
        ),
        (
            "no-op up under 1.5 s with no write (AWS's clock)",
            f"{noop.wall:.2f} s, {noop.mutating} writes",
            noop.wall < 1.5 and noop.mutating == 0,
        ),
        (
            "down, sweep included, at most 0.5x a naive sequential teardown",
            f"{pocctl_down:.2f} s vs {naive_down:.2f} s: {downs.ratio:.2f}x",
            downs.ratio <= 0.5,
        ),
        (
            "offline POST to notification under 0.15 s (median)",
            f"{off['hops']['notified']:.3f} s",
            off["hops"]["notified"] < 0.15,
        ),
        (
            f"{off['orders']:,} orders all stored and notified within 60 s",
            f"{load['stored']:,} stored, {load['notified']:,} notified in "
            f"{load['done_seconds']:.1f} s",
            complete and load["done_seconds"] <= 60,
        ),
        (
            "up --watch: save to updated under 1 s offline (median)",
            f"{statistics.median(off['watch']):.2f} s (max {max(off['watch']):.2f} s)",
            statistics.median(off["watch"]) < 1.0,
        ),
        startup_target(started),
    ]


def machine() -> str:
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def report(
    runs: list[Run],
    downs: Teardowns,
    off: dict[str, Any],
    started: list[Timed],
    args: argparse.Namespace,
    command: str,
) -> str:
    scale = "real durations" if args.time_scale == 1 else f"durations x{args.time_scale:g}"
    lines = [
        "# Benchmarks",
        "",
        f"Taken {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}, with `{command}`.",
        "",
        f"## On AWS's clock: AWS's waits at {scale}, {args.latency * 1000:.0f} ms per call",
        "",
        "`pocctl local` acts out what AWS makes a deployment wait for (IAM propagation 7 s, a new "
        "function `Pending` 1.5 s, a table `CREATING` 4 s, a mapping `Creating` 3 s, one API "
        "Gateway change at a time, its rate limits; `pocctl/local/aws/timing.py`), and adds a "
        "round trip to every call. Each command runs as a new process would: its preflight, and "
        "on `down` the sweep.",
        "",
        "The *critical path* is the longest chain of calls and waits that had to follow each "
        "other, computed from what the run did (`bench/critical.py`): a step's calls and pauses "
        "in a row (calls made side by side count as their longest branch), after the steps it "
        "waited for. A retry or poll loop's last pause is left out: AWS's last \"not yet\" came "
        "before it, so it is overshoot. *Wall / critical* is what scheduling and retry intervals "
        "cost on top.",
        "",
        "| run | mode | wall | critical path | wall / critical | calls | writes | path |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in runs:
        path = " → ".join(dict.fromkeys(r.critical.steps))
        lines.append(
            f"| {r.name} | {r.mode} | {r.wall:.2f} s | {r.critical.seconds:.2f} s | "
            f"{r.ratio:.2f}x | {r.calls} | {r.mutating} | {path} |"
        )
    lines += [
        "",
        f"## `down` against a naive teardown, {args.down_latency * 1000:.0f} ms per call",
        "",
        "`bench/naive.py` makes the same stack one call after another with boto3's waiters, and "
        "deletes it in reverse from what it remembers (no lookups). `pocctl down` looks at "
        "everything at once, deletes at once what AWS lets go in any order, then sweeps. No "
        f"other delay; median of {len(downs.pocctl)} runs, each on a stack of its own:",
        "",
        "| teardown | median | runs |",
        "| --- | ---: | --- |",
        f"| pocctl down, sweep included | {statistics.median(downs.pocctl):.2f} s | "
        + ", ".join(f"{x:.2f}" for x in downs.pocctl)
        + " |",
        f"| naive sequential boto3 | {statistics.median(downs.naive):.2f} s | "
        + ", ".join(f"{x:.2f}" for x in downs.naive)
        + " |",
    ]
    load = off["load"]
    lines += [
        "",
        "## Offline pipeline (`pocctl local`, AWS's waits off, no added latency)",
        "",
        f"`test-order` run {off['test_orders']} times; seconds from the POST (median, max):",
        "",
        "| hop | median | max |",
        "| --- | ---: | ---: |",
    ]
    for hop, median in off["hops"].items():
        lines.append(f"| {hop} | {median:.3f} s | {off['hops_max'][hop]:.3f} s |")
    lines += [
        "",
        f"{off['orders']:,} orders posted by 16 clients (another stack): posting took "
        f"{load['post_seconds']:.1f} s; "
        f"all {load['stored']:,} stored and {load['notified']:,} notified "
        f"{load['done_seconds']:.1f} s after the first POST "
        f"(**{off['orders_per_second']:.0f} orders/s** end to end), "
        f"{len(load['problems'])} problems.",
        "",
        f"`up --watch`, {len(off['watch'])} saves of the notifier: seconds from each save to "
        "its function running the new code (the directory polled, the package rebuilt and "
        "checked, only that function updated): median "
        f"{statistics.median(off['watch']):.2f} s, "
        + ", ".join(f"{x:.2f}" for x in off["watch"])
        + ".",
        "",
        *startup_section(started),
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
    ]
    for target, measured, met in targets(runs, downs, off, started):
        lines.append(f"| {target} | {measured} | {'yes' if met else '**no**'} |")
    return "\n".join(lines) + "\n"


def kept_sections(out: Path) -> str:
    """The sections other benchmarks record in the same file (bench/soak.py's), kept as they
    are when this one rewrites its own."""
    if not out.exists():
        return ""
    _, found, rest = out.read_text().partition(SOAK_SECTION)
    return "\n" + found + rest if found else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per call, AWS clock")
    parser.add_argument(
        "--down-latency", type=float, default=0.1, help="seconds per call, down vs naive"
    )
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="AWS's waits times this (1: real)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="down vs naive repetitions")
    parser.add_argument("--orders", type=int, default=1000, help="orders in the load run")
    parser.add_argument("--test-orders", type=int, default=10, help="test-order repetitions")
    parser.add_argument("--saves", type=int, default=5, help="saves of a handler, up --watch")
    parser.add_argument("--starts", type=int, default=20, help="runs of --version and --help")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    if min(args.latency, args.down_latency, args.time_scale) <= 0 or args.repeats < 1:
        parser.error("latencies and --time-scale must be positive, --repeats at least 1")
    command = "python bench/run.py" + " ".join(["", *sys.argv[1:]])
    print("Startup:", file=sys.stderr)
    started = measure_startup(args.starts)
    print(f"On AWS's clock, {args.latency * 1000:.0f} ms per call:", file=sys.stderr)
    runs = on_aws_clock(args.latency, args.time_scale)
    print(f"down against a naive teardown, {args.down_latency * 1000:.0f} ms:", file=sys.stderr)
    downs = down_against_naive(args.down_latency, args.repeats)
    print("Offline pipeline:", file=sys.stderr)
    off = offline(args.test_orders, args.orders, args.saves)
    text = report(runs, downs, off, started, args, command)
    args.out.write_text(text + kept_sections(args.out))
    print(text)
    print(f"Written to {args.out}", file=sys.stderr)
    return 0 if all(met for _, _, met in targets(runs, downs, off, started)) else 1


if __name__ == "__main__":
    sys.exit(main())
