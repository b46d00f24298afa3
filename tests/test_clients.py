"""Clients a finished command gives back are taken by the next one made the same way, carrying
nothing of the command before (pocctl/core/clients.py)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from click.testing import CliRunner

from pocctl.cli.main import cli
from pocctl.core import clients
from pocctl.core import context as context_module
from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.pacing import LAMBDA_REQUESTS_PER_SECOND
from pocctl.core.reporting import RecordingReporter
from pocctl.core.session import new_session
from pocctl.local.cloudformation.caller import CallerClients
from pocctl.local.emulator import ACCOUNT, Emulator
from pocctl.local.functions import Invoker
from pocctl.ops.invoke import invoke_once_client
from tests.conftest import REGION


def context(session: Any = None) -> Context:
    return Context(
        Config(stack="POC", region=REGION),
        RecordingReporter(),
        session=session or new_session(region_name=REGION),
    )


def test_a_client_given_back_is_taken_by_the_next_context_and_records_its_calls_alone(
    aws: None,
) -> None:
    first = context()
    sqs = first.client("sqs")
    sqs.list_queues()
    first.release()
    second = context()
    assert second.client("sqs") is sqs  # made once
    sqs.list_queues()
    assert [c.operation for c in first.calls.calls] == ["ListQueues"]
    assert [c.operation for c in second.calls.calls] == ["ListQueues"]


def test_a_session_whose_handlers_changed_makes_and_keeps_clients_of_its_own(aws: None) -> None:
    first = context()
    sqs = first.client("sqs")
    first.release()
    seen: list[str] = []
    changed = new_session(region_name=REGION)
    changed.events.register("before-call.sqs.ListQueues", lambda **_: seen.append("call"))
    second = context(changed)
    own = second.client("sqs")
    assert own is not sqs
    own.list_queues()
    assert seen == ["call"]
    kept = clients.idle()
    second.release()
    assert clients.idle() == kept  # not given back: no other session has that handler
    assert context().client("sqs") is sqs


def test_a_client_someone_added_a_handler_to_is_not_given_back(aws: None) -> None:
    first = context()
    sqs = first.client("sqs")
    seen: list[str] = []
    sqs.meta.events.register("before-call.sqs.ListQueues", lambda **_: seen.append("call"))
    first.release()
    second = context().client("sqs")
    assert second is not sqs
    second.list_queues()
    assert seen == []


def test_an_unhashable_handler_is_accepted_and_keeps_the_client_out(aws: None) -> None:
    """A callable object that cannot be hashed is a handler botocore accepts: so must we."""

    @dataclass
    class Count:
        calls: int = 0

        def __call__(self, **_: Any) -> None:
            self.calls += 1

    first = context()
    sqs = first.client("sqs")
    count = Count()
    sqs.meta.events.register("before-call.sqs.ListQueues", count)
    sqs.list_queues()
    assert count.calls == 1
    first.release()
    assert context().client("sqs") is not sqs


def test_a_client_changed_while_it_waits_to_be_taken_is_not_taken(aws: None) -> None:
    first = context()
    sqs = first.client("sqs")
    first.release()
    seen: list[str] = []
    sqs.meta.events.register_last("before-call.sqs.ListQueues", lambda **_: seen.append("call"))
    second = context().client("sqs")
    assert second is not sqs
    second.list_queues()
    assert seen == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HTTPS_PROXY", "http://proxy.invalid:3128"),
        ("REQUESTS_CA_BUNDLE", "/corp/ca.pem"),
        ("AWS_MAX_ATTEMPTS", "3"),
    ],
)
def test_another_environment_makes_another_client(
    aws: None, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    first = context()
    sqs = first.client("sqs")
    first.release()
    monkeypatch.setenv(variable, value)
    assert context().client("sqs") is not sqs


def test_an_aws_config_file_changed_makes_another_client(
    aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.write_text("[default]\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    first = context()
    sqs = first.client("sqs")
    first.release()
    config.write_text("[default]\nmax_attempts = 3\n")
    assert context().client("sqs") is not sqs


def test_a_client_that_retried_is_not_given_back(
    aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """botocore's standard retry mode gives each client a retry quota its retries spend: the
    next command gets a fresh one, as it would in a process of its own."""

    def once(**_: Any) -> AWSResponse | None:
        return failures.pop() if failures else None

    # The fault is allowed, as the context's own handlers are: the retry alone must decide. A
    # client made now (settings no earlier test had) is told so.
    monkeypatch.setattr(context_module, "OWN_HANDLERS", context_module.OWN_HANDLERS | {once})
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    first = context()
    sqs = first.client("sqs")
    failure = AWSResponse("https://sqs.invalid", 500, {}, None)
    failure._content = b""  # the body, read without a raw stream
    failures = [failure]
    sqs.meta.events.register_first("before-send.sqs.ListQueues", once)
    assert sqs.list_queues()["ResponseMetadata"]["RetryAttempts"] == 1
    sqs.meta.events.unregister("before-send.sqs.ListQueues", once)
    first.release()
    assert context().client("sqs") is not sqs


def test_a_client_given_back_leaves_its_lambda_pacing_behind(aws: None) -> None:
    """Each command keeps its own Lambda calls under the account's rate; a client it gave back
    paces the next command's calls, not its own any more."""
    first_pauses: list[float] = []
    second_pauses: list[float] = []

    def paced(pauses: list[float]) -> Context:
        return Context(
            Config(stack="POC", region=REGION),
            RecordingReporter(),
            session=new_session(region_name=REGION),
            sleep=pauses.append,
            clock=lambda: 0.0,  # every call in the same second
        )

    first = paced(first_pauses)
    lam = first.client("lambda")
    first.release()
    second = paced(second_pauses)
    assert second.client("lambda") is lam
    for _ in range(LAMBDA_REQUESTS_PER_SECOND + 1):
        lam.list_functions()
    assert first_pauses == []
    assert second_pauses == [1.0]


