"""Install, check and look up the official artifacts of the manifest.

An install never changes the standards directory until every file it is
about to put there has been fetched and its sha256 checked: files are written
into a staging directory inside the target (``.install-*``, same file
system), and only when all of them are good are they moved into place with
:func:`os.replace`, which swaps each file whole. A missing or corrupted
source file, a failed download or an interruption before that point leaves
the previous installation exactly as it was. Files that are already
installed with the right hash are not fetched again. A process killed
outright may leave a ``.install-*`` folder behind; nothing reads it and it
can be deleted.

The standards directory is the ``target_dir`` a caller passes, else
``$GATEWAY_STANDARDS_DIR``, else ``<data dir>/standards`` (see
:func:`gateway.paths.default_data_dir`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import fcntl
import hashlib
import http.client
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit

import attrs

from gateway import __version__
from gateway.errors import StandardsError
from gateway.paths import standards_dir
from gateway.standards.manifest import Artifact, ArtifactFile, Manifest, default_manifest

STAMP_NAME = "installed.json"
STAMP_LOCK_NAME = "installed.lock"
"""Locked while an install writes the stamp; kept, as a lock file must be to lock."""
STAGING_PREFIX = ".install-"
_CHUNK = 1 << 16
_MAX_LISTED = 20
_SLOWEST = 16 * 1024
"""Bytes per second below which a download is given up: ``timeout`` bounds each read,
not the whole body, and a server that sends a byte now and then never trips it."""


def default_standards_dir() -> Path:
    """``$GATEWAY_STANDARDS_DIR`` if set, else ``<data dir>/standards``."""
    return standards_dir()


@attrs.frozen
class InstallReport:
    """What an install did."""

    target_dir: Path
    artifacts: tuple[str, ...]
    installed: int
    unchanged: int
    bytes_installed: int


@attrs.frozen
class Problem:
    """A file that is missing from, or altered in, the standards directory."""

    path: str
    artifacts: tuple[str, ...]
    kind: str  # "missing" or "altered"
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path} ({', '.join(self.artifacts)}): {self.detail}"


@attrs.frozen
class VerifyReport:
    """The outcome of :func:`verify`; every selected file is either fine or a problem."""

    target_dir: Path
    checked: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def missing(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.kind == "missing")

    @property
    def altered(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.kind == "altered")


# A fetcher opens the source of one file for reading; it raises
# StandardsError when the source is missing or unreachable.
_Opener = Callable[[Artifact, ArtifactFile], IO[bytes]]


def install_from_dir(
    manifest: Manifest, source_dir: Path, target_dir: Path | None = None,
    only: Iterable[str] | None = None,
) -> InstallReport:
    """Copy the selected artifacts from a folder holding the standards tree.

    Every problem (missing or corrupted source file) is collected and reported
    in one error; nothing is installed unless all files are good.
    """
    if not source_dir.is_dir():
        raise StandardsError(f"source folder {source_dir} does not exist or is not a folder")

    def open_source(artifact: Artifact, file: ArtifactFile) -> IO[bytes]:
        try:
            return (source_dir / file.path).open("rb")
        except FileNotFoundError:
            raise StandardsError(f"{file.path} (artifact {artifact.id}) is missing from "
                                 f"{source_dir}") from None
        except OSError as exc:
            raise StandardsError(f"cannot read {source_dir / file.path}: {exc}") from exc

    return _install(manifest, target_dir, only, open_source, f"folder {source_dir}", workers=1)


def install_from_url(
    manifest: Manifest, target_dir: Path | None = None, base: str | None = None,
    only: Iterable[str] | None = None, *, timeout: float = 30.0, workers: int = 8,
) -> InstallReport:
    """Download the selected artifacts and verify them.

    Without ``base`` each file comes from its official address; files that
    have none make this fail before anything is downloaded. With ``base``
    every file comes from ``base`` + its path, for a mirror of the standards
    tree (an intranet server, or a test server).
    """
    if base is not None and urlsplit(base).scheme not in ("http", "https"):
        raise StandardsError(f"{base!r} is not an http(s) address")
    selected = manifest.select(only)
    if base is None:
        _require_official_addresses(manifest, selected)

    def address(artifact: Artifact, file: ArtifactFile) -> str:
        if base is not None:
            return base.rstrip("/") + "/" + quote(file.path)
        url = artifact.url_for(file)
        if url is None:  # ruled out above; kept for the type checker
            raise StandardsError(f"{file.path} has no official download address")
        return url

    def open_source(artifact: Artifact, file: ArtifactFile) -> IO[bytes]:
        url = address(artifact, file)
        request = urllib.request.Request(url, headers={"User-Agent": f"wissel/{__version__}"})
        try:
            response: IO[bytes] = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            # urllib gives up on a redirect loop (or more than 10 hops) by raising the
            # last 3xx answer; "answered HTTP 302" alone reads like a broken server.
            said = (f"redirects in a loop or too often (HTTP {exc.code})"
                    if 300 <= exc.code < 400 else f"answered HTTP {exc.code}")
            raise StandardsError(f"{file.path} (artifact {artifact.id}): {url} {said}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise _Unreachable(f"cannot download {url}: {reason}") from exc
        except http.client.HTTPException as exc:
            # No HTTP answer at all (a wrong port, say): every other file gets the same.
            raise _Unreachable(f"cannot download {url}: the answer is not HTTP: "
                               f"{str(exc).strip()[:80]!r}") from exc
        return response

    def time_limit(file: ArtifactFile) -> float:
        return timeout + file.size / _SLOWEST

    source = f"mirror {base}" if base is not None else "official download addresses"
    return _install(manifest, target_dir, only, open_source, source, workers=workers,
                    time_limit=time_limit)


class _Unreachable(StandardsError):
    """The network or server is down: stop instead of trying every other file."""


def _require_official_addresses(manifest: Manifest, selected: Sequence[Artifact]) -> None:
    lacking: dict[str, int] = {}
    for artifact, file in manifest.entries(selected):
        if artifact.url_for(file) is None:
            lacking[artifact.id] = lacking.get(artifact.id, 0) + 1
    if not lacking:
        return
    names = ", ".join(f"{aid} ({count} file{'s' if count > 1 else ''})"
                      for aid, count in sorted(lacking.items()))
    downloadable = [a.id for a in selected if a.id not in lacking]
    hint = (f", or download only the others with --only {' --only '.join(downloadable)}"
            if downloadable else "")
    raise StandardsError(
        f"no official download address for {names}; these files must be installed from a "
        f"folder holding the standards tree: `gateway standards install --from DIR`{hint}"
    )


def _install(
    manifest: Manifest, target_dir: Path | None, only: Iterable[str] | None,
    open_source: _Opener, source: str, *, workers: int,
    time_limit: Callable[[ArtifactFile], float] | None = None,
) -> InstallReport:
    target = target_dir or default_standards_dir()
    selected = manifest.select(only)
    entries = manifest.entries(selected)
    todo = [(a, f) for a, f in entries if _needs_install(target / f.path, f)]
    report = InstallReport(
        target_dir=target,
        artifacts=tuple(a.id for a in selected),
        installed=len(todo),
        unchanged=len(entries) - len(todo),
        bytes_installed=sum(f.size for _, f in todo),
    )
    if not todo:
        # Every file is already the pinned one (checked by sha256): nothing to
        # install. The stamp is bookkeeping, so a complete set in a read-only
        # folder (an image, a package) installs again without error even when
        # its stamp is missing or was written for another manifest.
        if not _stamp_lists(target, manifest, selected):
            with contextlib.suppress(OSError):
                _write_stamp(target, manifest, selected, source)
        return report
    try:
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=target))
    except OSError as exc:
        raise StandardsError(f"cannot write to the standards directory {target}: {exc}") from exc
    try:
        _stage_all(todo, staging, open_source, workers, source, time_limit)
        _put_in_place(todo, staging, target,
                      lambda: _write_stamp(target, manifest, selected, source))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _stamp_lists(target: Path, manifest: Manifest, selected: Sequence[Artifact]) -> bool:
    """Whether the stamp already records every selected artifact from this manifest."""
    try:
        stamp = read_stamp(target) or {}
    except StandardsError:
        return False
    recorded = stamp.get("artifacts")
    if not isinstance(recorded, dict):
        return False
    return all(isinstance(recorded.get(a.id), dict)
               and recorded[a.id].get("manifest_sha256") == manifest.sha256 for a in selected)


def _put_in_place(
    todo: Sequence[tuple[Artifact, ArtifactFile]], staging: Path, target: Path,
    then: Callable[[], None],
) -> None:
    """Move the staged files into ``target`` and call ``then``: all of it, or none.

    Each file replaced is first moved aside into the staging folder. When a
    move fails (a read-only folder, a folder on another device, Ctrl-C) every
    file moved so far goes back, so the folder holds the release it held
    before and never part of each.
    """
    for _, file in todo:
        final = target / file.path
        if final.is_symlink() or (final.exists() and not final.is_file()):
            raise StandardsError(f"nothing was installed: {final} is in the way (not a "
                                 "regular file); move it and install again")
    aside = staging / ".previous"
    moved: list[tuple[Path, Path | None]] = []  # in place now, with the file it replaced
    final = target
    try:
        for _, file in todo:
            final = target / file.path
            final.parent.mkdir(parents=True, exist_ok=True)
            previous = None
            if final.exists():
                previous = aside / file.path
                previous.parent.mkdir(parents=True, exist_ok=True)
                os.replace(final, previous)
            try:
                os.replace(staging / file.path, final)
            except BaseException:
                if previous is not None:
                    os.replace(previous, final)
                raise
            moved.append((final, previous))
        then()
    except BaseException as exc:
        stuck = _move_back(moved)
        if not isinstance(exc, OSError):
            raise
        restored = ("the files already moved are back as they were" if not stuck else
                    f"{len(stuck)} file(s) could not be put back, e.g. {stuck[0]}: run "
                    "`gateway standards verify`")
        raise StandardsError(f"nothing was installed: cannot put {final} in place: {exc}; "
                             f"{restored}") from exc


def _move_back(moved: Sequence[tuple[Path, Path | None]]) -> list[Path]:
    """Undo :func:`_put_in_place`'s moves; the files that could not be restored."""
    stuck = []
    for final, previous in reversed(moved):
        try:
            if previous is None:
                final.unlink(missing_ok=True)
            else:
                os.replace(previous, final)
        except OSError:
            stuck.append(final)
    return stuck


