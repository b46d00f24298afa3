"""Running pocctl in tests, with a setup's result checked before a test relies on it."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner, Result

from pocctl.cli import cli


def run(runner: CliRunner, *args: str, **kwargs: Any) -> Result:
    return runner.invoke(cli, list(args), catch_exceptions=False, **kwargs)


def up_ok(runner: CliRunner, *args: str, **kwargs: Any) -> Result:
    """`pocctl up ARGS` as a test's setup: it succeeded, or what follows proves nothing."""
    result = run(runner, "up", *args, **kwargs)
    assert result.exit_code == 0, result.output
    return result
