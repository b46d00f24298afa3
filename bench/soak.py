"""The whole life of a stack, again and again, under random weather; checks invariants throughout.

    python bench/soak.py --cycles N --seed S [--scale 0.03] [--json]

Each cycle has an emulator of its own (`Timing(scale, seed=cycle seed)`: every AWS wait drawn
from its rule's range) and runs real `pocctl` processes against it: `up` (sometimes SIGKILLed at
its k-th AWS request and re-run), orders posted by several clients, `test-order`, `status`, a
random drift that `status` must name and `up` repair, `down` (sometimes killed and re-run),
sometimes `up` again right after `down`. Exit 1 if any invariant broke.

What replays for a seed: the choices of the cycle (which commands are killed and at which
request, the drift, how many orders from how many clients) and the weather (each wait drawn per
rule and resource, `Timing.seconds(rule, key)`). What still varies: AWS's waits run on real
time, and `up` and `down` send their calls from several threads, so which call is the k-th, and
how a command's calls interleave with the waits and with the pollers, can differ from run to
run, the more so on a loaded machine. A replay runs the same program against the same weather;
it is not the same schedule to the millisecond.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from soak_checks import (  # bench/ is the script's own directory
    Broken,
    claims_of_down,
    left_really_left,
    nothing_left,
    orders_accounted,
    succeeded,
)
from soak_world import (
    DRIFTS,
    KINDS,
    World,
    inventory_when_settled,
)

from pocctl.local.aws.sns import follow_confirmation_links
from pocctl.local.aws.timing import Timing
from pocctl.local.emulator import ACCOUNT, Emulator

EMAIL = "soak@example.com"
STACK = "soak"
NOTIFIER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{STACK}-Lambda-2-Role"
# pocctl waits out IAM's propagation on its own clock: scale it with the emulator's (as the test
# suite's conftest does), else each repair of a role waits 10 s of real time.
PRELUDE = (
    "import sys\n"
    "from pocctl.resources import iam\n"
    "iam.IAM_PROPAGATION_SECONDS *= float(sys.argv[1])\n"
    "sys.argv = ['pocctl', *sys.argv[2:]]\n"
    "from pocctl.cli import main\n"
    "main()\n"
)


def cycle_seed(seed: int, cycle: int) -> int:
    digest = hashlib.sha256(f"soak:{seed}:{cycle}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


@dataclass
class Ran:
    command: str
    exit_code: int
    seconds: float
    killed: bool
    document: dict[str, Any]


@dataclass
class Cycle:
    """One cycle's run: its emulator, its random choices, what it found."""

    seed: int  # the soak's --seed
    number: int
    scale: float
    emulator: Emulator
    workdir: Path
    log: Callable[[str], None]
    rng: random.Random = field(init=False)
    last: Ran = field(init=False)  # the last command `succeeds` ran
    broken: list[Broken] = field(default_factory=list)
    commands: int = 0
    seconds: float = 0.0
    kills: int = 0
    orders_checked: int = 0
    # Orders posted after `up` repaired the notifier's permission, before the repair reached
    # SNS (IAM propagation, which `up` cannot observe).
    orders_before_repair: int = 0
    duplicate_deliveries: int = 0  # the writer's "order_already_stored" lines

    def __post_init__(self) -> None:
        self.rng = random.Random(cycle_seed(self.seed, self.number))

    @property
    def replay(self) -> str:
        return (
            f"python bench/soak.py --seed {self.seed} --first-cycle {self.number} --cycles 1 "
            f"--scale {self.scale:g}"
        )

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POCCTL_"))}
        env.update(
            AWS_ENDPOINT_URL=self.emulator.endpoint_url,
            AWS_ACCESS_KEY_ID="pocctl-local",
            AWS_SECRET_ACCESS_KEY="pocctl-local",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE="/nonexistent/pocctl-soak",
            AWS_SHARED_CREDENTIALS_FILE="/nonexistent/pocctl-soak",
            NO_COLOR="1",
            POCCTL_STACK=STACK,
        )
        return env

    def check(self, command: str, invariant: str, detail: str | None) -> bool:
        if detail is None:
            self.log(f"    ok: {invariant}")
            return True
        found = Broken(
            cycle_seed(self.seed, self.number), self.number, command, invariant, detail, self.replay
        )
        self.broken.append(found)
        self.log(str(found))
        return False

    # -- running pocctl -------------------------------------------------------------------
    def pocctl(self, *args: str, kill_at: int | None = None) -> Ran:
        """One `pocctl` process, SIGKILLed when the emulator receives its `kill_at`-th AWS
        request (before carrying it out: AWS too carries out what a dying client sent)."""
        command = " ".join(args)
        # The process's requests are told from the soak's own and the handlers' by the app id
        # botocore puts in each request's User-Agent ("app/<id>", AWS_SDK_UA_APP_ID).
        marker = f"app/pocctl-soak-{self.commands}"
        requests = Requests(marker, kill_at)
        env = {**self.env(), "AWS_SDK_UA_APP_ID": marker.removeprefix("app/")}
        self.emulator.on_request = requests.seen
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-c", PRELUDE, str(self.scale), *args, "--json"],
            cwd=self.workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        requests.process = process
        try:
            stdout, stderr = process.communicate(timeout=600)
        finally:
            self.emulator.on_request = lambda headers: None
        killed = requests.killed
        if killed:
            self.kills += 1
            self.emulator.answered()  # what it sent before it died is carried out (AWS does too)
        seconds = time.monotonic() - started
        self.commands += 1
        try:
            document = json.loads(stdout) if stdout.strip() and not killed else {}
        except ValueError:
            document = {"unparsed": stdout[-2000:]}
        if not killed and process.returncode:
            document.setdefault("stderr", stderr[-3000:])
        ran = Ran(command, process.returncode, seconds, killed, document)
        what = f"killed at request {kill_at}" if killed else f"exit {process.returncode}"
        self.log(f"  {command:<40} {seconds:6.2f}s  {requests.count:4d} requests  {what}")
        return ran

    def succeeds(self, *args: str, may_kill: float = 0.0, kill_within: int = 60) -> Ran | None:
        """Run a command, maybe killed at its k-th AWS request (k drawn from the seed) and
        re-run; the run (or re-run) must succeed. A run that sends fewer than k requests is not
        killed."""
        kill_at = None
        if self.rng.random() < may_kill:
            kill_at = self.rng.randint(1, kill_within)
        ran = self.pocctl(*args, kill_at=kill_at)
        if ran.killed:
            ran = self.pocctl(*args)
        detail = succeeded(ran.exit_code, False)
        if detail:
            detail += ": " + json.dumps(ran.document)[:1500]
        self.last = ran
        return ran if self.check(ran.command, "the command succeeds", detail) else None

    # -- the cycle --------------------------------------------------------------------------
    def run(self) -> None:
        world = World(self.emulator, STACK)
        up = self.up(world, may_kill=0.4)
        if up is None:
            return
        self.accounted(
            world, "orders after up", self.post("orders after up", self.rng.randint(3, 12))
        )
        # Killed, it leaves its temporary queue and subscription: `down` must remove them.
        self.succeeds("test-order", "--timeout", "60", may_kill=0.25, kill_within=18)
        self.healthy("status")
        self.drift(world)
        self.down(world, may_kill=0.4)
        if self.rng.random() < 0.4 and self.up(world, may_kill=0.0) is not None:
            again = self.post("orders after up again", self.rng.randint(1, 4))
            self.accounted(world, "orders after up again", again)
            self.down(world, may_kill=0.0)

    def up(self, world: World, may_kill: float) -> Ran | None:
        earlier = len(self.emulator.outbox.messages)
        ran = self.succeeds("up", "--email", EMAIL, may_kill=may_kill, kill_within=80)
        if ran is None:
            return None
        # As the address's owner would: the mail this up's subscription sent (an earlier
        # stack's topic is gone, its link with it).
        follow_confirmation_links(self.emulator.outbox.messages[earlier:], EMAIL)
        self.healthy("status after up")
        return ran

    def healthy(self, label: str) -> bool:
        ran = self.pocctl("status")
        problems = ran.document.get("problems")
        detail = None if ran.exit_code == 0 else f"exit {ran.exit_code}: {problems}"
        return self.check(label, "status is healthy after a successful up", detail)

    def post(self, label: str, count: int) -> list[Posted]:
        """Orders from several clients at once: those the API accepted, with when each was
        posted (the emulator's clock)."""
        outputs = self.succeeds("outputs")
        if outputs is None:
            return []
        clients = self.rng.randint(2, 4)
        accepted = post_orders(outputs.document["order_url"], count, clients)
        self.orders_checked += len(accepted)
        self.log(f"  {label:<40} {len(accepted)}/{count} accepted from {clients} clients")
        return accepted

    def accounted(
        self, world: World, label: str, posted: list[Posted], denied_until: float = -math.inf
    ) -> None:
        """Every order accepted is stored once and notified; one posted before `denied_until`
        (the moment the notifier's sns:Publish took effect for SNS) may be in the failure queue
        instead, and then must be, by its stream sequence number."""
        accepted = [p.order for p in posted]
        denied = {p.order for p in posted if p.at < denied_until}
        # Past the queue's visibility timeout: a delivery that failed is retried after it.
        wait = 60 + world.visibility_timeout()
        started = time.monotonic()
        settled = world.orders_settled(accepted, denied=denied, deadline=started + wait)
        lines = world.writer_lines_settled(accepted, deadline=time.monotonic() + 10)
        self.duplicate_deliveries += sum(lines.already[i] for i in accepted)
        self.log(
            f"  {label:<40} settled in {time.monotonic() - started:.1f}s; the writer logged "
            f"{sum(lines.stored[i] for i in accepted)} stored, "
            f"{sum(lines.already[i] for i in accepted)} already stored"
        )
        detail = orders_accounted(
            accepted,
            settled.inserts,
            settled.notified,
            settled.failed,
            denied=denied,
            stored_lines=lines.stored,
        )
        if any(settled.inserts[i] == 0 for i in accepted):
            detail.append(world.why_not_stored())
        invariant = "every accepted order is stored once and notified"
        if denied:
            invariant += (
                ", or, posted before the notifier's permission took effect, in the failure queue"
            )
        self.check(label, invariant, "; ".join(detail) or None)

    def drift(self, world: World) -> None:
        name = self.rng.choice(sorted(DRIFTS))
        drift = DRIFTS[name]
        self.log(f"  drift: {name}")
        drift.apply(world)
        self.emulator.settled()  # IAM has propagated, the pollers match the mappings
        ran = self.pocctl("status")
        problems = [str(p) for p in ran.document.get("problems", [])]
        named = ran.exit_code == 1 and drift.named_by(problems, STACK)
        self.check(
            f"status after drift {name}",
            "status names the drift",
            None if named else f"exit {ran.exit_code}, problems {json.dumps(problems)[:1500]}",
        )
        during = self.post(f"orders during drift {name}", self.rng.randint(1, 4))
        if drift.denies_notifier:
            self.accounted(world, f"orders during drift {name}", during, denied_until=math.inf)
            world.acknowledge_failures()  # the operator has read them
            during = []
        self.up(world, may_kill=0.0)
        # `up` waits a fixed time for IAM, which gives no signal: the emulator knows when the
        # repaired policy reaches SNS, and an order posted before then may still be refused.
        repaired = (
            self.emulator.reaches(NOTIFIER_ROLE, "sns") if drift.denies_notifier else -math.inf
        )
        if drift.denies_notifier:
            when = repaired - time.monotonic()
            self.log(f"  the repair reaches SNS {when:+.2f}s from up's end")
        # A mapping disabled and enabled again resumes "from the same location" (Lambda API
        # reference, UpdateEventSourceMapping): what was posted meanwhile is notified now.
        after = self.post(f"orders after repairing {name}", self.rng.randint(1, 4))
        early = sum(p.at < repaired for p in after)
        self.orders_before_repair += early
        if early:
            self.log(f"  {early} order(s) posted before the repair took effect for SNS")
        self.accounted(
            world, f"orders during and after drift {name}", during + after, denied_until=repaired
        )

    def down(self, world: World, may_kill: float) -> None:
        self.succeeds("down", "--yes", may_kill=may_kill, kill_within=80)
        # Failed or not, what it said is left (the sweep's `left`, or the steps that failed).
        claims = claims_of_down(self.last.document, KINDS)
        inventory = inventory_when_settled(world, self.emulator.timing)
        self.check("down", "nothing of the stack is left", nothing_left(inventory))
        self.check(
            "down", "down names as left only what is left", left_really_left(claims, inventory)
        )


