"""Keep the current configuration and pick up edits without a restart.

Every message asks for the configuration, so :meth:`ConfigHolder.current`
must be cheap: it looks at the file's stat at most once per interval, and
reads and parses only when that changed. A file that fails to load never
replaces a working configuration: the gateway goes on with the last good
one and says so in the log, because half-edited files are normal while an
operator is typing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gateway.config.changes import written_identifiers
from gateway.config.loader import load_config
from gateway.config.model import GatewayConfig
from gateway.errors import ConfigError

log = logging.getLogger(__name__)

# dev, inode, mtime in ns, size: os.replace() changes the inode even when an
# editor keeps mtime and size the same.
_Signature = tuple[int, int, int, int]
ChangeListener = Callable[[GatewayConfig, GatewayConfig, int], None]
ConfigCheck = Callable[[GatewayConfig], None]


def _digest(path: Path) -> str | None:
    """sha256 of the file: an in-place save of the same size within one tick of the file
    system's clock keeps dev, inode, mtime and size, so the stat alone can miss it."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _signature(path: Path) -> _Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class ConfigHolder:
    """The live configuration of one file, with a version that goes up on every change."""

    def __init__(
        self, path: Path | str, *, check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic, check: ConfigCheck | None = None,
    ) -> None:
        """Load ``path``; a broken file raises ConfigError here, since there is nothing to keep.

        ``check`` raises ConfigError for a configuration that loads but cannot be
        used (a route its channel cannot carry, judged by the installed plugins):
        such a file is refused at the start and at every reload, as a broken one is.
        """
        self.path = Path(path).expanduser().absolute()
        self.check_interval = check_interval
        self._clock = clock
        self._check = check
        self._lock = threading.Lock()
        # Taken before reading, so an edit made during the read is seen next time.
        self._signature = _signature(self.path)
        self._digest = _digest(self.path)
        self._config = self._load()
        self._version = 1
        self._last_check = clock()
        self.last_error: ConfigError | None = None
        self._listeners: list[ChangeListener] = []

    def subscribe(self, listener: ChangeListener) -> None:
        """Call ``listener(old, new, version)`` after each new configuration is swapped in.

        It runs in whichever thread noticed the change, so it must be quick
        and hand real work to its own loop or thread.
        """
        self._listeners.append(listener)

    @property
    def version(self) -> int:
        """1 for the first configuration, +1 for each different one swapped in."""
        return self._version

    def current(self) -> GatewayConfig:
        """The configuration in force, re-read first if the file changed since the last look."""
        now = self._clock()
        if now - self._last_check >= self.check_interval:
            self._last_check = now
            # The file is small and looked at once per interval: hashing it is cheap.
            if (_signature(self.path) != self._signature
                    or _digest(self.path) != self._digest):
                self.reload()
        return self._config

    def _load(self) -> GatewayConfig:
        config = load_config(self.path)
        if self._check is not None:
            self._check(config)
        return config

    def reload(self) -> bool:
        """Read the file now. True if a new configuration was swapped in.

        On failure the error is logged and kept in :attr:`last_error`, and the
        old configuration stays. The failed file's signature is remembered,
        so the same broken file is reported once, not on every check.
        """
        with self._lock:
            self._signature = _signature(self.path)
            self._digest = _digest(self.path)
            try:
                config = self._load()
            except ConfigError as exc:
                self.last_error = exc
                log.error(
                    "configuration not reloaded, still using version %d: %s", self._version, exc
                )
                return False
            self.last_error = None
            if config == self._config and (written_identifiers(config)
                                           == written_identifiers(self._config)):
                # Same settings, but lines may have moved: keep the new locator so errors
                # and route explanations name the lines the file has now.
                self._config = config
                return False
            old, self._config = self._config, config
            self._version += 1
            version = self._version
            log.info("configuration reloaded from %s (version %d)", self.path, version)
        for listener in list(self._listeners):
            try:
                listener(old, config, version)
            except Exception:  # a listener's bug must not undo a good reload
                log.exception("configuration change listener %r failed", listener)
        return True
