"""``gateway messages``: find, inspect, retry, cancel and reroute messages."""

from __future__ import annotations

import getpass
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from gateway.cli.context import CliContext
from gateway.cli.output import echo_json, echo_table
from gateway.cli.send import agency_oin
from gateway.client import GatewayClient, segment
from gateway.kinds import KINDS
from gateway.paths import default_config_path

STATES = ["queued", "sending", "sent", "retrying", "failed", "cancelled", "rejected",
          "received", "decoded", "delivering", "delivered", "acknowledged", "duplicate"]


def client_of(obj: CliContext) -> GatewayClient:
    return GatewayClient.from_config(obj.config)


def short_time(value: str | None) -> str:
    return "" if not value else value.replace("T", " ")[:19]


def echo_page_hint(next_cursor: str | None, command: str,
                   options: Mapping[str, object] | None = None) -> None:
    """How to get the next page: the same command with the same filters, and the cursor.

    ``command`` starts with ``gateway``; a configuration given with --config is
    named after it, so the line works as it stands.
    """
    if next_cursor:
        # A flag (True) is given bare; one not set (False) is left out, as None is.
        given = " ".join(f"--{name.replace('_', '-')}" if value is True else
                         f"--{name.replace('_', '-')} {shlex.quote(str(value))}"
                         for name, value in (options or {}).items()
                         if value is not None and value is not False and name != "cursor")
        obj = click.get_current_context().find_object(CliContext)
        if obj is not None and Path(obj.config_path) != default_config_path():
            program, _, rest = command.partition(" ")
            command = f"{program} --config {shlex.quote(str(obj.config_path))} {rest}"
        click.echo(f"(more: {command}{' ' + given if given else ''} --cursor {next_cursor})")


@click.group()
def messages() -> None:
    """Messages in the store: list, show, retry, cancel, reroute."""


@messages.command("list")
@click.option("--direction", type=click.Choice(["outbound", "inbound"]),
              help="Outbound (to agencies) or inbound (from agencies).")
@click.option("--state", type=click.Choice(STATES), help="Transport state.")
@click.option("--business-state", help="Business state (accepted, rejected, paid, ...).")
@click.option("--agency", metavar="OIN", callback=agency_oin, help="Agency OIN.")
@click.option("--kind", type=click.Choice(KINDS), help="Document kind (invoice, order, ...).")
@click.option("--business-key", help="The exact business key.")
@click.option("--number", help="The document number the issuer gave it (exact).")
@click.option("--channel", help="Channel instance name.")
@click.option("--from", "from_", metavar="DATE",
              help="Created on or after: an ISO 8601 date (2026-11-29) or date-time "
                   "(2026-11-29T13:00:00Z; UTC without a zone).")
