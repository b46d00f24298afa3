"""A warm Lambda container: imports the handler once, then serves invocations one per line.

Runs in its own process with the function's environment. Says {"init": "done"} once the handler
is imported (or failed to), then reads {"event": ...} lines on stdin and answers one JSON line
each on the original stdout; what the handler prints is captured and sent
back with the answer, for the function's log group.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
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


def main() -> None:
    code_dir, handler_spec, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr  # stray prints during import go to the log, not the protocol
    serve(code_dir, handler_spec, timeout, sys.stdin, protocol)


def forked(
    code_dir: str, handler_spec: str, timeout: float, env: dict[str, str], channel: int
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
    serve(code_dir, handler_spec, timeout, incoming, protocol)


def serve(code_dir: str, handler_spec: str, timeout: float, incoming: Any, protocol: Any) -> None:
    """Import the handler once, then answer one JSON line per request line."""
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)
    module_name, _, function_name = handler_spec.rpartition(".")
    init_logs = io.StringIO()
    try:
        with contextlib.redirect_stdout(init_logs), contextlib.redirect_stderr(init_logs):
            handler = getattr(importlib.import_module(module_name), function_name)
        init_error = None
    except SystemExit as exc:  # the runtime's process ends: Lambda's Runtime.ExitError
        _exiting(protocol, exc)
    except Exception as exc:
        handler, init_error = None, exc
    protocol.write(json.dumps({"init": "done"}) + "\n")  # the Init phase is over
    protocol.flush()
    for line in incoming:
        request = json.loads(line)
        logs = io.StringIO()
        logs.write(init_logs.getvalue())
        init_logs = io.StringIO()
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
        except Exception as exc:
            logs.write(traceback.format_exc())
            answer = {"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc)}
        answer["logs"] = logs.getvalue()
        protocol.write(json.dumps(answer, default=str) + "\n")
        protocol.flush()


def _exiting(protocol: Any, exc: SystemExit) -> None:
    """Say with which status the process ends (a forked worker's is not seen by anyone), then
    end it."""
    status = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    protocol.write(json.dumps({"exited": status}) + "\n")
    protocol.flush()
    raise exc


if __name__ == "__main__":
    main()
