"""The README's quick start is what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bash_block(heading: str) -> list[str]:
    """The lines of the first bash block under the README's heading (up to the next heading)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", readme, re.M | re.S)
    assert found is not None, f"README.md has no heading {heading!r}"
    block = re.search(r"```bash\n(.*?)```", found.group(1), re.DOTALL)
    assert block is not None, f"README.md has no bash block under {heading!r}"
    return [line for line in block.group(1).splitlines() if line.strip()]


def quick_start() -> list[str]:
    return bash_block("Quick start")


def test_quick_start_has_exactly_two_commands_demo_then_tests() -> None:
    first, second = quick_start()
    assert first.endswith("pocctl demo")
    assert second.endswith("pytest")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert quick_start()[1] in ci
