"""A tiny pure-Python wheel, built here, so that dependency tests need no network."""

from __future__ import annotations

import base64
import hashlib
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
) -> Path:
    """A wheel of module `name` with `stamp(text)` -> "stamped:<text>" (and `extra` files)."""
    directory.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        **(extra or {}),
        f"{name}.py": b'def stamp(text):\n    return f"stamped:{text}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
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
            archive.writestr(member, data)
    return path


def offline_requirements(wheels: Path, *names: str) -> str:
    """requirements.txt lines that install from `wheels` only (pip's own options)."""
    return "\n".join(["--no-index", f"--find-links {wheels}", *names]) + "\n"
