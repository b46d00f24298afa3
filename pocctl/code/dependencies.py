"""A handlers directory's requirements.txt, installed for the function's runtime, not ours.

As Chalice's packager and the Lambda Developer Guide ("Working with .zip file archives for
Python Lambda functions") do it: `pip install --target` with `--platform`, `--implementation cp`,
`--python-version` and `--only-binary=:all:`, so that what lands in the zip is what Lambda's
Linux can import, whatever this machine is.

Those flags choose wheels for the runtime, but pip still evaluates environment markers
(`python_version < "3.13"`, `sys_platform == "win32"`) against the Python running it
(pypa/pip#11664, #10050, #6117): run on 3.11 for python3.13, it leaves out a dependency marked
`python_version >= "3.12"`, and the function fails on Lambda with Runtime.ImportModuleError.
So pip only resolves (`--dry-run --report`, whose JSON format is stable since pip 23.0); the
markers are evaluated here, for the runtime's Python on Linux, with `packaging`; what pip left
out is asked for again until nothing is missing, and exactly the distributions the runtime
needs are installed with `--no-deps`, each pinned to the file (and hash) pip resolved.

The result is cached by what was resolved (names, versions and file hashes), not by the
requirements file: a new release of an unpinned dependency is noticed by `up`. What was last
resolved for the same requirements and runtime is kept too: `status` and plans use it and never
reach the index, and `up` falls back on it, with a note, when the index can't be reached.

A package published only as a source distribution is built here when it is pure Python (its
wheel then runs anywhere), and refused, saying what to do, when it has compiled code."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pocctl.core.errors import PocctlError

REQUIREMENTS = "requirements.txt"
# Lambda's Python runtimes and the glibc of the OS they run on (Lambda Developer Guide, "Lambda
# runtimes"): python3.11 on Amazon Linux 2 (glibc 2.26), later ones on Amazon Linux 2023 (2.34).
GLIBC = {"python3.11": 26, "python3.12": 34, "python3.13": 34, "python3.14": 34}
ARCHITECTURE = "x86_64"  # the functions' default architecture; pocctl does not change it
NO_MATCH = re.compile(r"No matching distribution found for (\S+)")
BINARY_SUFFIXES = {".so", ".pyd"}
PIP_TIMEOUT = 900
ROUNDS = 10  # resolutions before giving up on a requirement set that keeps growing
# Options of a requirements file whose value is a path relative to that file (pip's own rule).
PATH_OPTIONS = {"-r", "--requirement", "-c", "--constraint", "-f", "--find-links"}
OPTION = re.compile(r"\s+(?=--?[A-Za-z])")  # where a requirement line's own options start


class DependencyError(PocctlError):
    """requirements.txt can't be installed for Lambda's platform."""


class IndexUnreachable(DependencyError):
    """pip could not reach the package index (or a --find-links URL) to resolve."""


# What pip (urllib3, requests) says, retrying, when a connection fails; pip's own final error
# is then only "No matching distribution found" (or the connection failure itself). A retry
# that then succeeded is followed by another final error, which is the real one.
UNREACHABLE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name "
    r"resolution|Name or service not known|Network is unreachable|Connection refused|"
    r"ConnectTimeoutError|ProxyError|connection broken by"
)


def unreachable(stderr: str) -> str | None:
    """The connection failure pip's output names, when its final error is one that failure
    explains: "No matching distribution found" or the failure itself."""
    errors = [line for line in stderr.splitlines() if line.startswith("ERROR:")]
    final = errors[-1] if errors else ""
    if not (NO_MATCH.search(final) or UNREACHABLE.search(final)):
        return None
    found = UNREACHABLE.search(stderr)
    return found.group(0) if found else None


@dataclass(frozen=True)
class Installed:
    directory: Path
    distributions: tuple[str, ...]  # "name==version", as installed
    binary: tuple[str, ...]  # of those, the ones with compiled extensions
    notes: tuple[str, ...] = ()

    @property
    def bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.rglob("*") if p.is_file())


@dataclass(frozen=True)
class Resolved:
    """What the runtime needs: each distribution pinned to the file pip chose."""

    pins: tuple[str, ...]  # requirement lines for pip: "name==version --hash=sha256:..."
    options: tuple[str, ...]  # the requirements file's own options (index, find-links)
    key: str  # names the cache directory


Resolutions = MutableMapping[tuple[bytes, str], Resolved]  # (requirements.txt, runtime) -> what


def cache_root() -> Path:
    given = os.environ.get("POCCTL_CACHE_DIR")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pocctl"


def platforms(runtime: str) -> list[str]:
    """pip's --platform tags for the runtime: every manylinux its glibc runs. pip expands only
    the legacy manylinux2014 alias by itself, so the PEP 600 tags are listed."""
    newest = GLIBC[runtime]
    tags = [f"manylinux_2_{minor}_{ARCHITECTURE}" for minor in range(newest, 16, -1)]
    return [*tags, f"manylinux2014_{ARCHITECTURE}"]


def marker_environment(runtime: str) -> dict[str, str]:
    """The values of PEP 508's environment markers on Lambda's runtime: CPython on Linux.
    Lambda does not publish the patch release it runs, so the full version is the first one of
    the series (a marker on a patch release is rare)."""
    version = runtime.removeprefix("python")
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{version}.0",
        "os_name": "posix",
        "platform_machine": ARCHITECTURE,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{version}.0",
        "python_version": version,
        "sys_platform": "linux",
    }


def applies(marker: Marker | None, environment: Mapping[str, str], extras: set[str]) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate({**environment, "extra": e}) for e in extras or {""})


def lists_packages(requirements: Path, seen: frozenset[Path] = frozenset()) -> bool:
    """Whether the file names any package, itself or in a file it names with -r (pip's
    "Requirements File Format": `-r other-requirements.txt` refers to another file; the template
    pocctl writes holds only comments). A -r that can't be read here counts: pip says why."""
    for line in _logical_lines(requirements):
        if not line.startswith("-"):
            return True
        flag, value = _option(line)
        if flag not in {"-r", "--requirement"}:
            continue
        nested = requirements.parent / value
        if _is_url(value) or not nested.is_file():
            return True
        if nested not in seen and lists_packages(nested, seen | {requirements}):
            return True
    return False


