"""IAM's own reads lag its writes: a role just created may be answered NoSuchEntity by GetRole
and left out of ListRoles, and an inline policy just put may be answered NoSuchEntity by
GetRolePolicy, for a moment (timing.py, iam_read). The emulator's own reads (judging calls) see
IAM as it is: their lag is iam_propagation's."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from pocctl.local.aws.base import World
from pocctl.local.calls import Call
from pocctl.local.iam import iam_backend, role_named
from pocctl.local.replies import Reply, error

IAM_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"


class IamReads:
    def __init__(self, world: World) -> None:
        self.world = world
        self.role_read_from: dict[str, float] = {}  # role name -> GetRole finds it from then
        self.policy_read_from: dict[tuple[str, str], float] = {}  # (role, policy) -> likewise
        self._new_policies: set[int] = set()  # PutRolePolicy calls adding a policy

    def settled_at(self) -> float:
        """When IAM's own reads find every role and inline policy made so far (-inf: none)."""
        with self.world.lock:  # request threads add to both
            moments = [*self.role_read_from.values(), *self.policy_read_from.values()]
        return max(moments, default=float("-inf"))

    def _hidden(self, read_from: float | None) -> bool:
        return read_from is not None and self.world.clock() < read_from

    def before(self, call: Call) -> Reply | None:
        role = str(call.params.get("RoleName", ""))
        policy = str(call.params.get("PolicyName", ""))
        if call.operation == "PutRolePolicy" and not self._has_policy(role, policy):
            self._new_policies.add(id(call))
        if call.internal:
            return None
        if call.operation == "GetRole" and self._hidden(self.role_read_from.get(role)):
            return error(call, 404, "NoSuchEntity", f"The role with name {role} cannot be found.")
        if call.operation == "GetRolePolicy" and self._hidden(
            self.policy_read_from.get((role, policy))
        ):
            message = f"The role policy with name {policy} cannot be found."
            return error(call, 404, "NoSuchEntity", message)
        return None

    def after(self, call: Call, reply: Reply) -> Reply:
        role = str(call.params.get("RoleName", ""))
        new_policy = id(call) in self._new_policies
        self._new_policies.discard(id(call))
        if not reply.ok:
            return reply
        with self.world.lock:
            if call.operation == "CreateRole":
                self.role_read_from[role] = self.world.after("iam_read", role)
            elif call.operation == "PutRolePolicy" and new_policy:
                key = (role, str(call.params.get("PolicyName", "")))
                self.policy_read_from[key] = self.world.after("iam_read", "/".join(key))
            elif call.operation == "DeleteRole":
                self.role_read_from.pop(role, None)
        if call.operation == "ListRoles" and not call.internal:
            return self._not_listed_yet(reply)
        return reply

    def _has_policy(self, role: str, policy: str) -> bool:
        found = role_named(iam_backend(self.world.account), role)
        return found is not None and policy in found.policies

    def _not_listed_yet(self, reply: Reply) -> Reply:
        with self.world.lock:
            hidden = {name for name, t in self.role_read_from.items() if self._hidden(t)}
        if not hidden:
            return reply
        ElementTree.register_namespace("", IAM_NAMESPACE)
        document = ElementTree.fromstring(reply.body)
        ns = {"iam": IAM_NAMESPACE}
        for roles in document.iterfind(".//iam:Roles", ns):
            for member in list(roles):
                if member.findtext("iam:RoleName", namespaces=ns) in hidden:
                    roles.remove(member)
        return reply.with_body(ElementTree.tostring(document, xml_declaration=True))
