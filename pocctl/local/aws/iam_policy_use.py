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

ListEntitiesForPolicy is how the reference says to find the holders, and it is answered here from
the whole account: with PolicyUsageFilter PermissionsBoundary it lists "only the policies used
to set permissions boundaries", without it "all policies"; MaxItems "defaults to 100", and
IsTruncated and Marker say where the next page starts (botocore's model). moto ignores the
filter, never lists a boundary's roles, never truncates, and looks for holders only among the
account's first 100 roles (by ID): a holder past them was not listed at all. MaxItems is 1 to
1000 and an unknown policy is NoSuchEntity (the model). Inferred, not published: the order of
the entries across pages (groups, users, roles, each by name), a Marker that says where the
last page ended (so an entity deleted between pages makes none skipped), the messages of the
refusals, and EntityFilter LocalManagedPolicy or AWSManagedPolicy filtering no entity type (as
moto does).
"""

from __future__ import annotations

import base64
from typing import Any

from pocctl.local.calls import Call
from pocctl.local.iam import iam_backend
from pocctl.local.replies import Reply, error, escape_xml

ATTACHED = "Cannot delete a policy attached to entities."
VERSIONS = (
    "This policy has more than one version. Before you delete a policy, you must delete the "
    "policy's versions. The default version is deleted with the policy."
)
NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
PAGE = 100  # ListEntitiesForPolicy's MaxItems when none is given
HOLDERS = ("PolicyGroups", "PolicyUsers", "PolicyRoles")
KINDS = ("Group", "User", "Role")
USER_BOUNDARIES = frozenset(
    {"CreateUser", "PutUserPermissionsBoundary", "DeleteUserPermissionsBoundary"}
)


def _bounded_roles(account: str, arn: str) -> list[Any]:
    roles = list(iam_backend(account).roles.values())
    return [r for r in roles if r.permissions_boundary_arn == arn]


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
    policy: Any = iam_backend(account).managed_policies.get(arn)
    if policy is None:
        return None  # moto answers NoSuchEntity
    if policy.attachment_count > 0 or _bounded_roles(account, arn):
        return error(call, 409, "DeleteConflict", ATTACHED)
    if len(policy.versions) > 1:
        return error(call, 409, "DeleteConflict", VERSIONS)
    return None


def list_entities_for_policy(call: Call, account: str) -> Reply | None:
    """ListEntitiesForPolicy as IAM answers it, instead of moto."""
    if call.operation != "ListEntitiesForPolicy":
        return None
    arn = str(call.params.get("PolicyArn", ""))
    if arn not in iam_backend(account).managed_policies:  # (the model lists NoSuchEntity)
        return error(call, 404, "NoSuchEntity", f"Policy {arn} was not found.")
    try:
        size = int(call.params.get("MaxItems") or PAGE)
    except ValueError:
        return error(call, 400, "ValidationError", "Invalid value for parameter MaxItems.")
    try:
        after = _position(call.params.get("Marker"))
    except ValueError:
        return error(call, 400, "ValidationError", "Invalid value for parameter Marker.")
    if not 1 <= size <= 1000:  # botocore checks only the minimum
        return error(call, 400, "ValidationError", too_many(size))
    listed = [entry for entry in _holders(account, call.params) if entry[:2] > after]
    body = {holders: "" for holders in HOLDERS}
    for order, name, entity_id in listed[:size]:
        holders, kind = HOLDERS[order], KINDS[order]
        body[holders] += (
            f"<member><{kind}Name>{escape_xml(name)}</{kind}Name>"
            f"<{kind}Id>{escape_xml(entity_id)}</{kind}Id></member>"
        )
    truncated = "<IsTruncated>false</IsTruncated>"
    if len(listed) > size:
        truncated = f"<IsTruncated>true</IsTruncated><Marker>{_marker(listed[size - 1])}</Marker>"
    xml = (
        f'<ListEntitiesForPolicyResponse xmlns="{NAMESPACE}"><ListEntitiesForPolicyResult>'
        + "".join(f"<{holders}>{members}</{holders}>" for holders, members in body.items())
        + truncated
        + "</ListEntitiesForPolicyResult><ResponseMetadata><RequestId>pocctl-local</RequestId>"
        "</ResponseMetadata></ListEntitiesForPolicyResponse>"
    ).encode()
    return Reply(200, xml, [("Content-Type", "text/xml"), ("Content-Length", str(len(xml)))])


def too_many(size: int) -> str:
    return (
        f"1 validation error detected: Value '{size}' at 'maxItems' failed to satisfy "
        "constraint: Member must have value less than or equal to 1000"
    )


def _marker(last: tuple[int, str, str]) -> str:
    """Where the next page starts: after the last entity listed, so that one deleted meanwhile
    makes no other skipped. Opaque to callers, as IAM's are."""
    return base64.urlsafe_b64encode(f"{last[0]}/{last[1]}".encode()).decode()


def _position(marker: Any) -> tuple[int, str]:
    if not marker:
        return (-1, "")
    order, _, name = base64.urlsafe_b64decode(str(marker).encode()).decode().partition("/")
    if not name:
        raise ValueError(marker)
    return int(order), name


def _holders(account: str, params: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(kind's place in HOLDERS, name, ID) of each entity that holds the policy as `params`
    filter them, in the order pages list them."""
    arn = str(params.get("PolicyArn", ""))
    kinds = params.get("EntityFilter")
    usage = params.get("PolicyUsageFilter")
    prefix = str(params.get("PathPrefix") or "/")
    backend = iam_backend(account)
    attached = usage != "PermissionsBoundary"
    found: list[tuple[int, str, str]] = []
    for order, entities in enumerate((backend.groups, backend.users, backend.roles)):
        kind = KINDS[order]
        if kinds not in (None, kind, "LocalManagedPolicy", "AWSManagedPolicy"):
            continue
        for entity in sorted(list(entities.values()), key=lambda e: e.name):
            bounded = kind == "Role" and usage != "PermissionsPolicy"
            holds = (attached and arn in entity.managed_policies) or (
                bounded and entity.permissions_boundary_arn == arn
            )
            if holds and entity.path.startswith(prefix):
                found.append((order, entity.name, entity.id))
    return found
