"""All terminal output. The only module that imports rich."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner

from pocctl.core.reporting import Outcome, StepResult, Wait
from pocctl.core.shared_reads import handed_on_in

if TYPE_CHECKING:
    from pocctl.core.context import Context
    from pocctl.core.telemetry import RecordedCall

STYLES = {
    Outcome.CREATED: ("+", "green"),
    Outcome.UPDATED: ("~", "yellow"),
    Outcome.UNCHANGED: ("=", "dim"),
    Outcome.WOULD_CREATE: ("+", "green"),
    Outcome.WOULD_UPDATE: ("~", "yellow"),
    Outcome.DELETED: ("-", "red"),
    Outcome.ABSENT: ("=", "dim"),
    Outcome.SKIPPED: ("!", "yellow"),
    Outcome.FAILED: ("x", "bold red"),
    Outcome.INTERRUPTED: ("!", "bold yellow"),
    Outcome.NOT_RUN: (" ", "dim"),
}


TITLE_WIDTH = 52
# Off a terminal, a wait is said once it has lasted about a second, then at most this often.
PLAIN_WAIT_EVERY = 10.0
MARKS = {
    "ok": ("✓", "green"),
    "drifted": ("~", "yellow"),
    "missing": ("x", "bold red"),
    "problem": ("x", "bold red"),
    "warn": ("!", "yellow"),
}


@dataclass
class Node:
    """One line of a tree (`pocctl status`), with detail lines and children under it."""

    label: str
    mark: str = "ok"
    details: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)


class Terminal:
    """Human output on one console (stdout, or stderr when stdout carries JSON)."""

    def __init__(self, *, to_stderr: bool = False, quiet: bool = False) -> None:
        # NO_COLOR (https://no-color.org) or a dumb terminal: plain lines, no escape codes at all.
        plain = "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"
        self.console = Console(
            stderr=to_stderr,
            highlight=False,
            soft_wrap=True,
            color_system=None if plain else "auto",
            no_color=True if plain else None,
        )
        # The live view redraws lines in place: only on a real terminal that allows styling.
        self.live = self.console.is_terminal and not plain
        self.quiet = quiet
        self.notes: list[str] = []  # kept for --json documents
        # The live line: a spinner and what is in flight, redrawn as soon as that changes.
        self._status: Live | None = None
        self._spinner = Spinner("dots")
        self._in_flight: dict[str, str] = {}
        # What each step (None: the command itself) is waiting for, and, off a terminal, when
        # each wait was last said.
        self._waits: dict[str | None, str] = {}
        self._wait_loops: dict[str | None, int] = {}
        self._said: dict[int, float] = {}
        self._showing_own_wait = False
        # Steps run in parallel: reporter calls come from several threads.
        self._lock = threading.RLock()

    # -- the Reporter interface ----------------------------------------------------------
    def step_started(self, step: str, title: str, doing: str) -> None:
        with self._lock:
            self._in_flight[step] = f"{doing} {title}"
            self._show_in_flight()

    def _show_in_flight(self) -> None:
        if self.quiet or not self.live:
            return
        shown = [self._waits.get(step, doing) for step, doing in self._in_flight.items()]
        if None in self._waits:
            shown.append(self._waits[None])
        if not shown:
            self._stop_status()
            return
        self._spinner.update(text=escape("; ".join(shown)) + " ...")
        if self._status is None:
            self._status = Live(self._spinner, console=self.console, transient=True)
            self._status.start(refresh=True)
        else:
            self._status.refresh()

    def step_finished(self, result: StepResult) -> None:
        with self._lock:
            self._in_flight.pop(result.step, None)
            self._waits.pop(result.step, None)
            self._print_result(result)
            self._show_in_flight()

    def _print_result(self, result: StepResult) -> None:
        if self.quiet and result.outcome is not Outcome.FAILED:
            return
        mark, style = STYLES[result.outcome]
        timing = f"{result.seconds:6.2f}s" if result.seconds else " " * 7
        self.console.print(
            f"[{style}]{mark} {result.outcome.value:<12}[/] {escape(result.title):<{TITLE_WIDTH}}"
            f" [dim]{timing}[/]"
        )
        for change in result.changes:
            if result.outcome in (Outcome.UPDATED, Outcome.WOULD_UPDATE):
                self.console.print(f"      [dim]{escape(change)}[/]")
        if result.error:
            self.console.print(f"      [red]{escape(result.error)}[/]")

    def call(self, call: RecordedCall) -> None:
        """One AWS call, for --verbose."""
        where = f"  [{call.step}]" if call.step else ""
        with self._lock:
            self.console.print(f"[dim]  aws {call.service} {call.operation}{escape(where)}[/]")

    def follow(self, ctx: Context) -> None:
        """For --verbose: every AWS call the context makes, and each error AWS answers, the
        refusals `up` waits out included (said otherwise once, as a count, in its wait)."""
        ctx.calls.listeners.append(self.call)
        # Once per session, however many contexts share it (demo's up, then its down).
        ctx.session.events.register(
            "after-call.*.*", self.answered, unique_id=f"pocctl-verbose-{id(self)}"
        )

    def answered(
        self,
        event_name: str,
        parsed: Any = None,
        model: Any = None,
        context: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        """botocore's after-call event (`after-call.lambda.CreateFunction`), once botocore's own
        retries (throttling, 5xx) are spent: a response that is an error is printed with its
        call (steps run side by side: not always the line above). The service is named as the
        call lines name it (`apigateway`, not the event's `api-gateway`). An answer an earlier
        call got, handed on (core/shared_reads.py), was printed with that call."""
        error = parsed.get("Error") if isinstance(parsed, dict) else None
        if not error or handed_on_in(context or {}):
            return
        operation = event_name.split(".")[2]
        service = (
            model.service_model.service_name if model is not None else event_name.split(".")[1]
        )
        said = f"{error.get('Code')}: {error.get('Message') or ''}".rstrip(": ")
        with self._lock:
            self.console.print(f"[dim]  aws {service} {operation} answered {escape(said)}[/]")

    def note(self, message: str) -> None:
        with self._lock:
            self.notes.append(message)
            self.console.print(f"[cyan]note:[/] {escape(message)}")

    def waiting(self, wait: Wait) -> None:
        """On a terminal, the live line says it (for a step in flight, or within
        `showing_waits`: the line is taken down after); otherwise a plain line, at most one a
        loop every PLAIN_WAIT_EVERY seconds."""
        if self.quiet:
            return
        with self._lock:
            in_flight = wait.step in self._in_flight
            if self.live and (in_flight or (wait.step is None and self._showing_own_wait)):
                self._waits[wait.step] = wait.text
                self._wait_loops[wait.step] = wait.loop
                self._show_in_flight()
                return
            last = self._said.get(wait.loop)
            if last is not None and wait.waited - last < PLAIN_WAIT_EVERY:
                return
            self._said[wait.loop] = wait.waited
            self.console.print(f"[dim]...[/] {escape(wait.text)}")

    def wait_over(self, step: str | None, loop: int) -> None:
        """A step's wait is over while the step goes on: the live line says what it does."""
        with self._lock:
            if self._wait_loops.get(step) == loop:
                self._wait_loops.pop(step)
                self._waits.pop(step, None)
                self._show_in_flight()

    def waited(self) -> None:
        """The command's own wait (not a step's) is over."""
        with self._lock:
            if self._waits.pop(None, None) is not None:
                self._show_in_flight()

    @contextmanager
    def showing_waits(self) -> Iterator[None]:
        """Meanwhile, on a terminal, the command's own waits (test-order's, between hops) are
        a live line, taken down at the end."""
        self._showing_own_wait = True
        try:
            yield
        finally:
            self._showing_own_wait = False
            self.waited()

    # -- everything else -----------------------------------------------------------------
    @contextmanager
    def busy(self, text: str) -> Iterator[None]:
        """A spinner while something is read, on a live terminal only."""
        if self.quiet or not self.live:
            yield
            return
        with self.console.status(escape(text)):
            yield

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def heading(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"[bold]{escape(text)}[/]")

    def info(self, text: str) -> None:
        if not self.quiet:
            self.console.print(escape(text))

    def success(self, text: str) -> None:
        self.console.print(f"[bold green]{escape(text)}[/]")

    def warning(self, text: str) -> None:
        self.console.print(f"[bold yellow]{escape(text)}[/]")

    def hop(self, name: str, ok: bool, seconds: float | None, detail: str) -> None:
        self.waited()
        mark = "[green]✓[/]" if ok else "[bold red]x[/]"
        timing = f"{seconds:6.2f}s" if seconds is not None else "      -"
        self.console.print(f"{mark} {name:<9} [dim]{timing}[/]  {escape(detail)}")

    def mail(self, message: dict[str, Any]) -> None:
        self.console.print(f"[bold]--- email to {escape(str(message.get('to')))} ---[/]")
        self.console.print(f"Subject: {escape(str(message.get('subject') or ''))}")
        self.console.print(escape(str(message.get("message") or "")))
        self.console.print("[bold]---[/]")

    def tree(self, title: str, nodes: list[Node]) -> None:
        """Drawn line by line (not rich's Tree, which crops deep lines to the width)."""
        lines = [f"[bold]{escape(title)}[/]"]

        def add(node: Node, indent: str, last: bool) -> None:
            mark, style = MARKS[node.mark]
            guide = "└── " if last else "├── "
            lines.append(f"[dim]{indent}{guide}[/][{style}]{mark}[/] {escape(node.label)}")
            below = indent + ("    " if last else "│   ")
            for detail in node.details:
                lines.append(
                    f"[dim]{below}{'│   ' if node.children else '    '}{escape(detail)}[/]"
                )
            for i, child in enumerate(node.children):
                add(child, below, i == len(node.children) - 1)

        for i, node in enumerate(nodes):
            add(node, "", i == len(nodes) - 1)
        with self._lock:
            for line in lines:
                self.console.print(line)

    def log_line(
        self, timestamp_ms: int, source: str, width: int, message: str, *, with_date: bool = False
    ) -> None:
        shown = "%Y-%m-%d %H:%M:%S.%f" if with_date else "%H:%M:%S.%f"
        when = datetime.fromtimestamp(timestamp_ms / 1000).strftime(shown)[:-3]
        style = "cyan" if source.endswith("1") else "magenta"
        with self._lock:
            self.console.print(
                f"[dim]{when}[/] [{style}]{escape(source):<{width}}[/] | {escape(message)}"
            )

    def table(self, rows: Sequence[tuple[str, ...]]) -> None:
        """Aligned columns, plain text (scripts can cut them)."""
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
        for row in rows:
            cells = [f"{cell:<{width}}" for cell, width in zip(row, widths, strict=False)]
            self.console.print(escape("  ".join(cells).rstrip()))


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
