"""`pocctl local`: moto's server in-process, plus deployed APIs, mappings and functions that run."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from pocctl.local import patches
from pocctl.local.apigw import USER_REQUEST, ApiGateway
from pocctl.local.functions import Faults, Invoker
from pocctl.local.iam import Authorizer
from pocctl.local.pollers import Supervisor

ACCOUNT = "123456789012"
MAIL_PATH = "/_pocctl/mail"
HEALTH_PATH = "/_pocctl/health"
REGION_IN_AUTH = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/")

Log = Callable[[str], None]
# Pollers, workers and API requests share these clients from many threads at once.
CLIENT_CONFIG = BotoConfig(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=64)


class Outbox:
    """Email that SNS would have sent: `pocctl local mail` shows it."""

    def __init__(self, log: Log) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.log = log

    def add(self, mail: dict[str, Any]) -> None:
        mail = {**mail, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        with self.lock:
            self.messages.append(mail)
        self.log(f"mail to {mail['to']}: {mail.get('subject') or '(no subject)'}")


class Emulator:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4566,
        log: Log | None = None,
        *,
        latency: float = 0.0,
        faults: Faults | None = None,
    ) -> None:
        self.faults = faults or Faults()
        self.host, self.port = host, port
        # Seconds added to every AWS API call, standing in for a region's round trip.
        self.latency = latency
        self.log: Log = log if log is not None else (lambda message: None)
        self.endpoint_url = f"http://{host}:{port}"
        self.regions: set[str] = {"us-east-1"}
        self.outbox = Outbox(self.log)
        self._clients: dict[tuple[str, str], Any] = {}
        self._roles: dict[str, dict[str, str]] = {}
        self._role_clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()
        self.authorizer = Authorizer(self.client, ACCOUNT)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.invoker: Invoker | None = None
        self.supervisor: Supervisor | None = None

    # -- clients and role credentials ----------------------------------------------------
    def client(self, service: str, region: str) -> Any:
        with self._lock:
            if (service, region) not in self._clients:
                self._clients[(service, region)] = boto3.client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id="pocctl-local",
                    aws_secret_access_key="pocctl-local",
                    config=CLIENT_CONFIG,
                )
            return self._clients[(service, region)]

    def role_credentials(self, role_arn: str) -> dict[str, str]:
        """Temporary credentials of a role, as Lambda and API Gateway get them from STS."""
        with self._lock:
            cached = self._roles.get(role_arn)
        if cached is not None:
            return cached
        creds = self.client("sts", "us-east-1").assume_role(
            RoleArn=role_arn, RoleSessionName="pocctl-local"
        )["Credentials"]
        found = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
        self.authorizer.register(creds["AccessKeyId"], role_arn)
        with self._lock:
            self._roles[role_arn] = found
        return found

    def client_as(self, service: str, region: str, role_arn: str) -> Any:
        """A client acting as a role: what it may do is checked against the role's policies."""
        key = (service, region, role_arn)
        with self._lock:
            client = self._role_clients.get(key)
        if client is None:
            client = boto3.client(
                service,
                region_name=region,
                endpoint_url=self.endpoint_url,
                config=CLIENT_CONFIG,
                **self.role_credentials(role_arn),
            )
            with self._lock:
                self._role_clients[key] = client
        return client

    # -- the WSGI application ------------------------------------------------------------
    def app(self, moto_app: Any) -> Callable[..., Iterable[bytes]]:
        api = ApiGateway(self.client, self.client_as, self.regions)

        def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            auth = REGION_IN_AUTH.search(environ.get("HTTP_AUTHORIZATION", ""))
            if auth:
                self.regions.add(auth["region"])
            if path == MAIL_PATH:
                with self.outbox.lock:
                    payload = json.dumps(self.outbox.messages)
                return reply(start_response, 200, payload)
            if path == HEALTH_PATH:
                return reply(start_response, 200, json.dumps({"ok": True}))
            if USER_REQUEST.match(path):
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = environ["wsgi.input"].read(length) if length else b""
                headers = http_headers(environ)
                response = api.handle(environ["REQUEST_METHOD"], path, headers, body)
                return reply(start_response, response.status, response.body)
            if self.latency:
                time.sleep(self.latency)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
            denied = self.authorizer.check(http_headers(environ), body)
            if denied is not None:
                self.log(f"denied: {json_message(denied.body)}")
                return reply(start_response, denied.status, denied.body, denied.content_type)
            result: Iterable[bytes] = moto_app(environ, start_response)
            return result

        return application

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        patches.apply()
        reset_moto()  # moto's state is per process: a new emulator starts empty
        patches.MAIL_SINKS.append(self.outbox.add)
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call is noise
        moto_app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self.host, self.port, self.app(moto_app), threaded=True)
        self.port = self._server.server_port
        self.endpoint_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="pocctl-local-http"
        )
        self._thread.start()
        self.invoker = Invoker(
            self.endpoint_url, ACCOUNT, self.role_credentials, self.faults, self.log
        )
        self.supervisor = Supervisor(
            self.invoker, self.client, self.client_as, self.regions, self.log
        )
        self.supervisor.start()

    def stop(self) -> None:
        if self.outbox.add in patches.MAIL_SINKS:
            patches.MAIL_SINKS.remove(self.outbox.add)
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor.join(timeout=5)
        if self.invoker is not None:
            self.invoker.close()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        reset_moto()

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def reply(
    start_response: Any, status: int, body: str, content_type: str = "application/json"
) -> list[bytes]:
    data = body.encode("utf-8")
    start_response(
        f"{status} {STATUS_TEXT.get(status, 'Status')}",
        [("Content-Type", content_type), ("Content-Length", str(len(data)))],
    )
    return [data]


def http_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def json_message(body: str) -> str:
    try:
        return str(json.loads(body).get("message", body))
    except (json.JSONDecodeError, AttributeError):
        found = re.search(r"<Message>(.*)</Message>", body)
        return found.group(1) if found else body


STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
