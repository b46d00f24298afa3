"""After `up`: a key set in pocctl.toml that a flag or environment variable just overrode is
updated in place (as `sam deploy --save-params` does), so that later commands, which read the
file before the stack's record, see the stack as deployed. pocctl.toml is never created here."""

from __future__ import annotations

import re
from typing import Any

from pocctl.settings import (
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
TABLE = re.compile(r"^\s*\[")


def remember(given: Resolved) -> list[str]:
    """Update the file; one line for each key changed, saying so."""
    path = given.file
    if path is None:
        return []
    in_file = read_file(path)
    lines = path.read_text().splitlines()
    said = []
    for key in REMEMBERED:
        value = given.values[key]
        if not given.sources[key].startswith(("flag", "env")) or key not in in_file:
            continue
        if same_setting(key, in_file[key], value):
            continue
        lines = _with_table(lines, key, value) if key == "environment" else _with(lines, key, value)
        said.append(
            f"{CONFIG_FILE}: {key} = {_shown(key, value)} (was {_shown(key, in_file[key])}), "
            "so later commands see the stack as deployed"
        )
    if said:
        path.write_text("\n".join(lines) + "\n")
    return said


def _shown(key: str, value: Any) -> str:
    return shown(key, value) if key == "environment" else toml_value(value)


def _with(lines: list[str], key: str, value: Any) -> list[str]:
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for index, text in enumerate(lines):
        if TABLE.match(text):
            break  # only top-level keys are settings
        if pattern.match(text):
            return [*lines[:index], f"{key} = {toml_value(value)}", *lines[index + 1 :]]
    return lines


def _with_table(lines: list[str], key: str, variables: dict[str, str]) -> list[str]:
    """The [environment] table's keys replaced by `variables`; its comments kept."""
    header = [i for i, text in enumerate(lines) if re.match(rf"^\s*\[{key}\]\s*$", text)]
    if not header:  # an inline table: environment = { ... }
        return _with(lines, key, variables)
    start = header[0]
    end = next((i for i in range(start + 1, len(lines)) if TABLE.match(lines[i])), len(lines))
    body = [text for text in lines[start + 1 : end] if not re.match(r"^\s*[^#\s].*=", text)]
    fresh = [f"{name} = {toml_value(item)}" for name, item in variables.items()]
    return [*lines[: start + 1], *fresh, *body, *lines[end:]]
