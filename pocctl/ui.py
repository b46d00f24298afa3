"""All terminal output. The only module that imports rich."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from pocctl.reporting import Outcome, StepResult

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


class Terminal:
    """Human output on one console (stdout, or stderr when stdout carries JSON)."""

    def __init__(self, *, to_stderr: bool = False, quiet: bool = False) -> None:
        self.console = Console(stderr=to_stderr, highlight=False, soft_wrap=True)
        self.quiet = quiet
        self._status: Status | None = None
        self._in_flight: dict[str, str] = {}
        # Steps run in parallel: reporter calls come from several threads.
        self._lock = threading.RLock()

    # -- the Reporter interface ----------------------------------------------------------
    def step_started(self, step: str, title: str, doing: str) -> None:
        with self._lock:
            self._in_flight[step] = f"{doing} {title}"
            self._show_in_flight()

    def _show_in_flight(self) -> None:
        if self.quiet or not self.console.is_terminal:
            return
        if not self._in_flight:
            self._stop_status()
            return
        text = escape("; ".join(self._in_flight.values())) + " ..."
        if self._status is None:
            self._status = self.console.status(text)
            self._status.start()
        else:
            self._status.update(text)

    def step_finished(self, result: StepResult) -> None:
        with self._lock:
            self._in_flight.pop(result.step, None)
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

    def note(self, message: str) -> None:
        with self._lock:
            self.console.print(f"[cyan]note:[/] {escape(message)}")

    # -- everything else -----------------------------------------------------------------
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
        mark = "[green]✓[/]" if ok else "[bold red]x[/]"
        timing = f"{seconds:6.2f}s" if seconds is not None else "      -"
        self.console.print(f"{mark} {name:<9} [dim]{timing}[/]  {escape(detail)}")

    def mail(self, message: dict[str, Any]) -> None:
        self.console.print(f"[bold]--- email to {escape(str(message.get('to')))} ---[/]")
        self.console.print(f"Subject: {escape(str(message.get('subject') or ''))}")
        self.console.print(escape(str(message.get("message") or "")))
        self.console.print("[bold]---[/]")

    def table(self, rows: list[tuple[str, str]]) -> None:
        width = max((len(k) for k, _ in rows), default=0)
        for key, value in rows:
            self.console.print(f"{escape(key):<{width}}  {escape(value)}")


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
