"""What an install says when a source hands over something other than the pinned file.

A mirror or official address served by a real aiohttp server on 127.0.0.1
(never the internet), and a source folder copied from ../shared/standards.
Every refusal must tell the operator what actually went wrong (a download
cut short, a web page instead of the file, a file of another size), name the
file and the address, and leave the standards directory untouched.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from gateway.errors import StandardsError
from gateway.standards.installer import install_from_dir, install_from_url
from gateway.standards.manifest import default_manifest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "standards"
ONLY = "digipoort-wus-1.2"
LICENCE = "digipoort-wus/LICENSE-OpenSBR-repo.txt"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not present")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], str]]:
    """Start an aiohttp server answering every GET with ``handler``; its base address."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runners: list[web.AppRunner] = []

    def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_get("/{path:.*}", handler)
        runner = web.AppRunner(app)
        runners.append(runner)

        async def up() -> int:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            return int(runner.addresses[0][1])

        port = asyncio.run_coroutine_threadsafe(up(), loop).result(10)
        return f"http://127.0.0.1:{port}/"

    yield start
    for runner in runners:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(directory.rglob("*"))}


def installed_before(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A target holding an earlier install with one file missing (a partial install)."""
    target = tmp_path / "standards"
    install_from_dir(default_manifest(), SHARED, target, only=[ONLY])
    (target / LICENCE).unlink()
    return target, snapshot(target)


def test_a_download_cut_short_says_so_and_installs_nothing(
    tmp_path: Path, serve: Callable[[Handler], str],
) -> None:
    # A server (or proxy) that announces the whole length, sends half and hangs up.
    async def half(request: web.Request) -> web.StreamResponse:
        body = (SHARED / request.match_info["path"]).read_bytes()
        response = web.StreamResponse(headers={"Content-Length": str(len(body))})
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        assert request.transport is not None
        request.transport.close()
        return response

    target, before = installed_before(tmp_path)
    base = serve(half)
    with pytest.raises(StandardsError) as caught:
        install_from_url(default_manifest(), target, base=base, only=[ONLY], timeout=10)
    message = str(caught.value)
    size = default_manifest().file(LICENCE).size
    assert f"{LICENCE} (artifact {ONLY}): the download from {base}{LICENCE} broke off " \
           f"after {size // 2} of {size} bytes" in message, message
    assert "does not match the manifest" not in message
    assert snapshot(target) == before


def test_a_web_page_instead_of_the_file_is_named_as_such(
    tmp_path: Path, serve: Callable[[Handler], str],
) -> None:
    # A login page, a "moved" page or a repository browser page answered with 200.
    async def page(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html><body>Sign in to continue</body></html>",
                            content_type="text/html")

    target, before = installed_before(tmp_path)
    base = serve(page)
    with pytest.raises(StandardsError) as caught:
        install_from_url(default_manifest(), target, base=base, only=[ONLY], timeout=10)
    message = str(caught.value)
    assert (f"{LICENCE} (artifact {ONLY}): {base}{LICENCE} answered a web page (text/html) "
            "instead of the file") in message, message
    assert snapshot(target) == before


def test_a_redirect_loop_is_named_as_such(
    tmp_path: Path, serve: Callable[[Handler], str],
) -> None:
    async def loop(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(request.path)

    target, before = installed_before(tmp_path)
    base = serve(loop)
    with pytest.raises(StandardsError) as caught:
        install_from_url(default_manifest(), target, base=base, only=[ONLY], timeout=10)
    message = str(caught.value)
    assert f"{base}{LICENCE} redirects in a loop or too often (HTTP 302)" in message, message
    assert snapshot(target) == before


def test_redirects_to_the_file_are_followed(
    tmp_path: Path, serve: Callable[[Handler], str],
) -> None:
    async def moved(request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        if path.startswith("real/"):
            return web.FileResponse(SHARED / path.removeprefix("real/"))
        raise web.HTTPMovedPermanently("/real/" + path)

    target, _ = installed_before(tmp_path)
    report = install_from_url(default_manifest(), target, base=serve(moved), only=[ONLY],
                              timeout=10)
    assert (report.installed, report.unchanged) == (1, 4)
    assert (target / LICENCE).read_bytes() == (SHARED / LICENCE).read_bytes()


def test_a_longer_source_file_reports_its_real_size_and_digests(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(SHARED / "digipoort-wus", source / "digipoort-wus")
    pinned = default_manifest().file(LICENCE)
    with (source / LICENCE).open("ab") as out:
        out.write(b"x" * 50_000)
    target, before = installed_before(tmp_path)
    with pytest.raises(StandardsError) as caught:
        install_from_dir(default_manifest(), source, target, only=[ONLY])
    message = str(caught.value)
    assert f"{pinned.size + 50_000} bytes, expected {pinned.size}" in message, message
    assert f"expected sha256 {pinned.sha256}" in message
    assert snapshot(target) == before


def test_a_shorter_source_file_names_the_digest_it_found(tmp_path: Path) -> None:
    import hashlib

    source = tmp_path / "source"
    shutil.copytree(SHARED / "digipoort-wus", source / "digipoort-wus")
    pinned = default_manifest().file(LICENCE)
    cut = (source / LICENCE).read_bytes()[:100]
    (source / LICENCE).write_bytes(cut)
    target, before = installed_before(tmp_path)
    with pytest.raises(StandardsError) as caught:
        install_from_dir(default_manifest(), source, target, only=[ONLY])
    message = str(caught.value)
    assert f"100 bytes, expected {pinned.size}" in message, message
    assert f"sha256 {hashlib.sha256(cut).hexdigest()}, expected sha256 {pinned.sha256}" \
        in message
    assert snapshot(target) == before