def _logical_lines(path: Path) -> Iterator[str]:
    """pip's requirements file lines: comments removed, backslash continuations joined."""
    pending = ""
    for raw in path.read_text().splitlines():
        line = re.sub(r"(^|\s+)#.*$", "", raw)
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        line, pending = (pending + line).strip(), ""
        if line:
            yield line
    if pending.strip():
        yield pending.strip()


def _is_url(value: str) -> bool:
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value) is not None


def read_requirements(path: Path, environment: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """The file's options (paths made absolute) and its requirements for the runtime: a line
    whose marker is false there is left out, and the marker of the others is dropped (pip
    would evaluate it for this machine). Nested `-r` files are read the same way."""
    options: list[str] = []
    wanted: list[str] = []
    for line in _logical_lines(path):
        if line.startswith("-"):
            flag, value = _option(line)
            relative = path.parent / value if value and not _is_url(value) else None
            if flag in {"-r", "--requirement"} and relative is not None:
                if not relative.is_file():
                    raise DependencyError(
                        f"{path}: `{line}` names {relative}, which does not exist.",
                        "A path in requirements.txt is relative to the file that names it.",
                    )
                nested = read_requirements(relative, environment)
                options += nested[0]
                wanted += nested[1]
            elif flag in PATH_OPTIONS and relative is not None and relative.exists():
                options.append(f"{flag} {relative.resolve()}")
            else:
                options.append(line)
            continue
        requirement, *own = OPTION.split(line, maxsplit=1)
        try:
            parsed = Requirement(requirement)
        except InvalidRequirement:  # a path or URL: pip reads it as it is
            wanted.append(line)
            continue
        if not applies(parsed.marker, environment, set()):
            continue
        parsed.marker = None
        wanted.append(" ".join([str(parsed), *own]))
    return options, wanted


def _option(line: str) -> tuple[str, str]:
    try:
        tokens = shlex.split(line)
    except ValueError:  # an unbalanced quote: pip will say what is wrong with the line
        tokens = line.split()
    first = tokens[0]
    if first.startswith("--") and "=" in first:
        flag, _, value = first.partition("=")
        return flag, value
    if not first.startswith("--") and len(first) > 2:  # -rfile
        return first[:2], first[2:]
    return first, tokens[1] if len(tokens) > 1 else ""


def install(
    requirements: Path,
    runtime: str,
    resolutions: Resolutions | None = None,
    *,
    online: bool = True,
) -> Installed:
    """requirements.txt installed for the runtime, from the cache when the same distributions
    were installed before. `resolutions` keeps what was resolved for the files' bytes (for
    `up --watch`, which then resolves again only when requirements.txt changes).
    `online=False` (status, plans) never runs pip: it takes what was last resolved and
    installed for the same requirements and runtime, or says there is none yet."""
    contents = _contents(requirements)
    remembered = (contents, runtime)
    resolved = resolutions.get(remembered) if resolutions is not None else None
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pocctl-pip-") as scratch:
        if resolved is None or not _target(resolved).is_dir():
            last = _last_resolution(contents, runtime)
            if not online:
                if last is None or not _target(last).is_dir():
                    raise DependencyError(
                        f"{requirements} has not been installed for {runtime} on this machine "
                        "yet: `pocctl up` resolves and installs it (status and plans don't "
                        "reach the package index)."
                    )
                resolved = last
            else:
                try:
                    resolved = resolve(requirements, runtime, Path(scratch))
                    _remember(contents, runtime, resolved)
                    # Only a fresh resolution is kept for the session: a fallback is tried
                    # again (and said again) at the next build.
                    if resolutions is not None:
                        resolutions[remembered] = resolved
                except IndexUnreachable as exc:
                    if last is None:
                        raise
                    resolved = last
                    notes.append(
                        exc.message.removesuffix(" Nothing was uploaded.")
                        + ": the code keeps what was last resolved for the same requirements. "
                        "A newer release, if any, comes with the next `pocctl up` that "
                        "reaches it."
                    )
        target = _target(resolved)
        if not target.is_dir():
            _install_pinned(requirements, runtime, resolved, target, Path(scratch))
    installed = _read_installed(target)
    return Installed(installed.directory, installed.distributions, installed.binary, tuple(notes))


def _target(resolved: Resolved) -> Path:
    return cache_root() / "dependencies" / resolved.key


def requirement_files(requirements: Path) -> list[Path]:
    """requirements.txt and the files it names with -r or -c (those that exist), which decide
    the resolution as much as it does."""
    found: list[Path] = []
    todo = [requirements]
    while todo:
        path = todo.pop(0)
        if path in found or not path.is_file():
            continue
        found.append(path)
        try:
            lines = list(_logical_lines(path))
        except (OSError, UnicodeDecodeError):  # pip says what is wrong with it, at install
            continue
        for line in lines:
            flag, value = _option(line) if line.startswith("-") else ("", "")
            if flag in {"-r", "--requirement", "-c", "--constraint"} and not _is_url(value):
                todo.append(path.parent / value)
    return found


def _contents(requirements: Path) -> bytes:
    return b"\0".join(path.read_bytes() for path in requirement_files(requirements))


def _resolution_file(contents: bytes, runtime: str) -> Path:
    key = hashlib.sha256(contents + f"\0{runtime}\0{ARCHITECTURE}".encode()).hexdigest()[:24]
    return cache_root() / "resolutions" / f"{key}.json"


def _last_resolution(contents: bytes, runtime: str) -> Resolved | None:
    try:
        found = json.loads(_resolution_file(contents, runtime).read_text())
        return Resolved(tuple(found["pins"]), tuple(found["options"]), str(found["key"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remember(contents: bytes, runtime: str, resolved: Resolved) -> None:
    """Kept for status, plans and an `up` without the index; written whole (two ups at once
    each replace it with a complete file)."""
    file = _resolution_file(contents, runtime)
    file.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=file.parent, prefix=".writing-", suffix=".json")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(
                {
                    "pins": list(resolved.pins),
                    "options": list(resolved.options),
                    "key": resolved.key,
                },
                out,
            )
        os.replace(name, file)
    except BaseException:
        with suppress(OSError):
            os.unlink(name)
        raise


def resolve(requirements: Path, runtime: str, scratch: Path) -> Resolved:
    """The distributions the runtime needs, as pip resolves them, with the markers evaluated
    for the runtime: what pip left out because a marker is false on this machine is asked for
    explicitly, and what it added because one is true here is dropped."""
    environment = marker_environment(runtime)
    options, wanted = read_requirements(requirements, environment)
    built, tried = scratch / "built", set()
    for _ in range(ROUNDS):
        file = _requirements_file(scratch, [*options, *wanted])
        done = _pip(
            requirements,
            runtime,
            [
                "--dry-run",
                "--ignore-installed",
                "--report",
                "-",
                "--target",
                str(scratch / "target"),
                "--requirement",
                str(file),
            ],
        )
        if done.returncode != 0:
            failure = unreachable(done.stderr)
            if failure:
                raise IndexUnreachable(
                    f"pip could not reach the package index to resolve {requirements} for "
                    f"{runtime} ({failure}). Nothing was uploaded.",
                    "Check the network, and the index and --find-links URLs in the file "
                    "(a proxy is set with HTTPS_PROXY).",
                )
            missing = NO_MATCH.search(done.stderr)
            if (
                missing
                and missing.group(1) not in tried
                and _build_pure(requirements, options, missing.group(1), built)
            ):
                tried.add(missing.group(1))
                if f"--find-links {built}" not in options:
                    options.append(f"--find-links {built}")
                continue
            raise _failure(requirements, runtime, done.stderr)
        report = json.loads(done.stdout)
        needed, absent = _closure(report, environment, _extras(wanted))
        if absent:
            if any("--hash" in line for line in wanted) or "--require-hashes" in options:
                raise _unhashed(requirements, runtime, absent)
            wanted += [a for a in absent if a not in wanted]
            continue
        return _pinned(needed, options, runtime)
    raise DependencyError(
        f"{requirements}: pip's resolution for {runtime} kept changing over {ROUNDS} rounds.",
        "Pin the versions in requirements.txt.",
    )


def _unhashed(requirements: Path, runtime: str, absent: dict[str, str]) -> DependencyError:
    """A lock file with hashes, compiled on another Python: what the runtime needs more can't
    be added (pip installs only hashed, pinned lines then)."""
    version = runtime.removeprefix("python")
    glibc = GLIBC[runtime]
    # uv's --python-platform targets (uv_configuration::TargetTriple): manylinux_2_28 and later,
    # or manylinux2014 (glibc 2.17) below that.
    target = f"{ARCHITECTURE}-manylinux" + (f"_2_{glibc}" if glibc >= 28 else "2014")
    return DependencyError(
        f"{requirements} locks its dependencies with hashes, but not all that {runtime} "
        "needs: " + "; ".join(absent.values()) + ". It was compiled for another Python. "
        "Nothing was uploaded.",
        f"Compile it for {runtime} on Linux, e.g. `uv pip compile --python-version {version} "
        f"--python-platform {target} --generate-hashes requirements.in -o requirements.txt`, "
        f"or `pip-compile --generate-hashes` run by Python {version} on Linux.",
    )


def _extras(wanted: list[str]) -> dict[str, set[str]]:
    """The extras each requirement asks for (pip's report has them only from pip 23.1)."""
    found: dict[str, set[str]] = {}
    for line in wanted:
        try:
            parsed = Requirement(OPTION.split(line, maxsplit=1)[0])
        except InvalidRequirement:
            continue
        found.setdefault(canonicalize_name(parsed.name), set()).update(parsed.extras)
    return found


def _closure(
    report: dict[str, Any], environment: Mapping[str, str], extras: dict[str, set[str]]
) -> tuple[list[Any], dict[str, str]]:
    """From the distributions the requirements asked for, every one they need on the runtime,
    and the requirements pip did not resolve, or resolved outside the runtime's range."""
    items: dict[str, Any] = {canonicalize_name(i["metadata"]["name"]): i for i in report["install"]}
    todo = [
        (name, set(i.get("requested_extras") or ()) | extras.get(name, set()))
        for name, i in items.items()
        if i.get("requested")
    ]
    seen: dict[str, set[str]] = {}
    absent: dict[str, str] = {}  # requirement for pip -> who needs it, and why
    while todo:
        name, wanted = todo.pop()
        if name in seen and wanted <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | wanted
        for line in items[name]["metadata"].get("requires_dist") or ():
            requirement = Requirement(line)
            if not applies(requirement.marker, environment, seen[name]):
                continue
            needed = canonicalize_name(requirement.name)
            version = items[needed]["metadata"]["version"] if needed in items else None
            # pip may have it through another package, but at a version only this machine's
            # markers allow: ask for it with the runtime's range, and pip resolves again.
            if version is None or not requirement.specifier.contains(version, prereleases=True):
                why = f"{items[name]['metadata']['name']} requires `{line}`"
                requirement.marker = None
                absent[str(requirement)] = why + (f" (resolved: {version})" if version else "")
                continue
            todo.append((needed, set(requirement.extras)))
    return [items[name] for name in sorted(seen)], absent


def _pinned(items: list[Any], options: list[str], runtime: str) -> Resolved:
    pins, identity = [], []
    for item in items:
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        info = item.get("download_info") or {}
        digest = (info.get("archive_info") or {}).get("hashes", {}).get("sha256")
        pin = f"{name} @ {info['url']}" if item.get("is_direct") else f"{name}=={version}"
        pins.append(pin)
        identity.append(f"{canonicalize_name(name)}=={version} {digest or info.get('url')}")
    hashes = [
        (item.get("download_info") or {}).get("archive_info", {}).get("hashes", {}).get("sha256")
        for item in items
    ]
    if all(hashes):  # pip then installs exactly the files it resolved, or fails
        pins = [f"{pin} --hash=sha256:{digest}" for pin, digest in zip(pins, hashes, strict=True)]
    key = hashlib.sha256(
        "\n".join([*sorted(identity), runtime, ARCHITECTURE]).encode()
    ).hexdigest()[:24]
    return Resolved(tuple(pins), tuple(options), key)


def _install_pinned(
    requirements: Path, runtime: str, resolved: Resolved, target: Path, scratch: Path
) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".installing-"))
    try:
        if resolved.pins:
            file = _requirements_file(scratch, [*resolved.options, *resolved.pins])
            done = _pip(
                requirements,
                runtime,
                ["--no-deps", "--no-compile", "--target", str(staging), "--requirement", str(file)],
            )
            if done.returncode != 0:
                raise _failure(requirements, runtime, done.stderr)
        try:
            os.replace(staging, target)
        except OSError:
            # Another `up` installed the same distributions meanwhile: theirs is as good.
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _requirements_file(scratch: Path, lines: list[str]) -> Path:
    scratch.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=scratch, prefix="requirements-", suffix=".txt")
    with os.fdopen(handle, "w") as out:
        out.write("\n".join(lines) + "\n")
    return Path(name)


