"""The functions' code: one deterministic zip per function (same sources, same bytes).

The code comes from pocctl's built-in handlers, or from the user's directory (`handlers` in
pocctl.toml, --handlers, POCCTL_HANDLERS) with what its requirements.txt installs. Each function's
zip leaves out the other functions' handler modules, so that a change to one handler changes
only its function's code (and `up --watch` updates only that function)."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import platform
import sys
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from pocctl.code import dependencies
from pocctl.code.bundle import bundled_dir
from pocctl.code.handler_check import Handler, check_imports, check_sources
from pocctl.core.context import Context
from pocctl.core.errors import ConfigError, PocctlError

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SKIPPED_PARTS = {"__pycache__", ".pytest_cache", dependencies.REQUIREMENTS}
BUILT_IN = "built-in"
# Lambda quotas (Lambda Developer Guide, "Lambda quotas"): a .zip deployment package is at most
# 50 MB zipped when uploaded directly through the API, and 250 MB unzipped.
ZIPPED_LIMIT = 50 * 1024 * 1024
UNZIPPED_LIMIT = 250 * 1024 * 1024
MB = 1024 * 1024


def source_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not SKIPPED_PARTS.intersection(p.relative_to(root).parts)
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.suffix not in {".pyc", ".pyo"}
    )


def _mode(path: Path, executables: bool) -> int:
    """644, or 755 for a file that is executable here (a wheel's scripts and binaries keep the
    bit pip gave them): what Lambda needs (AWS Knowledge Center, "lambda-deployment-package-
    errors": 644 for files, 755 for executables and directories). Only these two, so that the
    same files give the same zip wherever the umask differs."""
    return 0o755 if executables and path.stat().st_mode & 0o111 else 0o644


def _add(archive: zipfile.ZipFile, root: Path, paths: list[Path], executables: bool) -> None:
    for path in paths:
        info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=FIXED_TIME)
        info.external_attr = _mode(path, executables) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, path.read_bytes(), compresslevel=9)


def build_zip(root: Path | None = None) -> bytes:
    """Every file of `root` (default: the built-in handlers) in one zip."""
    root = root or bundled_dir("handlers")
    return zip_of([(root, source_files(root))])


def zip_of(trees: list[tuple[Path, list[Path]]], *, executables: bool = False) -> bytes:
    """The files of each tree, relative to its root, at the zip's top level. `executables`:
    keep the executable bit of files that have it (pocctl's own handlers have none: their zip
    is the same on every machine, whatever mode the install gave them)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for root, paths in trees:
            _add(archive, root, paths, executables)
    return buffer.getvalue()


def code_sha256(archive: bytes) -> str:
    """The digest Lambda reports as CodeSha256: base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(archive).digest()).decode("ascii")


@dataclass(frozen=True)
class Package:
    """What `up` uploads: each function's zip, and what a user wants to know about it."""

    source: str  # BUILT_IN, or the handlers directory as configured
    directory: Path
    archives: Mapping[str, bytes]  # function (its handler spec) -> zip
    digest: str  # short hash of the sources and dependencies, to tell versions apart
    dependencies: tuple[str, ...] = ()
    binary: tuple[str, ...] = ()
    unzipped_bytes: int = 0
    notes: tuple[str, ...] = field(default=())

    def archive(self, handler: str) -> bytes:
        return self.archives[handler]

    @property
    def label(self) -> str:
        return "built-in handlers" if self.source == BUILT_IN else f"{self.source}/"

    def describe(self) -> str:
        zipped = max(len(a) for a in self.archives.values())
        parts = [f"{self.label} @ {self.digest}", f"{zipped / 1024:,.1f} KB zipped"]
        if self.dependencies:
            count = len(self.dependencies)
            parts.append(f"{count} dependenc{'y' if count == 1 else 'ies'}")
        return ", ".join(parts)

    def as_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "directory": str(self.directory),
            "digest": self.digest,
            "zipped_bytes": {h: len(a) for h, a in self.archives.items()},
            "unzipped_bytes": self.unzipped_bytes,
            "dependencies": list(self.dependencies),
            "code_sha256": {h: code_sha256(a) for h, a in self.archives.items()},
        }


