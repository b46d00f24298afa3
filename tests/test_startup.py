"""`pocctl --help` and `--version` start fast: they import no AWS SDK, no rich, no command and
no resource module (the benchmark's `startup` measures the time; this checks the cause)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pocctl
from pocctl.cli.main import COMMANDS

ROOT = Path(pocctl.__file__).parent.parent
HEAVY = ("boto3", "botocore", "rich", "pocctl.resources", "pocctl.local", "pocctl.cli.ui")
COMMAND_MODULES = {entry.target.partition(":")[0] for entry in COMMANDS.values()}
MARKER = "--- modules ---"

PROBE = f"""
import json, sys
from pocctl.cli import main
sys.argv = ["pocctl", sys.argv[1]]
try:
    main()
except SystemExit:
    pass
print({MARKER!r})
print(json.dumps(sorted(sys.modules)))
"""


def modules_after(flag: str) -> tuple[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, flag],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    shown, _, modules = done.stdout.partition(MARKER + "\n")
    return shown, json.loads(modules)


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_only_what_they_need(flag: str) -> None:
    shown, modules = modules_after(flag)
    assert shown.startswith("Usage: pocctl" if flag == "--help" else "pocctl, version ")
    heavy = [m for m in modules if m.startswith(HEAVY) or m in COMMAND_MODULES]
    assert heavy == []


def test_help_still_lists_every_command() -> None:
    shown, _ = modules_after("--help")
    listed = [line.split()[0] for line in shown.split("Commands:\n")[1].splitlines() if line]
    assert listed == sorted(COMMANDS)
