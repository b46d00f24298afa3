"""The part of API Gateway's mapping-template language (VTL) that pocctl's API uses.

Supported: $input.body, $input.path('$.a.b'), $input.json('$.a.b'), $util.urlEncode(...),
$util.escapeJavaScript(...), $context.x.y. Anything else (#set, #if, other references) is refused
with a clear error rather than rendered wrongly.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote_plus

REFERENCE = re.compile(
    r"""\$(?:
        util\.(?P<util>urlEncode|escapeJavaScript)\((?P<arg>[^()]*)\)
      | input\.(?P<input>path|json)\('(?P<path>[^']*)'\)
      | (?P<body>input\.body)
      | context\.(?P<context>[A-Za-z.]+[A-Za-z])
    )""",
    re.VERBOSE,
)


class TemplateError(Exception):
    pass


def json_path(document: Any, path: str) -> Any:
    if not path.startswith("$"):
        raise TemplateError(f"unsupported JSONPath {path!r}")
    current = document
    for part in [p for p in path[1:].split(".") if p]:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", part):
            raise TemplateError(f"unsupported JSONPath {path!r}")
        current = current.get(part) if isinstance(current, dict) else None
    return current


def render(template: str, body: str, context: dict[str, Any]) -> str:
    if re.search(r"(^|\s)#(set|if|foreach|else|end|define|macro)\b", template):
        raise TemplateError("VTL directives (#set, #if, #foreach, ...) are not supported offline")

    def parsed_body() -> Any:
        try:
            return json.loads(body) if body else {}
        except json.JSONDecodeError:
            return {}

    def value(match: re.Match[str]) -> str:
        if match["body"]:
            return body
        if match["input"]:
            found = json_path(parsed_body(), match["path"])
            if match["input"] == "json":
                return json.dumps(found)
            return "" if found is None else (found if isinstance(found, str) else json.dumps(found))
        if match["context"]:
            found = json_path(context, "$." + match["context"])
            return "" if found is None else str(found)
        inner = render(match["arg"], body, context)
        if match["util"] == "urlEncode":
            return quote_plus(inner, safe="")
        return json.dumps(inner)[1:-1]

    covered = [m.span() for m in REFERENCE.finditer(template)]
    for dollar in re.finditer(r"\$[A-Za-z{!]", template):
        if not any(start <= dollar.start() < end for start, end in covered):
            snippet = template[dollar.start() : dollar.start() + 30]
            raise TemplateError(f"unsupported template reference at {snippet!r}")
    return REFERENCE.sub(value, template)
