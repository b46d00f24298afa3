"""`pocctl local`: moto's server in-process, plus deployed APIs, mappings and functions that run."""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from traceback import format_exc
from typing import Any, ClassVar
from urllib.parse import parse_qs

from botocore.config import Config as BotoConfig

from pocctl.core import botocore_caches
from pocctl.core.arns import Arn, function_name
from pocctl.core.session import MadeWhenNeeded
from pocctl.local import patches, sync
from pocctl.local.apigw import USER_REQUEST, ApiGateway
from pocctl.local.aws import AwsBehaviours
from pocctl.local.aws.base import World
from pocctl.local.aws.cloudwatch import CloudWatch
from pocctl.local.aws.fanout import SqsDelivery
from pocctl.local.aws.sns import CONFIRM_PATH, is_pending
from pocctl.local.aws.timing import RULES, Timing
from pocctl.local.calls import CLOUDFORMATION_HEADER, Call, parse
from pocctl.local.cloudformation.caller import cloudformation
from pocctl.local.functions import Faults, FunctionNotFound, FunctionVersion, Invoker, read_function
from pocctl.local.iam import Authorizer, Propagation, read_principal
from pocctl.local.pollers import Supervisor
from pocctl.local.replies import STATUS_TEXT, Reply, error, json_reply
from pocctl.local.serving import KeptAlive, whole_answer

botocore_caches.install()  # the emulator's own clients, besides those of new_session's sessions
ACCOUNT = "123456789012"
MAIL_PATH = "/_pocctl/mail"
HEALTH_PATH = "/_pocctl/health"
REGION_IN_AUTH = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/")
# Marks the emulator's own requests (API reads, pollers' bookkeeping): no latency, no limits.
INTERNAL_HEADER = "x-pocctl-internal"
LISTEN_BACKLOG = 128  # werkzeug's own
TIMING_OFF_STREAM_POLL = 0.1  # an idle stream's polls with AWS's timing off (AWS: 0.25 s)
# How long stop() waits for the requests being answered (their threads are daemon threads).
STOP_WAIT_SECONDS = 5.0
STOP_QUICK_SECONDS = 0.2  # said only when it takes longer than this
SHUTDOWN_POLL_SECONDS = 0.05  # how soon stop() ends the HTTP server (socketserver: 0.5)

Log = Callable[[str], None]
# Pollers, workers and API requests share these clients from many threads at once.
CLIENT_CONFIG = BotoConfig(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=64)


@functools.cache
def _backend_app(service: str) -> Any:
    """moto's Flask app for one service, made once per process: it only routes a request to
    moto's code (the state is in moto's backends, emptied for each emulator); building its
    URL map again for every emulator was 2% of the test suite's CPU."""
    from moto.moto_server.werkzeug_app import create_backend_app

    return create_backend_app(service)  # type: ignore[arg-type]


