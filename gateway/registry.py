"""The registry that plugins fill with formats, channel types and their official files.

The core asks the registry, never a plugin module, for "the format with key
X", "the channel type named Y" or "which format is this document in". The
registry also remembers which plugin registered what, for ``gateway plugins``
and for error messages that name the culprit.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from gateway.channels import CHANNEL_NAME_RE, ChannelType, declaration_problems
from gateway.errors import GatewayError, PluginError, StandardsError
from gateway.formats import Detection, Format, FormatKey, FormatStatus
from gateway.kinds import Direction, DocumentKind
from gateway.sniff import Sniffed
from gateway.standards.manifest import Manifest, default_manifest, load_manifest

log = logging.getLogger(__name__)


class UnknownFormatError(GatewayError):
    """No installed format has the key asked for, or matches a document."""


class UnknownChannelError(GatewayError):
    """No installed channel type has the name asked for."""


@attrs.frozen
class DetectionResult:
    format: Format
    sniffed: Sniffed


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else ""


class Registry:
    """Formats and channel types by key, with the plugin that registered each.

    Also the standards manifest in force: Wissel's, extended by plugins.
    """

    def __init__(self) -> None:
        self._formats: dict[str, Format] = {}
        self._channels: dict[str, ChannelType] = {}
        self._owner: dict[tuple[str, str], str] = {}
        self._current_plugin = "<direct>"
        # Wissel's own pinned manifest, extended by every add_standards().
        self._manifest: Manifest | None = None

    @contextmanager
    def registering_for(self, plugin_name: str) -> Iterator[None]:
        """Attribute everything registered inside the block to ``plugin_name``."""
        previous, self._current_plugin = self._current_plugin, plugin_name
        try:
            yield
        finally:
            self._current_plugin = previous

    # -- registration (called by plugins) -----------------------------------

    def add_format(self, fmt: Format) -> None:
        """Register a format instance under its ``key``."""
        if not isinstance(fmt, Format):
            raise PluginError(
                f"plugin {self._current_plugin!r} registered {fmt!r} as a format, "
                "but it is not a gateway.formats.Format"
            )
        try:
            FormatKey.parse(fmt.key)
        except (ValueError, AttributeError) as exc:
            raise PluginError(f"plugin {self._current_plugin!r}: {exc}") from None
        kind = getattr(fmt, "kind", None)
        directions = getattr(fmt, "directions", None)
        if not isinstance(kind, DocumentKind):
            raise PluginError(f"plugin {self._current_plugin!r}: format {fmt.key!r} has kind "
                              f"{kind!r}, not a gateway.kinds.DocumentKind")
        if not (isinstance(directions, frozenset | set) and directions
                and all(isinstance(d, Direction) for d in directions)):
            raise PluginError(f"plugin {self._current_plugin!r}: format {fmt.key!r} has "
                              f"directions {directions!r}, not a non-empty set of "
                              "gateway.kinds.Direction")
        also_kinds: object = getattr(fmt, "also_kinds", frozenset())
        if not (isinstance(also_kinds, frozenset | set)
                and all(isinstance(k, DocumentKind) for k in also_kinds)):
            raise PluginError(f"plugin {self._current_plugin!r}: format {fmt.key!r} has "
                              f"also_kinds {also_kinds!r}, not a set of "
                              "gateway.kinds.DocumentKind")
        if not isinstance(fmt.status, FormatStatus):
            raise PluginError(f"plugin {self._current_plugin!r}: format {fmt.key!r} has status "
                              f"{fmt.status!r}, not a gateway.formats.FormatStatus")
        if fmt.key in self._formats:
            raise PluginError(
                f"format {fmt.key!r} registered twice: by "
                f"{self._owner['format', fmt.key]!r} and by {self._current_plugin!r}"
            )
        self._formats[fmt.key] = fmt
        self._owner["format", fmt.key] = self._current_plugin

    def add_channel(self, channel_type: ChannelType) -> None:
        """Register a channel type under its ``name``."""
        if not isinstance(channel_type, ChannelType):
            raise PluginError(
                f"plugin {self._current_plugin!r} registered {channel_type!r} as a channel, "
                "but it is not a gateway.channels.ChannelType"
            )
        name = channel_type.name
        if not isinstance(name, str) or not CHANNEL_NAME_RE.fullmatch(name):
            raise PluginError(
                f"plugin {self._current_plugin!r}: channel name {name!r} must be lower-case "
                "letters, digits, '-' or '_', as a configuration's `type` names it"
            )
        problems = declaration_problems(channel_type)
        if problems:
            raise PluginError(f"plugin {self._current_plugin!r}: channel {name!r}: "
                              + "; ".join(problems))
        if name in self._channels:
            raise PluginError(
                f"channel {name!r} registered twice: by {self._owner['channel', name]!r} "
                f"and by {self._current_plugin!r}"
            )
        self._channels[name] = channel_type
        self._owner["channel", name] = self._current_plugin

    def add_standards(self, manifest: Path | Manifest) -> None:
        """Pin the official files of this plugin's own formats beside Wissel's.

        ``manifest`` is a manifest in the format of ``schemas/standards.toml``
        (its path, usually a file in the plugin's package, or the loaded
        manifest), whose sets may require Wissel's. A format's layers may then
        name its files; ``gateway standards install`` installs them with the
        rest, checked by sha256 as every pinned file. Call it from a
        ``register_*`` hook.
        """
        try:
            extra = manifest if isinstance(manifest, Manifest) else load_manifest(
                Path(manifest), beside=self.manifest)
            self._manifest = self.manifest.extended(extra)
        except StandardsError as exc:
            raise PluginError(f"plugin {self._current_plugin!r}: its standards manifest "
                              f"is refused: {exc}") from None
        for artifact in extra.artifacts:
            self._owner["standards", artifact.id] = self._current_plugin

    # -- look-up (called by the core) ----------------------------------------

    @property
    def manifest(self) -> Manifest:
        """The pinned official files: Wissel's own and those plugins added."""
        if self._manifest is None:
            self._manifest = default_manifest()
        return self._manifest

    @property
    def formats(self) -> dict[str, Format]:
        return dict(sorted(self._formats.items()))

    @property
    def channels(self) -> dict[str, ChannelType]:
        return dict(sorted(self._channels.items()))

    def owner(self, what: str, key: str) -> str:
        """The plugin that registered format or channel ``key`` (what: "format"/"channel")."""
        return self._owner[what, key]

    def registered_by(self, plugin_name: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {"formats": [], "channels": [], "standards": []}
        for (what, key), owner in sorted(self._owner.items()):
            if owner == plugin_name:
                found["standards" if what == "standards" else f"{what}s"].append(key)
        return found

    def format(self, key: str) -> Format:
        try:
            return self._formats[key]
        except KeyError:
            raise UnknownFormatError(
                f"no installed format has the key {key!r}{_suggest(key, list(self._formats))}"
                " (`gateway formats` lists them)"
            ) from None

    def channel_type(self, name: str) -> ChannelType:
        try:
            return self._channels[name]
        except KeyError:
            raise UnknownChannelError(
                f"no installed channel type is named {name!r}"
                f"{_suggest(name, list(self._channels))} (`gateway channels` lists them)"
            ) from None

    def formats_for(self, kind: DocumentKind) -> list[Format]:
        return [f for key, f in sorted(self._formats.items()) if f.serves(kind)]

    def detect(self, data: bytes | Sniffed) -> DetectionResult:
        """Find the one format ``data`` is written in, or say clearly why not."""
        sniffed = data if isinstance(data, Sniffed) else Sniffed(data)
        matches: list[Format] = []
        other_versions: list[Format] = []
        broken: list[tuple[Format, Exception]] = []
        for fmt in self._formats.values():
            try:
                answer = fmt.detect(sniffed)
            except Exception as exc:  # a plugin bug must not hide the other formats
                broken.append((fmt, exc))
                continue
            if answer is Detection.MATCH:
                matches.append(fmt)
            elif answer is Detection.OTHER_VERSION:
                other_versions.append(fmt)
        if len(matches) == 1:
            for fmt, error in broken:  # seen by the operator, without costing the document
                log.warning("format %r (plugin %r) raised %s while detecting: %s", fmt.key,
                            self._owner["format", fmt.key], type(error).__name__, error)
            return DetectionResult(matches[0], sniffed)
        if broken and not matches:
            fmt, error = broken[0]
            raise PluginError(
                f"format {fmt.key!r} (plugin {self._owner['format', fmt.key]!r}) "
                f"raised {type(error).__name__} while detecting: {error}"
            ) from error
        if len(matches) > 1:
            keys = ", ".join(sorted(f.key for f in matches))
            raise UnknownFormatError(
                f"the document matches several formats ({keys}); give the format explicitly"
            )
        seen = sniffed.describe()
        if other_versions:
            known = ", ".join(sorted(f.key for f in other_versions))
            raise UnknownFormatError(
                f"the document is of a known standard but a version no installed format "
                f"handles (installed: {known}); saw {seen}"
            )
        raise UnknownFormatError(f"no installed format matches the document; saw {seen}")
