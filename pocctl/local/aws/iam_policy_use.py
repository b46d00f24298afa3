"""Who uses a managed policy, as IAM sees it, where moto forgets permissions boundaries.

DeletePolicy (IAM API Reference): "Before you can delete a managed policy, you must first detach
the policy from all users, groups, and roles that it is attached to. In addition, you must
delete all the policy's versions" but the default one; moto deletes it at once. Both refusals
are DeleteConflict, 409, with the messages people meet: "Cannot delete a policy attached to
entities." (hashicorp/terraform-provider-aws #32906, terraform-aws-modules/terraform-aws-eks
#3132) and "This policy has more than one version. ..." (rebuy-de/aws-nuke #1). A role's
permissions boundary holds the policy too (gruntwork-io/cloud-nuke #972: deleted only once no
role has it as its boundary); that issue paraphrases the message, so the attached one is used,
and which refusal comes first when both apply is not published (attached first here).

ListEntitiesForPolicy is how the reference says to find the holders: with PolicyUsageFilter
PermissionsBoundary it lists "only the policies used to set permissions boundaries", without it
"all policies" (botocore's model). moto ignores the filter and never lists a boundary's roles.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Any

from pocctl.local.calls import Call
from pocctl.local.replies import Reply, error

ATTACHED = "Cannot delete a policy attached to entities."
VERSIONS = (
    "This policy has more than one version. Before you delete a policy, you must delete the "
    "policy's versions. The default version is deleted with the policy."
)
NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
HOLDERS = ("PolicyGroups", "PolicyUsers", "PolicyRoles")
USER_BOUNDARIES = frozenset(
    {"CreateUser", "PutUserPermissionsBoundary", "DeleteUserPermissionsBoundary"}
)


def _backend(account: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account]["global"]


def _bounded_roles(account: str, arn: str) -> list[Any]:
    return [r for r in list(_backend(account).roles.values()) if r.permissions_boundary_arn == arn]


def refuse_user_boundaries(call: Call) -> Reply | None:
    """moto drops a user's boundary without a word (and PutUserPermissionsBoundary fails with a
    bare 500): a policy it bounds would then be deleted where IAM refuses. Said, not faked."""
    if call.operation in USER_BOUNDARIES and (
        call.operation != "CreateUser" or "PermissionsBoundary" in call.params
    ):
        message = "pocctl local does not act out users' permissions boundaries (roles' only)"
        return error(call, 501, "NotImplemented", message)
    return None


def refuse_a_policy_in_use(call: Call, account: str) -> Reply | None:
    if call.operation != "DeletePolicy":
        return None
    arn = str(call.params.get("PolicyArn", ""))
    policy: Any = _backend(account).managed_policies.get(arn)
    if policy is None:
        return None  # moto answers NoSuchEntity
    if policy.attachment_count > 0 or _bounded_roles(account, arn):
        return error(call, 409, "DeleteConflict", ATTACHED)
    if len(policy.versions) > 1:
        return error(call, 409, "DeleteConflict", VERSIONS)
    return None


def list_boundary_holders(call: Call, reply: Reply, account: str) -> Reply:
    """ListEntitiesForPolicy as IAM answers it: the roles a policy bounds too, or only those."""
    if call.operation != "ListEntitiesForPolicy" or not reply.ok:
        return reply
    usage = call.params.get("PolicyUsageFilter")
    if usage == "PermissionsPolicy":
        return reply
    ElementTree.register_namespace("", NAMESPACE)
    document = ElementTree.fromstring(reply.body)
    ns = {"iam": NAMESPACE}
    if usage == "PermissionsBoundary":
        for holders in HOLDERS:
            for found in document.iterfind(f".//iam:{holders}", ns):
                found.clear()
    roles = document.find(".//iam:PolicyRoles", ns)
    if roles is not None and call.params.get("EntityFilter") in (None, "Role"):
        listed = {m.findtext("iam:RoleName", namespaces=ns) for m in roles}
        prefix = str(call.params.get("PathPrefix") or "/")
        for role in _bounded_roles(account, str(call.params.get("PolicyArn", ""))):
            if role.name not in listed and role.path.startswith(prefix):
                member = ElementTree.SubElement(roles, f"{{{NAMESPACE}}}member")
                ElementTree.SubElement(member, f"{{{NAMESPACE}}}RoleName").text = role.name
                ElementTree.SubElement(member, f"{{{NAMESPACE}}}RoleId").text = role.id
    return reply.with_body(ElementTree.tostring(document, xml_declaration=True))
