"""A handlers directory's requirements.txt, installed for the function's platform, not ours.

As Chalice's packager and the Lambda Developer Guide ("Working with .zip file archives for
Python Lambda functions") do it: `pip install --target` with `--platform`, `--implementation cp`,
`--python-version` and `--only-binary=:all:`, so that what lands in the zip is what Lambda's
Linux can import, whatever this machine is. The result is cached by the requirements' hash."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pocctl.errors import PocctlError

REQUIREMENTS = "requirements.txt"
# Lambda's Python runtimes and the glibc of the OS they run on (Lambda Developer Guide, "Lambda
# runtimes"): python3.11 on Amazon Linux 2 (glibc 2.26), later ones on Amazon Linux 2023 (2.34).
GLIBC = {"python3.11": 26, "python3.12": 34, "python3.13": 34, "python3.14": 34}
ARCHITECTURE = "x86_64"  # the functions' default architecture; pocctl does not change it
NO_MATCH = re.compile(r"No matching distribution found for (\S+)")
BINARY_SUFFIXES = {".so", ".pyd"}


class DependencyError(PocctlError):
    """requirements.txt can't be installed for Lambda's platform."""


@dataclass(frozen=True)
class Installed:
    directory: Path
    distributions: tuple[str, ...]  # "name==version", as installed
    binary: tuple[str, ...]  # of those, the ones with compiled extensions

    @property
    def bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.rglob("*") if p.is_file())


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


def lists_packages(requirements: Path) -> bool:
    """Whether the file names any package (the template pocctl writes holds only comments)."""
    lines = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
    return any(line and not line.startswith("-") for line in lines)


def install(requirements: Path, runtime: str) -> Installed:
    """requirements.txt installed for the runtime, from the cache when it was done before."""
    digest = hashlib.sha256(
        requirements.read_bytes() + f"\0{runtime}\0{ARCHITECTURE}".encode()
    ).hexdigest()[:24]
    target = cache_root() / "dependencies" / digest
    if not target.is_dir():
        _pip_install(requirements, runtime, target)
    return _read_installed(target)


def _pip_install(requirements: Path, runtime: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".installing-"))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(staging),
        "--implementation",
        "cp",
        "--python-version",
        runtime.removeprefix("python"),
        "--only-binary=:all:",
        *[arg for tag in platforms(runtime) for arg in ("--platform", tag)],
        "--requirement",
        str(requirements),
    ]
    try:
        done = subprocess.run(
            command, cwd=requirements.parent, capture_output=True, text=True, timeout=900
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(staging, ignore_errors=True)
        raise DependencyError(f"pip took over 15 minutes installing {requirements}.") from None
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise _failure(requirements, runtime, done.stderr)
    os.replace(staging, target)


def _failure(requirements: Path, runtime: str, stderr: str) -> DependencyError:
    platform = f"{runtime} on Linux {ARCHITECTURE}"
    missing = NO_MATCH.search(stderr)
    if missing:
        return DependencyError(
            f"{requirements}: no wheel of {missing.group(1)} for Lambda's platform ({platform}). "
            "Nothing was uploaded.",
            "Lambda can't build packages from source, so pocctl installs binary wheels only. "
            "Pin a version that publishes a manylinux wheel for this Python, or vendor a "
            "pure-Python copy into the handlers directory.",
        )
    if "No module named pip" in stderr:
        return DependencyError(
            f"pocctl's Python ({sys.executable}) has no pip to install {requirements}.",
            f"Install it with `{sys.executable} -m ensurepip`.",
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
