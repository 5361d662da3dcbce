"""``gateway inbox``: inbound documents waiting for the ERP."""

from __future__ import annotations

import sys

import click

from gateway.cli.answers import invoice, respond
from gateway.cli.context import CliContext
from gateway.cli.messages import client_of, echo_page_hint, short_time
from gateway.cli.output import echo_json, echo_table
from gateway.cli.send import agency_oin
from gateway.client import ApiProblem, segment
from gateway.kinds import KINDS


@click.group()
def inbox() -> None:
    """Inbound documents decoded for the ERP: list, answer and acknowledge."""


inbox.add_command(respond)
inbox.add_command(invoice)


@inbox.command("list")
# Refused here as the API refuses it: an unknown kind would list an empty inbox.
@click.option("--kind", type=click.Choice(KINDS),
              help="Document kind (order, ...).")
@click.option("--agency", metavar="OIN", callback=agency_oin, help="The sending agency.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="How many to show (one page).")
@click.option("--oldest-first", is_flag=True,
              help="The documents in the order they came (the API's order=oldest), to "
                   "work through them; the next page then holds later ones.")
@click.option("--cursor", help="Continue after an earlier page.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the page as JSON, with each document's canonical JSON.")
@click.pass_obj
def list_inbox(obj: CliContext, kind: str | None, agency: str | None, limit: int,
               oldest_first: bool, cursor: str | None, as_json: bool) -> None:
    """Decoded inbound documents not yet acknowledged, newest first (or oldest first)."""
    page = client_of(obj).get_json("/api/v1/inbox", {
        "kind": kind, "agency": agency, "limit": limit, "cursor": cursor,
        "order": "oldest" if oldest_first else None})
    if as_json:
        echo_json(page)
        return
    if not page["items"]:
        click.echo("the inbox is empty")
        return
    echo_table(["id", "kind", "agency", "business key", "channel", "received"],
               [[i["id"], i["kind"] or "", i["agency_oin"] or "", i["business_key"] or "",
                 i["channel"] or "", short_time(i["received_at"])] for i in page["items"]])
    echo_page_hint(page["next_cursor"], "gateway inbox list",
                   {"kind": kind, "agency": agency, "limit": limit,
                    "oldest_first": oldest_first})


@inbox.command("ack")
@click.argument("message_ids", metavar="ID...", nargs=-1, required=True)
@click.pass_obj
def ack(obj: CliContext, message_ids: tuple[str, ...]) -> None:
    """Acknowledge inbound documents: the ERP has them. Exits 1 if any could not be."""
    client = client_of(obj)
    failed = 0
    for message_id in message_ids:
        try:
            client.post_json(f"/api/v1/inbox/{segment(message_id)}/ack")
        except ApiProblem as exc:
            if exc.status in (401, 403):
                raise
            failed += 1
            click.echo(f"not acknowledged {message_id}: {exc.problem.get('detail', exc)}",
                       err=True)
            continue
        click.echo(f"acknowledged {message_id}")
    sys.exit(1 if failed else 0)
