"""IAM refuses to delete a managed policy that is still in use, where moto deletes it at once.

DeletePolicy (IAM API Reference): "Before you can delete a managed policy, you must first detach
the policy from all users, groups, and roles that it is attached to. In addition, you must
delete all the policy's versions" but the default one. Both refusals are DeleteConflict, 409,
with the messages people meet: "Cannot delete a policy attached to entities."
(hashicorp/terraform-provider-aws #32906, terraform-aws-modules/terraform-aws-eks #3132) and
"This policy has more than one version. ..." (rebuy-de/aws-nuke #1). A policy that is a role's
permissions boundary is refused as attached too (gruntwork-io/cloud-nuke #972: deleted only
once the role no longer has it as its boundary).
"""

from __future__ import annotations

from typing import Any

from pocctl.local.calls import Call
from pocctl.local.replies import Reply, error

ATTACHED = "Cannot delete a policy attached to entities."
VERSIONS = (
    "This policy has more than one version. Before you delete a policy, you must delete the "
    "policy's versions. The default version is deleted with the policy."
)


def refuse_a_policy_in_use(call: Call, account: str) -> Reply | None:
    if call.operation != "DeletePolicy":
        return None
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["global"]
    arn = str(call.params.get("PolicyArn", ""))
    policy: Any = backend.managed_policies.get(arn)
    if policy is None:
        return None  # moto answers NoSuchEntity
    as_boundary = any(role.permissions_boundary_arn == arn for role in list(backend.roles.values()))
    if policy.attachment_count > 0 or as_boundary:
        return error(call, 409, "DeleteConflict", ATTACHED)
    if len(policy.versions) > 1:
        return error(call, 409, "DeleteConflict", VERSIONS)
    return None
