"""CloudFormation's query protocol both ways, read from botocore's model of the service: the
request's flattened form fields into values (`Capabilities.member.1`, `Tags.member.1.Key`), and
values into the XML answer (`<member>` for list items, `<OperationResult>` around the output)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any
from xml.sax.saxutils import escape

from pocctl.local.calls import service_model

NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


def read(operation: str, form: dict[str, str]) -> dict[str, Any]:
    shape = service_model("cloudformation").operation_model(operation).input_shape
    if shape is None:
        return {}
    value = _read(shape, form, "")
    return value if isinstance(value, dict) else {}


def _present(form: dict[str, str], prefix: str) -> bool:
    return prefix in form or any(key.startswith(prefix + ".") for key in form)


def _read(shape: Any, form: dict[str, str], prefix: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        found = {}
        for name, member in shape.members.items():
            key = f"{prefix}.{name}" if prefix else name
            if _present(form, key):
                found[name] = _read(member, form, key)
        return found
    if kind == "list":
        items = []
        index = 1
        while _present(form, f"{prefix}.member.{index}"):
            items.append(_read(shape.member, form, f"{prefix}.member.{index}"))
            index += 1
        return items
    if kind == "map":
        entries = {}
        index = 1
        while _present(form, f"{prefix}.entry.{index}"):
            entries[form[f"{prefix}.entry.{index}.key"]] = form.get(
                f"{prefix}.entry.{index}.value", ""
            )
            index += 1
        return entries
    text = form.get(prefix, "")
    if kind == "boolean":
        return text.lower() == "true"
    if kind in ("integer", "long"):
        return int(text)
    return text


def answer(operation: str, result: dict[str, Any]) -> bytes:
    shape = service_model("cloudformation").operation_model(operation).output_shape
    inner = _write(shape, result) if shape is not None else ""
    wrapper = f"{operation}Result"
    return (
        f'<{operation}Response xmlns="{NAMESPACE}"><{wrapper}>{inner}</{wrapper}>'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    ).encode()


def _write(shape: Any, value: Any) -> str:
    kind = shape.type_name
    if kind == "structure":
        return "".join(
            f"<{name}>{_write(member, value[name])}</{name}>"
            for name, member in shape.members.items()
            if isinstance(value, dict) and value.get(name) is not None
        )
    if kind == "list":
        return "".join(f"<member>{_write(shape.member, item)}</member>" for item in value)
    if kind == "map":
        return "".join(
            f"<entry><key>{escape(str(k))}</key><value>{_write(shape.value, v)}</value></entry>"
            for k, v in value.items()
        )
    if kind == "timestamp":
        moment = (
            value if isinstance(value, datetime.datetime) else datetime.datetime.now(datetime.UTC)
        )
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if kind == "boolean":
        return "true" if value else "false"
    return escape(str(value))
