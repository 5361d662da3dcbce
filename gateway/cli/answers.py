"""``gateway inbox respond`` and ``gateway inbox invoice``: answer what an agency sent.

For a supplier without an ERP integration: the business module builds the
order response or the invoice from the received documents (read through the
API), and the gateway stores and sends it as it does a document from an ERP.
"""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

import click

from gateway.business import (
    BusinessError,
    LineChange,
    UnknownLines,
    accept_all,
    accept_with_changes,
    reject,
)
from gateway.cli.context import CliContext
from gateway.cli.messages import client_of
from gateway.cli.send import DOCUMENT_STATUSES, describe_error
from gateway.client import ApiProblem, GatewayClient, segment
from gateway.errors import GatewayError
from gateway.formats import EncodeContext
from gateway.model import CanonicalDocument, FieldProblem, Order
from gateway.model.documents import kind_of
from gateway.model.json import dumps, from_json
from gateway.routing import RoutingError, route


def read_received(client: GatewayClient, message_id: str) -> tuple[dict[str, Any],
                                                                  CanonicalDocument]:
    """The inbound message ``message_id`` and the document it was decoded into."""
    message = client.get_json(f"/api/v1/messages/{segment(message_id)}", {"include": "payload"})
    what = f"message {message_id}"
    if message["direction"] != "inbound":
        raise click.ClickException(
            f"{what} is an outbound {message['kind'] or 'document'}; only what an agency "
            "sent is answered here")
    canonical = message.get("canonical")
    if not isinstance(canonical, dict):
        raise click.ClickException(
            f"{what} was never decoded ({message['transport_state']}: "
            f"{message.get('last_error') or 'no document read from it'}); there is nothing "
            "to answer")
    try:
        return message, from_json(canonical)
    except (FieldProblem, ValueError) as exc:
        raise click.ClickException(f"{what} does not read as a canonical document: {exc}"
                                   ) from None


def refuse_unsendable(obj: CliContext, document: CanonicalDocument, agency_oin: str,
                      answers: CanonicalDocument | None = None) -> None:
    """Encode ``document`` as the gateway would, and stop here if that fails.

    The gateway stores a document its route cannot carry as rejected (a
    UBL-OHNL order response cannot reject an order); refused here, nothing is
    stored. The route and the format come from the configuration file the
    gateway runs with. A format not installed where this command runs is left
    to the gateway to judge.
    """
    config = obj.config
    kind = kind_of(document)
    try:
        decision = route(config, agency_oin, kind)
    except RoutingError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        fmt = obj.registry.format(decision.format)
    except GatewayError:
        return
    agency = config.agency(agency_oin)
    route_table = agency.documents.get(kind) if agency is not None else None
    context = EncodeContext(
        agency_oin=agency_oin, agency_name=decision.agency_name, supplier=config.supplier,
        supplier_number=agency.supplier_number if agency is not None else None,
        answers=answers, settings=dict(route_table.settings) if route_table else {})
    try:
        fmt.encode(document, context)
    except Exception as exc:  # the format's refusal, in its own words
        raise click.ClickException(
            f"agency {agency_oin} is sent each {kind} as {fmt.key}, which cannot carry this "
            f"one: "
            f"{exc}; nothing was sent") from None


def submit(client: GatewayClient, document: CanonicalDocument, agency_oin: str) -> str:
    """Submit ``document`` to the gateway for ``agency_oin``; the stored message's id.

    A refusal is printed with its reasons and ends the command with status 1.
    """
    data = dumps(document).encode("utf-8")
    try:
        reply = client.call("POST", f"/api/v1/outbound/{agency_oin}", body=data,
                            accept=(200, 202))
    except ApiProblem as exc:
        if exc.status not in DOCUMENT_STATUSES:
            raise
        problem = exc.problem
        stored = problem.get("message_id") if exc.status == 422 else None
        click.echo(f"rejected{f' (stored as message {stored})' if stored else ''}: "
                   f"{problem.get('detail') or problem.get('title')}", err=True)
        for error in problem.get("errors", []):
            click.echo(f"    {describe_error(error)}", err=True)
        sys.exit(1)
    body = reply.body
    if reply.status == 200:
        click.echo(f"duplicate: already message {body['id']} ({body['transport_state']})")
    else:
        click.echo(f"accepted: message {body['id']} ({body['kind']} via {body['channel']}, "
                   f"{body['format']})")
    message_id: str = body["id"]
    return message_id


