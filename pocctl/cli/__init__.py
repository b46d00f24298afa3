"""The `pocctl` command: click wiring only. Each command lives in its own module, listed in
main.COMMANDS and imported only when it runs."""

from __future__ import annotations

from pocctl.cli.main import cli, main

__all__ = ["cli", "main"]