def _stage_all(
    todo: Sequence[tuple[Artifact, ArtifactFile]], staging: Path, open_source: _Opener,
    workers: int, source: str, time_limit: Callable[[ArtifactFile], float] | None = None,
) -> None:
    problems: list[str] = []
    stop = threading.Event()

    def stage(artifact: Artifact, file: ArtifactFile) -> None:
        deadline = None if time_limit is None else time.monotonic() + time_limit(file)
        with open_source(artifact, file) as reader:
            _copy_verified(reader, staging / file.path, artifact, file, deadline, stop)

    if workers <= 1:
        for artifact, file in todo:
            try:
                stage(artifact, file)
            except StandardsError as exc:
                problems.append(str(exc))
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(stage, artifact, file) for artifact, file in todo]
            try:
                for future in concurrent.futures.as_completed(futures):
                    try:
                        future.result()
                    except _Unreachable as exc:
                        raise StandardsError(f"nothing was installed from {source}: "
                                             f"{exc}") from exc
                    except StandardsError as exc:
                        problems.append(str(exc))
            except BaseException:
                # A server that is down, or Ctrl-C: the pool waits for the downloads
                # already running, so they must stop at their next read.
                stop.set()
                for pending in futures:
                    pending.cancel()
                raise
    if problems:
        problems.sort()
        listed = "\n  ".join(problems[:_MAX_LISTED])
        more = (f"\n  ... and {len(problems) - _MAX_LISTED} more"
                if len(problems) > _MAX_LISTED else "")
        raise StandardsError(f"nothing was installed from {source}; {len(problems)} file(s) "
                             f"failed:\n  {listed}{more}")


