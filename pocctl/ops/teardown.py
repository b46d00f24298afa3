"""Teardown: the application service behind `pocctl down` (and `demo`). It removes every step's
resource in reverse order, then sweeps the region (removing the temporary inboxes an interrupted
test-order left) and returns what happened; progress goes through the context's reporter. The
command renders the result."""

from __future__ import annotations

from dataclasses import dataclass

from pocctl.core.config import TAG_KEY
from pocctl.core.context import Context
from pocctl.core.errors import Interrupted, PocctlError, TeardownIncomplete
from pocctl.core.reporting import Outcome
from pocctl.ops.deploy import refusal
from pocctl.ops.sweep import SweepResult, sweep_after_down
from pocctl.pipeline.engine import DEFAULT_WORKERS, Engine, RunReport
from pocctl.pipeline.stack import build_steps


@dataclass(frozen=True)
class TornDown:
    """What `down` did; the sweep's findings once every step is done (None before: an
    interrupted or failed `down` does not sweep); why the stack is not gone (None if it is)."""

    report: RunReport
    swept: SweepResult | None
    failure: PocctlError | None


def teardown(ctx: Context, *, serial: bool = False) -> TornDown:
    config = ctx.config
    steps = build_steps(config)
    engine = Engine(ctx, steps, workers=1 if serial else DEFAULT_WORKERS)
    managed = engine.managed_by_cloudformation()
    if managed:
        return TornDown(RunReport(managed=managed), None, refusal(ctx, "down", managed))
    report = engine.down()
    if report.interrupted:
        removed = report.titles(Outcome.DELETED)
        still = report.titles(Outcome.INTERRUPTED, Outcome.NOT_RUN)
        interrupted = Interrupted(
            "Interrupted: "
            + (f"removed {', '.join(removed)}; " if removed else "nothing was removed; ")
            + f"not yet removed: {', '.join(still)}.",
            "Run `pocctl down` again to finish: it only removes what is left.",
        )
        return TornDown(report, None, interrupted)
    left = [f"{r.title}: {r.error}" for r in report.results if r.outcome is Outcome.FAILED]
    if left:
        return TornDown(report, None, TeardownIncomplete(left))
    deleted = frozenset(r.title for r in report.results if r.outcome is Outcome.DELETED)
    swept = sweep_after_down(ctx, steps, deleted)
    for name in swept.inboxes_removed:
        ctx.reporter.note(f"removed {name}, a test-order queue left by an interrupted test-order")
    return TornDown(report, swept, left_after_sweep(config.stack, config.region, swept))


def left_after_sweep(stack: str, region: str, swept: SweepResult) -> PocctlError | None:
    if not swept.left:
        return None
    return PocctlError(
        f"The sweep after down found {len(swept.left)} resource(s) tagged "
        f"{TAG_KEY}={stack} still in {region}:\n"
        + "\n".join(f"  - {item.kind} {item.name}" for item in swept.left),
        "pocctl's steps don't manage them, so `pocctl down` leaves them; to stop paying "
        "for them, remove each with:\n" + "\n".join(f"  {item.remove}" for item in swept.left),
    )
