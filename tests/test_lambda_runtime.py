"""`pocctl local` runs a function with what Lambda's Python runtime has, and nothing of its own:
the function's code, the standard library, and the SDK the runtime bundles."""

from __future__ import annotations

import io
import json
import os
import zipfile
from typing import Any

import pytest

from pocctl.local.emulator import Emulator

from .clocked import Clock, client, fixtures

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
# What the emulator's own process has besides the standard library and the SDK (its
# dependencies, and pocctl, whose worker module the fork server has imported).
EMULATOR_ONLY = ("click", "rich", "moto", "flask", "jsonschema", "pocctl")
# Lambda Developer Guide, "Building Lambda functions with Python": the runtimes include the
# SDK for Python (Boto3) and its dependencies.
SDK = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
# An import inside the handler fails as any exception of the handler's does.
CLICK_MISSING_AT_RUN_TIME = {
    "errorType": "ModuleNotFoundError",
    "errorMessage": "No module named 'click'",
}


clock, emulator = fixtures(scope="module")


@pytest.fixture(scope="module")
def role(emulator: Emulator, clock: Clock) -> str:
    return made_role(emulator, clock)


def made_role(emulator: Emulator, clock: Clock) -> str:
    arn: str = client(emulator, "iam").create_role(
        RoleName="runtime", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
    )["Role"]["Arn"]
    clock.advance("iam_propagation")
    return arn


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in files.items():
            archive.writestr(name, source)
    return buffer.getvalue()


def invoked(
    emulator: Emulator,
    clock: Clock,
    role: str,
    name: str,
    files: dict[str, str],
    *,
    handler: str = "app.handler",
    runtime: str = "python3.13",
) -> tuple[str | None, Any]:
    """Deploy `files` as function `name`, invoke it once: its X-Amz-Function-Error and its
    payload, as a caller sees them."""
    lam = client(emulator, "lambda")
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role,
        Handler=handler,
        Code={"ZipFile": zipped(files)},
    )
    clock.advance("function_pending")
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    return answer.get("FunctionError"), json.loads(answer["Payload"].read())


@pytest.mark.parametrize("module", EMULATOR_ONLY)
def test_a_module_only_the_emulator_has_fails_to_import_as_on_lambda(
    emulator: Emulator, clock: Clock, role: str, module: str
) -> None:
    error, payload = invoked(
        emulator,
        clock,
        role,
        f"imports-{module}",
        {"app.py": f"import {module}\ndef handler(event, context):\n    return 'ran'\n"},
    )
    assert error == "Unhandled"
    assert payload == {
        "errorType": "Runtime.ImportModuleError",
        "errorMessage": f"Unable to import module 'app': No module named '{module}'",
    }


@pytest.mark.parametrize(
    ("name", "source", "error_type", "message"),
    [
        (
            "syntax",
            "def handler(event, context:\n    return 1\n",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'app': '(' was never closed (app.py, line 1)",
        ),
        (
            "no-handler",
            "def handle(event, context):\n    return 1\n",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'app'",
        ),
    ],
)
def test_a_handler_the_runtime_cannot_load_is_its_fault_as_on_lambda(
    emulator: Emulator,
    clock: Clock,
    role: str,
    name: str,
    source: str,
    error_type: str,
    message: str,
) -> None:
    error, payload = invoked(emulator, clock, role, name, {"app.py": source})
    assert error == "Unhandled"
    assert payload == {"errorType": error_type, "errorMessage": message}


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        (
            "app",
            "Runtime.MalformedHandlerName",
            "Bad handler 'app': not enough values to unpack (expected 2, got 1)",
        ),
        (
            "sys.handler",
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module sys as a handler module",
        ),
    ],
)
def test_a_handler_name_the_runtime_refuses_is_its_fault_as_on_lambda(
    emulator: Emulator, clock: Clock, role: str, handler: str, error_type: str, message: str
) -> None:
    """awslambdaric's bootstrap._get_handler (aws/aws-lambda-python-runtime-interface-client)."""
    files = {"app.py": "def handler(event, context):\n    return 'ran'\n", "sys.py": ""}
    name = f"handler-{error_type.rsplit('.', 1)[1]}"
    error, payload = invoked(emulator, clock, role, name, files, handler=handler)
    assert error == "Unhandled"
    assert payload == {"errorType": error_type, "errorMessage": message}


