"""After `up`: a key set in pocctl.toml that a flag or environment variable just overrode is
updated in place (as `sam deploy --save-params` does), so that later commands, which read the
file before the stack's record, see the stack as deployed. pocctl.toml is never created here.

tomlkit edits the parsed document, so quoted and dotted keys, tables with comments and every
comment are kept as they were; what it writes is read back with tomllib and must hold exactly the
intended values, otherwise the file is left alone and the user is told what to write."""

from __future__ import annotations

import tomllib
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from pocctl.settings.resolve import (
    CONFIG_FILE,
    RECORDED,
    Resolved,
    read_file,
    same_setting,
    shown,
    toml_value,
)

# What shapes the stack (and the address it mails): not stack, region or profile, which choose
# which stack a command works on.
REMEMBERED = (*RECORDED, "email")


def remember(given: Resolved) -> list[str]:
    """Update the file; one line for each key changed, saying so (or that it could not be)."""
    path = given.file
    if path is None:
        return []
    in_file = read_file(path)
    changes = {
        key: given.values[key]
        for key in REMEMBERED
        if given.sources[key].startswith(("flag", "env"))
        and key in in_file
        and not same_setting(key, in_file[key], given.values[key])
    }
    if not changes:
        return []
    text = path.read_text()
    written = rewritten(text, changes)
    if written is None:
        wanted = "; ".join(f"{key} = {_shown(key, value)}" for key, value in changes.items())
        return [
            f"{CONFIG_FILE} could not be updated (left as it was): set {wanted} in it, "
            "or later commands will not see the stack as deployed"
        ]
    path.write_text(written)
    return [
        f"{CONFIG_FILE}: {key} = {_shown(key, value)} (was {_shown(key, in_file[key])}), "
        "so later commands see the stack as deployed"
        for key, value in changes.items()
    ]


def rewritten(text: str, changes: dict[str, Any]) -> str | None:
    """`text` with each key of `changes` set to its value, everything else untouched; None when
    that cannot be done exactly."""
    try:
        document = tomlkit.parse(text)
        for key, value in changes.items():
            if value is None:
                return None  # TOML has no null: the default is written by removing the key
            current = document.get(key)
            if isinstance(value, dict) and isinstance(current, dict):
                # The table edited in place: its comments and the kept keys' own stay put.
                for name in [name for name in current if name not in value]:
                    del current[name]
                for name, item in value.items():
                    current[name] = item
            else:
                document[key] = value
        written = tomlkit.dumps(document)
        parsed = tomllib.loads(written)
    except (TOMLKitError, tomllib.TOMLDecodeError, ValueError, TypeError):
        return None
    before = tomllib.loads(text)
    if parsed != {**before, **changes}:
        return None
    return written


def _shown(key: str, value: Any) -> str:
    return shown(key, value) if key == "environment" else toml_value(value)