def build_package(
    source: str | None,
    handlers: Mapping[str, str],
    *,
    runtime: str,
    region: str,
    environments: Mapping[str, Mapping[str, str]] | None = None,
    timeouts: Mapping[str, float] | None = None,
    check: bool = True,
    local_python: str | None = None,
    resolutions: dependencies.Resolutions | None = None,
    online: bool = True,
) -> Package:
    """Each function's zip. `handlers` maps a function's name to its handler spec
    (`order_writer.handler`). For the user's directory, check it first: every handler exists,
    compiles and imports (with its dependencies), and the zips fit Lambda's limits.
    `online=False`: the dependencies last resolved for the same requirements (no pip)."""
    root = bundled_dir("handlers") if source is None else Path(source).resolve()
    if source is not None and not root.is_dir():
        where = "(from --handlers, POCCTL_HANDLERS or handlers in pocctl.toml)"
        if root.exists():
            raise ConfigError(
                f"Handlers directory {source} is a file, not a directory {where}.",
                "Give the directory that holds your handler modules"
                + (f": {Path(source).parent}" if Path(source).suffix == ".py" else "")
                + " (`pocctl init --handlers` makes one).",
            )
        raise ConfigError(
            f"Handlers directory {source} does not exist {where}.",
            "Create it with `pocctl init --handlers`, or fix the setting.",
        )
    parsed = {name: Handler.parse(spec) for name, spec in handlers.items()}
    sources = source_files(root)
    notes: list[str] = []
    installed = None
    requirements = root / dependencies.REQUIREMENTS
    if source is not None:
        notes += check_sources(root, parsed, sources, runtime)
        if requirements.is_file() and dependencies.lists_packages(requirements):
            installed = dependencies.install(requirements, runtime, resolutions, online=online)
            notes += installed.notes
            if installed.binary and local_python and local_python != runtime:
                notes.append(
                    f"Offline, your functions run on this machine's Python ({local_python}), "
                    f"not {runtime}: {', '.join(installed.binary)} "
                    f"{'has' if len(installed.binary) == 1 else 'have'} compiled code built for "
                    f"{runtime} on Linux and may fail to import here. Pure-Python packages "
                    f'work the same. To match, set runtime = "{local_python}" in pocctl.toml.'
                )
        # Compiled dependencies built for Lambda's Linux import only on a matching Python.
        if check and not (installed and installed.binary and not runs_here(runtime)):
            extra = [installed.directory] if installed else []
            notes += check_imports(
                root, parsed, environments or {}, extra, region, runtime, timeouts
            )
    deps = source_files(installed.directory) if installed else []
    own = {h.file_in(root) for h in parsed.values()} - {None}
    archives: dict[str, bytes] = {}
    for name, handler in parsed.items():
        others = frozenset(p for p in own if p != handler.file_in(root) and p is not None)
        trees = [(root, [p for p in sources if p not in others])]
        if installed:
            trees.append((installed.directory, deps))
        archives[handlers[name]] = zip_of(trees, executables=source is not None)
    unzipped = sum(p.stat().st_size for p in sources) + (installed.bytes if installed else 0)
    digest = hashlib.sha256(b"".join(sorted(archives.values()))).hexdigest()[:12]
    package = Package(
        source=BUILT_IN if source is None else source,
        directory=root,
        archives=archives,
        digest=digest,
        dependencies=installed.distributions if installed else (),
        binary=installed.binary if installed else (),
        unzipped_bytes=unzipped,
        notes=tuple(notes),
    )
    check_size(package)
    return package


def check_size(package: Package) -> None:
    zipped = max(len(a) for a in package.archives.values())
    if zipped > ZIPPED_LIMIT:
        raise PocctlError(
            f"The code from {package.label} is {zipped / MB:.1f} MB zipped: over Lambda's "
            f"{ZIPPED_LIMIT // MB} MB limit for a .zip uploaded directly. Nothing was uploaded.",
            "Trim requirements.txt (boto3 is already in Lambda's runtime), or move large "
            "dependencies to a Lambda layer.",
        )
    if package.unzipped_bytes > UNZIPPED_LIMIT:
        raise PocctlError(
            f"The code from {package.label} is {package.unzipped_bytes / MB:.1f} MB unzipped: "
            f"over Lambda's {UNZIPPED_LIMIT // MB} MB limit. Nothing was uploaded.",
            "Trim requirements.txt (boto3 is already in Lambda's runtime).",
        )


@dataclass(eq=False)
class CodeSource:
    """Where the functions' code comes from, built once per run (and again when asked, for
    `up --watch`). `environments` gives each function's variables, for the import check."""

    directory: str | None  # None: the built-in handlers
    handlers: Mapping[str, str]  # function name -> handler spec
    environments: Mapping[str, Callable[[Context], dict[str, str]]]
    _package: Package | None = field(default=None, init=False, repr=False)
    _checked: bool = field(default=False, init=False, repr=False)
    _resolutions: dependencies.Resolutions = field(default_factory=dict, init=False, repr=False)

    def package(self, ctx: Context, *, check: bool = True) -> Package:
        """The zips; `check=False` for what only compares code (status, plans): the user's
        code is then not imported, and its dependencies are the ones last resolved (the
        package index is not asked). A checked package is kept for both."""
        if self._package is None or (check and not self._checked):
            self._package = build_package(
                self.directory,
                self.handlers,
                runtime=ctx.config.tuning.runtime,
                region=ctx.config.region,
                environments={name: env(ctx) for name, env in self.environments.items()},
                timeouts=function_timeouts(ctx),
                check=check,
                local_python=local_python(ctx),
                resolutions=self._resolutions,
                online=check,
            )
            self._checked = check
        return self._package

    def rebuilt(self, ctx: Context) -> Package:
        self._package = None
        return self.package(ctx)


def function_timeouts(ctx: Context) -> dict[str, float]:
    """Each function's timeout, which bounds how long its import may take (handler_check)."""
    n, tuning = ctx.config.names, ctx.config.tuning
    return {n.writer_function: tuning.writer_timeout, n.notifier_function: tuning.notifier_timeout}


def runs_here(runtime: str) -> bool:
    """Whether this machine could import what was built for the runtime."""
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return here == runtime and sys.platform == "linux" and platform.machine() == "x86_64"


def local_python(ctx: Context) -> str | None:
    """Offline (`pocctl local` on this machine), the functions run on pocctl's own Python."""
    host = urlparse(ctx.config.endpoint_url or "").hostname
    if host not in {"localhost", "127.0.0.1", "::1"}:
        return None
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


@functools.cache
def built_in_sha(handler: str) -> str:
    """CodeSha256 of a function running pocctl's own handlers, to recognise it."""
    siblings = {"order_writer.handler", "order_notifier.handler", handler}
    package = build_package(None, {h: h for h in siblings}, runtime="", region="", check=False)
    return code_sha256(package.archive(handler))
