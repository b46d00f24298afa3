"""The `pocctl` command: click wiring only. Each command lives in its own module."""

from __future__ import annotations

# Each module registers its command(s) on import.
from pocctl.cli import (  # noqa: F401
    config,
    demo,
    deployer_policy,
    down,
    invoke,
    local,
    logs,
    ls,
    outputs,
    redrive,
    status,
    test_order,
    up,
)
from pocctl.cli.main import cli, main

__all__ = ["cli", "main"]
