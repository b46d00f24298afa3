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


EXIT_PROBE = """
import atexit, gc, json, sys
def left():
    tracked, frozen = len(gc.get_objects()), gc.get_freeze_count()
    print(json.dumps({"tracked": tracked, "frozen": frozen, "boto3": "boto3" in sys.modules}))
atexit.register(left)
from pocctl.cli import main
sys.argv = ["pocctl", "status", "--json"]
main()
"""


def test_a_command_ends_without_walking_what_it_loaded() -> None:
    """CPython's last garbage collections at exit walked every object a command left (botocore's
    models: 0.24 s of a 1 s `status`, before the prompt came back). pocctl freezes them first;
    the handler registered before main() runs after pocctl's, and sees next to nothing to walk."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: status fails fast
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE], capture_output=True, text=True, env=env, check=False
    )
    *shown, last = done.stdout.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert json.loads("\n".join(shown))["ok"] is False  # the command ran, and said why it failed
    left = json.loads(last)
    assert left["boto3"] and left["frozen"] > 50_000  # what botocore and the command loaded
    assert left["tracked"] < 1_000  # what handlers registered before main() made, at most
