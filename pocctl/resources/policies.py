"""IAM policy documents rendered from the templates in policies/."""

from __future__ import annotations

import json
from string import Template
from typing import Any

from pocctl.code.bundle import bundled_dir


class PolicyTemplateError(Exception):
    pass


def render(template_name: str, variables: dict[str, str]) -> dict[str, Any]:
    path = bundled_dir("policies") / f"{template_name}.json"
    text = path.read_text(encoding="utf-8")
    try:
        rendered = Template(text).substitute(variables)
    except (KeyError, ValueError) as exc:
        raise PolicyTemplateError(f"{path.name}: no value for placeholder {exc}") from exc
    document: dict[str, Any] = json.loads(rendered)
    return document


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
