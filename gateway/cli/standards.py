"""``gateway standards``: install, verify and list the official artifacts."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli.context import CliContext
from gateway.cli.output import echo_table
from gateway.errors import GatewayError, StandardsError
from gateway.paths import STANDARDS_DIR_ENV
from gateway.standards.installer import (
    default_standards_dir,
    install_from_dir,
    install_from_url,
    verify,
)
from gateway.standards.manifest import Manifest, default_manifest

_TARGET_HELP = (
    "Standards directory. Default: [gateway] standards_dir of the configuration when the "
    f"file exists, then ${STANDARDS_DIR_ENV}, then <data dir>/standards."
)


def _target(target: Path | None) -> Path:
    """The explicit --target, else what the configuration (if there is one) says."""
    if target is not None:
        return target
    obj = click.get_current_context().find_object(CliContext)
    if obj is not None and obj.config_path.is_file():
        try:
            return Path(obj.config.gateway.standards_path)
        except GatewayError as exc:
            raise click.ClickException(str(exc)) from exc
    return default_standards_dir()


def _manifest() -> Manifest:
    """Wissel's pinned files and those the installed plugins pin beside them."""
    obj = click.get_current_context().find_object(CliContext)
    try:
        return obj.registry.manifest if obj is not None else default_manifest()
    except GatewayError as exc:  # a refused plugin manifest (PluginError), or ours unreadable
        raise click.ClickException(str(exc)) from exc


@click.group()
def standards() -> None:
    """Install and check the official XSD, XSLT and WSDL files.

    The files are pinned by sha256 in schemas/standards.toml and installed
    into the standards directory, never into the repository.
    """


@standards.command()
@click.option("--from", "source", metavar="DIR|URL",
              help="A folder holding the standards tree, or the http(s) address of a mirror "
                   "of it. Default: each file's download address in the manifest; the "
                   "Peppol XSLT files have none, so without --from use --only for the others.")
@click.option("--target", type=click.Path(path_type=Path, file_okay=False), default=None,
              help=_TARGET_HELP)
@click.option("--only", multiple=True, metavar="ARTIFACT_ID",
              help="Install only this artifact (and what it requires); repeatable.")
def install(source: str | None, target: Path | None, only: tuple[str, ...]) -> None:
    """Install the artifacts, checking every file's sha256 before it is put in place."""
    manifest = _manifest()
    selection = only or None
    target = _target(target)
    try:
        if source is None:
            report = install_from_url(manifest, target, only=selection)
        elif source.startswith(("http://", "https://")):
            report = install_from_url(manifest, target, base=source, only=selection)
        else:
            report = install_from_dir(manifest, Path(source), target, only=selection)
    except StandardsError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"installed {len(report.artifacts)} artifact(s) into {report.target_dir}: "
        f"{report.installed} file(s) written ({report.bytes_installed} bytes), "
        f"{report.unchanged} already up to date"
    )


@standards.command(name="verify")
@click.option("--target", type=click.Path(path_type=Path, file_okay=False), default=None,
              help=_TARGET_HELP)
@click.option("--only", multiple=True, metavar="ARTIFACT_ID",
              help="Check only this artifact (and what it requires); repeatable.")
@click.pass_context
def verify_command(ctx: click.Context, target: Path | None, only: tuple[str, ...]) -> None:
    """Check every installed file against the manifest; exit 1 on any problem."""
    manifest = _manifest()
    try:
        report = verify(manifest, _target(target), only=only or None)
    except StandardsError as exc:
        raise click.ClickException(str(exc)) from exc
    if report.ok:
        click.echo(f"all {report.checked} file(s) in {report.target_dir} match the manifest")
        return
    # A set that is not installed at all is one line, not one per file.
    missing = {p.path for p in report.missing}
    covered: set[str] = set()
    for artifact in manifest.select(only or None):
        paths = {f.path for f in artifact.files}
        if paths <= missing:
            click.echo(f"missing: artifact {artifact.id} (all {len(paths)} files)", err=True)
            covered |= paths
    for problem in report.problems:
        if problem.path not in covered:
            click.echo(str(problem), err=True)
    click.echo(
        f"{len(report.missing)} missing and {len(report.altered)} altered of "
        f"{report.checked} file(s) in {report.target_dir}; reinstall with "
        "`gateway standards install --from DIR`",
        err=True,
    )
    ctx.exit(1)


@standards.command(name="list")
@click.option("--target", type=click.Path(path_type=Path, file_okay=False), default=None,
              help=_TARGET_HELP)
def list_command(target: Path | None) -> None:
    """List the artifacts with version, licence and whether they are installed."""
    manifest = _manifest()
    directory = _target(target)
    rows = []
    for artifact in manifest.artifacts:
        report = verify(manifest, directory, only=[artifact.id])
        own = {f.path for f in artifact.files}
        problems = [p for p in report.problems if p.path in own]
        if not problems:
            status = "yes"
        elif all(p.kind == "missing" for p in problems) and len(problems) == len(own):
            status = "no"
        else:
            status = f"no ({len(problems)} of {len(own)} files missing or altered)"
        rows.append((artifact.id, artifact.version, status, artifact.licence))
    click.echo(f"standards directory: {directory}")
    echo_table(("ARTIFACT", "VERSION", "INSTALLED", "LICENCE"), rows)
