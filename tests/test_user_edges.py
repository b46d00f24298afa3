"""Issue 21, items 5, 10 and 11: where a new user found pocctl forgetting what they told it,
ending a command with the wrong exit code or no JSON, or leaving things behind on a signal.
Each test looks from the user's side: output, exit code, what is left on disk."""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.local.emulator import Emulator
from pocctl.resources.policies import render

from . import ctrl_c

# -- item 10: exit codes and JSON as the README says -------------------------------------------


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["up", "--json", "--bogus"], "No such option '--bogus'"),
        (["--json", "up"], "No such option '--json'"),
        (["up", "--rate-limit", "abc", "--json"], "Invalid value for '--rate-limit'"),
        (["status", "--json", "--stack"], "Option '--stack' requires an argument."),
        (["local", "mail", "--json", "--bogus"], "No such option '--bogus'"),
        (["nosuch", "--json"], "No such command 'nosuch'."),
    ],
)
def test_a_usage_error_with_json_anywhere_prints_one_json_document(
    runner: CliRunner, args: list[str], error: str
) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False and error in document["error"], document
    assert f"Error: {error}" in result.stderr


def test_a_usage_error_without_json_prints_no_json(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["up", "--bogus"])
    assert result.exit_code == 2
    assert result.stdout == ""


class CtrlC(io.BytesIO):
    """A terminal's stdin on which the user presses Ctrl-C at the prompt."""

    def read(self, size: int | None = -1) -> bytes:
        if size == 0:  # click probes the stream
            return b""
        raise KeyboardInterrupt

    read1 = readline = read

    def readinto(self, *args: Any) -> int:
        raise KeyboardInterrupt


AT_A_TERMINAL = Runtime(stdin_is_terminal=lambda: True)


# -- item 5: `local mail` reads the emulator the other commands use ---------------------------


def client(service: str, endpoint: str) -> Any:
    """A client of `pocctl local` at `endpoint`, as a user's script would make."""
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="pocctl-local",
        aws_secret_access_key="pocctl-local",
    )


