"""pocctl local keeps a client's connection open between requests, as AWS's endpoints do, and
still ends every connection when it stops."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import urllib3.util.connection

from pocctl.local.emulator import HEALTH_PATH, MAIL_PATH, Emulator
from tests.emulated import TIMING

LIST_QUEUES = "Action=ListQueues&Version=2012-11-05"
SIGNED = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(port=0, timing=TIMING) as running:
        yield running


def connection(emulator: Emulator) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)


def accepted(emulator: Emulator) -> set[tuple[str, int]]:
    """The peers of the connections the server has accepted and still serves (the emulator's
    own pollers among them)."""
    with emulator.requests.done:
        return {c.getpeername() for c in emulator.requests.connections if c.fileno() >= 0}


def test_a_clients_calls_share_one_connection_and_each_answer_has_its_length(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = threading.get_ident()  # the emulator's own pollers connect from their threads
    opened: list[object] = []
    create_connection = urllib3.util.connection.create_connection

    def counted(*args: Any, **kwargs: Any) -> socket.socket:
        if threading.get_ident() == mine:
            opened.append(args)
        return create_connection(*args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counted)
    sqs = boto3.client("sqs", endpoint_url=emulator.endpoint_url, region_name="us-east-1")
    try:
        urls = [sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("a", "b", "c")]
        assert [url.rsplit("/", 1)[1] for url in urls] == ["a", "b", "c"]
        assert len(opened) == 1
    finally:
        sqs.close()


def test_a_request_body_the_application_leaves_unread_does_not_become_the_next_request(
    emulator: Emulator,
) -> None:
    # The mailbox's GET never reads a body: sent one anyway, it must not be taken for the start
    # of the next request on the same connection.
    http = connection(emulator)
    try:
        http.request("GET", MAIL_PATH, body=b"GET /not-a-request HTTP/1.1\r\n\r\n")
        first = http.getresponse()
        assert (first.status, first.read()) == (200, b"[]")
        assert not first.will_close
        http.request("POST", "/", body=LIST_QUEUES, headers=SIGNED)
        second = http.getresponse()
        assert second.status == 200
        assert b"ListQueuesResponse" in second.read()
    finally:
        http.close()


def test_a_head_request_is_answered_with_no_body_and_the_connection_stays_usable(
    emulator: Emulator,
) -> None:
    # Sent together on one connection: the GET's answer must follow the HEAD's head directly.
    host = f"Host: 127.0.0.1:{emulator.port}"
    requests = (
        f"HEAD {HEALTH_PATH} HTTP/1.1\r\n{host}\r\n\r\nGET {HEALTH_PATH} HTTP/1.1\r\n{host}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as raw:
        raw.sendall(requests.encode())
        answers = b""
        while answers.count(b"HTTP/1.1 200") < 2 or not answers.endswith(b"}"):
            answers += raw.recv(4096)
    head, _, after = answers.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert after.startswith(b"HTTP/1.1 200")
    assert after.endswith(b'\r\n\r\n{"ok": true}')


@pytest.mark.parametrize(
    ("version", "headers"),
    [("HTTP/1.1", {"Connection": "close"}), ("HTTP/1.0", {})],
    ids=["asks to close", "HTTP/1.0"],
)
def test_a_client_that_does_not_keep_its_connection_is_answered_then_closed(
    emulator: Emulator, version: str, headers: dict[str, str]
) -> None:
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as raw:
        lines = [f"GET {HEALTH_PATH} {version}", f"Host: 127.0.0.1:{emulator.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        raw.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while chunk := raw.recv(4096):  # ends only when the server closes
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"Connection: close" in answer
    assert answer.endswith(b'{"ok": true}')


def test_a_chunked_request_is_read_whole_then_its_connection_closed(emulator: Emulator) -> None:
    body = LIST_QUEUES.encode()
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as raw:
        head = "\r\n".join(
            ["POST / HTTP/1.1", f"Host: 127.0.0.1:{emulator.port}", "Transfer-Encoding: chunked"]
            + [f"{name}: {value}" for name, value in SIGNED.items()]
        )
        raw.sendall(head.encode() + b"\r\n\r\n" + chunks)
        answer = b""
        while chunk := raw.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"ListQueuesResponse" in answer


def test_stop_ends_connections_left_open_between_requests() -> None:
    emulator = Emulator(port=0, timing=TIMING)
    emulator.start()
    stopped = threading.Event()
    try:
        idle = connection(emulator)
        idle.request("GET", HEALTH_PATH)
        idle.getresponse().read()
        assert idle.sock is not None
        assert idle.sock.getsockname() in accepted(emulator)  # open, its thread waiting
    finally:

        def stop() -> None:
            emulator.stop()
            stopped.set()

        stopper = threading.Thread(target=stop, daemon=True)
        stopper.start()
        # server_close waits for every connection's thread: an idle one must not hold it
        assert stopped.wait(10), "stop() waited on a connection left open between requests"
    idle.request("GET", HEALTH_PATH)
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        idle.getresponse()


def test_a_request_being_answered_as_the_server_stops_gets_its_answer_then_its_connection_ends(
    emulator: Emulator,
) -> None:
    arrived, release = threading.Event(), threading.Event()

    def hold(headers: dict[str, str]) -> None:
        arrived.set()
        release.wait(10)

    emulator.on_request = hold
    sqs = boto3.client("sqs", endpoint_url=emulator.endpoint_url, region_name="us-east-1")
    answers: list[dict[str, object]] = []
    calling = threading.Thread(target=lambda: answers.append(sqs.list_queues()))
    try:
        calling.start()
        assert arrived.wait(10), "the request never reached the emulator"
        with emulator.requests.done:
            mine = {c.getpeername() for c in emulator.requests.busy}
        emulator.requests.close_idle()  # what stop() does before it waits for every thread
        release.set()
        calling.join(10)
        assert answers and "ResponseMetadata" in answers[0]
        with emulator.requests.done:
            assert emulator.requests.done.wait_for(lambda: not (accepted(emulator) & mine), 10)
    finally:
        release.set()
        sqs.close()