@dataclass(frozen=True)
class Posted:
    order: str
    at: float  # when it was posted, on the emulator's clock (time.monotonic)


class Requests:
    """The AWS requests one pocctl process sends, as the emulator receives them; SIGKILLs the
    process at the `kill_at`-th."""

    def __init__(self, marker: str, kill_at: int | None) -> None:
        self.marker, self.kill_at = marker, kill_at
        self.count = 0
        self.killed = False
        self.process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def seen(self, headers: dict[str, str]) -> None:
        if self.marker not in headers.get("user-agent", ""):
            return
        with self._lock:
            self.count += 1
            if self.count != self.kill_at or self.process is None:
                return
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.killed = True


def post_orders(url: str, count: int, clients: int) -> list[Posted]:
    from pocctl.ops.smoke import accepted_id, http_post

    def one(i: int) -> Posted | None:
        body = json.dumps({"item": f"soak item {i}", "customerID": f"c{i % clients}"})
        at = time.monotonic()
        order = accepted_id(*http_post(url, body.encode()))
        return Posted(order, at) if order else None

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return [p for p in pool.map(one, range(count)) if p]


def run_cycle(seed: int, number: int, scale: float, log: Callable[[str], None]) -> Cycle:
    timing = Timing(scale=scale, seed=cycle_seed(seed, number))
    with (
        tempfile.TemporaryDirectory(prefix="pocctl-soak-") as workdir,
        Emulator(port=0, timing=timing, log=emulator_log(log)) as emulator,
    ):
        cycle = Cycle(seed, number, scale, emulator, Path(workdir), log)
        started = time.monotonic()
        log(f"cycle {number} (seed {cycle_seed(seed, number)}): {timing.describe()}")
        try:
            cycle.run()
        except Exception as exc:  # the soak itself failing is reported like a broken invariant
            cycle.check("soak", "the soak runs to the end", f"{type(exc).__name__}: {exc}")
        cycle.seconds = time.monotonic() - started
        log(
            f"cycle {number}: {cycle.seconds:.1f}s, {cycle.commands} commands, "
            f"{cycle.orders_checked} orders, {cycle.kills} kills, {len(cycle.broken)} broken"
        )
        return cycle


