"""pocctl local keeps a client's connection open between requests, as AWS's endpoints do; it
refuses a request whose length is unclear, and still ends every connection when it stops."""

from __future__ import annotations

import http.client
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import urllib3.util.connection
from botocore.config import Config

from pocctl.local.emulator import HEALTH_PATH, INTERNAL_HEADER, MAIL_PATH, Emulator
from pocctl.local.serving import KeptAlive, whole_answer
from tests.emulated import TIMING

LIST_QUEUES = b"Action=ListQueues&Version=2012-11-05"
SIGNED = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, "
    "SignedHeaders=host, Signature=0",
}
ONE_TRY = Config(retries={"total_max_attempts": 1})  # a lost answer must not be retried away


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(port=0, timing=TIMING) as running:
        yield running


def sqs(emulator: Emulator) -> Any:
    return boto3.client(
        "sqs", endpoint_url=emulator.endpoint_url, region_name="us-east-1", config=ONE_TRY
    )


def accepted(emulator: Emulator) -> set[tuple[str, int]]:
    """The peers of the connections the server has accepted and still serves (the emulator's
    own pollers among them)."""
    with emulator.requests.done:
        return {c.getpeername() for c in emulator.requests.connections if c.fileno() >= 0}


def head(emulator: Emulator, *lines: str, method: str = "POST", version: str = "HTTP/1.1") -> bytes:
    host = f"Host: 127.0.0.1:{emulator.port}"
    signed = [f"{name}: {value}" for name, value in SIGNED.items()]
    return "\r\n".join([f"{method} / {version}", host, *signed, *lines, "", ""]).encode()


def until_closed(emulator: Emulator, sent: bytes) -> bytes:
    """Everything the server answers to `sent`, up to its closing the connection."""
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as raw:
        raw.sendall(sent)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    return answer


