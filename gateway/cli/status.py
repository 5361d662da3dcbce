"""``gateway status``: ask the running gateway how it is."""

from __future__ import annotations

import sys

import click

from gateway.cli.context import CliContext
from gateway.cli.output import echo_json
from gateway.client import GatewayClient


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the health report as JSON.")
@click.pass_obj
def status(obj: CliContext, as_json: bool) -> None:
    """Show the health of the gateway running with this configuration.

    With the details: its channels, which instance on the database holds each
    channel's turn at polling (and until when), and its problems.

    Exits 0 when it is ok, 1 when it runs degraded, 2 when none answers.
    """
    report = GatewayClient.from_config(obj.config).get_json("/health")
    if as_json:
        echo_json(report)
    else:
        line = f"{report['status']}: version {report['version']}"
        if report.get("role") == "intake":
            line += ", intake only (no channels here: a full instance sends)"
        config = report.get("config")
        if config is not None:
            line += f", config {config['file']} (version {config['version']})"
        else:  # only the public fields: not this machine, and no token with the read scope
            line += " (details need a token with the read scope or a call from its machine)"
        click.echo(line)
        for name, state in report.get("channels", {}).items():
            click.echo(f"  channel {name}: {state}")
        for turn in report.get("turns", []):
            holder = f"{turn['holder']} (this instance)" if turn["here"] else turn["holder"]
            click.echo(f"  turn {turn['channel']} {turn['purpose']}: {holder} until "
                       f"{turn['until']}")
        for problem in report.get("problems", []):
            click.echo(f"  problem: {problem}")
    sys.exit(0 if report["status"] == "ok" else 1)
