"""``gateway portal``: the operator's side of the portal work queue.

Every command asks the running gateway through its API (address and token
from the configuration), so several operators and gateway instances share
one queue.
"""

from __future__ import annotations

import base64
import getpass
import sys
from pathlib import Path
from typing import Any

import click

from gateway.cli.context import CliContext
from gateway.cli.output import echo_json
from gateway.client import ApiProblem, GatewayClient
from gateway.errors import GatewayError

from .tasks import STATES


def _channel(obj: CliContext, name: str | None) -> str:
    portals = sorted(n for n, c in obj.config.channels.items() if c.type == "portal")
    if name is not None:
        if name not in portals:
            raise GatewayError(f"--channel {name!r}: no portal channel of that name in "
                               f"{obj.config_path} (portal channels: {', '.join(portals) or '-'})")
        return name
    if len(portals) != 1:
        raise GatewayError(f"{obj.config_path} has {len(portals)} portal channels "
                           f"({', '.join(portals) or 'none'}); name one with --channel")
    return portals[0]


def _base(obj: CliContext, channel: str | None) -> tuple[GatewayClient, str]:
    return (GatewayClient.from_config(obj.config),
            f"/api/v1/channels/{_channel(obj, channel)}")


def _close(client: GatewayClient, path: str, body: dict[str, str]) -> dict[str, Any]:
    """POST a close; a task closed already (here or on another instance) is an error of its own."""
    try:
        task: dict[str, Any] = client.post_json(path, body)
    except ApiProblem as exc:
        if exc.status == 409 and isinstance(exc.problem.get("detail"), str):
            # The gateway's words name who closed it and how; the URL would only hide them.
            raise GatewayError(exc.problem["detail"]) from None
        raise
    return task


def _line(task: dict[str, Any]) -> str:
    flag = "  WARNING: open too long" if task.get("overdue") else ""
    closed = ""
    if task["state"] == "submitted":
        closed = f"  ref {task['reference']} by {task['closed_by'] or '-'} {task['closed_at']}"
    elif task["state"] == "cancelled":
        closed = f"  ({task['reason']})"
    return (f"{task['id']}  {task['state']:<9}  {task['agency_oin']}  {task['kind']} "
            f"{task['document_number']}  since {task['opened_at']}{closed}{flag}")


channel_option = click.option("--channel", "channel", default=None,
                              help="The portal channel (needed when there are several).")


@click.group()
def portal() -> None:
    """The supplier portal's work queue: tasks to key in by hand, and imports."""


@portal.command("tasks")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only tasks in this state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@channel_option
@click.pass_obj
def list_tasks(obj: CliContext, state: str | None, as_json: bool, channel: str | None) -> None:
    """List tasks, newest first; open tasks past warn_after are flagged."""
    client, base = _base(obj, channel)
    answer = client.get_json(f"{base}/tasks", query={"state": state})
    if as_json:
        echo_json(answer)
        return
    overdue = [t for t in answer["tasks"] if t.get("overdue")]
    for task in answer["tasks"]:
        click.echo(_line(task))
    if not answer["tasks"]:
        click.echo("no tasks" + (f" in state {state}" if state else ""))
    if overdue:
        click.echo(f"warning: {len(overdue)} task(s) open longer than "
                   f"{answer['warn_after_seconds'] / 3600:g} h", err=True)


@portal.command("show")
@click.argument("task_id")
@channel_option
@click.pass_obj
def show(obj: CliContext, task_id: str, channel: str | None) -> None:
    """One task as JSON, with the files of its bundle."""
    client, base = _base(obj, channel)
    echo_json(client.get_json(f"{base}/tasks/{task_id}"))


