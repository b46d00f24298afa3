"""Before anything is uploaded: every handler the stack runs exists, compiles and imports.

The import runs in a child Python with the function's environment variables, as Lambda's would,
so a module that fails at import time (a missing dependency, a typo in a name) is caught here
and named, instead of surfacing as Runtime.ImportModuleError on the first order."""

from __future__ import annotations

import atexit
import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pocctl.errors import PocctlError

IMPORT_TIMEOUT = 60
# What Lambda's Python runtimes include besides the standard library: the AWS SDK and what it
# needs (Lambda Developer Guide, "Building Lambda functions with Python": the runtime includes
# the SDK for Python (Boto3)). A handler importing anything else needs requirements.txt.
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")


class HandlerError(PocctlError):
    """The handlers directory can't run as the stack needs it to."""


@dataclass(frozen=True)
class Handler:
    """A function's entry point: `order_writer.handler` is function `handler` in module
    `order_writer`."""

    module: str
    function: str

    @classmethod
    def parse(cls, spec: str) -> Handler:
        module, _, function = spec.rpartition(".")
        return cls(module, function)

    def file_in(self, root: Path) -> Path | None:
        relative = Path(*self.module.split("."))
        for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None


def shown(path: Path, root: Path) -> str:
    """A path as the user knows it: under the handlers directory as they named it."""
    try:
        return str(Path(root.name) / path.relative_to(root))
    except ValueError:
        return str(path)


def check_sources(root: Path, handlers: Mapping[str, Handler], sources: list[Path]) -> None:
    """Every handler's file is there and every Python file compiles (no process started)."""
    for function, handler in handlers.items():
        if handler.file_in(root) is None:
            raise HandlerError(
                f"{shown(root / (handler.module.replace('.', '/') + '.py'), root)} is missing: "
                f"{function} runs {handler.module}.{handler.function}.",
                "Copy pocctl's own with `pocctl init --handlers`, or point --handlers "
                "(handlers in pocctl.toml) at the directory that has it.",
            )
    for path in sources:
        if path.suffix != ".py":
            continue
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise HandlerError(
                f"{shown(path, root)}, line {exc.lineno}: {exc.msg}. Nothing was uploaded.",
                (exc.text or "").rstrip() or None,
            ) from None


# Runs in the child: import each handler's module, check the function, report as JSON.
PROBE = r"""
import importlib, json, sys, traceback
sys.path[:0] = json.loads(sys.argv[3])
report = {}
for name, module, function in json.loads(sys.argv[1]):
    try:
        found = getattr(importlib.import_module(module), function, None)
        if not callable(found):
            report[name] = {"error": f"{module} has no function {function!r}", "file": None}
    except BaseException as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = [f for f in frames if f.filename.startswith(sys.argv[2])]
        last = where[-1] if where else None
        report[name] = {
            "error": "".join(traceback.format_exception_only(type(exc), exc)).strip(),
            "file": last.filename if last else getattr(exc, "filename", None),
            "line": last.lineno if last else getattr(exc, "lineno", None),
        }
print(json.dumps(report))
"""


@functools.cache
def runtime_modules() -> Path:
    """A directory holding only what Lambda's runtime provides, linked from pocctl's own
    environment: the import check sees those, not everything pocctl happens to have."""
    shim = Path(tempfile.mkdtemp(prefix="pocctl-lambda-runtime-"))
    atexit.register(shutil.rmtree, shim, True)
    for name in RUNTIME_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        found = origin.parent if origin.name == "__init__.py" else origin
        (shim / found.name).symlink_to(found, target_is_directory=found.is_dir())
    return shim


def check_imports(
    root: Path,
    handlers: Mapping[str, Handler],
    environments: Mapping[str, Mapping[str, str]],
    extra_paths: list[Path],
    region: str,
) -> None:
    """Import each handler in a child Python with its function's environment variables."""
    children = {}
    for function, handler in handlers.items():
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            # Import must not reach AWS with the user's credentials.
            "AWS_ACCESS_KEY_ID": "pocctl-import-check",
            "AWS_SECRET_ACCESS_KEY": "pocctl-import-check",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **environments.get(function, {}),
        }
        spec = json.dumps([[function, handler.module, handler.function]])
        paths = json.dumps([str(p) for p in [root, *extra_paths, runtime_modules()]])
        children[function] = subprocess.Popen(
            # -I -S: none of pocctl's environment; the probe sets the path Lambda would have.
            [sys.executable, "-I", "-S", "-c", PROBE, spec, str(root), paths],
            env=env,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    problems: dict[str, dict[str, object]] = {}
    for function, child in children.items():
        try:
            out, err = child.communicate(timeout=IMPORT_TIMEOUT)
        except subprocess.TimeoutExpired:
            for other in children.values():
                other.kill()
            raise HandlerError(
                f"Importing {function}'s handler from {root} took over {IMPORT_TIMEOUT} s: "
                "does it do work at import time?"
            ) from None
        if child.returncode != 0 or not out.strip():
            raise HandlerError(f"Could not check the handlers in {root}: {err.strip()}")
        problems.update(json.loads(out.strip().splitlines()[-1]))
    if not problems:
        return
    function, problem = next(iter(problems.items()))
    file = problem.get("file")
    where = shown(Path(str(file)), root) if file else f"{root.name}/"
    line = f", line {problem['line']}" if problem.get("line") else ""
    raise HandlerError(
        f"{where}{line}: {problem['error']} (importing {function}'s handler). "
        "Nothing was uploaded.",
        "A module your code imports must be in the handlers directory or listed in its "
        "requirements.txt (boto3 is part of Lambda's runtime)."
        if "ModuleNotFoundError" in str(problem["error"])
        else None,
    )
