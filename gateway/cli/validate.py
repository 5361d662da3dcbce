"""``gateway validate``: check documents against the official XSD and Schematron rules."""

from __future__ import annotations

import collections
import json
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path

import attrs
import click

from gateway.cli.context import CliContext
from gateway.errors import GatewayError
from gateway.formats import Format
from gateway.paths import standards_dir
from gateway.validation import ValidationPool, ValidationReport, validator_for
from gateway.validation.pool import SPLIT_BYTES, default_workers
from gateway.validation.report import Finding, Severity

EXIT_VALID, EXIT_INVALID, EXIT_UNUSABLE = 0, 1, 2
DECODE_LAYER = "decode"


def standards_dir_for(obj: CliContext) -> Path:
    """The configured standards directory when there is a configuration file, else the default."""
    if obj.config_path.is_file():
        return Path(obj.config.gateway.standards_path)
    return standards_dir()


def resolve_format(obj: CliContext, data: bytes, format_key: str | None) -> Format:
    """The format named by ``--format``, else the one the document is written in."""
    if format_key is not None:
        return obj.registry.format(format_key)
    return obj.registry.detect(data).format


@attrs.frozen
class _Outcome:
    """What became of one file: a report, or the reason there is none."""

    path: Path
    format_key: str | None = None
    report: ValidationReport | None = None
    problem: str | None = None

    @property
    def exit_code(self) -> int:
        if self.report is None:
            return EXIT_UNUSABLE
        return EXIT_VALID if self.report.valid else EXIT_INVALID

    def to_json(self) -> dict[str, object]:
        if self.report is None:
            return {"file": str(self.path), "format": self.format_key, "valid": False,
                    "error": self.problem, "findings": []}
        return {"file": str(self.path), **self.report.to_json()}


@attrs.frozen
class _Prepared:
    path: Path
    data: bytes
    format: Format


def _split_layers(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    if not names:
        raise click.BadParameter("name at least one layer kind or layer", param_hint="--layers")
    return names


def _decode_check(prepared: _Prepared) -> ValidationReport:
    """Formats without validation layers (canonical JSON) are checked by decoding them."""
    try:
        decoded = prepared.format.decode(prepared.data)
    except GatewayError as exc:
        finding = Finding(DECODE_LAYER, "decode-error", Severity.FATAL, "", None, str(exc))
        return ValidationReport.of([finding], [DECODE_LAYER], prepared.format.key)
    warnings = [Finding(DECODE_LAYER, "decode-warning", Severity.WARNING, "", None, text)
                for text in decoded.warnings]
    return ValidationReport.of(warnings, [DECODE_LAYER], prepared.format.key)


def _prepare(obj: CliContext, path: Path, format_key: str | None) -> _Prepared | _Outcome:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _Outcome(path, problem=f"cannot read the file: {exc.strerror or exc}")
    try:
        return _Prepared(path, data, resolve_format(obj, data, format_key))
    except GatewayError as exc:
        return _Outcome(path, format_key, problem=str(exc))


def _outcomes(
    obj: CliContext, files: Sequence[Path], format_key: str | None, only: frozenset[str] | None,
    standards: Path, workers: int,
) -> Iterator[_Outcome]:
    """One outcome per file, in order, as soon as it is known.

    Files are read as they are needed, so a run over thousands of files
    neither holds them all in memory nor waits for the last to print the first.
    """
    items = (_prepare(obj, path, format_key) for path in files)
    if workers <= 1 or len(files) <= 1:
        for item in items:
            if isinstance(item, _Outcome):
                yield item
            elif not item.format.layers():
                yield _Outcome(item.path, item.format.key, _decode_check(item))
            elif workers > 1 and len(item.data) > SPLIT_BYTES:
                # One large document: its Schematron layers run side by side.
                with ValidationPool(standards, workers=workers,
                                    manifest=obj.registry.manifest) as pool:
                    yield _Outcome(item.path, item.format.key, pool.run(
                        item.data, item.format.layers(), item.format.key, only))
            else:
                validator = validator_for(standards, obj.registry.manifest)
                yield _Outcome(item.path, item.format.key, validator.validate(
                    item.data, item.format.layers(), format_key=item.format.key, only=only))
        return
    window = workers * 4
    with ValidationPool(standards, workers=min(workers, len(files)),
                        manifest=obj.registry.manifest) as pool:
        pending: collections.deque[_Outcome | tuple[_Prepared, Future[ValidationReport]]] = (
            collections.deque())
        for item in items:
            if isinstance(item, _Outcome):
                pending.append(item)
            elif item.format.layers():
                pending.append((item, pool.submit(item.data, item.format.layers(),
                                                  item.format.key, only)))
            else:
                pending.append(_Outcome(item.path, item.format.key, _decode_check(item)))
            while pending and (len(pending) > window or isinstance(pending[0], _Outcome)):
                yield _settle(pending.popleft())
        while pending:
            yield _settle(pending.popleft())


def _settle(entry: _Outcome | tuple[_Prepared, Future[ValidationReport]]) -> _Outcome:
    if isinstance(entry, _Outcome):
        return entry
    item, future = entry
    return _Outcome(item.path, item.format.key, future.result())


def _echo_human(outcome: _Outcome) -> None:
    if outcome.report is None:
        click.echo(f"{outcome.path}: cannot validate: {outcome.problem}", err=True)
        return
    report = outcome.report
    layers = ", ".join(report.layers) or "none"
    click.echo(f"{outcome.path}: {report.summary()} [{report.format_key}; layers: {layers}]")
    for finding in report.by_severity():
        where = f"line {finding.line}" if finding.line is not None else ""
        head = " ".join(part for part in (finding.severity.value, f"{finding.layer}/"
                                          f"{finding.rule}", where) if part)
        click.echo(f"  {head}: {finding.text}")
        if finding.location:
            click.echo(f"      at {finding.location}")


@click.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "format_key", metavar="KEY",
              help="Validate as this format (standard:document:version) instead of detecting it.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object per file and line: file, format, valid, findings.")
@click.option("--layers", "layers", metavar="KIND|NAME,...",
              help="Run only these layer kinds (xsd, schematron) or layer names, e.g. to check "
                   "Schematron rules on a fragment that would fail the XSD.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes for many files or one large one. Default: one per core.")
@click.pass_obj
def validate(
    obj: CliContext, files: tuple[Path, ...], format_key: str | None, as_json: bool,
    layers: str | None, jobs: int | None,
) -> None:
    """Validate FILE... against the official XSD and Schematron rules of their format.

    The format is detected from each document unless --format is given.
    Exit status: 0 when every file is valid, 1 when any is invalid, 2 when
    any cannot be read or its format is unknown. Warnings are listed but
    never make a document invalid.
    """
    only = _split_layers(layers)
    standards = standards_dir_for(obj)
    if format_key is not None:
        obj.registry.format(format_key)  # an unknown key is the user's mistake, not the file's
    workers = jobs if jobs is not None else default_workers()
    worst = EXIT_VALID
    for outcome in _outcomes(obj, files, format_key, only, standards, workers):
        if as_json:
            click.echo(json.dumps(outcome.to_json(), ensure_ascii=False))
        else:
            _echo_human(outcome)
        worst = max(worst, outcome.exit_code)
    sys.exit(worst)