def _copy_verified(
    reader: IO[bytes], destination: Path, artifact: Artifact, file: ArtifactFile,
    deadline: float | None = None, stop: threading.Event | None = None,
) -> None:
    """Write ``reader`` to ``destination`` if it is exactly the pinned file, else raise.

    Past ``deadline`` (a ``time.monotonic()`` value) the source counts as
    unreachable; with ``stop`` set the copy ends at the next read.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    started = time.monotonic()
    # read1 returns what has arrived; read(n) would wait for all n bytes, and
    # the deadline would only be looked at once the body is complete.
    read: Callable[[int], bytes] = getattr(reader, "read1", reader.read)
    try:
        with destination.open("wb") as out:
            # Read one byte past the pinned size: enough to know a source is
            # too long without reading a runaway download to its end.
            while size <= file.size:
                chunk = read(min(_CHUNK, file.size + 1 - size))
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
                if stop is not None and stop.is_set():
                    raise StandardsError(f"{file.path} (artifact {artifact.id}): stopped")
                if deadline is not None and time.monotonic() > deadline and size < file.size:
                    raise _Unreachable(
                        f"{file.path} (artifact {artifact.id}): the download is too slow: "
                        f"{size} of {file.size} bytes in {time.monotonic() - started:.0f} s")
    except OSError as exc:
        destination.unlink(missing_ok=True)
        raise StandardsError(f"{file.path} (artifact {artifact.id}): cannot copy: {exc}") from exc
    except http.client.HTTPException as exc:  # a chunked download cut short
        destination.unlink(missing_ok=True)
        raise StandardsError(f"{file.path} (artifact {artifact.id}): the download broke off "
                             f"after {size} of {file.size} bytes ({exc!r})") from exc
    if size != file.size or digest.hexdigest() != file.sha256:
        destination.unlink(missing_ok=True)
        raise StandardsError(_mismatch(reader, artifact, file, size, digest.hexdigest()))


def _mismatch(
    reader: IO[bytes], artifact: Artifact, file: ArtifactFile, size: int, found: str,
) -> str:
    """Why the source of ``file`` is refused, in the words an operator can act on.

    ``size`` and ``found`` (the sha256) cover what was read, which stops one
    byte past the pinned size; the real length of a longer source comes from
    the file itself or the Content-Length of the answer.
    """
    name = f"{file.path} (artifact {artifact.id})"
    url = getattr(reader, "url", None)  # set on an http(s) answer, after redirects
    headers = getattr(reader, "headers", None)
    declared = headers.get("Content-Length") if headers is not None else None
    length = int(declared) if declared is not None and declared.isdigit() else None
    if url and length is not None and size < min(length, file.size):
        # http.client ends a body that stops before its Content-Length as if
        # it were complete; the file is not wrong, the transfer is.
        return (f"{name}: the download from {url} broke off after {size} of {length} "
                "bytes; install again")
    content_type = headers.get_content_type() if headers is not None else ""
    if url and content_type == "text/html" and not file.path.endswith((".html", ".htm")):
        return (f"{name}: {url} answered a web page (text/html) instead of the file; "
                "check the address (a login page, or a page about the file rather than "
                "the raw file)")
    if size > file.size:
        if length is None:
            try:
                length = os.fstat(reader.fileno()).st_size
            except (OSError, AttributeError, ValueError):
                length = None
        detail = (f"{length} bytes" if length is not None and length > file.size
                  else f"more than {file.size} bytes")
        detail += f", expected {file.size} (expected sha256 {file.sha256})"
    elif size < file.size:
        detail = (f"{size} bytes, expected {file.size} "
                  f"(sha256 {found}, expected sha256 {file.sha256})")
    else:
        detail = f"sha256 {found}, expected sha256 {file.sha256}"
    origin = f" from {url}" if url else ""
    return f"{name}{origin} does not match the manifest: {detail}"


def _needs_install(path: Path, file: ArtifactFile) -> bool:
    try:
        return _problem_with(path, file) is not None
    except OSError:
        return True  # unreadable: replacing it is the repair


def _problem_with(path: Path, file: ArtifactFile) -> tuple[str, str] | None:
    """``(kind, detail)`` when ``path`` is not the pinned file, else ``None``."""
    if not path.exists():
        return "missing", "not installed"
    if not path.is_file():
        return "altered", "not a regular file"
    size = path.stat().st_size
    if size != file.size:
        return "altered", f"{size} bytes, expected {file.size}"
    if _sha256(path) != file.sha256:
        return "altered", "sha256 differs from the manifest"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        for chunk in iter(lambda: reader.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(
    manifest: Manifest, target_dir: Path | None = None, only: Iterable[str] | None = None,
) -> VerifyReport:
    """Check every selected file (all when ``only`` is None) by size and sha256."""
    target = target_dir or default_standards_dir()
    problems = []
    entries = manifest.entries(manifest.select(only))
    for _, file in entries:
        try:
            found = _problem_with(target / file.path, file)
        except OSError as exc:
            found = ("altered", f"cannot read: {exc}")
        if found is not None:
            kind, detail = found
            problems.append(Problem(file.path, manifest.owners(file.path), kind, detail))
    return VerifyReport(target_dir=target, checked=len(entries), problems=tuple(problems))


def standards_path(
    target_dir: Path | None, path: str, *, manifest: Manifest | None = None,
) -> Path:
    """The installed file at ``path`` (a manifest path), for formats and channels at run time.

    Raises StandardsError naming the artifact when the file is not installed
    or has the wrong size. The sha256 is not checked here, to keep look-ups
    cheap; `gateway standards verify` does that.
    """
    manifest = manifest or default_manifest()
    file = manifest.file(path)
    installed = (target_dir or default_standards_dir()) / path
    owners = " or ".join(repr(a) for a in manifest.owners(path))
    if not installed.is_file():
        raise StandardsError(
            f"artifact {owners} is not installed ({installed} is missing); run "
            f"`gateway standards install --from DIR` (see `gateway standards list`)"
        )
    if installed.stat().st_size != file.size:
        raise StandardsError(
            f"artifact {owners} is altered ({installed} has the wrong size); run "
            "`gateway standards verify`, then `gateway standards install --from DIR`"
        )
    return installed


def read_stamp(target_dir: Path | None = None) -> dict[str, Any] | None:
    """The ``installed.json`` stamp of the standards directory, or None if there is none."""
    stamp = (target_dir or default_standards_dir()) / STAMP_NAME
    try:
        data = json.loads(stamp.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StandardsError(f"cannot read {stamp}: {exc}") from exc
    return data if isinstance(data, dict) else None


def _write_stamp(
    target: Path, manifest: Manifest, selected: Sequence[Artifact], source: str,
) -> None:
    # Read, add and write back under a lock: another install into this folder at the
    # same time (two gateways starting, an operator's --only beside a start) would
    # otherwise write over this one's artifacts, or move its temporary file away.
    with (target / STAMP_LOCK_NAME).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write_stamp_locked(target, manifest, selected, source)


def _write_stamp_locked(
    target: Path, manifest: Manifest, selected: Sequence[Artifact], source: str,
) -> None:
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    try:
        previous = read_stamp(target) or {}
    except StandardsError:
        previous = {}  # a broken stamp is replaced, not a reason to fail an install
    artifacts = previous.get("artifacts")
    artifacts = dict(artifacts) if isinstance(artifacts, dict) else {}
    for artifact in selected:
        artifacts[artifact.id] = {
            "version": artifact.version,
            "manifest_sha256": manifest.sha256,
            "installed_at": now,
        }
    stamp = {
        "manifest": str(manifest.source),
        "manifest_sha256": manifest.sha256,
        "installed_at": now,
        "source": source,
        "wissel_version": __version__,
        "artifacts": dict(sorted(artifacts.items())),
    }
    temporary = target / (STAMP_NAME + ".tmp")  # ours alone while the lock is held
    temporary.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, target / STAMP_NAME)
