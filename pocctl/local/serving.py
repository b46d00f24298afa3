"""The emulator's HTTP connections stay open between requests, as AWS's endpoints keep them
(the SDKs reuse a connection by default: AWS SDK for JavaScript v3 Developer Guide, "Reuse
connections with keep-alive in Node.js"; botocore pools them per client, max_pool_connections).

werkzeug's development server closes every connection after one response ("Connection: close":
its request handler cannot tell where an unread request body ends). Each AWS call then paid for
a new TCP connection, a new server thread and a 10 ms wait for the client to hang up. Here a
request's body is read whole before the application sees it, a request whose length is unclear
is refused (RFC 9112 section 6.3), and the answer is sent with its length, so the connection is
ready for the next request.

Not acted out: AWS closes a connection left idle for a while, after a time no service documents
(S3 about 20 s, an SDK maintainer in awslabs/aws-sdk-android-samples#250; "not something you can
rely on", aws/aws-sdk-java#1365). urllib3 replaces a pooled connection found closed before it
sends on it.
"""

from __future__ import annotations

import io
import logging
import re
import socket
from collections.abc import Iterable
from traceback import format_exc
from typing import Any

from werkzeug import exceptions as refusals
from werkzeug.serving import WSGIRequestHandler

NO_BODY = frozenset({204, 304})
LINE_LIMIT = 4096  # a chunk's size line, or a trailer line, longer than this is refused
LINE_ENDS = (b"\r\n", b"\n")  # a bare LF too (RFC 9112 section 2.2)
# Lambda refuses a CreateFunction of 69,905,067 bytes or more with a 413 (a 50 MB zip in base64,
# with its JSON; "Request must be smaller than 69905067 bytes", localstack/localstack#2990,
# apex/up#222).
MAX_BODY_BYTES = 128 * 1024 * 1024
DIGITS = re.compile(r"[0-9]{1,12}", re.ASCII)
HEX_DIGITS = re.compile(rb"[0-9A-Fa-f]{1,12}")
Answer = tuple[str, list[tuple[str, str]], bytes]  # status, headers, body
WERKZEUG_LOG = logging.getLogger("werkzeug")


class UnclearLength(ValueError):
    """Where the request's body ends can not be told for sure (RFC 9112 section 6.3)."""


class TooLarge(UnclearLength):
    """A body larger than any AWS request pocctl makes: 413 (RFC 9110 section 15.5.14)."""


class UnknownCoding(ValueError):
    """A transfer coding other than chunked: 501 (RFC 9112 section 6.1)."""


class _Lines:
    """A connection's reader that remembers the last line it read (whole or cut short)."""

    def __init__(self, rfile: Any) -> None:
        self._rfile = rfile
        self.last = b"\n"

    def readline(self, *args: Any) -> bytes:
        self.last = self._rfile.readline(*args)
        return self.last

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rfile, name)


REFUSALS: dict[type[Exception], type[refusals.HTTPException]] = {
    TooLarge: refusals.RequestEntityTooLarge,
    UnknownCoding: refusals.NotImplemented,
}


def _field(headers: Any, name: str) -> list[str]:
    """A list-valued header's items, over all its fields (RFC 9110 section 5.3)."""
    return [item for field in headers.get_all(name) or [] for item in field.split(",")]


