"""The README's quick start is what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import click

from pocctl.cli import cli
from pocctl.cli.reference import END, START, UPDATE, rewritten
from pocctl.cli.reference import main as reference_main

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


def test_the_readme_command_table_is_the_commands_own_help() -> None:
    """The table is made from each command's --help (docstring and options): a help text
    changed without the README, or the README edited by hand, fails here."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert rewritten(readme, cli) == readme, f"README.md's command table is stale: run `{UPDATE}`"


def test_the_generator_rewrites_only_between_the_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{START}\n| stale |\n{END}\n\nafter\n", encoding="utf-8")
    assert reference_main(["--check", "--readme", str(readme)]) == 1
    assert reference_main(["--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith(f"# title\n\n{START}\n| command | what it does |\n")
    assert text.endswith(f"{END}\n\nafter\n")
    usage = "pocctl test-order [--item ITEM] [--customer 12345] [--timeout 60] [--measure] [--json]"
    assert f"| `{usage}` |" in text
    assert reference_main(["--check", "--readme", str(readme)]) == 0


SHARED = {"--stack", "--region", "--profile", "--endpoint-url", "--quiet", "--verbose", "--help"}


def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((prefix + name, command))
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix}{name} ")
    return found


def test_the_command_table_names_every_flag_of_every_command() -> None:
    """A flag that works but is not in its command's row is one a reader never finds (`demo
    --keep` was). The options every AWS command shares are described once, above the table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {
        found[1]: line
        for line in readme.splitlines()
        if (found := re.match(r"\| `pocctl ((?:local )?[a-z-]+)[ `]", line))
    }
    missing = [
        f"pocctl {name} {flag}"
        for name, command in commands(cli)
        for param in command.params
        if isinstance(param, click.Option)
        for flag in param.opts
        if flag.startswith("--")
        and (flag not in SHARED or name == "local mail")
        and flag not in rows.get(name, "")
    ]
    assert missing == []


def test_the_readme_gives_every_aws_wait_its_fixed_duration_and_range() -> None:
    from pocctl.local.aws.timing import RULES

    def figure(seconds: float) -> str:
        return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, rule in RULES.items():
        assert rule.low is not None and rule.high is not None, name
        row = re.search(rf"^\| `{name}`: [^|]+\| ([^|]+) \| ([^|]+) \|$", readme, re.M)
        assert row, f"README.md's table of AWS's waits has no row for {name}"
        assert row[1] == figure(rule.seconds), name
        assert row[2] == f"{figure(rule.low)} to {figure(rule.high)}", name
