"""Route checks at `gateway agencies list`, and a switch on a file with a byte order mark."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from test_config import BASE

from gateway.cli.context import CliContext
from gateway.cli.main import cli
from gateway.config import switch_route
from gateway.pluginmanager import make_plugin_manager


def test_agencies_list_refuses_an_invoice_route_to_an_order_format(tmp_path: Path) -> None:
    # Today: exit 0 and the route listed; every invoice then fails at intake with
    # "format ubl-ohnl:order:1.9 does not send invoice documents".
    path = tmp_path / "gateway.toml"
    path.write_text(BASE.replace('format = "ubl-ohnl:invoice:1.9"',
                                 'format = "ubl-ohnl:order:1.9"'), "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "agencies", "list"],
                                obj=CliContext(path, make_plugin_manager()))
    assert result.exit_code == 1, result.output
    assert "is for order documents, not invoice" in result.stderr


def test_a_switch_works_on_a_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode("utf-8"))
    _, new = switch_route(path, "00000001003214345000", "invoice", "portal",
                          actor="test", reason="review")
    assert new.channel == "portal"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # saved as the editor had it