class KeptAlive(WSGIRequestHandler):
    """One connection's requests, answered one after another (HTTP/1.1 persistent connections,
    RFC 9112 section 9.3). An HTTP/1.0 request, or one whose Connection header lists "close",
    is answered and its connection closed."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # A connection that stays open is not flushed by its close: without this, Nagle's
        # algorithm held a write back until the client's delayed ACK, 40 ms on Linux.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.lines = _Lines(self.rfile)
        self.rfile = self.lines  # type: ignore[assignment]

    def parse_request(self) -> bool:
        parsed = bool(super().parse_request())
        if parsed and (
            not self.raw_requestline.endswith(b"\n") or self.lines.last not in LINE_ENDS
        ):
            # Its head ended with the input (the client went away, or stop() shut reading):
            # http.server takes that for the end of the headers; AWS would carry out nothing.
            self.close_connection = True
            return False
        options = _field(self.headers, "Connection") if parsed else []
        # http.server compares the first field with "close"; it is a list (RFC 9110 7.6.1).
        if "close" in (option.strip().lower() for option in options):
            self.close_connection = True
        if self.request_version != "HTTP/1.1":
            self.close_connection = True
        return parsed

    def must_close(self) -> bool:
        """Whether the connection closes after this answer, whatever the request asked."""
        return False

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # werkzeug builds each request's line (path, address, time) before its logger drops it,
        # and pocctl local sets that logger to ERROR (Emulator._start): some 0.6% of the test
        # suite's CPU.
        if WERKZEUG_LOG.isEnabledFor(logging.INFO):
            super().log_request(code, size)

    def run_wsgi(self) -> None:
        # (http.server's parse_request has answered "Expect: 100-continue" already.)
        environ = self.environ = self.make_environ()
        try:
            environ["wsgi.input"] = io.BytesIO(self._whole_body(environ))
        except (UnclearLength, UnknownCoding) as exc:
            self.close_connection = True
            refused = REFUSALS.get(type(exc), refusals.BadRequest)
            self._send(*whole_answer(refused(str(exc)), environ), head=False)
            return
        try:
            status, headers, body = whole_answer(self.server.app, environ)
        except Exception:
            self.log_error("Error on request %s %s:\n%s", self.command, self.path, format_exc())
            status, headers, body = whole_answer(refusals.InternalServerError(), environ)
            self.close_connection = True
        self._send(status, headers, body, head=environ["REQUEST_METHOD"] == "HEAD")

    def _whole_body(self, environ: dict[str, Any]) -> bytes:
        codings = [c.strip().lower() for c in _field(self.headers, "Transfer-Encoding")]
        lengths = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if codings:
            if codings[-1] != "chunked":
                raise UnclearLength(f"a body in transfer coding {codings[-1]!r} has no length")
            if codings != ["chunked"]:
                raise UnknownCoding(f"transfer codings {codings[:-1]} are not understood here")
            # Both: possibly a request smuggled past another server (RFC 9112 section 6.1).
            self.close_connection = self.close_connection or bool(lengths)
            body = self._dechunked()
            # The application reads it as any other body (werkzeug takes a chunked request
            # with no wsgi.input_terminated for one with no body).
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ.pop("wsgi.input_terminated", None)
            environ["CONTENT_LENGTH"] = str(len(body))
            return body
        if len(lengths) > 1 or not all(DIGITS.fullmatch(length) for length in lengths):
            raise UnclearLength(f"Content-Length is not one number: {sorted(lengths)}")
        return self._exactly(int(lengths.pop()) if lengths else 0)

    def _dechunked(self) -> bytes:
        """RFC 9112 section 7.1: chunks (their extensions ignored), then the trailer section."""
        chunks, size = [], 0
        while chunk := self._chunk_size():
            size += chunk
            if size > MAX_BODY_BYTES:
                raise TooLarge(f"a body of more than {MAX_BODY_BYTES} bytes")
            chunks.append(self._exactly(chunk))
            if self._line() not in LINE_ENDS:
                raise UnclearLength("a chunk is longer than its size")
        while self._line() not in LINE_ENDS:  # trailer fields: nothing here asks for them
            pass
        return b"".join(chunks)

    def _chunk_size(self) -> int:
        size = self._line().split(b";", 1)[0].strip()
        if not HEX_DIGITS.fullmatch(size):
            raise UnclearLength(f"a chunk size is not a hexadecimal number: {size!r}")
        return int(size, 16)

    def _line(self) -> bytes:
        line = self.rfile.readline(LINE_LIMIT + 1)
        if not line.endswith(b"\n"):
            if len(line) > LINE_LIMIT:
                raise UnclearLength("a chunk's size or trailer line is too long")
            raise ConnectionResetError("the client closed the connection within a chunked body")
        return line

    def _exactly(self, length: int) -> bytes:
        if length > MAX_BODY_BYTES:
            raise TooLarge(f"a body of more than {MAX_BODY_BYTES} bytes")
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) < length:  # never handed on: AWS would not carry out half a request
            raise ConnectionResetError("the client closed the connection within the body")
        return body

    def _send(self, status: str, headers: list[tuple[str, str]], body: bytes, head: bool) -> None:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        has_body = not (head or int(code) < 200 or int(code) in NO_BODY)
        for name, value in headers:
            lower = name.lower()
            if lower in ("connection", "transfer-encoding"):
                continue
            if lower == "content-length" and has_body:
                continue
            self.send_header(name, value)
        if has_body:
            self.send_header("Content-Length", str(len(body)))
        if self.must_close():
            self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        # The head and the body in one write (end_headers would send the head on its own).
        self._headers_buffer.append(b"\r\n" + (body if has_body else b""))
        self.flush_headers()


def whole_answer(app: Any, environ: dict[str, Any]) -> Answer:
    """A WSGI application's status, headers and whole body (PEP 3333): pocctl local's answers
    are small (6 MB at most, an Invoke's). Nothing is sent until the application has finished,
    so a later start_response with exc_info replaces the first."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if started and not exc_info:
            raise AssertionError("start_response called twice without exc_info")
        if exc_info:
            chunks.clear()  # an error's answer replaces what the application wrote
        started[:] = [status, headers]
        return chunks.append

    chunks: list[bytes] = []
    result: Iterable[bytes] = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return started[0], started[1], b"".join(chunks)