@portal.command("download")
@click.argument("task_id")
@click.option("--to", "target", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to put the bundle in (a sub-folder per task is made).")
@channel_option
@click.pass_obj
def download(obj: CliContext, task_id: str, target: Path, channel: str | None) -> None:
    """Fetch a task's export bundle (XML, HTML, PDF, attachments, task.json).

    It goes into DIR/TASK_ID. A task id that is not one plain folder name, or
    a bundle naming a file outside it, is refused before anything is written.
    """
    _check_folder_name(task_id)
    client, base = _base(obj, channel)
    answer = client.get_json(f"{base}/tasks/{task_id}/bundle")
    answered = answer.get("task_id")
    if answered != task_id:
        raise GatewayError(f"the gateway answered the bundle of task {answered!r} when asked "
                           f"for {task_id!r}; nothing was written")
    folder = target / task_id
    # Every name and content checked before the first file is written: a bundle refused
    # half-way would leave part of itself in --to.
    files: list[tuple[str, Path, bytes]] = []
    for name, encoded in sorted(answer["files"].items()):
        path = (folder / name).resolve()
        if folder.resolve() not in path.parents:
            raise GatewayError(f"the gateway sent a file name outside the bundle: {name!r}; "
                               "nothing was written")
        try:
            files.append((name, path, base64.b64decode(encoded, validate=True)))
        except (TypeError, ValueError):
            raise GatewayError(f"the gateway sent file {name!r} of the bundle in other than "
                               "base64; nothing was written") from None
    for name, path, data in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        click.echo(str(folder / name))


def _check_folder_name(task_id: str) -> None:
    """Refuse a task id that is not one plain folder name: it names the folder in --to,
    and ``..``, ``/`` or a drive would put the bundle elsewhere."""
    bad = (task_id in ("", ".", "..") or any(c in task_id for c in "/\\:")
           or any(not c.isprintable() for c in task_id))
    if bad:
        raise GatewayError(f"task id {task_id!r} cannot name a folder in --to (a task id is "
                           "one name, without '/', '\\', ':', '..' or control characters); "
                           "nothing was written")


@portal.command("done")
@click.argument("task_id")
@click.option("--reference", required=True, help="The reference the portal gave the submission.")
@click.option("--by", default=None, help="Who submitted it (default: your user name).")
@channel_option
@click.pass_obj
def done(obj: CliContext, task_id: str, reference: str, by: str | None,
         channel: str | None) -> None:
    """Close a task: it was keyed into the portal and submitted."""
    client, base = _base(obj, channel)
    task = _close(client, f"{base}/tasks/{task_id}/done",
                  {"reference": reference, "by": by or getpass.getuser()})
    click.echo(_line(task))


@portal.command("cancel")
@click.argument("task_id")
@click.option("--reason", required=True, help="Why the task will not be submitted.")
@click.option("--by", default=None, help="Who cancels it (default: your user name).")
@channel_option
@click.pass_obj
def cancel(obj: CliContext, task_id: str, reason: str, by: str | None,
           channel: str | None) -> None:
    """Cancel a task; its message moves to failed with the reason."""
    client, base = _base(obj, channel)
    task = _close(client, f"{base}/tasks/{task_id}/cancel",
                  {"reason": reason, "by": by or getpass.getuser()})
    click.echo(_line(task))


@portal.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--agency", required=True, help="OIN of the agency the document comes from.")
@channel_option
@click.pass_obj
def import_(obj: CliContext, file: Path, agency: str, channel: str | None) -> None:
    """Import an order or proposal invoice from the portal (XML, or canonical JSON)."""
    client, base = _base(obj, channel)
    answer = client.call("POST", f"{base}/import", json_body={
        "agency": agency, "filename": file.name, "by": getpass.getuser(),
        "content_base64": base64.b64encode(file.read_bytes()).decode("ascii"),
    }, accept=(201,)).body
    click.echo(f"message {answer['message_id']}: {answer.get('transport_state')} "
               f"{answer.get('kind') or ''}".rstrip())
    if answer.get("transport_state") == "rejected":
        click.echo(f"refused: {answer.get('error')}", err=True)
        sys.exit(1)