def test_a_clients_calls_share_one_connection(
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
    client = sqs(emulator)
    try:
        urls = [client.create_queue(QueueName=name)["QueueUrl"] for name in ("a", "b", "c")]
        assert [url.rsplit("/", 1)[1] for url in urls] == ["a", "b", "c"]
        assert len(opened) == 1
    finally:
        client.close()


def test_each_answer_has_its_length_and_goes_out_at_once(emulator: Emulator) -> None:
    kept = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    try:
        kept.request("POST", "/", body=LIST_QUEUES, headers=SIGNED)
        answer = kept.getresponse()
        body = answer.read()
        assert answer.getheader("Content-Length") == str(len(body))
        assert not answer.will_close
        assert kept.sock is not None
        mine = kept.sock.getsockname()
        with emulator.requests.done:
            (served,) = [
                c
                for c in emulator.requests.connections
                if c.fileno() >= 0 and c.getpeername() == mine
            ]
            # Nagle's algorithm off: a kept connection is not flushed by a close.
            assert served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        kept.close()


def test_a_request_body_the_application_leaves_unread_does_not_become_the_next_request(
    emulator: Emulator,
) -> None:
    # The mailbox's GET never reads a body: sent one anyway, it must not be taken for the start
    # of the next request on the same connection.
    kept = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    try:
        kept.request("GET", MAIL_PATH, body=b"GET /not-a-request HTTP/1.1\r\n\r\n")
        first = kept.getresponse()
        assert (first.status, first.read()) == (200, b"[]")
        assert not first.will_close
        kept.request("POST", "/", body=LIST_QUEUES, headers=SIGNED)
        second = kept.getresponse()
        assert second.status == 200
        assert b"ListQueuesResponse" in second.read()
    finally:
        kept.close()


def test_a_head_request_is_answered_with_no_body_and_the_connection_stays_usable(
    emulator: Emulator,
) -> None:
    # Sent together on one connection: the GET's answer must follow the HEAD's head directly.
    host = f"Host: 127.0.0.1:{emulator.port}\r\n"
    both = f"HEAD {HEALTH_PATH} HTTP/1.1\r\n{host}\r\nGET {HEALTH_PATH} HTTP/1.1\r\n{host}"
    both += "Connection: close\r\n\r\n"
    answers = until_closed(emulator, both.encode())
    first, _, after = answers.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200")
    assert after.startswith(b"HTTP/1.1 200")
    assert after.endswith(b'\r\n\r\n{"ok": true}')


@pytest.mark.parametrize(
    ("version", "connection"),
    [
        ("HTTP/1.1", "Connection: close"),
        ("HTTP/1.1", "Connection: keep-alive, close"),
        ("HTTP/1.0", "Connection: keep-alive"),
        ("HTTP/1.1", "Connection: keep-alive\r\nConnection: close"),
    ],
    ids=["asks to close", "close among the options", "HTTP/1.0", "close in a second field"],
)
def test_a_client_that_does_not_keep_its_connection_is_answered_then_closed(
    emulator: Emulator, version: str, connection: str
) -> None:
    sent = head(emulator, connection, f"Content-Length: {len(LIST_QUEUES)}", version=version)
    answer = until_closed(emulator, sent + LIST_QUEUES)  # ends only if the server closes
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"Connection: close" in answer
    assert answer.endswith(b"</ListQueuesResponse>")


def test_a_chunked_request_with_extensions_and_trailers_is_read_whole(emulator: Emulator) -> None:
    chunks = b"%x;name=value\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (len(LIST_QUEUES), LIST_QUEUES)
    sent = head(emulator, "Transfer-Encoding: chunked") + chunks
    sent += f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    answers = until_closed(emulator, sent)
    assert answers.startswith(b"HTTP/1.1 200")
    assert b"</ListQueuesResponse>HTTP/1.1 200" in answers  # the next request, on the same one
    assert answers.endswith(b'{"ok": true}')


@pytest.mark.parametrize(
    ("framing", "body"),
    [
        (["Content-Length: -5"], LIST_QUEUES),
        (["Content-Length: abc"], LIST_QUEUES),
        ([f"Content-Length: {len(LIST_QUEUES)}", "Content-Length: 0"], LIST_QUEUES),
        (["Transfer-Encoding: gzip"], b"0\r\n\r\n"),  # read as chunked, it would be empty
        (["Transfer-Encoding: chunked"], LIST_QUEUES),  # its size line is not a number
        (["Content-Length: \u00b2"], LIST_QUEUES),  # a digit to Python, not to HTTP
        (["Content-Length: 99999999999999999999"], LIST_QUEUES),
        (["Transfer-Encoding: chunked"], b"-1\r\n\r\n0\r\n\r\n"),
        (["Transfer-Encoding: chunked"], b"0x24\r\n"),
        (["Transfer-Encoding: chunked"], b"2_4\r\n"),
        (["Transfer-Encoding: chunked"], b"1\r\nab\r\n0\r\n\r\n"),  # longer than its size
        (["Transfer-Encoding: chunked"], b"1\r\na \r\n0\r\n\r\n"),  # not a CRLF after it
    ],
    ids=[
        "negative",
        "not a number",
        "two lengths",
        "not chunked last",
        "bad chunk size",
        "superscript two",
        "twenty digits",
        "negative chunk",
        "0x chunk",
        "underscore chunk",
        "long chunk",
        "space after chunk",
    ],
)
def test_a_request_whose_length_is_unclear_is_refused_and_its_connection_closed(
    emulator: Emulator, framing: list[str], body: bytes
) -> None:
    # What follows must not be taken for a next request (RFC 9112 section 6.3: 400, then close).
    smuggled = f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    answer = until_closed(emulator, head(emulator, *framing) + body + smuggled)
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"Connection: close" in answer
    assert b"HTTP/1.1 200" not in answer


@pytest.mark.parametrize(
    ("framing", "refusal"),
    [
        (["Transfer-Encoding: gzip, chunked"], b"HTTP/1.1 501"),
        (["Transfer-Encoding: gzip", "Transfer-Encoding: chunked"], b"HTTP/1.1 501"),
    ],
    ids=["two codings", "two fields"],
)
def test_a_transfer_coding_other_than_chunked_is_not_implemented(
    emulator: Emulator, framing: list[str], refusal: bytes
) -> None:
    answer = until_closed(emulator, head(emulator, *framing) + b"0\r\n\r\n")
    assert answer.startswith(refusal)
    assert b"Connection: close" in answer


def test_a_request_with_both_a_length_and_chunks_is_read_as_chunked_then_closed(
    emulator: Emulator,
) -> None:
    # Possibly smuggled past another server: answered, and nothing more read (RFC 9112 6.1).
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(LIST_QUEUES), LIST_QUEUES)
    sent = head(emulator, "Transfer-Encoding: chunked", "Content-Length: 3") + chunks
    sent += f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    answer = until_closed(emulator, sent)
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"Connection: close" in answer
    assert answer.endswith(b"</ListQueuesResponse>")


