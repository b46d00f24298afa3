"""The AWS::Serverless transform, carried out by AWS's own translator (aws-sam-translator, the
code behind CloudFormation's hosted transform: "AWS SAM transform on GitHub", CloudFormation
User Guide, "AWS::Serverless transform")."""

from __future__ import annotations

from typing import Any

from pocctl.local.cloudformation.template import Template, TemplateError

SERVERLESS = "AWS::Serverless-2016-10-31"


def transforms(template: Template) -> list[str]:
    found = template.get("Transform") or []
    return [found] if isinstance(found, str) else list(found)


def expand(
    template: Template, parameters: dict[str, Any], pseudo: dict[str, Any], iam: Any
) -> Template:
    """The processed template; any other transform (macros) is refused, which the emulator
    does not host."""
    others = [name for name in transforms(template) if name != SERVERLESS]
    if others:
        raise TemplateError(f"pocctl local does not host the transforms {others}")
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.public.translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform

    try:
        return dict(transform(template, {**parameters, **pseudo}, ManagedPolicyLoader(iam)))
    except InvalidDocumentException as exc:
        causes = "; ".join(str(cause) for cause in exc.causes)
        raise TemplateError(f"Transform {SERVERLESS} failed with: {causes}") from exc
