"""A warm Lambda container: imports the handler once, then serves invocations one per line.

Runs in its own process with the function's environment. Says {"init": "done"} once the handler
is imported (or failed to), then reads {"event": ...} lines on stdin and answers one JSON line
each on the original stdout. What the handler prints is sent on the way, one {"log": ...} line
per write, for the function's log group: Lambda keeps what an invocation wrote before it
timed out or its runtime exited (people log a line just before the timeout to learn where it
hung: dazn/lambda-powertools, middleware-log-timeout; "add checkpoint logging before slow
operations", smplogs.com's guide to Lambda timeouts).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import io
import json
import os
import sys
import threading
import time
import traceback
from typing import Any


class Context:
    def __init__(self, name: str, timeout: float, request_id: str) -> None:
        self.function_name = name
        self.aws_request_id = request_id
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Streamed(io.TextIOBase):
    """The handler's stdout and stderr: each write goes out on the protocol at once, as
    {"log": ...}, so the emulator has it even if the invocation never answers (Lambda's Python
    runtime flushes its stdout on every write: `Unbuffered`, aws-lambda-python-runtime-interface-
    client, awslambdaric/bootstrap.py). The emulator joins the pieces and splits the lines."""

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text:
            send(self._protocol, {"log": text})
        return len(text)


_sending = threading.Lock()  # a handler's threads print while the answer goes out


def send(protocol: Any, message: dict[str, Any]) -> None:
    """One protocol line, whole, whichever thread sends it."""
    line = json.dumps(message, default=str) + "\n"
    with _sending:
        protocol.write(line)
        protocol.flush()


def main() -> None:
    """The worker as a process of its own, started with `-I -S`: its sys.path is then the
    standard library alone."""
    code_dir, handler_spec, timeout, sdk = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    unavailable = [name for name in sys.argv[5].split(",") if name]
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    # What writes to descriptor 1 itself (a child process: os.system) goes where stderr goes,
    # /dev/null, as in a forked worker, not into the protocol. (Lambda logs it; not acted out.)
    os.dup2(sys.stderr.fileno(), 1)
    sys.stdout = sys.stderr
    enter_runtime(code_dir, [*sys.path, sdk], unavailable)
    serve(code_dir, handler_spec, timeout, sys.stdin, protocol)


def forked(
    code_dir: str,
    handler_spec: str,
    timeout: float,
    env: dict[str, str],
    channel: int,
    runtime_path: list[str],
    unavailable: list[str],
) -> None:
    """The worker as the fork server's child (`forks.py`): `channel` is its end of a socket
    pair, used as the same line protocol. Stray output goes nowhere, as with a worker process
    of its own (whose stderr is /dev/null)."""
    os.environ.clear()
    os.environ.update(env)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    import boto3
    import botocore.session

    from pocctl.local import warm  # imported once, in the fork server

    core = botocore.session.Session()
    core.register_component("data_loader", warm.LOADER)
    boto3.setup_default_session(botocore_session=core)
    incoming = os.fdopen(os.dup(channel), "r", encoding="utf-8")
    protocol = os.fdopen(channel, "w", encoding="utf-8")
    enter_runtime(code_dir, runtime_path, unavailable)
    serve(code_dir, handler_spec, timeout, incoming, protocol)


def enter_runtime(code_dir: str, runtime_path: list[str], unavailable: list[str]) -> None:
    """Leave the handler only what Lambda's Python runtime gives it to import: its code first,
    then `runtime_path` (the standard library, then the directory of the SDK the runtime
    bundles: `handler_check.runtime_modules`). Nothing else, not even a module this process
    has already imported (pocctl's own, here): Lambda's answer to an import of anything else
    is Runtime.ImportModuleError. Lambda Developer Guide, "Building Lambda functions with
    Python": the runtime includes the SDK for Python (Boto3) and its dependencies; "Deploy
    Python Lambda functions with container images": the runtime searches the function's code
    directory ($LAMBDA_TASK_ROOT) first.
    `unavailable`: the standard library modules this Python has and the runtime's lacks
    (`handler_check.removed_in`): `import cgi` on python3.13 is Runtime.ImportModuleError."""
    sys.path[:] = [code_dir, *runtime_path]
    sdk = runtime_path[-1]
    runtime_has = {
        "__main__",
        *sys.stdlib_module_names,
        *sys.builtin_module_names,
        *(name.removesuffix(".py") for name in os.listdir(sdk)),
    }
    gone = Unavailable(unavailable)
    for name in list(sys.modules):
        if name.partition(".")[0] not in runtime_has or gone.lacks(name):
            del sys.modules[name]
    sys.meta_path.insert(0, gone)
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()


class Unavailable(importlib.abc.MetaPathFinder):
    """Refuses the modules the runtime's Python no longer has, as that Python would."""

    def __init__(self, names: list[str]) -> None:
        self.names = frozenset(names)

    def lacks(self, module: str) -> bool:
        return any(module == name or module.startswith(f"{name}.") for name in self.names)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if self.lacks(fullname):
            raise ModuleNotFoundError(f"No module named '{fullname}'", name=fullname)
        return None


class RuntimeFault(Exception):
    """An error of the runtime's own, with its type as Lambda names it."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def load_handler(handler_spec: str) -> Any:
    """The handler function, or the fault Lambda's Python runtime reports when it can't get it:
    the same types and messages as its `_get_handler` (aws/aws-lambda-python-runtime-interface-
    client, awslambdaric/bootstrap.py): a handler without a dot is Runtime.MalformedHandlerName,
    one in a module built into the interpreter (`sys.handler`) Runtime.BuiltInModuleConflict."""
    try:
        module_name, function_name = handler_spec.rsplit(".", 1)
    except ValueError as exc:
        raise RuntimeFault(
            "Runtime.MalformedHandlerName", f"Bad handler '{handler_spec}': {exc}"
        ) from None
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise RuntimeFault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise RuntimeFault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except SyntaxError as exc:
        raise RuntimeFault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from exc
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise RuntimeFault(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        ) from None


def serve(code_dir: str, handler_spec: str, timeout: float, incoming: Any, protocol: Any) -> None:
    """Import the handler once, then answer one JSON line per request line."""
    os.chdir(code_dir)
    logs = Streamed(protocol)  # what Init prints is logged before the first invocation's START
    try:
        with contextlib.redirect_stdout(logs), contextlib.redirect_stderr(logs):
            handler = load_handler(handler_spec)
        init_error = None
    except SystemExit as exc:  # the runtime's process ends: Lambda's Runtime.ExitError
        _exiting(protocol, exc)
    except Exception as exc:
        handler, init_error = None, exc
    send(protocol, {"init": "done"})  # the Init phase is over
    for line in incoming:
        request = json.loads(line)
        answer: dict[str, Any]
        try:
            if init_error is not None:
                raise init_error
            context = Context(os.environ["AWS_LAMBDA_FUNCTION_NAME"], timeout, request["id"])
            with contextlib.redirect_stdout(logs), contextlib.redirect_stderr(logs):
                result = handler(request["event"], context)
            answer = {"ok": True, "result": result}
        except SystemExit as exc:
            _exiting(protocol, exc)
        except RuntimeFault as exc:
            logs.write(f"[ERROR] {exc.error_type}: {exc}\n")
            answer = {"ok": False, "errorType": exc.error_type, "errorMessage": str(exc)}
        except Exception as exc:
            logs.write(traceback.format_exc())
            answer = {"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc)}
        send(protocol, answer)


def _exiting(protocol: Any, exc: SystemExit) -> None:
    """Say with which status the process ends (a forked worker's is not seen by anyone), then
    end it."""
    status = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    send(protocol, {"exited": status})
    raise exc


if __name__ == "__main__":
    main()
