"""``gateway run``: start the gateway service."""

from __future__ import annotations

import os
import sys

import click

from gateway.cli.context import CliContext
from gateway.config.model import GatewayConfig
from gateway.errors import GatewayError


def secrets_of(config: GatewayConfig) -> list[str | None]:
    """The values no log line may show: the API tokens, the webhook secret, and what the
    channels read from the environment (``*_env`` settings: SMTP passwords, access point
    tokens, key passphrases)."""
    values = [config.gateway.token]
    variables = [config.gateway.token_env, config.erp.webhook_secret_env]
    for token in config.api.tokens.values():
        values.append(token.token)
        variables.append(token.token_env)
    for channel in config.channels.values():
        # A plugin's settings are its own; by convention a secret is named by an *_env key.
        variables += [value for key, value in channel.settings.items()
                      if key.endswith("_env") and isinstance(value, str)]
    values += [os.environ.get(variable) for variable in variables if variable]
    return values


def _listen(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--listen`` checked as the configuration file's ``listen`` is."""
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) < 65536:
        raise click.BadParameter(f"must be host:port, e.g. 127.0.0.1:8780; got {value!r}")
    return value


@click.command()
@click.option("--listen", metavar="HOST:PORT", callback=_listen,
              help="Override [gateway] listen.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), help="Log verbosity.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None,
              help="Log lines as text or as JSON objects [default: text on a terminal, "
                   "json otherwise].")
@click.option("--role", type=click.Choice(["full", "intake"]), default="full",
              show_default=True,
              help="full runs everything. intake runs the HTTP API with submissions (checks, "
                   "routing, encoding, validation, store) but no channel, no sending, no "
                   "webhook or folder delivery to the ERP and no channel routes (they answer "
                   "404): it needs a full instance on the same database, which sends what it "
                   "stored at once on PostgreSQL (NOTIFY), at its next [dispatch] "
                   "poll_interval on SQLite.")
@click.pass_obj
def run(obj: CliContext, listen: str | None, log_level: str, log_format: str | None,
        role: str) -> None:
    """Run the gateway: HTTP API, channels and workers, until interrupted.

    Several instances may share one database: full instances, which split
    the sending between them (on PostgreSQL), and any number of intake
    instances taking the ERP's submissions beside them (on one machine, each
    with its own --listen). Each follows its own configuration file.

    Traces and metrics are exported as the OTEL_* environment variables say
    (OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER: console or otlp; none by default).
    """
    from gateway import eventloop
    from gateway.logs import setup_logging
    from gateway.scheduling import schedule_gateway
    from gateway.service import GatewayService
    from gateway.telemetry import configure_telemetry

    service = GatewayService(obj.config_path, obj.pm, role=role)

    known: list[str | None] = secrets_of(service.config)

    def refresh(_old: GatewayConfig, new: GatewayConfig, _version: int) -> None:
        # Kept current through reloads, not read from the configuration inside a log call.
        known[:] = secrets_of(new)

    service.config_holder.subscribe(refresh)

    try:
        eventloop.loop_name()
    except ValueError as exc:
        raise GatewayError(str(exc)) from None
    setup_logging(log_level, log_format, secrets=lambda: known, stream=sys.stderr)
    telemetry = configure_telemetry()
    # The process is the gateway's: its threads, and those they start, take the policy.
    schedule_gateway(service.config.gateway.scheduling)
    click.echo(f"gateway: using {obj.config_path}"
               + (" (intake only: no channels, nothing sent)" if role == "intake" else ""),
               err=True)
    try:
        eventloop.run(eventloop.until_terminated(service.run_forever(listen)))
    except KeyboardInterrupt:
        pass
    finally:
        telemetry.shutdown()
    click.echo("gateway: stopped", err=True)
