"""pocctl local patches moto internals: a moto without them is refused with a clear message."""

from __future__ import annotations

import pytest

from pocctl.local import patches


def test_the_pinned_moto_has_everything_we_patch() -> None:
    patches.check()


def test_a_moto_without_what_we_patch_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models.table import StreamShard

    monkeypatch.delattr(StreamShard, "add")
    with pytest.raises(patches.EmulatorUnavailable) as caught:
        patches.check()
    assert "lacks what pocctl local patches (StreamShard.add)" in str(caught.value)
    assert f"pip install 'moto[server]=={patches.PINNED_MOTO}'" in str(caught.value)


def test_the_pin_in_pyproject_matches_the_checked_version() -> None:
    from pathlib import Path

    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert f'local = ["moto[server]=={patches.PINNED_MOTO}"' in pyproject
