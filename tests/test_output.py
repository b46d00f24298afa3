"""What a person or a script sees: one JSON document on stdout, plain text off a terminal,
--quiet, --verbose, help with examples on every command, shell completion."""

from __future__ import annotations

import json
from typing import Any

import click
import pytest
from click.testing import CliRunner

from pocctl import __version__
from pocctl.cli import cli
from pocctl.core.session import new_session

ESCAPE = "\x1b["


@pytest.fixture
def session(aws: None) -> Any:
    return new_session(region_name="us-east-1")


def test_up_and_down_json_are_one_document_on_stdout_and_text_on_stderr(
    runner: CliRunner, session: Any
) -> None:
    up = runner.invoke(cli, ["up", "--json", "--email", "ops@example.com"])
    assert up.exit_code == 0, up.output
    document = json.loads(up.stdout)
    assert document["ok"] is True and document["command"] == "up"
    assert document["counts"] == {"created": 25}  # 17, and the alarm topic, its mail, 6 alarms
    assert len(document["steps"]) == 25
    assert {"step", "title", "outcome", "seconds", "changes", "error"} <= set(document["steps"][0])
    assert document["order_url"].endswith("/prod/order")
    assert document["api"] == {"public": True, "rate_limit": 10.0, "burst_limit": 20}
    assert "Stack POC is up" in up.stderr and "Stack POC is up" not in up.stdout

    again = json.loads(runner.invoke(cli, ["up", "--json"]).stdout)
    assert again["counts"] == {"unchanged": 25}

    down = runner.invoke(cli, ["down", "--yes", "--json"])
    assert down.exit_code == 0
    removed = json.loads(down.stdout)
    assert removed["ok"] is True and removed["counts"] == {"deleted": 25}
    assert removed["left"] == []
    assert removed["sweep"]["tagged_resources_checked"] == 0


def test_a_failure_under_json_is_still_one_document_with_the_error(
    runner: CliRunner, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session.client("sqs").create_queue(QueueName="POC-Queue")  # a look-alike, not ours
    result = runner.invoke(cli, ["up", "--json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert document["conflicts"] == ["SQS queue POC-Queue"]
    assert document["error"].startswith("Nothing was created: these names are taken")
    assert "Error: Nothing was created" in result.stderr

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    for command in (["status"], ["outputs"], ["down", "--yes"], ["test-order"]):
        result = runner.invoke(cli, [*command, "--json"])
        assert result.exit_code == 1, command
        document = json.loads(result.stdout)
        assert document == {
            "ok": False,
            "command": command[0],
            "error": document["error"],
        }
        assert document["error"].startswith("No AWS credentials found.")


def test_no_escape_codes_off_a_terminal_or_with_no_color(
    runner: CliRunner, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR")
    plain = runner.invoke(cli, ["up"])  # CliRunner's output is not a terminal
    assert plain.exit_code == 0 and ESCAPE not in plain.output
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich: behave as on a terminal
    colored = runner.invoke(cli, ["status"])
    assert ESCAPE in colored.output, "on a terminal pocctl does use colour"
    monkeypatch.setenv("NO_COLOR", "1")
    for command in (["status"], ["up"], ["outputs"], ["down", "--yes"]):
        result = runner.invoke(cli, command)
        assert result.exit_code == 0, result.output
        assert ESCAPE not in result.output, command


def test_quiet_prints_only_the_result_and_verbose_every_call(
    runner: CliRunner, session: Any
) -> None:
    quiet = runner.invoke(cli, ["up", "--quiet"])
    assert quiet.exit_code == 0
    assert quiet.output.startswith("Stack POC is up (")
    assert len(quiet.output.splitlines()) == 1

    verbose = runner.invoke(cli, ["up", "-v"])
    calls = [line.strip() for line in verbose.output.splitlines() if "aws " in line]
    assert "aws dynamodb DescribeTable  [table]" in calls
    assert "aws sts GetCallerIdentity" in calls
    assert len(calls) >= 30


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
    return found


def test_every_command_has_help_with_an_example(runner: CliRunner) -> None:
    names = commands(cli)
    assert {("status",), ("logs",), ("config",), ("init",), ("local", "mail")} <= set(names)
    for name in names:
        result = runner.invoke(cli, [*name, "--help"])
        assert result.exit_code == 0, name
        assert "Example" in result.output, f"pocctl {' '.join(name)} --help has no example"


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"pocctl, version {__version__}\n"


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o"), ("zsh", "compdef")])
def test_shell_completion_scripts_as_the_readme_says(
    runner: CliRunner, shell: str, marker: str
) -> None:
    result = runner.invoke(cli, [], prog_name="pocctl", env={"_POCCTL_COMPLETE": f"{shell}_source"})
    assert result.exit_code == 0
    assert marker in result.output and "_POCCTL_COMPLETE" in result.output
