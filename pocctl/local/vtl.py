"""API Gateway mapping templates, rendered by a real Velocity engine (airspeed-ext, LocalStack's).

The variables are API Gateway's, as its developer guide documents them ("API Gateway mapping
template and access logging variable reference"): `$input` (body, path, json, params), `$util`
(escapeJavaScript, parseJson, urlEncode, urlDecode, base64Encode, base64Decode) and `$context`.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import airspeed

PATH_PART = re.compile(r"\.([A-Za-z0-9_$-]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class TemplateError(Exception):
    pass


def json_path(document: Any, path: str) -> Any:
    """The subset of JSONPath API Gateway templates use: $, .name, ['name'], [index]."""
    if not path.startswith("$"):
        raise TemplateError(f"unsupported JSONPath {path!r}")
    rest, current = path[1:], document
    while rest:
        match = PATH_PART.match(rest)
        if match is None:
            raise TemplateError(f"unsupported JSONPath {path!r}")
        name, index, quoted, double = match.groups()
        key = name if name is not None else quoted if quoted is not None else double
        if index is not None:
            current = (
                current[int(index)]
                if isinstance(current, list) and int(index) < len(current)
                else None
            )
        else:
            current = current.get(key) if isinstance(current, dict) else None
        rest = rest[match.end() :]
    return current


class Input:
    def __init__(self, body: str, params: dict[str, dict[str, str]] | None = None) -> None:
        self.body = body
        self._params = params or {"path": {}, "querystring": {}, "header": {}}

    def _document(self) -> Any:
        try:
            return json.loads(self.body) if self.body else {}
        except json.JSONDecodeError:
            return {}

    def path(self, expression: str) -> Any:
        return json_path(self._document(), expression)

    def json(self, expression: str) -> str:
        return json.dumps(json_path(self._document(), expression))

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return self._params
        for where in ("path", "querystring", "header"):
            if name in self._params.get(where, {}):
                return self._params[where][name]
        return ""


class Util:
    def escapeJavaScript(self, value: Any) -> str:
        # As Java's StringEscapeUtils.escapeJavaScript, which API Gateway uses: it escapes the
        # single quote too (\'), which is not valid JSON, as on AWS.
        text = json.dumps(str(value), ensure_ascii=False)[1:-1]
        return text.replace("'", "\\'").replace("/", "\\/")

    def parseJson(self, value: str) -> Any:
        return json.loads(value)

    def urlEncode(self, value: Any) -> str:
        return quote_plus(str(value), safe="")

    def urlDecode(self, value: Any) -> str:
        return unquote_plus(str(value))

    def base64Encode(self, value: Any) -> str:
        return base64.b64encode(str(value).encode()).decode()

    def base64Decode(self, value: Any) -> str:
        return base64.b64decode(str(value)).decode("utf-8", "replace")


def render(
    template: str,
    body: str,
    context: dict[str, Any],
    params: dict[str, dict[str, str]] | None = None,
) -> str:
    try:
        compiled = airspeed.Template(template)
        return str(
            compiled.merge({"input": Input(body, params), "util": Util(), "context": context})
        )
    except TemplateError:
        raise
    except Exception as exc:  # a template API Gateway would refuse or fail on
        raise TemplateError(f"the mapping template cannot be rendered: {exc}") from exc
