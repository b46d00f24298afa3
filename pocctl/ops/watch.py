"""`pocctl up --watch`: after `up`, upload a function's code again each time its handlers change.

Every file that goes into the package is polled (the handlers directory, its requirements.txt
and the files that names with -r or -c: a few files, a stat each, no watcher library or OS
service needed, the same on every platform). A change is taken once the files stop changing; the
package is rebuilt and checked as `up` does it, and only the functions whose zip differs from
what runs are updated, side by side. A failed update (a dropped connection, expired
credentials) is reported and tried again on the next save, after reading again what runs."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from pocctl.code.dependencies import REQUIREMENTS, requirement_files
from pocctl.code.packaging import Package, code_sha256, source_files
from pocctl.core.context import Context
from pocctl.core.errors import PocctlError
from pocctl.ops.deploy import refusal
from pocctl.resources.base import managed_by_cloudformation
from pocctl.resources.functions import FunctionStep

POLL = 0.1  # seconds between looks at the directory
SETTLE = 0.05  # a change is taken when the files have not changed for this long


@dataclass
class Update:
    """What one save led to."""

    changed: list[str]  # files, relative to the handlers directory
    updated: list[str] = field(default_factory=list)  # functions whose code was uploaded
    notes: list[str] = field(default_factory=list)  # what `up` would note about this package
    seconds: float = 0.0  # from the save (newest file's modification time) to "updated"
    error: str | None = None  # why nothing was uploaded
    failure: Exception | None = field(default=None, repr=False)  # the error, for the CLI to word

    def as_json(self) -> dict[str, object]:
        return {
            "changed": self.changed,
            "updated": self.updated,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


Snapshot = dict[str, tuple[int, int]]  # file -> (mtime_ns, size)


def snapshot(root: Path) -> Snapshot:
    """Every file the package is built from: the zip's and the dependencies' (requirements.txt
    is left out of the zip, and may name files outside the directory)."""
    root = root.resolve()  # as the requirements' paths are, to name those inside relatively
    files = {path.relative_to(root).as_posix(): path for path in source_files(root)}
    for path in requirement_files(root / REQUIREMENTS):
        path = path.resolve()
        files[path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)] = path
    found: Snapshot = {}
    for name, path in files.items():
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed while we looked
            continue
        found[name] = (stat.st_mtime_ns, stat.st_size)
    return found


def outside(directory: str) -> list[str]:
    """The files watched beyond the directory (named by its requirements.txt), by full path."""
    return sorted(name for name in snapshot(Path(directory)) if Path(name).is_absolute())


def deployed_shas(ctx: Context, functions: list[FunctionStep]) -> dict[str, str]:
    lam = ctx.client("lambda")
    return {
        # GetFunction: outside Lambda's 15 control-plane requests a second (Lambda quotas).
        f.function_name: lam.get_function(FunctionName=f.function_name)["Configuration"][
            "CodeSha256"
        ]
        for f in functions
    }


def watch(
    ctx: Context,
    functions: list[FunctionStep],
    on_update: Callable[[Update], None],
    *,
    stop: Callable[[], bool] = lambda: False,
    wall: Callable[[], float] = time.time,
) -> None:
    """Until `stop()`, or Ctrl-C: on each change, update the functions whose code changed."""
    source = functions[0].source
    if source.directory is None:
        raise PocctlError(
            "--watch watches your own handlers, and this stack deploys pocctl's built-in ones.",
            "Copy them with `pocctl init --handlers`, then run `pocctl up --watch`.",
        )
    root = Path(source.directory).resolve()
    running = deployed_shas(ctx, functions)
    seen = snapshot(root)
    # One loop of pauses (spans) until Ctrl-C, not `keep_trying`: that one tells users what it
    # waits for once a second has passed, and the CLI said "Watching ... (Ctrl-C to stop)".
    with ctx.waiting() as looking:
        while not stop():
            looking.pause(POLL, said=True)
            now = snapshot(root)
            if now == seen:
                continue
            while True:  # an editor may write a file in several steps: wait until it is done
                looking.pause(SETTLE, said=True)
                settled = snapshot(root)
                if settled == now:
                    break
                now = settled
            changed = sorted(k for k in now.keys() | seen.keys() if now.get(k) != seen.get(k))
            saved = max((now[k][0] for k in changed if k in now), default=time.time_ns()) / 1e9
            seen = now
            on_update(_update(ctx, functions, running, changed, saved, wall))


def _update(
    ctx: Context,
    functions: list[FunctionStep],
    running: dict[str, str],
    changed: list[str],
    saved: float,
    wall: Callable[[], float],
) -> Update:
    update = Update(changed)
    try:
        package: Package = functions[0].source.rebuilt(ctx)
    except PocctlError as exc:
        update.error, update.failure = str(exc), exc
        update.seconds = wall() - saved
        return update
    update.notes = list(package.notes)
    try:
        if not running:  # the last upload failed: what runs now is not known
            running.update(deployed_shas(ctx, functions))
        stale = [
            f
            for f in functions
            if code_sha256(package.archive(f.handler)) != running[f.function_name]
        ]
        # CloudFormation may have taken the stack over since `up` checked: its code is its own.
        managed = managed_by_cloudformation(ctx, stale)
        if managed:
            raise refusal(ctx, "up", managed)
        ctx.together(*(partial(f.update_code, ctx, package.archive(f.handler)) for f in stale))
    except (PocctlError, BotoCoreError, ClientError) as exc:
        # Not the end of watching: the next save tries again.
        update.error, update.failure = str(exc), exc
        running.clear()
    else:
        for f in stale:
            running[f.function_name] = code_sha256(package.archive(f.handler))
            update.updated.append(f.function_name)
    update.seconds = wall() - saved
    return update


@contextmanager
def watching(ctx: Context, functions: list[FunctionStep]) -> Iterator[queue.Queue[Update]]:
    """`watch` on a thread of its own for the length of the block (for scripts, the benchmark
    and tests): each save's Update arrives on the queue. The watcher has taken its first look
    at the directory when the block starts."""
    updates: queue.Queue[Update] = queue.Queue()
    stop, looked = threading.Event(), threading.Event()

    def stopping() -> bool:
        looked.set()  # asked before each look, the first one after the snapshot
        return stop.is_set()

    thread = threading.Thread(
        target=watch, args=(ctx, functions, updates.put), kwargs={"stop": stopping}, daemon=True
    )
    thread.start()
    looked.wait(timeout=30)
    try:
        yield updates
    finally:
        stop.set()
        thread.join(timeout=10)
