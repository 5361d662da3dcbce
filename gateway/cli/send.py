"""``gateway send``: submit canonical JSON documents to the running gateway."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gateway.cli.context import CliContext
from gateway.cli.output import echo_json
from gateway.client import ApiProblem, GatewayClient
from gateway.errors import GatewayError
from gateway.identifiers import OIN, InvalidIdentifier

# Answers that are a verdict on one document; any other error stops the run. A 409 is
# another document under a stored number: refused, nothing stored.
DOCUMENT_STATUSES = frozenset({400, 409, 413, 422})
# Below this many files a progress bar is more noise than help.
PROGRESS_FROM = 3


def agency_oin(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """An --agency option as the OIN it names: normalised, or refused where it is none.

    A filter on a mistyped OIN would list nothing, as if the agency had no messages.
    """
    if value is None:
        return None
    try:
        return str(OIN(value))
    except InvalidIdentifier as exc:
        raise click.BadParameter(f"{value!r} is not an OIN: {exc.reason}") from None


def send_one(client: GatewayClient, file: Path, agency: str) -> dict[str, Any]:
    """Submit one file; the outcome as a dict (accepted, duplicate or rejected)."""
    result: dict[str, Any] = {"file": str(file)}
    try:
        data = file.read_bytes()
    except OSError as exc:
        return {**result, "outcome": "rejected", "reason": f"cannot read it: {exc.strerror}",
                "errors": []}
    try:
        reply = client.call("POST", f"/api/v1/outbound/{agency}", body=data, accept=(200, 202))
    except ApiProblem as exc:
        if exc.status not in DOCUMENT_STATUSES:
            raise
        problem = exc.problem
        refused = {**result, "outcome": "rejected", "status": exc.status,
                   "reason": problem.get("detail") or problem.get("title"),
                   "errors": problem.get("errors", []), "id": problem.get("message_id")}
        if exc.status == 409:
            # Its message_id is the stored message holding the number, not this file's.
            refused.update(id=None, taken_by=problem.get("message_id"))
        return refused
    body = reply.body
    return {**result, "outcome": "accepted" if reply.status == 202 else "duplicate",
            "id": body["id"], "business_key": body["business_key"], "kind": body["kind"],
            "channel": body["channel"], "format": body["format"],
            "transport_state": body["transport_state"]}


def describe_error(error: dict[str, Any]) -> str:
    where = error.get("field")
    rule = error.get("rule")
    head = " ".join(part for part in (rule, f"at {where}" if where and rule else where) if part)
    return f"{head}: {error.get('message')}" if head else str(error.get("message"))


@click.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--agency", "-a", required=True, metavar="OIN", callback=agency_oin,
              help="The OIN of the receiving agency.")
@click.option("--json", "as_json", is_flag=True, help="Print every outcome as JSON.")
@click.pass_obj
def send(obj: CliContext, files: tuple[Path, ...], agency: str, as_json: bool) -> None:
    """Submit canonical JSON documents (FILE...) to the running gateway for an agency.

    Each file is one document as the ERP would send it. Prints how many were
    accepted, were duplicates of a stored document, or were rejected (with the
    reasons; a different document under the number of a stored one is
    rejected too, naming that message, and is not stored). Exits 1 if any was
    rejected. An answer that is no verdict on a document (the gateway down or
    failing) stops the run: what was sent before is reported, the rest is
    listed as not sent, and it exits 2 (130 after Ctrl-C, reported the same
    way).
    """
    client = GatewayClient.from_config(obj.config)
    results: list[dict[str, Any]] = []
    stopped: tuple[Path, GatewayError] | None = None
    interrupted = False

    def send_all(items: Any) -> None:
        nonlocal stopped, interrupted
        for file in items:
            try:
                results.append(send_one(client, file, agency))
            except GatewayError as exc:  # not a verdict on this file: stop, but report
                stopped = (file, exc)
                return
            except KeyboardInterrupt:
                # Ctrl-C: which files went through is what the operator needs now.
                interrupted = True
                stopped = (file, GatewayError(
                    "interrupted (Ctrl-C); this file may have been stored all the same "
                    "(sent again, a stored one is reported as a duplicate)"))
                return

    if len(files) < PROGRESS_FROM or as_json:
        send_all(files)
    else:
        with click.progressbar(files, label="sending", show_pos=True, file=sys.stderr,
                               item_show_func=lambda f: f.name if f else None) as bar:
            send_all(bar)
    if stopped is not None and not results and not as_json and not interrupted:
        raise stopped[1]  # nothing was sent: the one-line error says it all
    # With --json the report is printed even then (every file under not_sent, the error
    # under stopped): a script reading stdout gets JSON for every run, as --json promises.
    counts = {outcome: sum(1 for r in results if r["outcome"] == outcome)
              for outcome in ("accepted", "duplicate", "rejected")}
    not_sent = [str(f) for f in files[len(results):]]
    if as_json:
        echo_json({"counts": counts, "results": results, "not_sent": not_sent,
                   "stopped": None if stopped is None else str(stopped[1])})
    else:
        # Many accepted files go unnamed, unless the run stopped: then which went through
        # is what the operator needs.
        name_accepted = len(files) < PROGRESS_FROM or stopped is not None
        for result in results:
            if result["outcome"] == "accepted" and name_accepted:
                click.echo(f"accepted {result['file']}: message {result['id']} "
                           f"({result['kind']} via {result['channel']}, {result['format']})")
            elif result["outcome"] == "duplicate":
                click.echo(f"duplicate {result['file']}: already message {result['id']} "
                           f"({result['transport_state']})")
            elif result["outcome"] == "rejected":
                stored = f" (stored as message {result['id']})" if result.get("id") else ""
                click.echo(f"rejected {result['file']}{stored}: {result['reason']}")
                reason = str(result["reason"])
                for error in result["errors"]:
                    # A 400 lists its detail again as its one error, a 422 may end its
                    # detail with its one rule: said once is enough.
                    if (error.get("message") != reason
                            and not reason.endswith(describe_error(error))):
                        click.echo(f"    {describe_error(error)}")
        click.echo(f"{counts['accepted']} accepted, {counts['duplicate']} duplicate, "
                   f"{counts['rejected']} rejected"
                   + (f", {len(not_sent)} not sent" if stopped is not None else ""))
    if stopped is not None:
        click.echo(f"gateway: stopped at {stopped[0]}: {stopped[1]}", err=True)
        sys.exit(130 if interrupted else 2)  # 130: the shell's code for Ctrl-C
    sys.exit(1 if counts["rejected"] else 0)
