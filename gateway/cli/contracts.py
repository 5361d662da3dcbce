"""``gateway contracts``: check plugins against the contract kit."""

from __future__ import annotations

import sys

import click


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--plugin", "plugins", multiple=True, metavar="NAME",
              help="Check only what this plugin registers (repeatable). Default: every plugin.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def contracts(plugins: tuple[str, ...], pytest_args: tuple[str, ...]) -> None:
    """Check installed format and channel plugins against the contract kit.

    Extra arguments go to pytest, e.g. `gateway contracts --plugin mine -- -x -q`.
    """
    try:
        from contracts.runner import run
    except ImportError as exc:  # the kit ships with the package; this means a broken install
        raise click.ClickException(f"the contract kit is not installed: {exc}") from exc
    sys.exit(run(plugins, pytest_args))