def test_an_error_answer_replaces_what_the_application_wrote_before_it() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"half an answer")
        try:
            raise RuntimeError("then a failure")
        except RuntimeError:
            start_response("500 INTERNAL SERVER ERROR", [], sys.exc_info())
        return [b"the error"]

    assert whole_answer(app, {}) == ("500 INTERNAL SERVER ERROR", [], b"the error")


def test_a_body_cut_short_by_the_client_is_never_carried_out(emulator: Emulator) -> None:
    seen: list[dict[str, str]] = []
    emulator.on_request = lambda headers: (
        None if INTERNAL_HEADER in headers else seen.append(headers)
    )
    sent = head(emulator, "Content-Length: 100")
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as raw:
        raw.sendall(sent + LIST_QUEUES)
        raw.shutdown(socket.SHUT_WR)  # the client goes away with 64 bytes still to send
        assert raw.recv(4096) == b""
    emulator.answered()
    assert seen == []


def test_an_expectation_of_100_continue_gets_one_interim_answer(emulator: Emulator) -> None:
    sent = head(
        emulator, "Expect: 100-continue", f"Content-Length: {len(LIST_QUEUES)}", "Connection: close"
    )
    answer = until_closed(emulator, sent + LIST_QUEUES)
    assert answer.count(b"100 Continue") == 1
    assert answer.endswith(b"</ListQueuesResponse>")


def test_an_error_of_the_emulators_own_is_a_500_that_closes_the_connection(
    emulator: Emulator,
) -> None:
    def fail(headers: dict[str, str]) -> None:
        if INTERNAL_HEADER not in headers:
            raise ConnectionResetError("a bug of pocctl local's, not the client hanging up")

    emulator.on_request = fail
    answer = until_closed(emulator, head(emulator, "Content-Length: 0"))
    assert answer.startswith(b"HTTP/1.1 500")
    assert b"Connection: close" in answer


def test_stop_closes_connections_left_open_between_requests() -> None:
    emulator = Emulator(port=0, timing=TIMING)
    emulator.start()
    try:
        idle = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
        idle.request("GET", HEALTH_PATH)
        idle.getresponse().read()
        assert idle.sock is not None
        assert idle.sock.getsockname() in accepted(emulator)  # open, its thread waiting
    finally:
        emulator.stop()
    # Left open, it would still be served, by a stopped emulator on the process's moto state.
    assert idle.sock.recv(1) == b""
    idle.close()


def test_stop_waits_for_a_request_being_answered_which_gets_its_answer() -> None:
    emulator = Emulator(port=0, timing=TIMING)
    emulator.start()
    arrived, release, stopped = threading.Event(), threading.Event(), threading.Event()

    def hold(headers: dict[str, str]) -> None:
        if INTERNAL_HEADER not in headers:  # the emulator's own pollers' calls pass
            arrived.set()
            release.wait(10)

    emulator.on_request = hold
    client = sqs(emulator)
    answers: list[dict[str, Any]] = []
    calling = threading.Thread(target=lambda: answers.append(client.list_queues()))

    def stop() -> None:
        emulator.stop()
        stopped.set()

    stopping = threading.Thread(target=stop)
    try:
        calling.start()
        assert arrived.wait(10), "the request never reached the emulator"
        stopping.start()
        with emulator.requests.done:
            assert emulator.requests.done.wait_for(lambda: emulator.requests.stopping, 10)
        # Not an event that can come: stop() must still be waiting for the request it holds.
        assert not stopped.wait(0.3), "stop() returned with a request still being answered"
        release.set()
        calling.join(10)
        assert stopped.wait(10)
        assert answers and answers[0]["ResponseMetadata"]["RetryAttempts"] == 0
        # The client is told not to send on that connection again.
        assert answers[0]["ResponseMetadata"]["HTTPHeaders"]["connection"] == "close"
    finally:
        release.set()
        if stopping.is_alive():
            stopping.join(10)
        else:
            emulator.stop()
        client.close()


