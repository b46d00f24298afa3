"""Domain errors. Steps raise these; only the CLI turns them into messages and exit codes."""

from __future__ import annotations


class PocctlError(Exception):
    """Base for every error pocctl reports to the user without a traceback."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class ConfigError(PocctlError):
    """Bad input from flags, environment or config file (a usage error)."""


class CredentialsError(PocctlError):
    """No usable AWS credentials or endpoint."""


class ForeignResourceError(PocctlError):
    """A resource with one of our names exists but does not carry this stack's tag."""

    def __init__(self, kind: str, name: str, stack: str) -> None:
        super().__init__(
            f"{kind} {name!r} already exists but was not created by pocctl stack {stack!r} "
            "(it lacks the tag pocctl:stack=" + stack + ").",
            "pocctl will not take it over or change it. Rename or remove it yourself, "
            "or use another stack name with --stack.",
        )
        self.kind = kind
        self.name = name


class StepError(PocctlError):
    """An AWS call failed inside a step: carries the step, the operation and the AWS error code."""

    def __init__(
        self,
        step: str,
        operation: str,
        code: str,
        detail: str,
        hint: str | None = None,
    ) -> None:
        super().__init__(f"{step}: {operation} failed with {code}: {detail}", hint)
        self.step = step
        self.operation = operation
        self.code = code
        self.detail = detail


class Interrupted(PocctlError):
    """The user pressed Ctrl-C; the message says what state things are in."""

    exit_code = 130


class DeployError(PocctlError):
    """`up` stopped part way; lists what was done and what failed."""


class TeardownIncomplete(PocctlError):
    """`down` could not remove everything; lists what is left."""

    def __init__(self, left: list[str]) -> None:
        lines = "\n".join(f"  - {item}" for item in left)
        super().__init__(
            f"down finished with {len(left)} resource(s) left:\n{lines}",
            "Fix the cause shown above and run `pocctl down` again: it only removes what is left.",
        )
        self.left = left


def cloudformation_deploy(owner: str, region: str) -> str:
    """The command that updates a CloudFormation stack pocctl leaves alone. The template names
    its IAM roles, so CloudFormation refuses it with InsufficientCapabilities unless given
    CAPABILITY_NAMED_IAM (CloudFormation API Reference, CreateStack/UpdateStack, Capabilities)."""
    return (
        f"aws cloudformation deploy --stack-name {owner} --region {region} "
        "--template-file TEMPLATE --capabilities CAPABILITY_NAMED_IAM"
    )


# What TEMPLATE stands for: the template with the functions' code uploaded (README, "Export to
# CloudFormation or SAM"): deploy refuses the exported one, whose code is local paths.
PACKAGED_TEMPLATE = (
    "TEMPLATE is the packaged template: `pocctl export --out export/`, then "
    '`aws cloudformation package` (README, "Export to CloudFormation or SAM")'
)


class ManagedByCloudFormation(PocctlError):
    """`up` or `down` found resources a CloudFormation stack manages, before writing anything:
    `owners` maps each CloudFormation stack to the resources ("Lambda function X") it holds."""

    def __init__(self, command: str, stack: str, region: str, owners: dict[str, list[str]]) -> None:
        several = len(owners) > 1
        listed = "\n".join(
            f"  - {title}" + (f" (CloudFormation stack {owner})" if several else "")
            for owner, titles in owners.items()
            for title in titles
        )
        commands = []
        for owner in owners:
            where = f"--stack-name {owner} --region {region}"
            update = f"  update it: {cloudformation_deploy(owner, region)}"
            delete = f"  delete it: aws cloudformation delete-stack {where}"
            commands += [update, delete] if command == "up" else [delete, update]
        did = "changed" if command == "up" else "deleted"
        super().__init__(
            f"pocctl {command} {did} nothing: stack {stack} is managed by CloudFormation "
            f"stack {', '.join(owners)}, whose tag aws:cloudformation:stack-name is on:\n{listed}",
            "pocctl leaves what CloudFormation manages to CloudFormation "
            "(status, test-order, logs, outputs, invoke, ls and redrive still work on it):\n"
            + "\n".join(commands)
            + f"\n{PACKAGED_TEMPLATE}.",
        )
        self.command = command
        self.owners = owners
