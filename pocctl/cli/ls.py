"""`pocctl ls`: the pocctl stacks that exist, so that none is forgotten (and billed)."""

from __future__ import annotations

from typing import Any

import click

from pocctl.cli.document import Finished, json_flag
from pocctl.cli.options import aws_options, collect, make_context, terminal
from pocctl.cli.ui import Terminal
from pocctl.core.reporting import RecordingReporter
from pocctl.ops.listing import enabled_regions, find_stacks


@click.command("ls")
@aws_options
@click.option("--all-regions", is_flag=True, help="Look in every region enabled for the account.")
@json_flag()
def ls_command(all_regions: bool, as_json: bool, **kwargs: Any) -> Finished:
    """List every pocctl stack in the region (or every enabled region): what is still running?

    A stack is found by its resources' pocctl:stack tag and its IAM roles' names. For each:
    its resources (each one `status` shows that is there, by kind and name: the REST API and
    the mappings too), when it was created, its order URL and a one-word health (healthy,
    failing, partial: some resources missing, roles-only: only its global IAM roles are left,
    unknown: only its roles were found and some region could not be read), and what it costs a
    month idle, at list price (`pocctl cost` tells more). `pocctl
    status --stack NAME --region REGION` tells more; `pocctl down` removes one.

    It says how many regions it read; -v shows each region's calls. Each resource the tagging
    API lists is confirmed first (it lists deleted ones for a while), and a region that refuses
    to be read (a service control policy can deny a region DescribeRegions lists) is named and
    the others are listed.

    \b
    Examples:
      pocctl ls
      pocctl ls --all-regions
      pocctl ls --json | jq -r '.stacks[] | "\\(.region) \\(.stack)"'
    """
    flags = collect(kwargs)
    term = terminal(flags, as_json=as_json)
    ctx = make_context(flags, term, reporter=RecordingReporter(), deployed=False)
    regions = enabled_regions(ctx) if all_regions else [ctx.config.region]
    where = f"all {len(regions)} enabled regions" if all_regions else ctx.config.region
    with term.busy(f"Looking for pocctl stacks in {where} ..."):
        listing = find_stacks(ctx, regions, every_region=all_regions)
    stacks, elsewhere = listing.stacks, listing.elsewhere
    document = {
        "regions": regions,
        "stacks": [s.as_json() for s in stacks],
        "roles_without_resources_here": elsewhere,
        "unreadable_regions": listing.unreadable,
    }
    if listing.unreadable:
        read = len(regions) - len(listing.unreadable)
        where = f"{read} of {len(regions)} enabled regions"
        for region, code in listing.unreadable.items():
            term.warning(
                f"{region}: could not be read ({code}), so its stacks, if any, are not listed: "
                "a service control policy or your permissions deny it there"
            )
    if not stacks:
        term.success(f"No pocctl stacks in {where}: nothing of pocctl's is running there.")
        roles_elsewhere(term, where, elsewhere)
        return Finished(document)
    term.table(
        [("STACK", "REGION", "HEALTH", "CREATED", "RESOURCES", "IDLE/MONTH", "ORDER URL")]
        + [
            (
                s.stack,
                s.region,
                s.health,
                (s.created or "-")[:19].replace("T", " "),
                str(len(s.resources)),
                "-" if s.idle_monthly_usd is None else f"${s.idle_monthly_usd:.2f}",
                s.order_url or "-",
            )
            for s in stacks
        ]
    )
    for found in stacks:
        for problem in found.problems:
            term.warning(f"{found.stack} ({found.region}): {problem}")
    roles_elsewhere(term, where, elsewhere)
    term.info(
        f"{len(stacks)} stack(s) in {where}. More about one: `pocctl status --stack NAME`; "
        "remove one: `pocctl down --stack NAME`."
    )
    return Finished(document)


def roles_elsewhere(term: Terminal, where: str, names: list[str]) -> None:
    if names:
        term.note(
            f"IAM roles (global) of {len(names)} stack(s) with nothing in {where}: "
            f"{', '.join(names)}. In another region? `pocctl ls --all-regions` tells."
        )
