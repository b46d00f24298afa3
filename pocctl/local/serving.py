"""The emulator's HTTP connections stay open between requests, as AWS's endpoints keep them.

werkzeug's development server closes every connection after one response ("Connection: close":
its request handler cannot tell where an unread request body ends). Each AWS call then paid for
a new TCP connection, a new server thread and a 10 ms wait for the client to hang up: about a
sixth of the test suite's CPU. Here a request's body is read whole before the application sees
it and the answer is sent with its length, so the connection is ready for the next request.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterable
from traceback import format_exc
from typing import IO, Any, cast

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import DechunkedInput, WSGIRequestHandler

NO_BODY = frozenset({204, 304})
Answer = tuple[str, list[tuple[str, str]], bytes]  # status, headers, body


class KeptAlive(WSGIRequestHandler):
    """One connection's requests, answered one after another (HTTP/1.1 persistent connections,
    RFC 9112 section 9.3). A client that asks to close, or sends an HTTP/1.0 request, is answered
    and closed (http.server's parse_request decides that)."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # A connection that stays open is not flushed by its close: without this, Nagle's
        # algorithm held a write back until the client's delayed ACK, 40 ms on Linux.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(self._whole_body(environ))
        try:
            status, headers, body = whole_answer(self.server.app, environ)
        except (ConnectionError, TimeoutError) as exc:
            self.connection_dropped(exc, environ)
            return
        except Exception:
            self.log_error("Error on request %s %s:\n%s", self.command, self.path, format_exc())
            status, headers, body = whole_answer(InternalServerError(), environ)
            self.close_connection = True
        self._send(status, headers, body, environ["REQUEST_METHOD"] == "HEAD")

    def _whole_body(self, environ: dict[str, Any]) -> bytes:
        if environ.pop("wsgi.input_terminated", False):  # chunked
            self.close_connection = True  # its end may leave a trailer unread
            body = DechunkedInput(cast(IO[bytes], self.rfile)).read()
            # The application reads it as any other body (werkzeug takes a chunked request with
            # no wsgi.input_terminated for an empty one).
            del environ["HTTP_TRANSFER_ENCODING"]
            environ["CONTENT_LENGTH"] = str(len(body))
            return body
        length = int(environ.get("CONTENT_LENGTH") or 0)
        return self.rfile.read(length) if length > 0 else b""

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
        if self.close_connection:
            self.send_header("Connection", "close")
        # The head and the body in one write (end_headers would send the head on its own).
        self._headers_buffer.append(b"\r\n" + (body if has_body else b""))
        self.flush_headers()


def whole_answer(app: Any, environ: dict[str, Any]) -> Answer:
    """A WSGI application's status, headers and whole body: pocctl local's answers are small
    (6 MB at most, an Invoke's)."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
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