@click.option("--to", metavar="DATE",
              help="Created before: an ISO 8601 date-time, or a date, which includes "
                   "that day.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="How many to show (one page).")
@click.option("--cursor", help="Continue after an earlier page.")
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
@click.pass_obj
def list_messages(
    obj: CliContext, direction: str | None, state: str | None, business_state: str | None,
    agency: str | None, kind: str | None, business_key: str | None, number: str | None,
    channel: str | None, from_: str | None, to: str | None, limit: int, cursor: str | None,
    as_json: bool,
) -> None:
    """List messages, newest first, filtered by every option given."""
    filters = {
        "direction": direction, "state": state, "business_state": business_state,
        "agency": agency, "kind": kind, "business_key": business_key, "number": number,
        "channel": channel, "from": from_, "to": to, "limit": limit,
    }
    page = client_of(obj).get_json("/api/v1/messages", {**filters, "cursor": cursor})
    if as_json:
        echo_json(page)
        return
    if not page["items"]:
        click.echo("no messages match")
        return
    echo_table(
        ["id", "dir", "kind", "agency", "channel", "state", "business", "tries", "created"],
        [[m["id"], m["direction"][:3], m["kind"] or "", m["agency_oin"] or "",
          m["channel"] or "", m["transport_state"], m["business_state"],
          f"{m['attempt_count']}/{m['max_attempts']}", short_time(m["created_at"])]
         for m in page["items"]],
    )
    echo_page_hint(page["next_cursor"], "gateway messages list", filters)


def echo_message(message: dict[str, Any]) -> None:
    """A message for a person: what, where, why, and what happened when."""
    click.echo(f"message {message['id']} ({message['direction']} {message['kind'] or '?'})")
    for label, key in (("business key", "business_key"), ("agency", "agency_oin"),
                       ("channel", "channel"), ("format", "format"),
                       ("transport", "transport_state"), ("business", "business_state"),
                       ("transport id", "transport_id"), ("last error", "last_error")):
        if message.get(key):
            click.echo(f"  {label + ':':14}{message[key]}")
    click.echo(f"  {'attempts:':14}{message['attempt_count']} of {message['max_attempts']}")
    if message.get("next_attempt_at"):
        click.echo(f"  {'next attempt:':14}{short_time(message['next_attempt_at'])}")
    routing = message.get("routing") or {}
    if routing.get("explanation"):
        click.echo("routing:")
        for line in routing["explanation"]:
            click.echo(f"  {line}")
    validation = message.get("validation")
    if validation:
        findings = validation.get("findings", [])
        verdict = "valid" if validation.get("valid") else "NOT valid"
        click.echo(f"validation: {verdict} ({validation.get('format')}, layers "
                   f"{', '.join(validation.get('layers', [])) or 'none'}, "
                   f"{len(findings)} finding(s))")
        for finding in findings:
            where = f" at {finding['location']}" if finding.get("location") else ""
            click.echo(f"  {finding['severity']} {finding['layer']}/{finding['rule']}{where}: "
                       f"{finding['text']}")
    click.echo("timeline:")
    for event in message["timeline"]:
        states = " ".join(s for s in (event.get("transport_state"),
                                      event.get("business_state")) if s)
        detail = ", ".join(f"{k}={v}" for k, v in event["detail"].items()
                           if v not in (None, "", [], {}))
        click.echo(f"  {short_time(event['at'])}  {event['kind']:<16} "
                   f"{('-> ' + states) if states else ''}{'  ' + detail if detail else ''}"
                   .rstrip())
    if message["attempts"]:
        click.echo("attempts:")
        for attempt in message["attempts"]:
            code = f" [{attempt['code']}]" if attempt.get("code") else ""
            click.echo(f"  #{attempt['number']} {short_time(attempt['started_at'])} "
                       f"{attempt['outcome']}{code}: {attempt['detail'] or '-'}")


@messages.command("show")
@click.argument("message_id", metavar="ID")
@click.option("--payload", is_flag=True, help="Include the payload and canonical JSON (--json).")
@click.option("--json", "as_json", is_flag=True, help="Print the message as JSON.")
@click.pass_obj
def show(obj: CliContext, message_id: str, payload: bool, as_json: bool) -> None:
    """One message: routing, validation findings, timeline and attempts."""
    message = client_of(obj).get_json(f"/api/v1/messages/{segment(message_id)}",
                                       {"include": "payload" if payload else None})
    if as_json:
        echo_json(message)
    else:
        echo_message(message)


def _act(obj: CliContext, message_id: str, action: str, body: dict[str, Any],
         as_json: bool) -> dict[str, Any]:
    message: dict[str, Any] = client_of(obj).post_json(
        f"/api/v1/messages/{segment(message_id)}/{action}", body)
    if as_json:
        echo_json(message)
    else:
        click.echo(f"message {message['id']}: {message['transport_state']} "
                   f"(channel {message['channel']}, attempts {message['attempt_count']} of "
                   f"{message['max_attempts']})")
    return message


def _audited(reason: str, actor: str | None) -> dict[str, Any]:
    """The body of an operator action; without an actor the gateway records the token."""
    return {"reason": reason} if actor is None else {"reason": reason, "actor": actor}


def user_name() -> str | None:
    """The login name, or None where the system has none for this user.

    A container run with ``--user 1000`` has no passwd entry and often no USER:
    getpass then raises, and the audit entry still names the token.
    """
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):
        return None


_reason = click.option("--reason", required=True, help="Why: kept in the audit log.")
_actor = click.option("--actor", default=user_name, show_default="your user name",
                      help="Who asks, for the audit log (with the token, always).")
_json = click.option("--json", "as_json", is_flag=True, help="Print the message as JSON.")


@messages.command("retry")
@click.argument("message_id", metavar="ID")
@_reason
@_actor
@_json
@click.pass_obj
def retry(obj: CliContext, message_id: str, reason: str, actor: str | None,
          as_json: bool) -> None:
    """Queue a failed or cancelled outbound message again; send a retrying one now.

    A retrying message (waiting for its next attempt after a failure) is due
    at once, with its attempt count and transport id. Every retry leaves at
    least three attempts. An inbound message whose delivery to the ERP failed,
    or waits to be tried again, is delivered again now; one the gateway
    rejected is read again.
    """
    _act(obj, message_id, "retry", _audited(reason, actor), as_json)


@messages.command("cancel")
@click.argument("message_id", metavar="ID")
@_reason
@_actor
@_json
@click.pass_obj
def cancel(obj: CliContext, message_id: str, reason: str, actor: str | None,
           as_json: bool) -> None:
    """Stop an outbound message that has not been sent."""
    _act(obj, message_id, "cancel", _audited(reason, actor), as_json)


REROUTE_STATES = ["queued", "retrying", "failed", "cancelled"]
# Messages per request: each page is encoded and validated within one call to the gateway.
REROUTE_PAGE = 100