def test_a_second_command_in_the_same_process_makes_no_client(
    aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Settings no earlier test of this process had: none of their clients fits.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    made: list[str] = []
    create = botocore.session.Session.create_client

    def counted(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        made.append(service)
        return create(self, service, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counted)
    runner = CliRunner()
    first = runner.invoke(cli, ["status", "--region", REGION])
    assert "sqs" in made and "sts" in made, first.output
    made.clear()
    second = runner.invoke(cli, ["status", "--region", REGION])
    assert second.output == first.output
    assert made == []


def test_the_invocation_client_keeps_a_long_silent_connection_alive(ctx: Context) -> None:
    # Lambda API reference, Invoke: long synchronous calls need "timeout or keep-alive settings".
    client = invoke_once_client(ctx, 900)
    assert client.meta.config.read_timeout > 900
    # The connections it makes probe after a minute of silence, not after the system's two hours
    # (longer than any Lambda call, and than a NAT gateway's 350 s idle timeout).
    made = client._endpoint.http_session._manager.connection_from_url(
        client.meta.endpoint_url
    )._new_conn()
    options = dict(((level, name), value) for level, name, value in made.socket_options)
    assert options[(socket.SOL_SOCKET, socket.SO_KEEPALIVE)] == 1
    assert options[(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)] <= 300


def test_a_tests_default_boto3_session_reads_models_with_the_process_loader(aws: None) -> None:
    """moto drops boto3's default session as each test's mock starts; the one boto3.client makes
    next shares the process's loader (conftest.default_session), as pocctl's sessions do."""
    shared = new_session(region_name=REGION)._session.get_component("data_loader")
    assert boto3.DEFAULT_SESSION is None
    assert boto3.client("sns", region_name=REGION)._loader is shared
    assert boto3.DEFAULT_SESSION is not None
    assert boto3.DEFAULT_SESSION._session.get_component("data_loader") is shared


def test_the_emulators_own_clients_read_models_with_the_process_loader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The emulator's clients (its own, the functions' logs', CloudFormation's as its caller)
    come from a session new_session made, not from boto3's default one: in production that one
    is boto3's, which parses the models again (conftest.default_session is the tests' own)."""
    shared = new_session(region_name=REGION)._session.get_component("data_loader")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    keys = {"aws_access_key_id": "AKIAROLE", "aws_secret_access_key": "x"}
    invoker = Invoker("http://127.0.0.1:1", ACCOUNT, lambda role: keys)
    try:
        made = [
            Emulator(port=1).client("sns", REGION),
            invoker._logs_client(REGION, f"arn:aws:iam::{ACCOUNT}:role/r"),
            CallerClients(lambda: "http://127.0.0.1:1")("AKIACALLER", REGION)("lambda"),
        ]
    finally:
        invoker.close()
    assert [client._loader is shared for client in made] == [True, True, True]
    assert boto3.DEFAULT_SESSION is None
