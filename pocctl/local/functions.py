"""Runs deployed Lambda code: the uploaded zip, in warm worker processes, one pool per version."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pocctl.code.handler_check import removed_in, runtime_modules
from pocctl.core.session import MadeWhenNeeded
from pocctl.local import forks
from pocctl.local import worker as worker_module
from pocctl.local.forks import ForkServer

POOL_LIMIT = 8  # warm workers kept per function version
# A new container's Init phase (importing the handler) gets 10 s; like function timeouts, a
# limit of the runtime's, so not scaled by --time-scale (source: Invoker.invoke).
INIT_LIMIT_SECONDS = 10.0

# The credentials a function's code gets for its execution role, as boto3 keyword arguments.
CredentialsFor = Callable[[str], dict[str, str]]
# While an update is InProgress, invocations run the previous code and configuration (Lambda
# Developer Guide, "Lambda function states"): (region, name) -> that version, or None.
Serving = Callable[[str, str], "tuple[FunctionVersion, bytes] | None"]


@dataclass(frozen=True)
class FunctionVersion:
    """Everything that, when it changes, needs a fresh container."""

    name: str
    region: str
    account: str
    handler: str
    timeout: int
    memory: int
    role_arn: str
    code_sha: str
    environment: tuple[tuple[str, str], ...]
    log_group: str
    runtime: str = "python3.13"


@dataclass
class Invocation:
    ok: bool
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    logs: str = ""
    duration_ms: float = 0.0
    log_lines: list[str] = field(default_factory=list)  # as written to the log group


class FunctionNotFound(Exception):
    pass


def read_function(account: str, region: str, name: str) -> tuple[FunctionVersion, bytes]:
    """The function as deployed, from moto's backend (the uploaded bytes are not in any API)."""
    from moto.awslambda.models import lambda_backends

    try:
        fn = lambda_backends[account][region].get_function(name)
    except Exception as exc:
        raise FunctionNotFound(name) from exc
    env = tuple(sorted((fn.environment_vars or {}).items()))
    code = fn.code_bytes or b""
    logging_config = getattr(fn, "logging_config", None) or {}
    version = FunctionVersion(
        name=fn.function_name,
        region=region,
        account=account,
        handler=str(fn.handler),
        timeout=int(fn.timeout or 3),
        memory=int(fn.memory_size or 128),
        role_arn=fn.role,
        code_sha=hashlib.sha256(code).hexdigest(),
        environment=env,
        log_group=logging_config.get("LogGroup") or f"/aws/lambda/{fn.function_name}",
        runtime=str(fn.run_time or "python3.13"),
    )
    return version, code


# One fork server for every emulator of this process, started with the first worker: each
# server imports boto3 and reads AWS's models (about half a second of CPU), and a process may
# start many emulators (the tests start hundreds). A worker does not outlive its emulator: once
# it stops (Invoker.close), each worker is killed when idle, or when its invocation ends.
_forks: ForkServer | None = None
_forks_lock = threading.Lock()


def fork_server() -> ForkServer | None:
    global _forks
    if not hasattr(os, "fork"):
        return None  # Windows: each worker is a Python process of its own
    with _forks_lock:
        if _forks is None or _forks.process.poll() is not None:
            _forks = ForkServer(runtime_modules())
            atexit.register(_forks.close)
        return _forks


# What became of a worker's Init phase (Worker.initialised).
INIT_DONE, INIT_TIMEOUT, INIT_EXITED = "done", "timeout", "exited"


