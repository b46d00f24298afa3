"""The functions' code: a deterministic zip of handlers/ (same sources, same bytes)."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

from pocctl.bundle import bundled_dir

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SKIPPED_PARTS = {"__pycache__", ".pytest_cache"}


def source_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not SKIPPED_PARTS.intersection(p.relative_to(root).parts)
        and p.suffix not in {".pyc", ".pyo"}
    )


def build_zip(root: Path | None = None) -> bytes:
    root = root or bundled_dir("handlers")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in source_files(root):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return buffer.getvalue()


def code_sha256(archive: bytes) -> str:
    """The digest Lambda reports as CodeSha256: base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(archive).digest()).decode("ascii")
