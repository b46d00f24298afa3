"""pocctl/local/wildcard_only.txt: the IAM actions that have no resource-level permission, derived
from the IAM Service Authorization Reference as parliament ships it (its iam_definition.json).

    python -m tests.iam_table      # writes the table again, from the parliament installed

The emulator reads the table, not parliament: parsing parliament's 10 MB of JSON cost each
`pocctl local` 0.6 s of CPU at its first authorised call. tests/test_policy.py checks that the
table is still what parliament says.
"""

from __future__ import annotations

from pathlib import Path

TABLE = Path(__file__).resolve().parent.parent / "pocctl" / "local" / "wildcard_only.txt"
HEADER = """\
# IAM actions with no resource-level permission: the IAM Service Authorization Reference lists
# no resource type for them, so only "Resource": "*" grants them. Derived from parliament's
# iam_definition.json (parliament {version}); written by `python -m tests.iam_table`, and
# tests/test_policy.py checks it against the parliament installed. One action a line, lower case.
"""


def derived() -> list[str]:
    import parliament

    # An action listed twice (a service's page under an old name and its current one) is what
    # the last listing says: ListInstanceProfiles has no resource type under "AWS Identity and
    # Access Management (IAM)", and instance-profile* under its current name, later in the file.
    types = {
        f"{service['prefix']}:{privilege['privilege']}".lower(): [
            r["resource_type"] for r in privilege["resource_types"]
        ]
        for service in parliament.iam_definition
        for privilege in service["privileges"]
    }
    return sorted(action for action, listed in types.items() if all(t == "" for t in listed))


def written() -> list[str]:
    lines = TABLE.read_text("utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def main() -> None:
    from importlib.metadata import version

    actions = derived()
    TABLE.write_text(HEADER.format(version=version("parliament")) + "\n".join(actions) + "\n")
    print(f"{TABLE}: {len(actions)} actions")


if __name__ == "__main__":
    main()
