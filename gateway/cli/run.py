"""``gateway run``: start the gateway service."""

from __future__ import annotations

import os
import sys

import click

from gateway.cli.context import CliContext
from gateway.config.model import GatewayConfig


def secrets_of(config: GatewayConfig) -> list[str | None]:
    """The values no log line may show: the API token and the webhook secret."""
    values = [config.gateway.token]
    for variable in (config.gateway.token_env, config.erp.webhook_secret_env):
        if variable:
            values.append(os.environ.get(variable))
    return values


@click.command()
@click.option("--listen", metavar="HOST:PORT", help="Override [gateway] listen.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), help="Log verbosity.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None,
              help="Log lines as text or as JSON objects [default: text on a terminal, "
                   "json otherwise].")
@click.pass_obj
def run(obj: CliContext, listen: str | None, log_level: str, log_format: str | None) -> None:
    """Run the gateway: HTTP API, channels and workers, until interrupted.

    Traces and metrics are exported as the OTEL_* environment variables say
    (OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER: console or otlp; none by default).
    """
    from gateway import eventloop
    from gateway.logs import setup_logging
    from gateway.service import GatewayService
    from gateway.telemetry import configure_telemetry

    service = GatewayService(obj.config_path, obj.pm)

    known: list[str | None] = secrets_of(service.config)

    def refresh(_old: GatewayConfig, new: GatewayConfig, _version: int) -> None:
        # Kept current through reloads, not read from the configuration inside a log call.
        known[:] = secrets_of(new)

    service.config_holder.subscribe(refresh)

    setup_logging(log_level, log_format, secrets=lambda: known, stream=sys.stderr)
    telemetry = configure_telemetry()
    click.echo(f"gateway: using {obj.config_path}", err=True)
    try:
        eventloop.run(service.run_forever(listen))
    except KeyboardInterrupt:
        click.echo("gateway: stopped", err=True)
    finally:
        telemetry.shutdown()
