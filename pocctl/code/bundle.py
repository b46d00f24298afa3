"""Where handlers/ and policies/ are: inside the wheel once installed, beside the package in a
checkout (editable installs and running from source)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def bundled_dir(name: str) -> Path:
    for candidate in (PACKAGE_DIR / "_bundled" / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"pocctl's {name}/ directory is missing from this installation; reinstall pocctl."
    )
