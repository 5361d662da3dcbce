"""The `gateway` command as a user runs it: a real process, its output and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from gateway.cli.main import cli

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "gateway.toml"


def gateway(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", *args],
        capture_output=True, text=True, timeout=60, cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _all_commands(command, (*prefix, name))
    return found


def test_help_lists_every_top_level_command() -> None:
    result = gateway("--help")
    assert result.returncode == 0, result.stderr
    for name in cli.commands:
        assert f"  {name}" in result.stdout, f"{name} missing from gateway --help"


@pytest.mark.parametrize("path", _all_commands(cli), ids=" ".join)
def test_every_command_documents_itself(path: tuple[str, ...]) -> None:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert (command.help or "").strip(), f"`gateway {' '.join(path)}` has no help text"
    for parameter in command.params:
        if isinstance(parameter, click.Option) and not parameter.hidden:
            assert parameter.help, f"`gateway {' '.join(path)}` option {parameter.opts} has no help"


def test_plugins_lists_built_ins_and_the_installed_example() -> None:
    result = gateway("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["folder"]["channels"] == ["folder"]
    assert plugins["folder"]["version"] == "1.0.0"
    assert "canonical:invoice:1" in plugins["canonical-json"]["formats"]
    if "http-post" in plugins:  # `make test` installs the example plugin
        assert plugins["http-post"]["distribution"] == "wissel-plugin-http"


def test_formats_and_channels_list_keys() -> None:
    formats = gateway("formats")
    assert formats.returncode == 0, formats.stderr
    assert "canonical:order:1" in formats.stdout
    channels = json.loads(gateway("channels", "--json").stdout)
    assert "folder" in {c["name"] for c in channels}
    assert all(c["description"] for c in channels)


def test_config_errors_are_one_line_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "gateway.toml"
    bad.write_text(EXAMPLE.read_text("utf-8").replace('kvk = "30097265"', 'kvk = "1234"'))
    result = gateway("--config", str(bad), "agencies", "list")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1)
                if text.startswith("kvk ="))
    assert f"{bad}:{line}" in result.stderr + result.stdout


def test_config_comes_from_the_environment(tmp_path: Path) -> None:
    result = gateway("agencies", "list", "--json", env={"GATEWAY_CONFIG": str(EXAMPLE)})
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) >= 5


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    result = gateway("--config", str(tmp_path / "nope.toml"), "agencies", "list")
    assert result.returncode != 0
    assert "nope.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_plugin_stops_the_start_with_its_name(tmp_path: Path) -> None:
    # A distribution on the path whose entry point names a module that fails.
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[wissel.plugins]\nbroken = broken_plugin_mod\n")
    (tmp_path / "broken_plugin_mod.py").write_text("raise RuntimeError('cannot start')\n")
    result = gateway("formats", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 2
    assert "plugin 'broken'" in result.stderr
    assert "cannot start" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_option_is_accepted_after_the_sub_command(tmp_path: Path) -> None:
    before = gateway("--config", str(EXAMPLE), "agencies", "list", "--json")
    after = gateway("agencies", "list", "--json", "--config", str(EXAMPLE))
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    missing = gateway("agencies", "list", "--config", str(tmp_path / "absent.toml"))
    assert "absent.toml" in missing.stderr


def test_exit_status_of_a_failing_check_reaches_the_shell(tmp_path: Path) -> None:
    # `standards verify` on an empty folder must fail, not print problems and exit 0.
    result = gateway("standards", "verify", "--target", str(tmp_path / "empty"))
    assert result.returncode == 1, result.stdout + result.stderr