def _pip(
    requirements: Path, runtime: str, arguments: list[str]
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--implementation",
        "cp",
        "--python-version",
        runtime.removeprefix("python"),
        "--only-binary=:all:",
        *[arg for tag in platforms(runtime) for arg in ("--platform", tag)],
        *arguments,
    ]
    return _run(command, requirements)


def _run(command: list[str], requirements: Path) -> subprocess.CompletedProcess[str]:
    try:
        # The requirements' own directory: pip reads relative paths in it from there.
        return subprocess.run(
            command,
            cwd=requirements.parent,
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise DependencyError(f"pip took over 15 minutes installing {requirements}.") from None


def _build_pure(requirements: Path, options: list[str], wanted: str, into: Path) -> bool:
    """Build a package that has no wheel for Lambda from its source distribution, here; keep
    the wheel only if it is pure Python (tagged none-any), which runs on any platform.
    A compiled one would be built for this machine, not Lambda's, and is refused."""
    name = re.split(r"[\[<>=!~;@ ]", wanted, maxsplit=1)[0]
    with tempfile.TemporaryDirectory(prefix="pocctl-sdist-") as building:
        file = _requirements_file(Path(building), [*options, wanted])
        done = _run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-binary",
                name,
                "--wheel-dir",
                building,
                "--requirement",
                str(file),
            ],
            requirements,
        )
        if done.returncode != 0:
            return False
        wheels = list(Path(building).glob("*.whl"))
        compiled = [w.name for w in wheels if not w.name.endswith("-none-any.whl")]
        if compiled:
            raise DependencyError(
                f"{requirements}: {name} is published only as source, with compiled code "
                f"({compiled[0]} built here is for this machine, not Lambda's Linux). "
                "Nothing was uploaded.",
                "Build its wheel on Lambda's platform (e.g. `sam build --use-container`, or "
                "pip wheel in an Amazon Linux container) and list that wheel's directory with "
                "--find-links in requirements.txt, or pin a version that publishes a "
                "manylinux wheel.",
            )
        into.mkdir(parents=True, exist_ok=True)
        for wheel in wheels:
            shutil.copy2(wheel, into / wheel.name)
        return bool(wheels)