# Gone from the standard library: "Removed" in What's New in Python 3.12 and 3.13 (PEP 594).
@pytest.mark.parametrize(
    ("runtime", "module"),
    [("python3.13", "cgi"), ("python3.13", "imghdr"), ("python3.12", "imp")],
)
def test_a_module_the_runtimes_python_no_longer_has_fails_to_import(
    emulator: Emulator, clock: Clock, role: str, runtime: str, module: str
) -> None:
    source = f"import {module}\ndef handler(event, context):\n    return 'ran'\n"
    name = f"removed-{runtime.replace('.', '')}-{module}"
    error, payload = invoked(emulator, clock, role, name, {"app.py": source}, runtime=runtime)
    assert error == "Unhandled"
    assert payload == {
        "errorType": "Runtime.ImportModuleError",
        "errorMessage": f"Unable to import module 'app': No module named '{module}'",
    }


def test_a_module_python3_13_lacks_is_there_on_python3_11(
    emulator: Emulator, clock: Clock, role: str
) -> None:
    source = "import cgi\ndef handler(event, context):\n    return 'ran'\n"
    name = "kept-cgi"
    error, payload = invoked(emulator, clock, role, name, {"app.py": source}, runtime="python3.11")
    assert (error, payload) == (None, "ran")


def test_a_module_imported_only_when_the_handler_runs_is_missing_too(
    emulator: Emulator, clock: Clock, role: str
) -> None:
    error, payload = invoked(
        emulator,
        clock,
        role,
        "imports-late",
        {"app.py": "def handler(event, context):\n    import click\n    return 'ran'\n"},
    )
    assert error == "Unhandled"
    assert payload == CLICK_MISSING_AT_RUN_TIME


def test_the_sdk_the_runtime_bundles_imports_and_nothing_of_the_emulator_is_loaded(
    emulator: Emulator, clock: Clock, role: str
) -> None:
    source = (
        "import importlib, sys\n"
        f"for name in {SDK!r}:\n"
        "    importlib.import_module(name)\n"
        "def handler(event, context):\n"
        f"    others = {EMULATOR_ONLY!r}\n"
        "    return sorted(m for m in sys.modules if m.split('.')[0] in others)\n"
    )
    error, payload = invoked(emulator, clock, role, "sdk", {"app.py": source})
    assert error is None, payload
    assert payload == []


def test_a_dependency_shipped_in_the_zip_imports_and_wins_over_the_emulators(
    emulator: Emulator, clock: Clock, role: str
) -> None:
    files = {
        "app.py": (
            "import click, vendored\n"
            "def handler(event, context):\n"
            "    return [click.WHOSE, vendored.WHOSE]\n"
        ),
        "click/__init__.py": "WHOSE = 'the zip'\n",
        "vendored.py": "WHOSE = 'the zip'\n",
    }
    error, payload = invoked(emulator, clock, role, "vendored", files)
    assert error is None, payload
    assert payload == ["the zip", "the zip"]


def test_the_code_directory_comes_first_and_no_installed_package_is_on_the_path(
    emulator: Emulator, clock: Clock, role: str
) -> None:
    source = (
        "import os, sys\n"
        "def handler(event, context):\n"
        "    return [sys.path[0] == os.getcwd(), [p for p in sys.path if 'packages' in p]]\n"
    )
    error, payload = invoked(emulator, clock, role, "path", {"app.py": source})
    assert error is None, payload
    assert payload == [True, []]


def test_without_fork_a_worker_of_its_own_has_the_runtimes_modules_alone(
    emulator: Emulator, clock: Clock, role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where there is no fork (Windows), each worker is a Python process of its own."""
    monkeypatch.delattr(os, "fork")
    source = "import boto3, sys\ndef handler(event, context):\n    import click\n"
    error, payload = invoked(emulator, clock, role, "unforked", {"app.py": source})
    assert error == "Unhandled"
    assert payload == CLICK_MISSING_AT_RUN_TIME
    source = "def handler(event, context):\n    import imghdr\n"
    error, payload = invoked(emulator, clock, role, "unforked-imghdr", {"app.py": source})
    assert payload == {
        "errorType": "ModuleNotFoundError",
        "errorMessage": "No module named 'imghdr'",
    }
    error, payload = invoked(
        emulator,
        clock,
        role,
        "unforked-pocctl",
        {"app.py": "import pocctl\ndef handler(event, context):\n    return 'ran'\n"},
    )
    assert payload == {
        "errorType": "Runtime.ImportModuleError",
        "errorMessage": "Unable to import module 'app': No module named 'pocctl'",
    }
