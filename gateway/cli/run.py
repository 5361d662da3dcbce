"""``gateway run``: start the gateway service."""

from __future__ import annotations

import asyncio
import logging

import click

from gateway.cli.context import CliContext


@click.command()
@click.option("--listen", metavar="HOST:PORT", help="Override [gateway] listen.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), help="Log verbosity.")
@click.pass_obj
def run(obj: CliContext, listen: str | None, log_level: str) -> None:
    """Run the gateway: HTTP API, channels and workers, until interrupted."""
    from gateway.service import GatewayService

    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    service = GatewayService(obj.config_path, obj.pm)
    click.echo(f"gateway: using {obj.config_path}", err=True)
    try:
        asyncio.run(service.run_forever(listen))
    except KeyboardInterrupt:
        click.echo("gateway: stopped", err=True)
