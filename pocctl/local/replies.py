"""HTTP answers the emulator makes itself, in each protocol's own error format.

botocore reads the error code from `__type` (JSON protocols), the `x-amzn-ErrorType` header
(REST-JSON) or `<Code>` (query/XML); for SQS's query-compatible JSON it prefers the
`x-amzn-query-error` header. An answer in the wrong shape would reach a client as the wrong code.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from pocctl.local.calls import Call, service_model

STATUS_TEXT = {
    200: "OK",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    def with_json(self, document: Any) -> Reply:
        return self.with_body(json.dumps(document, default=str).encode())

    def with_body(self, body: bytes) -> Reply:
        """The same answer with another body; its length and DynamoDB's checksum follow."""
        headers = [
            (k, v) for k, v in self.headers if k.lower() not in ("content-length", "x-amz-crc32")
        ]
        headers.append(("Content-Length", str(len(body))))
        if any(k.lower() == "x-amz-crc32" for k, _ in self.headers):
            headers.append(("x-amz-crc32", str(zlib.crc32(body))))
        return Reply(self.status, body, headers)

    @property
    def status_line(self) -> str:
        return f"{self.status} {STATUS_TEXT.get(self.status, 'Status')}"


def json_reply(status: int, document: Any, content_type: str = "application/json") -> Reply:
    body = json.dumps(document, default=str).encode()
    return Reply(status, body, [("Content-Type", content_type), ("Content-Length", str(len(body)))])


def error(call: Call, status: int, code: str, message: str) -> Reply:
    """An AWS error answer for this call's protocol."""
    if call.protocol == "json":
        reply = json_reply(
            status, {"__type": code, "message": message}, "application/x-amz-json-1.0"
        )
        if service_model(call.service).metadata.get("awsQueryCompatible") is not None:
            query_code = QUERY_CODES.get(code, code)
            reply.headers.append(("x-amzn-query-error", f"{query_code};Sender"))
        return reply
    if call.protocol == "smithy-rpc-v2-cbor":  # the Resource Groups Tagging API, ...
        body = cbor_map({"__type": code, "message": message})
        headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        return Reply(status, body, headers).with_body(body)
    if call.protocol.startswith("rest-json") or call.protocol.startswith("smithy"):
        reply = json_reply(status, {"Type": "User", "message": message})
        reply.headers.append(("x-amzn-ErrorType", code))
        return reply
    xml = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{escape_xml(code)}</Code><Message>{escape_xml(message)}</Message>"
        "</Error><RequestId>pocctl-local</RequestId></ErrorResponse>"
    ).encode()
    return Reply(status, xml, [("Content-Type", "text/xml"), ("Content-Length", str(len(xml)))])


# SQS's JSON protocol carries the legacy query code in a header; botocore reports that one.
QUERY_CODES = {
    "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
}


def cbor_map(fields: dict[str, str]) -> bytes:
    """A CBOR map of text strings (RFC 8949: major type 5 of major type 3 items), the shape
    of an RPC v2 CBOR error body; botocore reads `__type` and `message` from it."""

    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        for extra, size in ((24, 1), (25, 2), (26, 4)):
            if length < 1 << (8 * size):
                return bytes([major << 5 | extra]) + length.to_bytes(size, "big")
        raise ValueError("too long")

    def text(value: str) -> bytes:
        encoded = value.encode()
        return head(3, len(encoded)) + encoded

    return head(5, len(fields)) + b"".join(text(k) + text(v) for k, v in fields.items())


def escape_xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
