"""Entry point of the ``gateway`` command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway import __version__
from gateway.cli import plugins as plugin_commands
from gateway.cli.agencies import agencies
from gateway.cli.context import CliContext
from gateway.cli.contracts import contracts
from gateway.cli.convert import decode, encode
from gateway.cli.inbox import inbox
from gateway.cli.messages import messages
from gateway.cli.run import run
from gateway.cli.send import send
from gateway.cli.simulate import simulate
from gateway.cli.standards import standards
from gateway.cli.status import status
from gateway.cli.validate import validate
from gateway.errors import GatewayError
from gateway.paths import CONFIG_ENV, default_config_path
from gateway.pluginmanager import add_plugin_commands, make_plugin_manager


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"Configuration file. Default: ${CONFIG_ENV}, then ./gateway.toml.",
)
@click.version_option(__version__, prog_name="gateway")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Wissel: exchange orders, timecards and invoices with Dutch government bodies.

    Each agency is addressed by its OIN and reached over its own channel
    (Digipoort, Peppol, the supplier portal, e-mail, a folder) in its own
    message standard and version, as the configuration file says.
    """
    existing = ctx.obj if isinstance(ctx.obj, CliContext) else None
    path = config_path or default_config_path()
    if existing is None:
        ctx.obj = CliContext(path)
    else:
        existing.config_path = path


for _command in (
    plugin_commands.plugins,
    plugin_commands.formats,
    plugin_commands.channels,
    agencies,
    standards,
    run,
    simulate,
    status,
    send,
    messages,
    inbox,
    contracts,
    validate,
    decode,
    encode,
):
    cli.add_command(_command)


def _set_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        obj = ctx.find_object(CliContext)
        if obj is not None:
            obj.config_path = value


def accept_config_everywhere(group: click.Group) -> None:
    """Let ``--config`` follow any sub-command too (``gateway agencies list --config X``).

    Operators type the option where they think of it; refusing it after the
    sub-command would be pedantry.
    """
    for command in group.commands.values():
        if not any("--config" in getattr(p, "opts", ()) for p in command.params):
            command.params.append(click.Option(
                ["--config"], type=click.Path(path_type=Path, dir_okay=False),
                expose_value=False, is_eager=True, callback=_set_config,
                help=f"Configuration file. Default: ${CONFIG_ENV}, then ./gateway.toml.",
            ))
        if isinstance(command, click.Group):
            accept_config_everywhere(command)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors print one line and exit 2, never a traceback."""
    try:
        pm = make_plugin_manager()
        context = CliContext(default_config_path(), pm)
        context.plugin_commands = add_plugin_commands(pm, cli)
        accept_config_everywhere(cli)
    except GatewayError as exc:
        click.echo(f"gateway: {exc}", err=True)
        sys.exit(2)
    try:
        # Without standalone mode click returns the code of ctx.exit(n)
        # instead of exiting; the process must still end with it.
        result = cli.main(args=argv, obj=context, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except GatewayError as exc:
        click.echo(f"gateway: {exc}", err=True)
        sys.exit(2)
    if isinstance(result, int) and result != 0:
        sys.exit(result)


if __name__ == "__main__":
    main()