@messages.command("reroute")
@click.argument("message_id", metavar="[ID]", required=False)
@click.option("--channel", help="The configured channel to send it over.")
@click.option("--format", "format_key", metavar="KEY",
              help="The format to encode it in anew from its canonical JSON, validated before "
                   "it is queued (`gateway formats` lists the keys).")
@click.option("--agency", metavar="OIN", callback=agency_oin,
              help="Instead of one ID: every outbound message of this agency not yet sent, "
                   "to its route as configured now.")
@click.option("--kind", type=click.Choice(KINDS), help="With --agency: only this kind.")
@click.option("--state", "states", type=click.Choice(REROUTE_STATES), multiple=True,
              help="With --agency: messages in this state (repeatable; default queued and "
                   "retrying).")
@click.option("--dry-run", is_flag=True,
              help="With --agency: list what would move (encoded and validated), change "
                   "nothing.")
@_reason
@_actor
@_json
@click.pass_obj
def reroute(obj: CliContext, message_id: str | None, channel: str | None,
            format_key: str | None, agency: str | None, kind: str | None,
            states: tuple[str, ...], dry_run: bool, reason: str, actor: str | None,
            as_json: bool) -> None:
    """Send an outbound message over another channel, in another format, or both.

    An agency moved from Digipoort to Peppol, say: --channel peppol --format
    peppol-bis:invoice:3.0 sends a message waiting for Digipoort as Peppol BIS.
    Without --channel and --format it follows the agency's route for its kind
    as the configuration has it now (after `gateway agencies switch`); a
    message on that route already is refused.

    With --agency OIN instead of an ID, every outbound message of that agency
    that waits to be sent (queued or retrying; --state failed or cancelled
    takes those) follows its route the same way, each with its own audit
    entry. Each is listed with its outcome (rerouted, unchanged, or refused
    with the reason: it stays as it was), then a summary; the exit status is
    1 when any was refused.

    When validation workers die twice on a document (the out-of-memory
    killer, say) it exits 2 saying when to try again; the same command then
    goes on where it stopped.
    """
    if agency is not None:
        if message_id is not None or channel is not None or format_key is not None:
            raise click.UsageError("--agency reroutes to the agency's route: name no ID, "
                                   "--channel or --format with it")
        _reroute_agency(obj, agency, kind, states, dry_run, _audited(reason, actor), as_json)
        return
    if message_id is None:
        raise click.UsageError("name a message ID, or --agency OIN for all its messages")
    if kind is not None or states or dry_run:
        raise click.UsageError("--kind, --state and --dry-run go with --agency")
    body = _audited(reason, actor)
    if channel is not None:
        body["channel"] = channel
    if format_key is not None:
        body["format"] = format_key
    message = _act(obj, message_id, "reroute", body, as_json)
    if channel is None and format_key is None and not as_json:
        # Where the configuration sent it, and why: the note the reroute left.
        explanation = (message.get("routing") or {}).get("explanation", [])
        notes = [line for line in explanation if line.startswith("rerouted by")]
        if notes:
            click.echo(f"  {notes[-1]}")


def _reroute_agency(obj: CliContext, agency: str, kind: str | None, states: tuple[str, ...],
                    dry_run: bool, body: dict[str, Any], as_json: bool) -> None:
    """Page through the agency's messages, printing each page's outcomes as they come."""
    client = client_of(obj)
    request = {**body, "agency": agency, "dry_run": dry_run, "limit": REROUTE_PAGE}
    if kind is not None:
        request["kind"] = kind
    if states:
        request["states"] = list(states)
    totals: dict[str, int] = {}
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = client.post_json("/api/v1/messages/reroute",
                                {**request, **({"cursor": cursor} if cursor else {})})
        for item in page["items"]:
            if as_json:
                items.append(item)
            else:
                click.echo(_outcome_line(item))
        for outcome, count in page["summary"].items():
            totals[outcome] = totals.get(outcome, 0) + count
        cursor = page["next_cursor"]
        if cursor is None:
            break
    if as_json:
        echo_json({"dry_run": dry_run, "items": items, "summary": totals})
    else:
        done = ("would-reroute" if dry_run else "rerouted", "unchanged", "refused")
        click.echo(", ".join(f"{totals.get(outcome, 0)} {outcome.replace('-', ' ')}"
                             for outcome in done) + (" (dry run: nothing changed)"
                                                     if dry_run else ""))
    if totals.get("refused"):
        sys.exit(1)


def _outcome_line(item: dict[str, Any]) -> str:
    source = item["from"]
    line = (f"{item['id']} {item['kind'] or '?'} {item['outcome']}: "
            f"{source['channel']} {source['format']}")
    if item["to"] is not None:
        line += f" -> {item['to']['channel']} {item['to']['format']}"
    if item["detail"]:
        line += f": {item['detail']}"
    return line