class Worker:
    def __init__(
        self,
        version: FunctionVersion,
        code_dir: Path,
        env: dict[str, str],
        forks: ForkServer | None = None,
    ) -> None:
        self.version = version
        self.id = uuid.uuid4().hex[:12]
        self.init_done = False  # the worker said its handler is imported (or failed to be)
        self.process: subprocess.Popen[str] | None = None
        self.requests: IO[str]
        # Answers are read from the descriptor itself, split into lines here: select() sees
        # only what no buffer has taken yet, so a buffered reader that took the init line and
        # the answer in one read would leave select() waiting for an answer already read.
        self._answers: int
        self._pending = b""
        self.heard: list[str] = []  # what the handler printed since the last invocation ended
        self.exit_status: int | None = None  # as the worker said it exits (sys.exit)
        if forks is not None:
            self.pid, channel = forks.start(
                {
                    "code_dir": str(code_dir),
                    "handler_spec": version.handler,
                    "timeout": version.timeout,
                    "env": env,
                    "unavailable": sorted(removed_in(version.runtime)),
                }
            )
            self.requests = channel.makefile("w", encoding="utf-8", buffering=1)
            self._answers = os.dup(channel.fileno())
            channel.close()  # the request file and the answers' descriptor keep it open
            return
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",  # nothing of this Python's environment: worker.enter_runtime
                "-S",
                worker_module.__file__,
                str(code_dir),
                version.handler,
                str(version.timeout),
                str(runtime_modules()),
                ",".join(sorted(removed_in(version.runtime))),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
            bufsize=1,
        )
        self.pid = self.process.pid
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests, self._answers = self.process.stdin, self.process.stdout.fileno()

    @property
    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return forks.alive(self.pid)

    def _line(self, timeout: float) -> str | None:
        """The worker's next line; "" once it has exited (end of file); None if none came
        within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            if self._answers < 0:
                return ""
            left = deadline - time.monotonic()
            # poll, not select: select fails for a descriptor past 1024.
            poller = select.poll()
            poller.register(self._answers, select.POLLIN)
            if not poller.poll(max(0.0, left) * 1000):
                return None
            try:
                chunk = os.read(self._answers, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                return ""
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode("utf-8") + "\n"

    def _said(self, deadline: float) -> str | None:
        """The worker's next line other than what the handler prints (kept in `heard`), as
        `_line`, by `deadline` on the monotonic clock."""
        while True:
            line = self._line(max(0.0, deadline - time.monotonic()))
            if not line or not line.startswith('{"log": '):
                return line
            self.heard.append(json.loads(line)["log"])

    def printed(self) -> str:
        """What the handler printed (at Init, then in the invocation), taken: the next
        invocation's log starts afresh."""
        printed, self.heard = "".join(self.heard), []
        return printed

    def _ending(self, line: str | None) -> bool:
        """Whether `line` says the worker's process ended (end of file, or {"exited": n})."""
        if line is None:
            return False
        if not line:
            return True
        said = json.loads(line)
        if "exited" in said and "ok" not in said:
            self.exit_status = int(said["exited"])
            return True
        return False

    def initialised(self, limit: float) -> str:
        """What became of its Init phase (importing the handler) within `limit` seconds:
        INIT_DONE, INIT_TIMEOUT, or INIT_EXITED (the process ended: sys.exit or a crash)."""
        if not self.init_done:
            line = self._said(time.monotonic() + limit)
            if line is None:
                self._said(time.monotonic())  # what it printed that reached us by the limit
                return INIT_TIMEOUT
            if self._ending(line):
                return INIT_EXITED
            self.init_done = True
        return INIT_DONE

    def _exited(self, request_id: str, elapsed: float) -> Invocation:
        """Runtime.ExitError, with what the handler printed before its process ended."""
        self.kill()
        code = self.process.returncode if self.process is not None else None
        code = self.exit_status if self.exit_status is not None else code
        status = f"exit status {code}" if code is not None and code >= 0 else "exit"
        if code is not None and code < 0:
            status = f"signal: {(signal.strsignal(-code) or str(-code)).lower()}"
        return Invocation(
            False,
            error_type="Runtime.ExitError",
            error_message=f"RequestId: {request_id} Error: Runtime exited with error: {status}",
            logs=self.printed(),
            duration_ms=elapsed,
        )

    def invoke(self, event: Any, request_id: str, timeout: float) -> Invocation:
        """One invocation within `timeout` seconds; for a worker whose Init phase has not
        ended, the rest of its init counts against them too. What the handler printed is in
        the invocation's logs however it ended: on time, timed out, or exited; what its Init
        printed comes before (Invocation.log_lines, written before START)."""
        init = [self.printed()]  # read while `initialised` waited for the Init phase
        result = self._invoke(event, request_id, timeout, init)
        result.log_lines[:0] = log_lines("".join(init))
        return result

    def _invoke(self, event: Any, request_id: str, timeout: float, init: list[str]) -> Invocation:
        started = time.monotonic()
        deadline = started + timeout
        try:
            self.requests.write(json.dumps({"event": event, "id": request_id}) + "\n")
            self.requests.flush()
        except (BrokenPipeError, OSError):
            return self._exited(request_id, 0.0)
        line = self._said(deadline)
        if line and not self.init_done and not self._ending(line):
            self.init_done = True
            init.append(self.printed())
            line = self._said(deadline)
        elapsed = (time.monotonic() - started) * 1000
        if line is None:
            self._said(time.monotonic())  # what it printed that reached us by the deadline
            self.kill()
            return Invocation(
                False,
                error_type="Sandbox.Timedout",
                error_message=f"Task timed out after {timeout:.2f} seconds",
                logs=self.printed(),
                duration_ms=elapsed,
            )
        if self._ending(line):
            if not self.init_done:  # its retried Init exited: said before START, as the first
                init.append(self.printed())
            return self._exited(request_id, elapsed)
        assert line is not None
        answer = json.loads(line)
        return Invocation(
            ok=answer["ok"],
            result=answer.get("result"),
            error_type=answer.get("errorType"),
            error_message=answer.get("errorMessage"),
            logs=self.printed(),
            duration_ms=elapsed,
        )

    def kill(self) -> None:
        if self.process is not None:
            if self.alive:
                self.process.kill()
            self.process.wait()
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.requests.close()
        if self._answers >= 0:
            with contextlib.suppress(OSError):
                os.close(self._answers)
            self._answers = -1  # closed once: the number may be reused by another file


