"""The soak's invariants, as plain checks on what it observed: each returns what is broken.

Kept apart from the running soak (bench/soak.py) so a test can hand them a broken state and see
the soak fail with the seed, the command and the replay line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Broken:
    """One invariant a command broke, with what replays it exactly."""

    seed: int
    cycle: int
    command: str
    invariant: str
    detail: str
    replay: str

    def __str__(self) -> str:
        return (
            f"BROKEN seed={self.seed} cycle={self.cycle} command={self.command!r}\n"
            f"  invariant: {self.invariant}\n  found: {self.detail}\n  replay: {self.replay}"
        )


def succeeded(exit_code: int, killed: bool) -> str | None:
    """Every command succeeds the first time; a killed one is judged by its re-run."""
    if killed or exit_code == 0:
        return None
    return f"exit {exit_code}"


def orders_accounted(
    accepted: Iterable[str],
    inserts: Mapping[str, int],
    notified: Iterable[str],
    failed: Iterable[str],
    denied: Iterable[str] = (),
    stored_lines: Mapping[str, int] | None = None,
) -> list[str]:
    """Every accepted order is stored exactly once and notified at least once; an order posted
    while the notifier was denied sns:Publish (`denied`) may sit in a failed stream batch
    instead, and must then be there.

    "Stored exactly once" is what can be seen of it: one INSERT in the table's stream (the
    notifier's mark that it notified is a MODIFY) and, in the writer's log, at most one
    `order_stored` line (`stored_lines`, per order id). The writer's put is conditional, so a
    second delivery of the same order (SQS is at-least-once: SQS Developer Guide, "Amazon SQS
    standard queues") yields no second INSERT but an `order_already_stored` line: the soak counts
    those, it does not break on them.
    """
    found = []
    accepted, notified_set, failed_set = list(accepted), set(notified), set(failed)
    if duplicates := sorted(i for i, n in Counter(accepted).items() if n > 1):
        found.append(f"the API accepted the same order id twice: {duplicates[:5]}")
    if lost := sorted(i for i in accepted if inserts.get(i, 0) == 0):
        found.append(f"{len(lost)} accepted order(s) not stored: {lost[:5]}")
    if twice := sorted(i for i in accepted if inserts.get(i, 0) > 1):
        found.append(f"{len(twice)} order(s) stored more than once: {twice[:5]}")
    lines = stored_lines or {}
    if logged := sorted(i for i in accepted if lines.get(i, 0) > 1):
        found.append(
            f"{len(logged)} order(s) the writer logged as stored more than once: {logged[:5]}"
        )
    denied_set = set(denied)
    if silent := sorted(i for i in accepted if i not in denied_set and i not in notified_set):
        found.append(f"{len(silent)} stored order(s) never notified: {silent[:5]}")
    if unfailed := sorted(i for i in denied_set if i not in failed_set and i not in notified_set):
        found.append(
            f"{len(unfailed)} order(s) posted while the notifier was denied neither notified "
            f"nor in the failure queue: {unfailed[:5]}"
        )
    return found


@dataclass(frozen=True)
class Found:
    """One resource of the stack the account's list calls show, keyed as pocctl names it: its
    kind as pocctl's steps say it ("SQS queue"), its name, and the other names pocctl may give
    it (a REST API: its id in the sweep, its name in a step's title)."""

    kind: str
    name: str
    aliases: tuple[str, ...] = ()


def nothing_left(inventory: Iterable[Found]) -> str | None:
    """After `down`, the account holds nothing of the stack (an independent inventory)."""
    left = [f"{f.kind}:{f.name}" for f in inventory]
    return f"left after down: {left}" if left else None


def claims_of_down(document: Mapping[str, Any], kinds: Iterable[str]) -> list[tuple[str, str]]:
    """What `down --json` says is left, as (kind, name): the sweep's `left` (its `being_deleted`
    is not a claim of a leftover), and, when `down` failed (TeardownIncomplete), each step that
    failed (its title is "<kind> <name>")."""
    claims = [(str(item["kind"]), str(item["name"])) for item in document.get("left") or []]
    known = sorted(kinds, key=len, reverse=True)  # "IAM permissions boundary" before "IAM"
    for step in document.get("steps") or []:
        if step.get("outcome") != "failed":
            continue
        title = str(step.get("title", ""))
        kind = next((k for k in known if title.startswith(k + " ")), "")
        claims.append((kind, title[len(kind) + 1 :] if kind else title))
    return claims


def left_really_left(claims: Iterable[tuple[str, str]], inventory: Iterable[Found]) -> str | None:
    """`down` named as left only what is still there once AWS finished its deletions: each
    (kind, name) it claims is a resource of that kind and name in the inventory."""
    there = {(f.kind, name) for f in inventory for name in (f.name, *f.aliases)}
    phantom = [f"{kind}:{name}" for kind, name in claims if (kind, name) not in there]
    if phantom:
        return f"down reported as left what was only being deleted: {phantom}"
    return None
