"""The soak's invariants, as plain checks on what it observed: each returns what is broken.

Kept apart from the running soak (bench/soak.py) so a test can hand them a broken state and see
the soak fail with the seed, the command and the replay line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


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
) -> list[str]:
    """Every accepted order is stored exactly once (one INSERT in the table's stream: the
    notifier's mark that it notified is a MODIFY) and notified at least once; an order posted
    while the notifier was denied sns:Publish (`denied`) sits in a failed stream batch instead."""
    found = []
    accepted, notified_set, failed_set = list(accepted), set(notified), set(failed)
    if duplicates := sorted(i for i, n in Counter(accepted).items() if n > 1):
        found.append(f"the API accepted the same order id twice: {duplicates[:5]}")
    if lost := sorted(i for i in accepted if inserts.get(i, 0) == 0):
        found.append(f"{len(lost)} accepted order(s) not stored: {lost[:5]}")
    if twice := sorted(i for i in accepted if inserts.get(i, 0) > 1):
        found.append(f"{len(twice)} order(s) stored more than once: {twice[:5]}")
    denied_set = set(denied)
    if silent := sorted(i for i in accepted if i not in denied_set and i not in notified_set):
        found.append(f"{len(silent)} stored order(s) never notified: {silent[:5]}")
    if unfailed := sorted(i for i in denied_set if i not in failed_set and i not in notified_set):
        found.append(
            f"{len(unfailed)} order(s) posted while the notifier was denied neither notified "
            f"nor in the failure queue: {unfailed[:5]}"
        )
    return found


def nothing_left(inventory: Mapping[str, Iterable[str]]) -> str | None:
    """After `down`, the account holds nothing of the stack (an independent inventory)."""
    left = [f"{kind}:{name}" for kind, names in inventory.items() for name in names]
    return f"left after down: {left}" if left else None


def left_really_left(reported: Iterable[str], inventory: Mapping[str, Iterable[str]]) -> str | None:
    """`down` named as left only what is still there once AWS finished its deletions."""
    remaining = " ".join(name for names in inventory.values() for name in names)
    phantom = [name for name in reported if name not in remaining]
    if phantom:
        return f"down reported as left what was only being deleted: {phantom}"
    return None
