"""Where the gateway keeps its files when the configuration does not say.

The data directory holds installed standards, the embedded database and
exports. Precedence: the ``data_dir`` key of the configuration, then the
``GATEWAY_DATA_DIR`` environment variable, then the per-user data directory
of the operating system (``~/.local/share/wissel`` on Linux).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DATA_DIR_ENV = "GATEWAY_DATA_DIR"
STANDARDS_DIR_ENV = "GATEWAY_STANDARDS_DIR"
CONFIG_ENV = "GATEWAY_CONFIG"
DEFAULT_CONFIG_NAME = "gateway.toml"


def default_data_dir() -> Path:
    """The data directory used when the configuration names none."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("wissel", appauthor=False))


def standards_dir(data_dir: Path | None = None, configured: Path | None = None) -> Path:
    """Where the official artifacts are installed.

    The configured ``standards_dir``, else ``$GATEWAY_STANDARDS_DIR``, else
    ``<data dir>/standards``.
    """
    if configured is not None:
        return configured
    env = os.environ.get(STANDARDS_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return (data_dir or default_data_dir()) / "standards"


def default_config_path() -> Path:
    """``$GATEWAY_CONFIG`` if set, else ``./gateway.toml``."""
    env = os.environ.get(CONFIG_ENV)
    return Path(env).expanduser() if env else Path.cwd() / DEFAULT_CONFIG_NAME