def _change(_ctx: click.Context, _param: click.Parameter,
            values: tuple[str, ...]) -> dict[str, LineChange]:
    """``--change LINE=QTY[@DATE]`` (or ``LINE=@DATE``) as changes per order line id."""
    changes: dict[str, LineChange] = {}
    for value in values:
        line_id, equals, change = value.rpartition("=")
        quantity_text, at, date_text = change.partition("@")
        if not equals or not line_id or not (quantity_text or date_text):
            raise click.BadParameter(
                f"{value!r} is not LINE=QTY, LINE=QTY@DATE or LINE=@DATE")
        if line_id in changes:
            raise click.BadParameter(f"line {line_id!r} is changed twice; give it once")
        quantity = None
        if quantity_text:
            try:
                quantity = Decimal(quantity_text)
            except InvalidOperation:
                quantity = None
            if quantity is None or not quantity.is_finite() or quantity < 0:
                raise click.BadParameter(
                    f"{value!r}: the quantity {quantity_text!r} is no number of 0 or more")
        date = None
        if at:
            try:
                date = dt.date.fromisoformat(date_text)
            except ValueError:
                raise click.BadParameter(
                    f"{value!r}: the delivery date {date_text!r} is no date "
                    "(YYYY-MM-DD)") from None
        changes[line_id] = LineChange(quantity=quantity, delivery_date=date)
    return changes


@click.command()
@click.argument("message_id", metavar="MESSAGE_ID")
@click.option("--accept", "accepted", is_flag=True, help="Accept every line as ordered.")
@click.option("--reject", "rejected", is_flag=True,
              help="Refuse the whole order (needs --reason).")
@click.option("--reason", metavar="TEXT", help="Why the order is refused, for the agency.")
@click.option("--change", "changes", metavar="LINE=QTY[@DATE]", multiple=True,
              callback=_change,
              help="Accept, with this line's quantity (in its ordered unit) and/or delivery "
                   "date changed (LINE=@DATE changes the date only); repeatable, other lines "
                   "are accepted as ordered.")
@click.option("--dry-run", is_flag=True,
              help="Print the order response as canonical JSON instead of sending it.")
@click.option("--ack", is_flag=True,
              help="Acknowledge the order in the inbox once the response is stored.")
@click.pass_obj
def respond(obj: CliContext, message_id: str, accepted: bool, rejected: bool,
            reason: str | None, changes: dict[str, LineChange], dry_run: bool,
            ack: bool) -> None:
    """Answer a received order (MESSAGE_ID, from `gateway inbox list`) to its agency.

    Exactly one of --accept, --reject --reason TEXT, or --change (once per
    changed line). The order response takes its lines, parties and references
    from the order, is numbered with the order's number (so an order is
    answered once: a second, different answer is refused as number-taken) and
    dated today; it goes to the agency that sent the order, as `gateway send`
    would send it. Prints the id of the stored message. A response the
    agency's route cannot carry (UBL-OHNL cannot reject an order) is refused
    before anything is sent. Exits 1 when the gateway refuses it.
    """
    chosen = [name for name, given in (("--accept", accepted), ("--reject", rejected),
                                       ("--change", bool(changes))) if given]
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --accept, --reject or --change"
            + (f" (got {', '.join(chosen)})" if chosen else ""))
    if reason is not None and not rejected:
        raise click.UsageError("--reason goes with --reject")
    if rejected and not (reason or "").strip():
        raise click.UsageError("--reject needs --reason TEXT: the agency is told why")
    client = client_of(obj)
    message, order = read_received(client, message_id)
    if not isinstance(order, Order):
        raise click.ClickException(
            f"message {message_id} is a {message['kind']}, not an order; only an order is "
            "answered with an order response")
    agency_oin = message["agency_oin"]
    today = dt.date.today()
    try:
        if rejected:
            assert reason is not None
            response = reject(order, reason, number=order.number, issue_date=today)
        elif accepted:
            response = accept_all(order, number=order.number, issue_date=today)
        else:
            response = accept_with_changes(order, changes, number=order.number,
                                           issue_date=today)
    except UnknownLines as exc:
        known = ", ".join(line.id for line in order.lines)
        raise click.ClickException(f"{exc} (its lines: {known})") from None
    except BusinessError as exc:
        raise click.ClickException(str(exc)) from None
    refuse_unsendable(obj, response, agency_oin, answers=order)
    if dry_run:
        click.echo(dumps(response))
        return
    submit(client, response, agency_oin)
    if ack:
        try:
            client.post_json(f"/api/v1/inbox/{segment(message_id)}/ack")
        except ApiProblem as exc:
            # The answer is stored and will be sent: only the inbox is behind.
            click.echo(f"not acknowledged {message_id}: {exc.problem.get('detail', exc)}",
                       err=True)
            sys.exit(1)
        click.echo(f"acknowledged {message_id}")
