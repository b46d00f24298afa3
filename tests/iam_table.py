"""pocctl/local/wildcard_only.txt: the IAM actions that have no resource-level permission, derived
from the IAM Service Authorization Reference as parliament ships it (its iam_definition.json),
with CURRENT below where parliament's copy is older than the reference.

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
# iam_definition.json (parliament {version}), with tests/iam_table.py's CURRENT where that is
# older than the reference; written by `python -m tests.iam_table`, and tests/test_policy.py checks
# it against the parliament installed. One action a line, lower case.
"""


# What the Service Authorization Reference says now, where parliament's last listing of an action
# is older. IAM's page (list_awsidentityandaccessmanagementiam.html) lists no resource type for
# ListInstanceProfiles (also iann0036/iam-dataset, scraped from it in August 2026); parliament 1.6.4
# has it twice, and its later listing, "AWS Identity and Access Management" (170 actions; the
# current page, "(IAM)", has 176 with the newest), says instance-profile*. Review s43a found it.
CURRENT: dict[str, list[str]] = {"iam:listinstanceprofiles": [""]}


def derived() -> list[str]:
    import parliament

    # An action listed twice (two pages share a prefix: a service under an old name and its
    # current one, or two versions of an API) is what its last listing says, as the emulator
    # judged before the table. Where that listing is the stale one, CURRENT says what AWS's
    # Service Authorization Reference says today: checked for the services the emulator serves
    # only (of 33 actions whose listings disagree, the other 32 are in greengrass, lex, omics,
    # ses, sms-voice, wisdom and workspaces-web).
    types = {
        f"{service['prefix']}:{privilege['privilege']}".lower(): [
            r["resource_type"] for r in privilege["resource_types"]
        ]
        for service in parliament.iam_definition
        for privilege in service["privileges"]
    }
    types.update(CURRENT)
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