def test_stop_does_not_wait_for_a_client_stalled_in_the_middle_of_its_request() -> None:
    said: list[str] = []
    emulator = Emulator(port=0, timing=TIMING, log=said.append)
    emulator.start()
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as stalled:
        try:
            stalled.sendall(head(emulator, "Content-Length: 100") + LIST_QUEUES)
            with emulator.requests.done:  # its request line is read, its body is not all there
                assert emulator.requests.done.wait_for(lambda: emulator.requests.reading, 10)
        finally:
            emulator.stop()
    assert not [line for line in said if "stopped with requests" in line]


def test_a_request_whose_line_was_just_read_as_stop_begins_gets_its_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A connection counts as busy once its request line is parsed: a thread that read the
    line and was descheduled before parsing it must still be able to answer (the read side is
    shut, not the write side)."""
    line_read, go, shut = threading.Event(), threading.Event(), threading.Event()
    setup = KeptAlive.setup

    def paused_after_its_request_line(self: Any) -> None:
        setup(self)
        rfile = self.rfile

        class Paused:
            def __getattr__(_, name: str) -> Any:
                return getattr(rfile, name)

            def readline(_, *args: Any) -> bytes:
                line: bytes = rfile.readline(*args)
                if line.startswith(b"POST") and not line_read.is_set():
                    line_read.set()
                    go.wait(10)
                return line

        self.rfile = Paused()

    monkeypatch.setattr(KeptAlive, "setup", paused_after_its_request_line)
    shutdown = socket.socket.shutdown

    def noted(sock: socket.socket, how: int) -> None:
        shutdown(sock, how)
        shut.set()

    emulator = Emulator(port=0, timing=TIMING)
    emulator.start()
    client = sqs(emulator)
    answers: list[Any] = []

    def call() -> None:
        try:
            answers.append(client.list_queues())
        except Exception as exc:
            answers.append(exc)

    calling = threading.Thread(target=call)
    stopping = threading.Thread(target=emulator.stop)
    try:
        calling.start()
        assert line_read.wait(10)
        monkeypatch.setattr(socket.socket, "shutdown", noted)
        stopping.start()
        assert shut.wait(10)  # stop has shut the connection, not yet counted busy
        go.set()
        calling.join(10)
        stopping.join(10)
        assert answers and isinstance(answers[0], dict), answers
    finally:
        go.set()
        if not stopping.is_alive():
            emulator.stop()
        client.close()


def test_a_body_larger_than_any_aws_request_is_refused_unread(emulator: Emulator) -> None:
    answer = until_closed(emulator, head(emulator, "Content-Length: 200000000") + LIST_QUEUES)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"Connection: close" in answer


@pytest.mark.parametrize(
    "cut", [b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le", b"POST / HTT"], ids=["headers", "line"]
)
def test_a_request_whose_head_the_client_never_finished_is_not_carried_out(
    emulator: Emulator, cut: bytes
) -> None:
    seen: list[dict[str, str]] = []
    emulator.on_request = lambda headers: (
        None if INTERNAL_HEADER in headers else seen.append(headers)
    )
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as raw:
        raw.sendall(cut)
        raw.shutdown(socket.SHUT_WR)  # then gone, as a client killed mid-request
        answer = b""
        while chunk := raw.recv(4096):  # nothing, or http.server's 400 for a cut line
            answer += chunk
    emulator.answered()
    assert seen == []
    assert b"HTTP/1.1 200" not in answer
