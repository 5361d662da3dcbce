"""Wissel: a procurement message gateway for suppliers of Dutch government bodies.

The core (this package) holds the canonical model, the plugin system, routing,
the store and the pipelines. Everything that knows a particular standard,
version or network is a plugin loaded through the ``wissel.plugins`` entry
point group.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wissel")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

PLUGIN_ENTRY_POINT_GROUP = "wissel.plugins"
