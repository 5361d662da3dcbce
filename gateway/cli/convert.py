"""``gateway decode`` and ``gateway encode``: between a format's bytes and canonical JSON."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.cli.context import CliContext
from gateway.cli.validate import resolve_format, standards_dir_for
from gateway.formats import EncodeContext
from gateway.identifiers import OIN
from gateway.model.json import dumps, loads
from gateway.validation import validator_for

_FILE = click.Path(path_type=Path, dir_okay=False, exists=True)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise click.FileError(str(path), hint=exc.strerror or str(exc)) from exc


@click.command()
@click.argument("file", type=_FILE)
@click.option("--format", "format_key", metavar="KEY",
              help="Read the file as this format instead of detecting it.")
@click.pass_obj
def decode(obj: CliContext, file: Path, format_key: str | None) -> None:
    """Print FILE as canonical JSON; what could not be mapped goes to stderr as warnings."""
    data = _read(file)
    fmt = resolve_format(obj, data, format_key)
    decoded = fmt.decode(data)
    for warning in decoded.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(dumps(decoded.document))


@click.command()
@click.argument("file", type=_FILE)
@click.option("--format", "format_key", metavar="KEY", required=True,
              help="The format to write (standard:document:version).")
@click.option("--agency", "agency_oin", metavar="OIN",
              help="The addressed agency; its name comes from the configuration when it "
                   "lists the agency.")
@click.pass_obj
def encode(obj: CliContext, file: Path, format_key: str, agency_oin: str | None) -> None:
    """Write canonical JSON FILE in a format, validate the result and print it.

    Exit status 1, with the validation report on stderr, when the encoded
    document does not pass its format's validation layers: an encoder must
    never hand out a document the receiving side would reject.
    """
    fmt = obj.registry.format(format_key)
    document = loads(_read(file))
    context = EncodeContext()
    if agency_oin is not None:
        oin = OIN(agency_oin)
        agency = obj.config.agency(oin) if obj.config_path.is_file() else None
        context = EncodeContext(agency_oin=str(oin),
                                agency_name=agency.name if agency is not None else None)
    data = fmt.encode(document, context)
    report = validator_for(standards_dir_for(obj)).validate(data, fmt.layers(),
                                                             format_key=fmt.key)
    if not report.valid:
        click.echo(f"the encoded {fmt.key} document is {report.summary()}:", err=True)
        for finding in report.by_severity():
            click.echo(f"  {finding}", err=True)
        sys.exit(1)
    for finding in report.warnings:
        click.echo(f"warning: {finding}", err=True)
    # Bytes as encoded: the XML declaration names their encoding.
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
