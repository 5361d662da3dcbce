"""``gateway decode`` and ``gateway encode``: between a format's bytes and canonical JSON."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.cli.context import CliContext
from gateway.cli.validate import resolve_format, standards_dir_for
from gateway.formats import EncodeContext
from gateway.identifiers import OIN
from gateway.model import CanonicalDocument
from gateway.model.documents import kind_of
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
              help="The addressed agency. When the configuration lists it, its name, our "
                   "supplier number there and the settings of its route for the document's "
                   "kind are used, as the gateway uses them.")
@click.pass_obj
def encode(obj: CliContext, file: Path, format_key: str, agency_oin: str | None) -> None:
    """Write canonical JSON FILE in a format, validate the result and print it.

    Exit status 1, with the validation report on stderr, when the encoded
    document does not pass its format's validation layers: an encoder must
    never hand out a document the receiving side would reject. There is no
    store here: a response whose format repeats the document it answers (a
    UBL-OHNL order response lists the order's lines) is refused, where the
    gateway looks that document up among those it received.
    """
    fmt = obj.registry.format(format_key)
    document = loads(_read(file))
    data = fmt.encode(document, _context(obj, document, agency_oin))
    validator = validator_for(standards_dir_for(obj), obj.registry.manifest)
    report = validator.validate(data, fmt.layers(), format_key=fmt.key)
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


def _context(obj: CliContext, document: CanonicalDocument, agency_oin: str | None) -> EncodeContext:
    """The context the gateway would encode ``document`` with, as far as the configuration says.

    A G-account invoice takes its account and share from the agency's route:
    without them the encoder refuses, whatever the document holds.
    """
    config = obj.config if obj.config_path.is_file() else None
    supplier = config.supplier if config is not None else None
    if agency_oin is None:
        return EncodeContext(supplier=supplier)
    oin = OIN(agency_oin)
    agency = config.agency(oin) if config is not None else None
    if agency is None:
        return EncodeContext(agency_oin=str(oin), supplier=supplier)
    route = agency.documents.get(kind_of(document))
    return EncodeContext(agency_oin=str(oin), agency_name=agency.name, supplier=supplier,
                         supplier_number=agency.supplier_number,
                         settings=dict(route.settings) if route is not None else {})
