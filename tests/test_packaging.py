"""The functions' code is a deterministic zip of handlers/."""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

from pocctl.code.bundle import bundled_dir
from pocctl.code.packaging import build_zip, code_sha256


def test_zip_is_byte_identical_across_builds() -> None:
    assert build_zip() == build_zip()


def test_zip_holds_the_handlers_and_no_bytecode(tmp_path: Path) -> None:
    names = zipfile.ZipFile(io.BytesIO(build_zip())).namelist()
    assert "order_writer.py" in names and "order_notifier.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_timestamps_and_bytecode_do_not_change_the_zip(tmp_path: Path) -> None:
    (tmp_path / "h.py").write_text("def handler(e, c):\n    return 1\n")
    first = build_zip(tmp_path)
    later = time.time() + 3600
    os.utime(tmp_path / "h.py", (later, later))
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "h.cpython-311.pyc").write_bytes(b"junk")
    assert build_zip(tmp_path) == first


def test_a_source_change_changes_the_digest(tmp_path: Path) -> None:
    (tmp_path / "h.py").write_text("A = 1\n")
    before = code_sha256(build_zip(tmp_path))
    (tmp_path / "h.py").write_text("A = 2\n")
    assert code_sha256(build_zip(tmp_path)) != before


def test_bundled_handlers_are_found() -> None:
    assert (bundled_dir("handlers") / "order_writer.py").is_file()
    assert (bundled_dir("policies") / "trust-lambda.json").is_file()
