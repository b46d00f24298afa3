"""The `pocctl` command: click wiring only. Each command lives in its own module."""

from __future__ import annotations

from pocctl.cli import demo, down, local, outputs, test_order, up  # noqa: F401  (each registers its command)
from pocctl.cli.main import cli, main

__all__ = ["cli", "main"]
