"""The command line's shape: commands registered in one table, none importing another, and the
listing `pocctl --help` draws from the table saying what each command's own help says."""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import pocctl.cli
from pocctl.cli import cli
from pocctl.cli.main import COMMANDS, load
from pocctl.core.context import Context
from pocctl.core.reporting import Outcome, RecordingReporter
from pocctl.ops.deploy import deploy, deploy_steps
from pocctl.ops.teardown import teardown

from .conftest import fresh

CLI_DIR = Path(pocctl.cli.__file__).parent
COMMAND_MODULES = {entry.target.partition(":")[0] for entry in COMMANDS.values()}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (a function's late import included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_module_of_the_cli_imports_a_command_module() -> None:
    crossings = {
        f"{path.name} imports {module}"
        for path in sorted(CLI_DIR.glob("*.py"))
        for module in imported_modules(path) & COMMAND_MODULES
        if module != f"pocctl.cli.{path.stem}"
    }
    assert not crossings, "what commands share belongs in a helper module or a service"


def test_the_table_finds_a_command_module_that_imports_another(tmp_path: Path) -> None:
    crossing = tmp_path / "status.py"
    crossing.write_text("def f() -> None:\n    from pocctl.cli.up import up\n")
    assert "pocctl.cli.up" in imported_modules(crossing) & COMMAND_MODULES


def test_every_registered_command_loads_under_its_name() -> None:
    for name, entry in COMMANDS.items():
        command = load(entry)
        assert command.name == name, entry.target


@pytest.mark.parametrize("limit", [20, 45, 74, 120, 400])
def test_each_summary_in_the_table_is_what_the_commands_help_says(limit: int) -> None:
    for name, entry in COMMANDS.items():
        said = load(entry).get_short_help_str(limit)
        listed = click.Command(name, help=entry.summary).get_short_help_str(limit)
        assert listed == said, name


def test_help_lists_every_command_as_click_would_with_all_of_them_loaded() -> None:
    loaded = click.Group(
        "pocctl",
        commands={name: load(entry) for name, entry in COMMANDS.items()},
        help=cli.help,
        params=cli.params,
        context_settings=cli.context_settings,
    )
    runner = CliRunner()
    for width in ("80", "200"):
        env = {"COLUMNS": width}
        ours = runner.invoke(cli, ["--help"], env=env, terminal_width=int(width))
        clicks = runner.invoke(
            loaded, ["--help"], env=env, terminal_width=int(width), prog_name="cli"
        )
        assert ours.exit_code == 0
        assert ours.output == clicks.output
        assert "  up " in ours.output and "Create the pipeline, or repair it" in ours.output


def test_deploy_and_teardown_run_without_the_command_line(
    ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `up` and `down` do is a service any caller can run: it reports through the
    context's reporter and returns what happened, and prints nothing itself."""
    deployed = deploy(ctx, deploy_steps(ctx.config))
    assert deployed.failure is None and deployed.report.ok
    assert isinstance(ctx.reporter, RecordingReporter) and ctx.reporter.results
    again = fresh(ctx)
    torn = teardown(again)
    assert torn.failure is None and torn.swept is not None and torn.swept.left == []
    outcomes = {r.outcome for r in torn.report.results}
    assert Outcome.DELETED in outcomes and outcomes <= {Outcome.DELETED, Outcome.ABSENT}
    assert capsys.readouterr() == ("", "")
