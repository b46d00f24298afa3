"""Before anything is uploaded: every handler the stack runs exists, compiles and imports.

The import runs in a child Python with the function's environment variables, as Lambda's would,
so a module that fails at import time (a missing dependency, a typo in a name) is caught here
and named, instead of surfacing as Runtime.ImportModuleError on the first order."""

from __future__ import annotations

import ast
import atexit
import functools
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pocctl.core.errors import PocctlError

IMPORT_TIMEOUT = 60  # for the runtime's own Python to start or compile a file
# Importing a handler is its function's Init phase, which Lambda limits to 10 seconds, then
# retries in the first invocation, counted against the function's timeout (Lambda Developer
# Guide, "Understanding the Lambda execution environment lifecycle", Init phase).
INIT_LIMIT_SECONDS = 10.0
# What the child Python itself takes to start, on top of the import (which it times itself).
START_SLACK_SECONDS = 5.0
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


# Grammar added after Python 3.11 (What's New in Python 3.12, 3.13 and 3.14). A line this
# machine's older Python can't parse may still be valid for a newer runtime only if it uses one
# of these; any other syntax error is one on every version since.
ADDED_SYNTAX = (
    ((3, 12), re.compile(r"^\s*type\s+[A-Za-z_]\w*\s*[=\[]")),  # PEP 695: type statements
    ((3, 12), re.compile(r"^\s*(async\s+def|def|class)\s+\w+\s*\[")),  # PEP 695: type params
    ((3, 12), re.compile(r"""(?i)(^|[^\w'"])(rf|fr|f)['"]""")),  # PEP 701: f-strings
    ((3, 13), re.compile(r"^\s*(type|async\s+def|def|class)\s+\w+\s*\[")),  # PEP 696
    ((3, 14), re.compile(r"^\s*except\s*\*?\s*[^\s:(][^:]*,")),  # PEP 758: except A, B:
    ((3, 14), re.compile(r"""(?i)(^|[^\w'"])(rt|tr|t)['"]""")),  # PEP 750: t-strings
)
HERE = sys.version_info[:2]


def version_of(runtime: str) -> tuple[int, int]:
    major, minor = runtime.removeprefix("python").split(".")
    return int(major), int(minor)


def here() -> str:
    return f"Python {HERE[0]}.{HERE[1]}"


def check_sources(
    root: Path, handlers: Mapping[str, Handler], sources: list[Path], runtime: str
) -> list[str]:
    """Every handler's file is there and every Python file compiles in the runtime's grammar
    (no process started unless this Python is older than the runtime and can't tell).
    Returns notes on what could not be checked here."""
    for function, handler in handlers.items():
        if handler.file_in(root) is None:
            raise HandlerError(
                f"{shown(root / (handler.module.replace('.', '/') + '.py'), root)} is missing: "
                f"{function} runs {handler.module}.{handler.function}.",
                "Copy pocctl's own with `pocctl init --handlers`, or point --handlers "
                "(handlers in pocctl.toml) at the directory that has it.",
            )
    notes = []
    for path in sources:
        if path.suffix != ".py":
            continue
        error = syntax_error(path.read_bytes(), str(path), runtime)
        if error is None:
            continue
        if isinstance(error, str):
            notes.append(f"{shown(path, root)}, {error}")
            continue
        newer = "only supported in Python" in error.msg
        raise HandlerError(
            f"{shown(path, root)}, line {error.lineno}: {error.msg}. Nothing was uploaded.",
            (
                f"The functions run {runtime}: write it for that version, or set a newer "
                "runtime in pocctl.toml."
                if newer
                else (error.text or "").rstrip() or None
            ),
        )
    return notes


def syntax_error(source: bytes, filename: str, runtime: str) -> SyntaxError | str | None:
    """The error the runtime's Python would find in the file, or None; or, where this Python is
    older than the runtime and can't tell, a note saying so."""
    version = version_of(runtime)
    if version <= HERE:
        # The parser of a newer Python refuses what the runtime's grammar lacks when told its
        # version (ast.parse's feature_version; "best-effort", the docs say).
        try:
            tree = ast.parse(source, filename, feature_version=version)
            compile(tree, filename, "exec", dont_inherit=True)
        except SyntaxError as exc:
            return exc
        newer = _pep701_line(source) if version < (3, 12) else None
        if newer is not None:
            text = source.decode("utf-8", "replace").splitlines()[newer - 1]
            return SyntaxError(
                "f-strings written so are only supported in Python 3.12 and greater (PEP 701: "
                "the string's own quote, a backslash, a comment or a line break inside {})",
                (filename, newer, None, text),
            )
        return None
    try:
        compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        lines = source.decode("utf-8", "replace").splitlines()
        line = lines[exc.lineno - 1] if exc.lineno and exc.lineno <= len(lines) else ""
        if not any(HERE < added <= version and r.search(line) for added, r in ADDED_SYNTAX):
            return exc
        python = runtime_python(runtime)
        if python is None:
            return (
                f"line {exc.lineno}: not checked. This machine's {here()} can't parse it "
                f"({exc.msg}), though {runtime} may: install {runtime} here (pocctl checks "
                "with it when it is on PATH), or run pocctl on it."
            )
        return _compiled_by(python, source, filename, runtime, exc)
    return None