def _failure(requirements: Path, runtime: str, stderr: str) -> DependencyError:
    platform = f"{runtime} on Linux {ARCHITECTURE}"
    missing = NO_MATCH.search(stderr)
    if missing:
        return DependencyError(
            f"{requirements}: no wheel of {missing.group(1)} for Lambda's platform ({platform}), "
            "and none could be built here from a source distribution. Nothing was uploaded.",
            "Lambda can't build packages from source, so pocctl installs wheels for its "
            "platform (and builds pure-Python ones from source). Pin a version that publishes "
            "a manylinux wheel for this Python, or vendor a pure-Python copy into the handlers "
            "directory.",
        )
    if "No module named pip" in stderr:
        return DependencyError(
            f"pocctl's Python ({sys.executable}) has no pip to install {requirements}.",
            f"Install it with `{sys.executable} -m ensurepip`.",
        )
    if "no such option" in stderr:
        return DependencyError(
            f"pocctl's pip is too old to resolve {requirements} for {platform}: "
            + stderr.strip().splitlines()[-1],
            f"Upgrade it: `{sys.executable} -m pip install -U pip` (pip 23.0 or later).",
        )
    last = [line for line in stderr.strip().splitlines() if line.strip()][-3:]
    return DependencyError(
        f"pip could not install {requirements} for {platform}:\n  " + "\n  ".join(last),
        "Check the file's lines; pip's own options (--find-links, --index-url) work in it.",
    )


def _read_installed(target: Path) -> Installed:
    distributions, binary = [], []
    for info in sorted(target.glob("*.dist-info")):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        distributions.append(f"{name}=={version}")
        record = info / "RECORD"
        files = record.read_text().splitlines() if record.is_file() else []
        if any(Path(line.split(",")[0]).suffix in BINARY_SUFFIXES for line in files):
            binary.append(name)
    return Installed(target, tuple(distributions), tuple(binary))