def mail_from(emulator: Emulator, address: str) -> None:
    """An email subscription: the emulator mails its confirmation."""
    sns = client("sns", emulator.endpoint_url)
    topic = sns.create_topic(Name="mailtest-Topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=address)


def test_local_mail_reads_the_emulator_at_aws_endpoint_url(
    runner: CliRunner, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mail_from(emulator, "second@example.com")
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    result = runner.invoke(cli, ["local", "mail"])
    assert result.exit_code == 0, result.output
    assert (
        f"Mail sent through pocctl local at {emulator.endpoint_url} "
        "(from env AWS_ENDPOINT_URL):" in result.output
    )
    assert "--- email to second@example.com ---" in result.output

    as_json = json.loads(runner.invoke(cli, ["local", "mail", "--json"]).stdout)
    assert as_json["ok"] is True and as_json["command"] == "local mail"
    assert as_json["endpoint"] == emulator.endpoint_url
    assert "second@example.com" in [m["to"] for m in as_json["messages"]]

    monkeypatch.delenv("AWS_ENDPOINT_URL")
    (tmp_path / "pocctl.toml").write_text(f'endpoint_url = "{emulator.endpoint_url}"\n')
    from_file = runner.invoke(cli, ["local", "mail"])
    assert from_file.exit_code == 0, from_file.output
    assert "(from pocctl.toml)" in from_file.output
    assert "--- email to second@example.com ---" in from_file.output


def free_port() -> int:
    """A port nothing listens on (just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_local_mail_says_when_nothing_answers_at_the_endpoint(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    result = runner.invoke(cli, ["local", "mail"])
    assert result.exit_code == 1
    assert f"Error: No pocctl local emulator answers at {url} (from env AWS_ENDPOINT_URL)" in (
        result.output
    )


@pytest.fixture
def not_pocctl() -> Iterator[str]:
    """Another AWS emulator (moto's server, LocalStack): it answers, but keeps no outbox."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_local_mail_says_when_the_endpoint_is_not_pocctl_local(
    runner: CliRunner, not_pocctl: str
) -> None:
    result = runner.invoke(cli, ["local", "mail", "--endpoint-url", not_pocctl, "--json"])
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert f"{not_pocctl} (from flag --endpoint-url) answers, but it is not pocctl local" in error


# -- item 11: the emulator's edges --------------------------------------------------------------


def test_a_stage_with_a_hyphen_is_deployed_and_serves_orders(
    runner: CliRunner, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    monkeypatch.setenv("POCCTL_STAGE", "my-stage")
    result = runner.invoke(cli, ["up", "--stack", "hyphen", "--stage", "my-stage", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["order_url"].endswith("/my-stage/_user_request_/order")
    order = runner.invoke(cli, ["test-order", "--stack", "hyphen"])
    assert order.exit_code == 0, order.output


def test_the_emulator_refuses_a_stage_name_api_gateway_refuses(emulator: Emulator) -> None:
    ag = client("apigateway", emulator.endpoint_url)
    api = ag.create_rest_api(name="stagename-API")["id"]
    root = ag.get_resources(restApiId=api)["items"][0]["id"]
    ag.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    ag.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    with pytest.raises(ag.exceptions.BadRequestException, match="only allows a-zA-Z0-9_"):
        ag.create_deployment(restApiId=api, stageName="my.stage")
    ag.create_deployment(restApiId=api, stageName="my-stage")


@pytest.mark.slow  # heavy (tests/cases.py)
def test_up_says_so_if_api_gateway_refuses_a_hyphen_after_all(
    runner: CliRunner, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The API reference allows hyphens; AWS's own error message names none (see the emulator's
    # STAGE_NAME): under that answer, up stops at the API with AWS's reason, and another stage
    # name then completes the stack.
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    monkeypatch.setattr(emulator.aws.apigateway, "hyphenated_stages", False)
    refused = runner.invoke(cli, ["up", "--stack", "nohyphen", "--stage", "my-stage"])
    assert refused.exit_code == 1, refused.output
    assert "BadRequestException" in refused.output
    assert "Stage name only allows a-zA-Z0-9_" in refused.output
    assert "API Gateway refused the stage name 'my-stage': choose one of letters, digits" in (
        refused.output
    )
    assert "Traceback" not in refused.output
    monkeypatch.setenv("POCCTL_STAGE", "my_stage")
    again = runner.invoke(cli, ["up", "--stack", "nohyphen"])
    assert again.exit_code == 0, again.output
    assert runner.invoke(cli, ["test-order", "--stack", "nohyphen"]).exit_code == 0


@pytest.mark.parametrize("stage", ["v1_beta-2", "-", "s" * 128])
def test_every_stage_api_gateway_allows_is_accepted(runner: CliRunner, stage: str) -> None:
    # API Gateway API reference, CreateStage: alphanumerics, hyphens, underscores, 1-128.
    result = runner.invoke(cli, ["config", "--json"], env={"POCCTL_STAGE": stage})
    assert result.exit_code == 0, result.output
    assert f'"{stage}"' in result.stdout


@pytest.mark.parametrize("stage", ["my.stage", "my stage", "s" * 129, "étape"])
def test_a_stage_api_gateway_refuses_is_bad_input(runner: CliRunner, stage: str) -> None:
    result = runner.invoke(cli, ["up", "--stage", stage])
    assert result.exit_code == 2
    assert f"Invalid stage name {stage!r}: use 1-128 letters, digits, hyphens and" in (
        result.output
    )


HANDLER = "def handler(event, context):\n    return {'ran': True}\n"


def run_a_function(endpoint: str) -> None:
    """As a user's stack would: a function made and invoked (its worker is forked)."""
    trust = render("trust-lambda", {})  # the functions' own trust policy
    role = client("iam", endpoint).create_role(
        RoleName="sig-role", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", HANDLER)
    lam = client("lambda", endpoint)
    lam.create_function(
        FunctionName="sig-fn",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )
    answer = lam.invoke(FunctionName="sig-fn", Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == {"ran": True}


@pytest.mark.slow  # a real `pocctl local` process
@pytest.mark.parametrize(
    ("stop", "to_group", "exit_code"),
    [
        (signal.SIGINT, True, 130),  # Ctrl-C: the terminal signals its foreground group
        (signal.SIGTERM, False, 0),  # a process manager, a CI job ending: `kill PID`
        (signal.SIGHUP, True, 0),  # the terminal closed
    ],
)
def test_pocctl_local_stops_cleanly_on_a_signal(
    tmp_path: Path, stop: signal.Signals, to_group: bool, exit_code: int
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    process = subprocess.Popen(
        ctrl_c.pocctl("local", "--port", "0", "--aws-timing", "off"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(temporary), "NO_COLOR": "1"},
        start_new_session=True,  # its own terminal-like process group
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        found = re.search(r"listening on (http://\S+)", ready)
        assert found, ready + process.stdout.read()
        run_a_function(found[1])
        # Its functions' code, and the SDK Lambda's runtime bundles (what functions may import).
        assert sorted(p.name[:18] for p in temporary.iterdir()) == [
            "pocctl-lambda-runt",
            "pocctl-local-code-",
        ]
        if to_group:
            os.killpg(process.pid, stop)
        else:
            process.send_signal(stop)
        rest, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == exit_code, rest + errors
    assert "Traceback" not in errors and "Traceback" not in rest, errors
    assert "Stopping pocctl local" in rest
    assert list(temporary.iterdir()) == []  # its code directory went with it


# What `pocctl local` and `demo` do while they serve, with Ctrl-C handed by the kernel to another
# of the process's threads (a process-directed signal may go to any thread that does not block
# it): the main thread must still stop. Run in a process of its own, which the test ends if it
# hangs, started as a terminal starts a command (tests/ctrl_c.py), so that SIGINT raises
# KeyboardInterrupt however the test run was started.
CTRL_C_IN_ANOTHER_THREAD = """
import linecache, signal, sys, threading, time
from pocctl.cli.serving import wait_for_stop
from pocctl.cli.ui import Terminal

def waiting(thread_id):
    frame = sys._current_frames()[thread_id]
    return "waiter.acquire(" in linecache.getline(frame.f_code.co_filename, frame.f_lineno)

def ctrl_c_here():
    main = threading.main_thread().ident
    while not waiting(main):  # once the main thread waits for a lock, the signal comes
        time.sleep(0.01)
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)

try:
    wait_for_stop(Terminal(), [], lambda: threading.Thread(target=ctrl_c_here).start())
except BaseException as stopped:
    print("stopped by", type(stopped).__name__, getattr(stopped, "exit_code", None))
"""


def test_ctrl_c_handed_to_another_thread_still_stops_the_server() -> None:
    finished = subprocess.run(
        ctrl_c.command(sys.executable, "-c", CTRL_C_IN_ANOTHER_THREAD),
        capture_output=True,
        text=True,
        timeout=60,  # a deadline only: stopping takes a quarter of a second
        check=False,
    )
    assert "Stopping pocctl local." in finished.stdout, finished.stdout + finished.stderr
    assert "stopped by Exit 130" in finished.stdout, finished.stdout + finished.stderr