def _pep701_line(source: bytes) -> int | None:
    """The first line with an f-string that only Python 3.12's grammar accepts (PEP 701),
    which feature_version does not refuse: the f-string's own quote, a backslash or a comment
    inside a replacement field, or a line break in one of a single-quoted f-string. Only
    3.12's tokenizer (FSTRING_START) reads f-strings so; an older one has refused them."""
    start = getattr(tokenize, "FSTRING_START", None)
    end = getattr(tokenize, "FSTRING_END", None)
    if start is None:
        return None
    quotes: list[str] = []  # the quote of each f-string open around the token
    try:
        for token in tokenize.tokenize(io.BytesIO(source).readline):
            inside = quotes[-1] if quotes else None
            if inside is not None:
                nested = token.type in {start, tokenize.STRING}
                if (
                    (nested and inside in token.string)
                    or (token.type == tokenize.STRING and "\\" in token.string)
                    or token.type == tokenize.COMMENT
                    or (token.type == tokenize.NL and len(inside) == 1)
                ):
                    return token.start[0]
            if token.type == start:
                quotes.append(token.string.lstrip("rRbBuUfFtT"))
            elif token.type == end and quotes:
                quotes.pop()
    except (tokenize.TokenError, SyntaxError):
        return None
    return None


@functools.cache
def runtime_python(runtime: str) -> str | None:
    """The runtime's Python on this machine's PATH, if it is there and runs."""
    found = shutil.which(runtime)
    if found is None:
        return None
    try:
        done = subprocess.run(
            [found, "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=IMPORT_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    major, minor = version_of(runtime)
    return found if done.stdout.strip() == f"({major}, {minor})" else None


# Runs in the runtime's Python: compile the file given on stdin, report its error as JSON.
COMPILE = r"""
import json, sys
try:
    compile(sys.stdin.buffer.read(), sys.argv[1], "exec", dont_inherit=True)
    print("null")
except SyntaxError as exc:
    print(json.dumps([exc.msg, exc.lineno, exc.text]))
"""


def _compiled_by(
    python: str, source: bytes, filename: str, runtime: str, here_error: SyntaxError
) -> SyntaxError | str | None:
    """The runtime's own Python's verdict; a note if it could not give one (it crashed, hung
    or answered nonsense: that says nothing of the code)."""
    failed = ""
    try:
        done = subprocess.run(
            [python, "-I", "-S", "-c", COMPILE, filename],
            input=source,
            capture_output=True,
            timeout=IMPORT_TIMEOUT,
        )
        last = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        if done.returncode != 0:
            failed = last[0] if last else f"exit code {done.returncode}"
        else:
            found = json.loads(done.stdout.decode().strip())
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        failed = str(exc) or type(exc).__name__
    if failed:
        return (
            f"line {here_error.lineno}: not checked. This machine's {here()} can't parse it "
            f"({here_error.msg}), and {runtime} here ({python}) failed to check it: {failed}."
        )
    if found is None:
        return None
    msg, lineno, text = found
    return SyntaxError(msg, (filename, lineno, None, text))


# Runs in the child: import each handler's module, check the function, report as JSON.
PROBE = r"""
import importlib, importlib.abc, json, sys, time, traceback
sys.path[:0] = json.loads(sys.argv[3])
gone = frozenset(json.loads(sys.argv[4]))  # what the runtime's Python no longer has


class Gone(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in gone:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Gone())
report = {}
seconds = {}
for name, module, function in json.loads(sys.argv[1]):
    began = time.monotonic()
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
            "kind": type(exc).__name__,
            "module": getattr(exc, "name", None),
        }
    seconds[name] = time.monotonic() - began
print(json.dumps({"problems": report, "seconds": seconds}))
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
    runtime: str,
    timeouts: Mapping[str, float] | None = None,
) -> list[str]:
    """Import each handler in a child Python with its function's environment variables.
    This Python may not be the runtime's: then an error that another version might not have
    (a syntax error, a name missing from the standard library) is a note, not a refusal.
    An import longer than its function's timeout (`timeouts`) could never finish on Lambda and
    is refused; one past Lambda's init limit but within the timeout is a note."""
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
        gone = json.dumps(sorted(removed_in(runtime)))
        children[function] = subprocess.Popen(
            # -I -S: none of pocctl's environment; the probe sets the path Lambda would have.
            [sys.executable, "-I", "-S", "-c", PROBE, spec, str(root), paths, gone],
            env=env,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    problems: dict[str, dict[str, object]] = {}
    took: dict[str, float] = {}
    limits = {f: float((timeouts or {}).get(f, IMPORT_TIMEOUT)) for f in children}
    started = time.monotonic()  # the children import side by side
    for function, child in children.items():
        try:
            out, err = child.communicate(
                timeout=max(
                    0.0, started + limits[function] + START_SLACK_SECONDS - time.monotonic()
                )
            )
        except subprocess.TimeoutExpired:
            for other in children.values():
                other.kill()
                other.communicate()
            raise _never_initialises(function, root, limits[function]) from None
        if child.returncode != 0 or not out.strip():
            raise HandlerError(f"Could not check the handlers in {root}: {err.strip()}")
        found = json.loads(out.strip().splitlines()[-1])
        problems.update(found["problems"])
        took.update(found["seconds"])
        if took.get(function, 0.0) > limits[function]:
            raise _never_initialises(function, root, limits[function])
    slow = [
        f"Importing {function}'s handler took {seconds:.1f} s, over the {INIT_LIMIT_SECONDS:g} s "
        "Lambda gives a function's init phase: Lambda then retries the init in the first "
        f"invocation, within its {limits[function]:g} s timeout, so every cold start waits "
        "for it again (and is billed for it). Move slow work out of import time if you can."
        for function, seconds in took.items()
        if seconds > INIT_LIMIT_SECONDS and function not in problems
    ]
    differs = version_of(runtime) != HERE
    notes = (
        [
            f"The import check ran on this machine's {here()}; the functions run {runtime}: "
            "it is only a guide."
        ]
        if differs
        else []
    ) + slow
    for function, problem in problems.items():
        file = problem.get("file")
        where = shown(Path(str(file)), root) if file else f"{root.name}/"
        line = f", line {problem['line']}" if problem.get("line") else ""
        if differs and _may_differ(problem, [root, *extra_paths], removed_in(runtime)):
            notes.append(
                f"{where}{line}: {problem['error']} (importing {function}'s handler on "
                f"{here()}); {runtime} may not fail so: not refused."
            )
            continue
        raise HandlerError(
            f"{where}{line}: {problem['error']} (importing {function}'s handler). "
            "Nothing was uploaded.",
            "A module your code imports must be in the handlers directory or listed in its "
            "requirements.txt (boto3 is part of Lambda's runtime)."
            if "ModuleNotFoundError" in str(problem["error"])
            else None,
        )
    return notes


def _never_initialises(function: str, root: Path, limit: float) -> HandlerError:
    return HandlerError(
        f"Importing {function}'s handler from {root} took over {limit:g} s, the function's "
        "timeout: on Lambda its init would never finish (the init phase gives up at "
        f"{INIT_LIMIT_SECONDS:g} s, and its retry in the invocation runs out of the timeout). "
        "Does it hang, or do slow work, at import time (a network call, a large file)? Move "
        "that into the handler, or raise the function's timeout. Nothing was uploaded."
    )


# Standard library modules a Python version no longer has, by that version ("Removed" in What's
# New in Python 3.12: asynchat, asyncore, distutils, imp, smtpd; in 3.13: PEP 594's 19 "dead
# batteries" and lib2to3). A later runtime lacks them too.
STDLIB_REMOVED: dict[tuple[int, int], frozenset[str]] = {
    (3, 12): frozenset({"asynchat", "asyncore", "distutils", "imp", "smtpd"}),
    (3, 13): frozenset(
        {
            *("aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "mailcap", "msilib"),
            *("nis", "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau", "telnetlib"),
            *("uu", "xdrlib", "lib2to3"),
        }
    ),
}
# Standard library modules that Lambda's runtimes (python3.11 to 3.14) have and some other of
# them lack ("New modules" and "Removed" in What's New in Python 3.12, 3.13 and 3.14): 3.13
# added dbm.sqlite3, 3.14 added annotationlib, compression, concurrent.interpreters and
# string.templatelib; and those removed (STDLIB_REMOVED).
STDLIB_CHANGED = frozenset(
    {
        "annotationlib",
        "compression",
        "concurrent.interpreters",
        "dbm.sqlite3",
        "string.templatelib",
        *(name for removed in STDLIB_REMOVED.values() for name in removed),
    }
)


def removed_in(runtime: str) -> frozenset[str]:
    """The standard library modules the runtime's Python (`python3.13`) no longer has."""
    major, _, minor = runtime.removeprefix("python").partition(".")
    version = (int(major), int(minor)) if major.isdigit() and minor.isdigit() else (0, 0)
    return frozenset(
        name for since, removed in STDLIB_REMOVED.items() if since <= version for name in removed
    )


def _may_differ(
    problem: Mapping[str, object], paths: list[Path], gone: frozenset[str] = frozenset()
) -> bool:
    """Whether an import error may come from this Python's version rather than the code: a
    syntax error, or a standard library module (or a name in one) this version lacks and the
    runtime's may have. A module that is nowhere, not even in a standard library, is missing;
    so is one the runtime's Python no longer has (`gone`: `cgi` on python3.13)."""
    if problem.get("kind") == "SyntaxError":
        return True
    module = str(problem.get("module") or "")
    top = module.split(".")[0]
    if top in gone:
        return False
    if problem.get("kind") == "ImportError":
        return top in sys.stdlib_module_names
    if problem.get("kind") != "ModuleNotFoundError":
        return False
    ours = any((p / top).is_dir() or (p / f"{top}.py").is_file() for p in paths)
    stdlib = module in STDLIB_CHANGED or top in STDLIB_CHANGED or top in sys.stdlib_module_names
    return stdlib and not ours
