"""The critical path of a run: the longest chain of calls and waits that had to follow each other.

Built from what the run did (`ctx.calls.spans`), not from a model of it:
- a step's calls and pauses follow each other, except calls made side by side
  (`Context.together`), which count as their longest branch;
- a step follows the steps the engine made it wait for (its dependencies on `up`, what its
  plan reads on `plan`); on `down` only its deletions do (they wait for their turn, after its
  `teardown_after`), and what it read before runs alongside;
- what ran outside any step (the preflight, the sweep) follows everything before it.

A pause counts while AWS still said "not yet": every pause of a retry or poll loop but its last
one, which began after AWS's last refusal, so AWS may have been ready at any moment of it. That
last pause is the schedule's overshoot, and the chain leaves it out: the wall time over the
critical path is what scheduling and retry intervals cost on top of what AWS made us wait for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from pocctl.core.telemetry import Span
from pocctl.pipeline.engine import waits_for
from pocctl.resources.base import AnyStep

Weight = Callable[[Span], float]


def needed_seconds(spans: Sequence[Span]) -> Weight:
    """A span's weight in seconds: its duration, or 0 for a loop's last pause."""
    last_pause: dict[int, Span] = {}
    for span in spans:
        if span.kind == "pause" and span.loop is not None:
            last_pause[span.loop] = span

    def weight(span: Span) -> float:
        if span.kind == "pause" and span.loop is not None and last_pause[span.loop] is span:
            return 0.0
        return span.seconds

    return weight


def one_per_call(span: Span) -> float:
    """Weigh a chain in calls, not seconds (tests: how many round trips had to follow)."""
    return 1.0 if span.kind == "call" else 0.0


@dataclass(frozen=True)
class Chain:
    seconds: float
    steps: tuple[str, ...]  # the steps along it, first to last


@dataclass
class Own:
    """A step's own weight in one phase: before its turn to delete (`down` only), and after."""

    before: float = 0.0
    after: float = 0.0
    waited: bool = False  # it waited for a turn: its "after" follows the steps it waits for

    def add(self, seconds: float, late: bool) -> None:
        if late:
            self.after += seconds
        else:
            self.before += seconds


def step_weights(spans: Iterable[Span], phase: str | None, weight: Weight) -> dict[str | None, Own]:
    """Each step's own weight in one phase; side-by-side calls count as their longest branch."""
    spans = [s for s in spans if s.phase == phase]
    turns: dict[str | None, float] = {}
    for span in spans:
        if span.kind == "turn":
            turns[span.step] = min(turns.get(span.step, span.started), span.started)
    own: dict[str | None, Own] = {}
    branches: dict[tuple[str | None, str, bool], dict[str, float]] = {}
    for span in spans:
        late = span.step not in turns or span.started >= turns[span.step]
        if span.lane is None:
            own.setdefault(span.step, Own(waited=span.step in turns)).add(weight(span), late)
        else:
            group, _, branch = span.lane.partition("/")
            lane = branches.setdefault((span.step, group, late), {})
            lane[branch] = lane.get(branch, 0.0) + weight(span)
    for (step, _, late), lanes in branches.items():
        own.setdefault(step, Own(waited=step in turns)).add(max(lanes.values()), late)
    return own


def phase_chain(
    steps: Sequence[AnyStep], spans: Iterable[Span], phase: str, weight: Weight
) -> Chain:
    own = step_weights(spans, phase, weight)
    waits = {s.key: waits_for(steps, s, phase) for s in steps}

    @cache
    def chain(key: str) -> Chain:
        mine = own.get(key, Own())
        if phase == "down" and not mine.waited:  # it never waited for a turn
            return Chain(mine.before + mine.after, (key,))
        before = max((chain(k) for k in waits[key]), key=lambda c: c.seconds, default=None)
        if before is None or before.seconds <= mine.before:
            return Chain(mine.before + mine.after, (key,))
        return Chain(before.seconds + mine.after, (*before.steps, key))

    longest = max((chain(s.key) for s in steps), key=lambda c: c.seconds, default=None)
    return longest if longest is not None and longest.seconds > 0 else Chain(0.0, ())


def critical_path(
    steps: Sequence[AnyStep],
    spans: Sequence[Span],
    phases: Sequence[str],
    weight: Weight | None = None,
) -> Chain:
    """The run's critical path: outside-step spans, then each phase's longest chain in turn."""
    weight = weight or needed_seconds(spans)
    outside = step_weights(spans, None, weight).get(None, Own())
    seconds: float = outside.before + outside.after
    path: tuple[str, ...] = ()
    for phase in phases:
        chain = phase_chain(steps, spans, phase, weight)
        seconds += chain.seconds
        path += chain.steps
    return Chain(seconds, path)