class Outbox:
    """Email that SNS would have sent: `pocctl local mail` shows it."""

    def __init__(self, log: Log) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.log = log

    def deliver(self, mail: dict[str, Any], subscription: Any) -> None:
        """SNS sends nothing to a subscription still pending confirmation."""
        if not is_pending(subscription):
            self.add(mail)

    def add(self, mail: dict[str, Any]) -> None:
        mail = {**mail, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        with self.lock:
            self.messages.append(mail)
        self.log(f"mail to {mail['to']}: {mail.get('subject') or '(no subject)'}")


class Emulator:
    # moto keeps its state per process: a second emulator beside a running one would start by
    # wiping the running one's resources under its pollers, or (sharing them) poll its mappings
    # a second time. So one process runs one emulator at a time.
    running: ClassVar[set[Emulator]] = set()

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4566,
        log: Log | None = None,
        *,
        latency: float = 0.0,
        faults: Faults | None = None,
        timing: Timing | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.faults = faults or Faults()
        self.timing = timing or Timing()
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
        self._sessions = MadeWhenNeeded()  # of its own clients
        # The clock AWS's durations are measured on (tests hand in one they can move forward).
        world = World(self.timing, self.client, ACCOUNT, clock=clock)
        propagation = Propagation(
            lambda arn: read_principal(ACCOUNT, arn),
            lambda key: self.timing.seconds("iam_propagation", key),
            world.clock,
        )
        self.authorizer = Authorizer(ACCOUNT, propagation, self.resource_policy)
        self.aws = AwsBehaviours(world, self.authorizer, self.outbox.add, lambda: self.endpoint_url)
        self.sqs_delivery = SqsDelivery(ACCOUNT, self.aws.sqs.usable_arn, self.log)
        self.cloudformation = cloudformation(
            ACCOUNT, lambda: self.endpoint_url, propagation, world.clock, self.log
        )
        self.cloudwatch = CloudWatch(world, self.regions, self.log, self.resource_policy)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.invoker: Invoker | None = None
        self._patched = False
        self._previous: dict[tuple[str, str], tuple[FunctionVersion, bytes]] = {}
        self.supervisor: Supervisor | None = None
        self.requests = sync.Requests()  # for `answered`
        # Called with the HTTP headers of each AWS API request (not the API's users' requests),
        # before it is carried out: the soak kills a client at its k-th request.
        self.on_request: Callable[[dict[str, str]], None] = lambda headers: None

    # -- clients and role credentials ----------------------------------------------------
    def client(self, service: str, region: str) -> Any:
        with self._lock:
            if (service, region) not in self._clients:
                self._clients[(service, region)] = self._sessions.client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id="pocctl-local",
                    aws_secret_access_key="pocctl-local",
                    config=CLIENT_CONFIG,
                )
                self._clients[(service, region)].meta.events.register(
                    "before-sign.*.*", mark_internal
                )
            return self._clients[(service, region)]

    def resource_policy(self, arn: str) -> list[dict[str, Any]]:
        """The statements of an SQS queue's, SNS topic's or Lambda function's own policy (same
        account). Read in moto's memory, not through the API: every call a role makes (the
        pollers' included) reads the policy of what it touches, for its Denies."""
        from moto.awslambda.models import lambda_backends
        from moto.sns.models import sns_backends
        from moto.sqs.models import sqs_backends

        parsed = Arn.of(arn)
        if parsed is None:
            return []
        region, account = parsed.region, parsed.account
        try:
            if parsed.service == "sqs":
                document = sqs_backends[account][region].queues[parsed.name]._policy_json
            elif parsed.service == "sns":
                document = sns_backends[account][region].topics[arn]._policy_json
            elif parsed.service == "lambda" and parsed.resource_type == "function":
                function = lambda_backends[account][region].get_function(parsed.name)
                document = {"Statement": function.policy.statements}
            else:
                return []
        except Exception:
            return []
        statements = (document or {}).get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else list(statements)
        return [principal_as_aws_writes_it(s) for s in statements]

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
            client = self._sessions.client(
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
        api = ApiGateway(
            self.client,
            self.client_as,
            self.regions,
            lambda role, service: self.authorizer.propagation.effective(role, "apigateway").trusts(
                service
            ),
            lambda message: self.log(message),
        )
        api.on_answered = self.cloudwatch.api_answered
        self.apis = api

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
            if path == CONFIRM_PATH:
                return self._confirm(environ, start_response)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            if USER_REQUEST.match(path):
                headers = http_headers(environ)
                response = api.handle(environ["REQUEST_METHOD"], path, headers, body)
                return reply(start_response, response.status, response.body)
            environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
            headers = http_headers(environ)
            self.on_request(headers)
            call = parse(
                headers, environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), body
            )
            if call is None:
                result: Iterable[bytes] = moto_app(environ, start_response)
                return result
            call.internal = INTERNAL_HEADER in headers
            call.by_cloudformation = CLOUDFORMATION_HEADER in headers
            if self.latency and not call.internal:
                time.sleep(self.latency)
            try:
                answer = self._handle(call, environ, moto_app)
            except Exception:  # a bug of ours: in the log with where it happened, then a 500
                self.log(f"{call.service}:{call.operation} failed in pocctl local:\n{format_exc()}")
                raise
            start_response(answer.status_line, answer.headers)
            return [answer.body]

        return application

    def _handle(self, call: Call, environ: dict[str, Any], moto_app: Any) -> Reply:
        # IAM first, as on AWS: a denied call changes nothing and holds nothing.
        denied = self.authorizer.check(call)
        if denied is not None:
            self.log(f"denied: {json_message(denied.body)}")
            return denied
        refused = self.aws.before(call)
        if refused is not None:
            if not call.internal and not refused.ok:
                self.log(f"{call.service}:{call.operation} refused: {json_message(refused.body)}")
            return refused
        if call.service == "lambda" and call.operation == "Invoke":
            return self._invoke(call, environ)
        if call.service == "cloudformation":  # ours, not moto's: pocctl/local/cloudformation/
            return self.cloudformation.handle(call)
        self.cloudwatch.before(call)
        try:
            answer = run_moto(moto_app, environ)
        except Exception:
            self.aws.after(call, Reply(500))  # let go of what `before` holds (an API change)
            raise
        try:
            answer = self.aws.after(call, answer)
            self.cloudwatch.after(call, answer)
            if call.operation == "CreateDeployment" and answer.ok:
                deployment = answer.json() or {}
                self.apis.deployed(call.region, str(call.params["restApiId"]), deployment["id"])
        except Exception as exc:  # a bug of ours must show, not pass as AWS's answer
            self.log(f"pocctl local could not apply AWS behaviour to {call.operation}: {exc!r}")
            raise
        return answer

    def _invoke(self, call: Call, environ: dict[str, Any]) -> Reply:
        """Invoke runs the function in its worker, as the pollers do (moto would need Docker).
        As the Lambda API reference (Invoke) has it: a function error is still 200, with
        X-Amz-Function-Error: Unhandled and the error as the payload; LogType Tail returns the
        last 4 KB of the invocation's log, base64-encoded, in X-Amz-Log-Result."""
        assert self.invoker is not None
        name = function_name(str(call.params.get("FunctionName", "")))
        body = environ["wsgi.input"].getvalue()
        try:
            event = json.loads(body or b"{}")
        except ValueError as exc:
            return error(call, 400, "InvalidRequestContentException", f"Could not parse: {exc}")
        kind = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        # Lambda quotas: an invocation's request payload is at most 6 MB when synchronous,
        # 1 MB when asynchronous (Lambda Developer Guide, "Lambda quotas").
        limit = 1024 * 1024 if kind == "Event" else 6 * 1024 * 1024
        if len(body) > limit:
            return error(
                call,
                413,
                "RequestTooLargeException",
                f"{len(body)} byte payload is too large for the {kind} invocation type "
                f"(limit {limit} bytes)",
            )
        if kind == "DryRun":
            return Reply(204)
        if not self._function_exists(call.region, name):
            arn = Arn.build("lambda", call.region, ACCOUNT, f"function:{name}")
            return error(call, 404, "ResourceNotFoundException", f"Function not found: {arn}")
        if kind == "Event":
            threading.Thread(
                target=self.invoker.invoke, args=(call.region, name, event), daemon=True
            ).start()
            return Reply(202)
        result = self.invoker.invoke(call.region, name, event)
        if result.ok:
            answer = json_reply(200, result.result)
        else:
            answer = json_reply(
                200, {"errorType": result.error_type, "errorMessage": result.error_message}
            )
            answer.headers.append(("X-Amz-Function-Error", "Unhandled"))
        answer.headers.append(("X-Amz-Executed-Version", "$LATEST"))
        if environ.get("HTTP_X_AMZ_LOG_TYPE") == "Tail":
            log = ("\n".join(result.log_lines) + "\n").encode()[-4096:]
            answer.headers.append(("X-Amz-Log-Result", base64.b64encode(log).decode()))
        return answer

    def _function_exists(self, region: str, name: str) -> bool:
        try:
            read_function(ACCOUNT, region, name)
        except FunctionNotFound:
            return False
        return True

    def _confirm(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        token = (parse_qs(environ.get("QUERY_STRING", "")).get("Token") or [""])[0]
        arn = self.aws.sns.confirm(token)
        if arn is None:
            return reply(
                start_response, 400, "Invalid token: this link confirms nothing.", "text/plain"
            )
        self.log(f"subscription confirmed: {arn}")
        page = (
            f"Subscription confirmed!\nYou have successfully subscribed.\nSubscription ID: {arn}\n"
        )
        return reply(start_response, 200, page, "text/plain")

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        if Emulator.running:
            raise RuntimeError(
                "another pocctl local is running in this process, and moto's state is the "
                "process's: stop that one first"
            )
        Emulator.running.add(self)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        # Bound here, not by werkzeug, which answers a port in use by printing its own message
        # and calling sys.exit(1); this raises OSError, for the CLI to explain.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.create_server(
            (self.host, self.port), family=family, backlog=LISTEN_BACKLOG
        )
        patches.apply()
        self._patched = True
        patches.prepare_for_threads()
        reset_moto()  # moto's state is per process: an emulator starts it empty
        patches.MAIL_SINKS.append(self.outbox.deliver)
        patches.SQS_DELIVERY_GATES.append(self.sqs_delivery)
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call is noise
        moto_app = DomainDispatcherApplication(_backend_app)
        with listener:  # werkzeug serves a duplicate of it
            self._server = make_server(
                self.host,
                self.port,
                self.app(moto_app),
                threaded=True,
                request_handler=KeptAlive,
                fd=listener.fileno(),
            )
        self.requests.track(self._server)
        self.port = self._server.port
        self.endpoint_url = f"http://{self.host}:{self.port}"
        # serve_forever checks for shutdown between polls: at its default 0.5 s, every stop
        # waited half a second (the test suite starts some 150 emulators).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            daemon=True,
            name="pocctl-local-http",
        )
        self._thread.start()
        self.invoker = Invoker(
            self.endpoint_url, ACCOUNT, self.role_credentials, self.faults, self.log, self.serving
        )
        self.invoker.on_invoked = self.cloudwatch.invoked
        self.aws.lambda_.on_update.append(self._remember_version)
        self.supervisor = Supervisor(
            self.invoker,
            self.client,
            self.client_as,
            self.regions,
            self.log,
            # AWS polls an idle stream 4 times a second, whatever the time scale (a poller's
            # polls cost the emulator CPU); with AWS's timing off, 10 times.
            RULES["stream_poll"].seconds if self.timing.enabled else TIMING_OFF_STREAM_POLL,
        )
        self.supervisor.processed = self.aws.lambda_.processed
        self.supervisor.iterator_age = self.cloudwatch.metrics.iterator_age
        self.supervisor.start()
        self.cloudwatch.start()

    # -- waits for tests: synchronise on the emulator's events, not on sleeps (sync.py) ------
    def reconciled(self) -> None:
        """The mappings' pollers match the mappings as they are now (started or stopped)."""
        sync.reconciled(self.supervisor)

    def settled(self) -> None:
        """What changed in IAM has propagated (IAM's own reads find it too), queues' changed
        attributes have taken effect, the log lines written so far can be read, the pollers match
        the mappings, and every poller has finished a poll that began after that."""
        changes = [
            self.authorizer.propagation.settled_at,
            self.aws.iam.reads.settled_at,
            self.aws.sqs.attributes.settled_at,
            self.aws.logs.settled_at,
        ]
        sync.settled(self.supervisor, changes, self.aws.world.clock)

    def reaches(self, arn: str, service: str) -> float:
        """When the principal's latest change reaches `service` (the emulator's clock): the
        soak's witness of when a repaired permission takes effect, which IAM never signals."""
        return self.authorizer.propagation.reaches(arn, service)

    def quiet(self, *functions: str) -> None:
        """Every poller that feeds these functions has read its source empty since this call,
        with nothing being delivered."""
        sync.quiet(self.supervisor, functions)

    def answered(self, timeout: float = sync.WAIT_SECONDS) -> None:
        """Everything a client sent has been answered, a killed one's too."""
        self.requests.answered(self.endpoint_url + HEALTH_PATH, timeout)

    def stop(self) -> None:
        """Stop what `start` started, however far it got."""
        if self not in Emulator.running:
            return
        try:
            self.cloudwatch.stop()
            if self.outbox.deliver in patches.MAIL_SINKS:
                patches.MAIL_SINKS.remove(self.outbox.deliver)
            if self.sqs_delivery in patches.SQS_DELIVERY_GATES:
                patches.SQS_DELIVERY_GATES.remove(self.sqs_delivery)
            if self.supervisor is not None:
                self.supervisor.stop()
                self.supervisor.join(timeout=5)
            if self.invoker is not None:
                self.invoker.close()
            if self._thread is not None:  # shutdown waits for serve_forever: only once it ran
                self._server.shutdown()
                self._thread.join(timeout=5)
            if self._server is not None:
                self.requests.stop_reading()
                if not self.requests.drained(STOP_QUICK_SECONDS):
                    self.log("waiting for the requests still being answered")
                    if not self.requests.drained(STOP_WAIT_SECONDS):
                        self.log("pocctl local stopped with requests still being answered")
                self._server.server_close()
            self._close_clients()
        finally:
            Emulator.running.discard(self)
            reset_moto()
            if self._patched:
                self._patched = False
                patches.undo()

    def _close_clients(self) -> None:
        """Its own clients' kept connections, to a server that is gone."""
        with self._lock:
            clients = [*self._clients.values(), *self._role_clients.values()]
            self._clients.clear()
            self._role_clients.clear()
        for client in clients:
            client.close()

    def _remember_version(self, region: str, name: str) -> None:
        with contextlib.suppress(FunctionNotFound):
            self._previous[(region, name)] = read_function(ACCOUNT, region, name)

    def serving(self, region: str, name: str) -> tuple[FunctionVersion, bytes] | None:
        """While an update is InProgress, invocations still run the version before it."""
        if self.aws.lambda_.function_state(region, name) == ("Active", "InProgress"):
            return self._previous.get((region, name))
        return None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def principal_as_aws_writes_it(statement: dict[str, Any]) -> dict[str, Any]:
    """moto keeps AddPermission's principal as a bare string ("123456789012", a role ARN,
    "s3.amazonaws.com"); a function's policy names it as any policy does, {"Service":
    "s3.amazonaws.com"} (Lambda Developer Guide, "Viewing resource-based IAM policies in
    Lambda", its get-policy example), and so {"AWS": ...} for an account or a role."""
    principal = statement.get("Principal")
    if not isinstance(principal, str) or principal == "*":
        return statement
    kind = "Service" if principal.endswith(".amazonaws.com") else "AWS"
    return {**statement, "Principal": {kind: principal}}


def mark_internal(request: Any, **_: Any) -> None:
    request.headers[INTERNAL_HEADER] = "1"


def run_moto(moto_app: Any, environ: dict[str, Any]) -> Reply:
    """moto's answer, kept whole so that AWS behaviours can amend it."""
    status, headers, body = whole_answer(moto_app, environ)
    return Reply(int(status.split()[0]), body, list(headers))


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


def json_message(body: str | bytes) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        return str(json.loads(body).get("message", body))
    except (json.JSONDecodeError, AttributeError):
        found = re.search(r"<Message>(.*)</Message>", body)
        return found.group(1) if found else body