def log_lines(printed: str) -> list[str]:
    """What a function printed, as its log group's events: one a line, blank ones left out."""
    return [line for line in printed.splitlines() if line.strip()]


def _init_report(started: float, phase: str, outcome: str) -> str:
    """Lambda's INIT_REPORT line for an init that did not finish."""
    status = "Status: timeout"
    if outcome == INIT_EXITED:
        status = "Status: error\tError Type: Runtime.ExitError"
    took = (time.monotonic() - started) * 1000
    return f"INIT_REPORT Init Duration: {took:.2f} ms\tPhase: {phase}\t{status}"


@dataclass
class Faults:
    """A share of invocations that fail, or time out, before the handler runs (for load tests)."""

    fail_rate: float = 0.0
    timeout_rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self) -> str | None:
        with self._lock:
            roll = self._random.random()
        if roll < self.fail_rate:
            return "fail"
        if roll < self.fail_rate + self.timeout_rate:
            return "timeout"
        return None


@dataclass
class Pool:
    idle: list[Worker] = field(default_factory=list)


class Invoker:
    """Invokes functions the way Lambda does: warm containers, timeouts, logs to CloudWatch."""

    def __init__(
        self,
        endpoint_url: str,
        account: str,
        credentials: CredentialsFor,
        faults: Faults | None = None,
        log: Callable[[str], None] | None = None,
        serving: Serving | None = None,
    ) -> None:
        self.serving: Serving = serving or (lambda region, name: None)
        self.endpoint_url = endpoint_url
        self.log = log if log is not None else (lambda message: None)
        self.faults = faults or Faults()
        self.account = account
        self.credentials = credentials
        self._pools: dict[FunctionVersion, Pool] = {}
        self._closed = False  # stopped: a late invocation starts no worker
        self._lock = threading.Lock()
        self._sessions = MadeWhenNeeded()  # of its own clients
        self.code_root = Path(tempfile.mkdtemp(prefix="pocctl-local-code-"))
        self._logs: dict[str, Any] = {}
        self.invocations = 0
        self.init_limit = INIT_LIMIT_SECONDS
        # Told of each invocation's outcome (region, function, ok, duration ms): its metrics.
        self.on_invoked: Callable[[str, str, bool, float], None] = lambda *outcome: None

    def _code_dir(self, version: FunctionVersion, code: bytes) -> Path:
        target = self.code_root / version.code_sha
        if not target.exists():
            staging = Path(tempfile.mkdtemp(dir=self.code_root))
            zipfile.ZipFile(io.BytesIO(code)).extractall(staging)
            try:
                os.replace(staging, target)
            except OSError:
                # Another invocation of the same code unpacked it first (the rename onto a
                # directory that is not empty fails): the same bytes, so theirs will do.
                shutil.rmtree(staging, ignore_errors=True)
                if not target.is_dir():
                    raise
        return target

    def _environment(self, version: FunctionVersion) -> dict[str, str]:
        credentials = self.credentials(version.role_arn)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": credentials["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": credentials.get("aws_session_token", ""),
            "AWS_REGION": version.region,
            "AWS_DEFAULT_REGION": version.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_LAMBDA_FUNCTION_NAME": version.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(version.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": version.log_group,
        }
        env.update(dict(version.environment))
        return env

    def _acquire(self, version: FunctionVersion, code: bytes) -> Worker:
        with self._lock:
            if self._closed:  # stopped: a late invocation starts no worker
                raise OSError("the emulator has stopped")
            stale = [v for v in self._pools if v.name == version.name and v != version]
            for old in stale:  # code or config changed: retire the old containers
                for w in self._pools.pop(old).idle:
                    w.kill()
            pool = self._pools.setdefault(version, Pool())
            while pool.idle:
                worker = pool.idle.pop()
                if worker.alive:
                    return worker
        code_dir, env = self._code_dir(version, code), self._environment(version)
        return Worker(version, code_dir, env, fork_server())

    def _release(self, worker: Worker) -> None:
        with self._lock:
            pool = self._pools.get(worker.version)
            if (
                not self._closed
                and pool is not None
                and worker.alive
                and len(pool.idle) < POOL_LIMIT
            ):
                pool.idle.append(worker)
                return
        worker.kill()

    def invoke(self, region: str, name: str, event: Any) -> Invocation:
        version, code = self.serving(region, name) or read_function(self.account, region, name)
        request_id = str(uuid.uuid4())
        fault = self.faults.draw()
        if fault is not None:
            result = self._injected(fault, version)
            self._write_logs(version, "injected", request_id, result)
            self.on_invoked(region, name, result.ok, result.duration_ms)
            return result
        worker = self._acquire(version, code)
        init_started = time.monotonic()
        init = worker.initialised(self.init_limit)
        if init != INIT_DONE:
            # Lambda Developer Guide, "Understanding the Lambda execution environment lifecycle":
            # "The Init phase is limited to 10 seconds. If all three tasks do not complete within
            # 10 seconds, Lambda retries the Init phase at the time of the first function
            # invocation with the configured function timeout." An init that fails is retried
            # so too. When the runtime exits, both INIT_REPORT lines say `Status: error  Error
            # Type: Runtime.ExitError`, Phase: init then Phase: invoke, before START, and the
            # answer is Runtime.ExitError "RequestId: ... Error: Runtime exited with error: exit
            # status N" (CloudWatch logs quoted in public write-ups of runtimes exiting at init;
            # LocalStack's RIE writes START after the retried init's line too:
            # localstack/lambda-runtime-init#103). awslabs/llrt#694, cited here before, could
            # not be found.
            worker.kill()
            init_lines = [*log_lines(worker.printed()), _init_report(init_started, "init", init)]
            worker = Worker(
                version,
                self._code_dir(version, code),
                self._environment(version),
                fork_server(),
            )
        try:
            result = worker.invoke(event, request_id, version.timeout)
        finally:
            self._release(worker)
        if init != INIT_DONE:
            result.log_lines[:0] = init_lines  # the first Init's, before the retry's own
            if not worker.init_done:
                # The retry failed too: it exited, or used up the invocation's timeout. Where
                # AWS writes a timed-out retry's line is not documented: after START, here.
                retried = INIT_EXITED if result.error_type == "Runtime.ExitError" else "timeout"
                line = _init_report(time.monotonic() - result.duration_ms / 1000, "invoke", retried)
                if retried == INIT_EXITED:
                    result.log_lines.append(line)
                else:
                    result.logs += line + "\n"
        self.invocations += 1
        self._write_logs(version, worker.id, request_id, result)
        self.on_invoked(region, name, result.ok, result.duration_ms)
        return result

    def _injected(self, fault: str, version: FunctionVersion) -> Invocation:
        if fault == "timeout":
            time.sleep(version.timeout)
            return Invocation(
                False,
                error_type="Sandbox.Timedout",
                error_message=f"Task timed out after {version.timeout:.2f} seconds (injected)",
                duration_ms=version.timeout * 1000.0,
            )
        return Invocation(False, error_type="InjectedFault", error_message="injected failure")

    def _write_logs(
        self, version: FunctionVersion, worker_id: str, request_id: str, result: Invocation
    ) -> None:
        lines = result.log_lines
        lines.append(f"START RequestId: {request_id} Version: $LATEST")
        lines += log_lines(result.logs)
        if not result.ok:
            lines.append(
                json.dumps({"errorType": result.error_type, "errorMessage": result.error_message})
            )
        lines.append(f"END RequestId: {request_id}")
        lines.append(
            f"REPORT RequestId: {request_id}\tDuration: {result.duration_ms:.2f} ms\t"
            f"Memory Size: {version.memory} MB"
        )
        now = int(time.time() * 1000)
        stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{worker_id}"
        logs = self._logs_client(version.region, version.role_arn)
        try:
            try:
                logs.create_log_stream(logGroupName=version.log_group, logStreamName=stream)
            except logs.exceptions.ResourceAlreadyExistsException:
                pass
            except logs.exceptions.ResourceNotFoundException:
                logs.create_log_group(logGroupName=version.log_group)  # as Lambda does
                logs.create_log_stream(logGroupName=version.log_group, logStreamName=stream)
            logs.put_log_events(
                logGroupName=version.log_group,
                logStreamName=stream,
                logEvents=[{"timestamp": now, "message": line} for line in lines],
            )
        except Exception as exc:  # logging must never break the pipeline
            self.log(f"could not write the logs of {version.name}: {exc}")

    def _logs_client(self, region: str, role_arn: str) -> Any:
        """Lambda writes a function's logs with the function's role: no permission, no logs."""
        key = f"{region}|{role_arn}"
        with self._lock:
            client = self._logs.get(key)
        if client is None:
            client = self._sessions.client(
                "logs",
                region_name=region,
                endpoint_url=self.endpoint_url,
                **self.credentials(role_arn),
            )
            with self._lock:
                self._logs[key] = client
        return client

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pools, self._pools = self._pools, {}
            logs, self._logs = self._logs, {}
        for pool in pools.values():
            for worker in pool.idle:
                worker.kill()
        for client in logs.values():
            client.close()
        shutil.rmtree(self.code_root, ignore_errors=True)
