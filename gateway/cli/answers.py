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
    MissingLineData,
    UnknownLines,
    accept_all,
    accept_with_changes,
    invoice_from_order,
    invoice_from_timecards,
    reject,
)
from gateway.cli.context import CliContext
from gateway.cli.messages import client_of
from gateway.cli.send import DOCUMENT_STATUSES, describe_error
from gateway.client import ApiProblem, GatewayClient, segment
from gateway.errors import GatewayError
from gateway.formats import EncodeContext
from gateway.kinds import DocumentKind
from gateway.model import (
    CanonicalDocument,
    FieldProblem,
    Invoice,
    Order,
    OrderResponse,
    StaffingOrder,
    TimeCard,
)
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


def _non_negative(value: str, what: str, text: str, noun: str) -> Decimal:
    """``text`` (the ``what`` in option ``value``) as a finite decimal of 0 or more."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number < 0:
        raise click.BadParameter(f"{value!r}: the {what} {text!r} is no {noun} of 0 or more")
    return number


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
            quantity = _non_negative(value, "quantity", quantity_text, "number")
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


def _prices(_ctx: click.Context, _param: click.Parameter,
            values: tuple[str, ...]) -> dict[str, Decimal]:
    """``--price LINE=AMOUNT`` as net prices per order line id."""
    prices: dict[str, Decimal] = {}
    for value in values:
        line_id, equals, amount_text = value.rpartition("=")
        if not equals or not line_id or not amount_text:
            raise click.BadParameter(f"{value!r} is not LINE=AMOUNT")
        if line_id in prices:
            raise click.BadParameter(f"line {line_id!r} is priced twice; give it once")
        prices[line_id] = _non_negative(value, "price", amount_text, "amount")
    return prices


def _search(client: GatewayClient, **query: str) -> list[dict[str, Any]]:
    """The messages matching ``query`` (one page of the most recent: a document's versions
    and answers are few)."""
    page = client.get_json("/api/v1/messages", {**query, "limit": 100})
    items: list[dict[str, Any]] = page["items"]
    return items


def _answer_to(client: GatewayClient, agency_oin: str, order: Order) -> tuple[
        str, OrderResponse] | None:
    """Our stored answer to ``order``: what `gateway inbox respond` numbered as the order.

    Its changed quantities and rejected lines are what the invoice may bill.
    """
    for item in _search(client, direction="outbound", kind=DocumentKind.ORDER_RESPONSE.value,
                        agency=agency_oin, number=order.number):
        if item["transport_state"] in ("rejected", "cancelled"):
            continue  # never reached the agency: no answer it holds us to
        message = client.get_json(f"/api/v1/messages/{segment(item['id'])}",
                                  {"include": "payload"})
        response = from_json(message["canonical"])
        if isinstance(response, OrderResponse) and response.order_reference.id == order.number:
            return item["id"], response
    return None


def _staffing_order(client: GatewayClient, agency_oin: str, order_id: str) -> StaffingOrder:
    """The staffing order ``order_id`` as the agency sent it: rather the order than its
    closing, which SETU-OHNL sends under the same number."""
    found: list[StaffingOrder] = []
    for item in _search(client, direction="inbound", kind=DocumentKind.STAFFING_ORDER.value,
                        agency=agency_oin, number=order_id):
        if item["transport_state"] == "rejected":
            continue  # never decoded: nothing to read
        _, document = read_received(client, item["id"])
        if isinstance(document, StaffingOrder) and document.order_id == order_id:
            found.append(document)
    if not found:
        raise click.ClickException(
            f"staffing order {order_id!r}, which the timecards book on, was never received "
            f"from agency {agency_oin}: its rates price the hours")
    return next((o for o in found if (o.order_status or "").lower() != "closed"), found[0])


def _other_versions(client: GatewayClient, agency_oin: str, cards: list[TimeCard],
                    given: set[str]) -> list[TimeCard]:
    """Every other version of these timecards the agency sent (corrections, changes of
    status), so that one replaced since is refused rather than billed."""
    versions: list[TimeCard] = []
    for card_id in dict.fromkeys(card.id for card in cards):
        for item in _search(client, direction="inbound", kind=DocumentKind.TIMECARD.value,
                            agency=agency_oin, number=card_id):
            if item["id"] in given or item["transport_state"] == "rejected":
                continue
            _, document = read_received(client, item["id"])
            if isinstance(document, TimeCard):
                versions.append(document)
    return versions


def _from_order(client: GatewayClient, message: dict[str, Any], order: Order, number: str,
                prices: dict[str, Decimal]) -> Invoice:
    answer = _answer_to(client, message["agency_oin"], order)
    if answer is not None:
        click.echo(f"billing order {order.number} as answered by message {answer[0]}",
                   err=True)
    try:
        return invoice_from_order(order, number=number, issue_date=dt.date.today(),
                                  prices=prices,
                                  confirmed_by=answer[1] if answer is not None else None)
    except UnknownLines as exc:
        known = ", ".join(line.id for line in order.lines)
        raise click.ClickException(f"{exc} (its lines: {known})") from None
    except MissingLineData as exc:
        listed = ", ".join(map(repr, exc.line_ids))
        how = ("give each with --price LINE=AMOUNT" if exc.what == "price" else
               "this command cannot add one: invoice this order from the ERP")
        raise click.ClickException(
            f"order {order.number} states no {exc.what} for line(s) {listed}; {how}") from None
    except BusinessError as exc:
        raise click.ClickException(str(exc)) from None


def _from_timecards(client: GatewayClient, received: list[tuple[dict[str, Any], TimeCard]],
                    number: str) -> Invoice:
    agencies = dict.fromkeys(message["agency_oin"] for message, _ in received)
    if len(agencies) > 1:
        raise click.ClickException(
            f"the timecards come from several agencies ({', '.join(map(str, agencies))}); "
            "one invoice goes to one")
    orders = dict.fromkeys(card.order_reference for _, card in received)
    if len(orders) > 1:
        raise click.ClickException(
            f"the timecards book on several staffing orders ({', '.join(map(repr, orders))}); "
            "one invoice bills one order")
    [agency_oin], [order_id] = agencies, orders
    if order_id is None:
        raise click.ClickException(
            f"timecard(s) {', '.join(repr(card.id) for _, card in received)} name no "
            "staffing order: its rates price the hours")
    cards = [card for _, card in received]
    order = _staffing_order(client, agency_oin, order_id)
    others = _other_versions(client, agency_oin, cards, {m["id"] for m, _ in received})
    try:
        return invoice_from_timecards(order, cards, number=number,
                                      issue_date=dt.date.today(), received=others)
    except BusinessError as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@click.argument("message_ids", metavar="MESSAGE_ID...", nargs=-1, required=True)
@click.option("--number", required=True, metavar="N", help="The invoice's number (yours).")
@click.option("--price", "prices", metavar="LINE=AMOUNT", multiple=True, callback=_prices,
              help="The net price of an order line, where the order states none or to "
                   "change it; repeatable. Not for timecards: their hours are priced at "
                   "the staffing order's rates.")
@click.option("--dry-run", is_flag=True,
              help="Print the invoice as canonical JSON instead of sending it.")
@click.pass_obj
def invoice(obj: CliContext, message_ids: tuple[str, ...], number: str,
            prices: dict[str, Decimal], dry_run: bool) -> None:
    """Invoice a received order, or approved timecards, to their agency.

    One MESSAGE_ID that is an order: an invoice line per order line, at the
    order's prices and VAT, for the quantities ordered, or for those of our
    answer to it (`gateway inbox respond`: rejected lines left out). Several
    (or one) timecards of one staffing order: their approved hours, at the
    order's rates, with 21 % VAT. The invoice is dated today and goes to the
    agency that sent them, as `gateway send` would send it; prints the id of
    the stored message. Exits 1 when it cannot be built (a line the order
    does not have, a timecard not approved) or the gateway refuses it.
    """
    repeated = [i for i in dict.fromkeys(message_ids) if message_ids.count(i) > 1]
    if repeated:
        raise click.UsageError(f"message(s) {', '.join(repeated)} named twice; name each once")
    client = client_of(obj)
    received = [read_received(client, message_id) for message_id in message_ids]
    orders = [(m, d) for m, d in received if isinstance(d, Order)]
    cards = [(m, d) for m, d in received if isinstance(d, TimeCard)]
    other = next(((m, d) for m, d in received if not isinstance(d, Order | TimeCard)), None)
    if other is not None:
        raise click.ClickException(
            f"message {other[0]['id']} is a {other[0]['kind']}, neither an order nor a "
            "timecard: an invoice is built from one received order or from approved timecards")
    if orders and len(received) > 1:
        raise click.ClickException(
            f"message {orders[0][0]['id']} is an order: an invoice is built from one order "
            "alone, or from timecards alone")
    if orders:
        message, order = orders[0]
        document = _from_order(client, message, order, number, prices)
    else:
        if prices:
            raise click.UsageError("--price prices order lines; timecard hours are priced "
                                   "at the staffing order's rates")
        message = cards[0][0]
        document = _from_timecards(client, cards, number)
    refuse_unsendable(obj, document, message["agency_oin"])
    if dry_run:
        click.echo(dumps(document))
        return
    submit(client, document, message["agency_oin"])
