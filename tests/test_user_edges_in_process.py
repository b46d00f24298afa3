"""Edges a new user meets, with no emulator running in the test's process: Ctrl-C at any command
or at down's prompt, a handlers path that is wrong (on in-process moto, which would wipe
test_user_edges.py's emulator), and `pocctl local` on a port in use (one process runs one
emulator at a time)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.cli.options import Runtime

from .inventory import everything
from .test_user_edges import AT_A_TERMINAL, CtrlC


@pytest.fixture
def session(aws: None) -> Any:
    return boto3.Session(region_name="us-east-1")


def test_ctrl_c_at_downs_prompt_is_an_interruption_that_deletes_nothing(
    runner: CliRunner, session: Any
) -> None:
    assert runner.invoke(cli, ["up"]).exit_code == 0
    before = everything(session)
    result = runner.invoke(cli, ["down"], input=CtrlC(), obj=AT_A_TERMINAL)
    assert result.exit_code == 130, result.output
    assert "Delete every resource of stack POC in us-east-1 (account 123456789012)?" in (
        result.output
    )
    assert "Interrupted at the prompt: nothing was deleted." in result.output
    assert "Aborted" not in result.output
    assert everything(session) == before

    declined = runner.invoke(cli, ["down", "--json"], input="n\n", obj=AT_A_TERMINAL)
    assert declined.exit_code == 1
    assert json.loads(declined.stdout)["error"] == "Not confirmed: nothing was deleted."
    assert everything(session) == before

    confirmed = runner.invoke(cli, ["down"], input="y\n", obj=AT_A_TERMINAL)
    assert confirmed.exit_code == 0, confirmed.output
    assert "Stack POC is down" in confirmed.output


def interrupting(**_: Any) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["test-order"],
        ["invoke", "1"],
        ["redrive"],
        ["ls"],
        ["logs"],
        ["outputs"],
        ["up"],
        ["down", "--yes"],
    ],
)
def test_ctrl_c_exits_130_from_every_aws_command(
    runner: CliRunner, aws: None, args: list[str]
) -> None:
    def session(**kwargs: Any) -> boto3.Session:
        made = boto3.Session(**kwargs)
        made.events.register("before-call.*.*", interrupting)
        return made

    result = runner.invoke(cli, args, obj=Runtime(session=session))
    assert result.exit_code == 130, result.output
    assert "Traceback" not in result.output


def test_a_missing_handlers_directory_is_bad_input(runner: CliRunner, aws: None) -> None:
    result = runner.invoke(cli, ["up", "--handlers", "nowhere"])
    assert result.exit_code == 2, result.output
    assert "Handlers directory nowhere does not exist" in result.output


def test_a_file_given_as_handlers_is_called_a_file(
    runner: CliRunner, aws: None, tmp_path: Path
) -> None:
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "order_writer.py").write_text("def handler(e, c): pass\n")
    result = runner.invoke(cli, ["up", "--handlers", "handlers/order_writer.py", "--json"])
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert "Handlers directory handlers/order_writer.py is a file, not a directory" in error
    assert "does not exist" not in error
    assert "holds your handler modules: handlers" in error


def test_a_port_in_use_is_an_error_that_suggests_port_0(runner: CliRunner) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = runner.invoke(cli, ["local", "--port", str(port)])
    assert result.exit_code == 1
    assert f"Error: Cannot listen on 127.0.0.1:{port}: Address already in use." in result.output
    assert "--port 0" in result.output