def emulator_log(log: Callable[[str], None]) -> Callable[[str], None]:
    lock = threading.Lock()

    def line(text: str) -> None:
        if "failed in pocctl local" in text:
            with lock:
                log(f"  emulator: {text}")

    return line


SECTION = "## Soak: a stack's whole life under random weather"
ROW = "| {when} | `{command}` | {cycles} | {commands} | {orders_checked} | {kills} | {broken} |"


RUNS_HEADER = "| taken (UTC) | command |"


def record(path: Path, summary: dict[str, Any], command: str) -> None:
    """Add the run as a row of BENCHMARKS.md's soak table (the section's prose is kept)."""
    text = path.read_text()
    if SECTION not in text:
        raise SystemExit(f"{path} has no section {SECTION!r} to record the run in")
    row = ROW.format(
        when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        command=command.replace(" --record " + str(path), ""),
        cycles=summary["cycles"],
        commands=summary["commands"],
        orders_checked=summary["orders_checked"],
        kills=summary["kills"],
        broken=len(summary["broken"]),
    )
    head, _, rest = text.partition(SECTION)
    runs = rest.find(RUNS_HEADER)  # the runs' table, not the critical-path one beside it
    if runs < 0:
        raise SystemExit(f"{path}'s section {SECTION!r} has no table of runs ({RUNS_HEADER!r})")
    table_end = rest.find("\n\n", runs)
    rest = rest[:table_end] + "\n" + row + rest[table_end:] if table_end >= 0 else rest + row + "\n"
    path.write_text(head + SECTION + rest)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first-cycle", type=int, default=0, help="replay from this cycle")
    parser.add_argument("--scale", type=float, default=0.03, help="AWS's waits times this")
    parser.add_argument("--json", action="store_true", help="the summary as JSON on stdout")
    parser.add_argument(
        "--record", type=Path, help="add this run to the soak section of this BENCHMARKS.md"
    )
    args = parser.parse_args()

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    cycles = [
        run_cycle(args.seed, n, args.scale, log)
        for n in range(args.first_cycle, args.first_cycle + args.cycles)
    ]
    broken = [b for c in cycles for b in c.broken]
    summary = {
        "ok": not broken,
        "seed": args.seed,
        "scale": args.scale,
        "cycles": len(cycles),
        "commands": sum(c.commands for c in cycles),
        "orders_checked": sum(c.orders_checked for c in cycles),
        "kills": sum(c.kills for c in cycles),
        "orders_posted_before_the_repair_took_effect": sum(c.orders_before_repair for c in cycles),
        "duplicate_deliveries": sum(c.duplicate_deliveries for c in cycles),
        "seconds_per_cycle": [round(c.seconds, 1) for c in cycles],
        "broken": [vars(b) for b in broken],
    }
    log(
        f"soak: {summary['cycles']} cycles, {summary['commands']} commands, "
        f"{summary['orders_checked']} orders checked, {summary['kills']} kills, "
        f"{summary['orders_posted_before_the_repair_took_effect']} orders posted before the "
        f"repair took effect, {summary['duplicate_deliveries']} duplicate deliveries, "
        f"{len(broken)} broken invariants"
    )
    for b in broken:
        log(str(b))
    if args.json:
        print(json.dumps(summary))
    if args.record:
        record(args.record, summary, " ".join(["python bench/soak.py", *sys.argv[1:]]))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
