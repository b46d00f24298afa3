"""AWS::IAM::Role (CloudFormation Template Reference, "AWS::IAM::Role")."""

from __future__ import annotations

from functools import partial
from typing import Any

from pocctl.local.cloudformation.providers import Made, Provider, Request, as_json, delete_quietly


class Role:
    # CloudFormation does not give roles its aws:cloudformation:* tags
    # (aws-cloudformation/cloudformation-coverage-roadmap#277, #1159, #1966, all open).
    stack_tags = False

    def create(self, request: Request) -> Made:
        iam = request.client("iam")
        props = request.properties
        name = request.name("RoleName")
        extra: dict[str, Any] = {
            key: props[key] for key in ("Path", "Description", "MaxSessionDuration") if key in props
        }
        if "PermissionsBoundary" in props:
            extra["PermissionsBoundary"] = props["PermissionsBoundary"]
        tags = [tag for tag in request.all_tags() if not tag["Key"].startswith("aws:")]
        if tags:
            extra["Tags"] = tags
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=as_json(props["AssumeRolePolicyDocument"]),
            **extra,
        )["Role"]
        made = Made(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})
        try:
            for policy in props.get("Policies") or []:
                iam.put_role_policy(
                    RoleName=name,
                    PolicyName=policy["PolicyName"],
                    PolicyDocument=as_json(policy["PolicyDocument"]),
                )
            for arn in props.get("ManagedPolicyArns") or []:
                iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        except Exception:
            self.delete(request, made)  # a resource that failed leaves nothing behind
            raise
        # A function made right after its role in the same stack usually works on AWS; it
        # fails now and then with "The role defined for the function cannot be assumed by
        # Lambda" (aws/aws-lambda-dotnet#2450: "transient", "typically passes on re-run"):
        # the role is complete once its latest change has reached the services.
        request.role_settled(role["Arn"])
        return made

    def delete(self, request: Request, made: Made) -> None:
        iam = request.client("iam")
        name = made.physical_id
        try:
            policies = iam.list_role_policies(RoleName=name)["PolicyNames"]
            attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        except iam.exceptions.NoSuchEntityException:
            return
        for policy in policies:
            delete_quietly(partial(iam.delete_role_policy, RoleName=name, PolicyName=policy))
        for policy in attached:
            arn = policy["PolicyArn"]
            delete_quietly(partial(iam.detach_role_policy, RoleName=name, PolicyArn=arn))
        delete_quietly(lambda: iam.delete_role(RoleName=name))


class ManagedPolicy:
    """AWS::IAM::ManagedPolicy (Template Reference): Ref is the policy's ARN; the roles, users
    and groups it names have it attached."""

    stack_tags = False

    def create(self, request: Request) -> Made:
        iam = request.client("iam")
        props = request.properties
        extra = {key: props[key] for key in ("Path", "Description") if key in props}
        arn = iam.create_policy(
            PolicyName=request.name("ManagedPolicyName", 128),
            PolicyDocument=as_json(props["PolicyDocument"]),
            **extra,
        )["Policy"]["Arn"]
        made = Made(arn, {"PolicyArn": arn})
        try:
            for role in props.get("Roles") or []:
                iam.attach_role_policy(RoleName=role, PolicyArn=arn)
            for user in props.get("Users") or []:
                iam.attach_user_policy(UserName=user, PolicyArn=arn)
            for group in props.get("Groups") or []:
                iam.attach_group_policy(GroupName=group, PolicyArn=arn)
        except Exception:
            self.delete(request, made)
            raise
        return made

    def delete(self, request: Request, made: Made) -> None:
        iam = request.client("iam")
        arn = made.physical_id
        props = request.properties
        for role in props.get("Roles") or []:
            delete_quietly(partial(iam.detach_role_policy, RoleName=role, PolicyArn=arn))
        for user in props.get("Users") or []:
            delete_quietly(partial(iam.detach_user_policy, UserName=user, PolicyArn=arn))
        for group in props.get("Groups") or []:
            delete_quietly(partial(iam.detach_group_policy, GroupName=group, PolicyArn=arn))
        delete_quietly(partial(iam.delete_policy, PolicyArn=arn))


PROVIDERS: dict[str, Provider] = {
    "AWS::IAM::Role": Role(),
    "AWS::IAM::ManagedPolicy": ManagedPolicy(),
}
