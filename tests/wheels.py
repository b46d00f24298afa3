"""Tiny wheels and source distributions, built here, so that dependency tests need no network."""

from __future__ import annotations

import base64
import hashlib
import io
import stat
import tarfile
import zipfile
from pathlib import Path


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(
    directory: Path,
    name: str = "orderstamp",
    version: str = "1.0",
    extra: dict[str, bytes] | None = None,
    *,
    requires: tuple[str, ...] = (),
    executables: dict[str, bytes] | None = None,
    stamp: str = "stamped",
) -> Path:
    """A wheel of module `name` with `stamp(text)` -> "stamped:<text>" (and `extra` files,
    `executables` with mode 755, and a Requires-Dist line for each of `requires`)."""
    directory.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        **(extra or {}),
        **(executables or {}),
        f"{name}.py": f'def stamp(text):\n    return f"{stamp}:{{text}}"\n'.encode(),
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: pocctl-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = [_record_line(n, d) for n, d in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            entry = zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0))
            mode = 0o755 if member in (executables or {}) else 0o644
            entry.external_attr = (stat.S_IFREG | mode) << 16  # pip needs the file type too
            archive.writestr(entry, data)
    return path


# A PEP 517 build backend inside the source distribution itself (backend-path), with no build
# requirements: pip builds it in an isolated environment without reaching an index.
BACKEND = """
import base64, hashlib, zipfile

NAME, VERSION, TAG = {name!r}, {version!r}, {tag!r}


def _line(member, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{{member}},sha256={{digest}},{{len(data)}}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    info = f"{{NAME}}-{{VERSION}}.dist-info"
    files = {{
        f"{{NAME}}.py": b"def stamp(text):\\n    return f'built:{{text}}'\\n",
        f"{{info}}/METADATA": (
            f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n"
        ).encode(),
        f"{{info}}/WHEEL": (
            f"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: {{TAG == 'py3-none-any'}}\\n"
            f"Tag: {{TAG}}\\n"
        ).encode(),
    }}
    record = [_line(m, d) for m, d in files.items()] + [f"{{info}}/RECORD,,"]
    files[f"{{info}}/RECORD"] = ("\\n".join(record) + "\\n").encode()
    filename = f"{{NAME}}-{{VERSION}}-{{TAG}}.whl"
    with zipfile.ZipFile(f"{{wheel_directory}}/{{filename}}", "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return filename
"""


def make_sdist(
    directory: Path, name: str = "pureorder", version: str = "1.0", *, compiled: bool = False
) -> Path:
    """A source distribution only (no wheel), whose module has `stamp(text)` -> "built:<text>".
    `compiled`: its build makes a wheel for this machine's CPython on Linux, as a package with
    C extensions would."""
    directory.mkdir(parents=True, exist_ok=True)
    tag = "cp311-cp311-linux_x86_64" if compiled else "py3-none-any"
    root = f"{name}-{version}"
    files = {
        f"{root}/pyproject.toml": (
            b'[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        ),
        f"{root}/backend.py": BACKEND.format(name=name, version=version, tag=tag).encode(),
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
    }
    path = directory / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, data in files.items():
            entry = tarfile.TarInfo(member)
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
    return path


def offline_requirements(wheels: Path, *names: str) -> str:
    """requirements.txt lines that install from `wheels` only (pip's own options)."""
    return "\n".join(["--no-index", f"--find-links {wheels}", *names]) + "\n"
