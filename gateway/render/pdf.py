"""HTML to PDF with whatever tool this machine has.

No PDF library is a dependency: a headless Chromium (or Chrome) prints the page
exactly as a browser shows it, and wkhtmltopdf is a lighter second choice.
When neither is installed the caller keeps the HTML alone and says so
(:class:`PdfUnavailable`), rather than shipping an empty or fake PDF.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import attrs

# Looked for in this order; the first found on PATH is used.
_CHROMIUM_NAMES = ("chromium-headless-shell", "chromium", "chromium-browser",
                   "google-chrome", "google-chrome-stable")
_WKHTMLTOPDF = "wkhtmltopdf"
_TIMEOUT = 60.0


class PdfUnavailable(RuntimeError):
    """No PDF tool was found, or the tool failed on this page."""


@attrs.frozen
class PdfTool:
    """A program that prints HTML to PDF: its kind (``chromium`` or ``wkhtmltopdf``) and path."""

    kind: str
    path: str

    def describe(self) -> str:
        return f"{self.kind} ({self.path})"


def find_pdf_tool(env_path: str | None = None) -> PdfTool | None:
    """The PDF tool on PATH (or ``$GATEWAY_PDF_TOOL`` if set), or None."""
    override = os.environ.get("GATEWAY_PDF_TOOL")
    if override:
        kind = _WKHTMLTOPDF if Path(override).name.startswith(_WKHTMLTOPDF) else "chromium"
        return PdfTool(kind, override)
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name, path=env_path)
        if found:
            return PdfTool("chromium", found)
    found = shutil.which(_WKHTMLTOPDF, path=env_path)
    return PdfTool(_WKHTMLTOPDF, found) if found else None


def chromium_args(tool: PdfTool, profile: Path) -> list[str]:
    """Flags for a headless run that touches nothing outside ``profile``.

    ``--no-sandbox`` because the gateway may run as root in a container, where
    Chromium refuses its sandbox; the page is our own rendering with no
    scripts, and the network is cut off by the proxy flags.
    """
    return [
        tool.path, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-extensions", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
        "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    ]


def render_pdf(html: str, tool: PdfTool | None = None) -> bytes:
    """The page printed to PDF; raises :class:`PdfUnavailable` without a working tool."""
    tool = tool or find_pdf_tool()
    if tool is None:
        raise PdfUnavailable("no PDF tool found (looked for chromium, google-chrome and "
                             "wkhtmltopdf on PATH)")
    with tempfile.TemporaryDirectory(prefix="wissel-pdf-") as scratch:
        folder = Path(scratch)
        page = folder / "page.html"
        target = folder / "page.pdf"
        page.write_text(html, encoding="utf-8")
        if tool.kind == _WKHTMLTOPDF:
            args = [tool.path, "--quiet", "--disable-local-file-access", "--encoding", "utf-8",
                    str(page), str(target)]
        else:
            args = [*chromium_args(tool, folder / "profile"), "--no-pdf-header-footer",
                    f"--print-to-pdf={target}", page.as_uri()]
        returncode, stderr = _run(tool, args)
        if not target.is_file() or target.stat().st_size == 0:
            detail = stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PdfUnavailable(f"{tool.describe()} made no PDF (exit {returncode}): "
                                 + " | ".join(detail))
        data = target.read_bytes()
    if not data.startswith(b"%PDF-"):
        raise PdfUnavailable(f"{tool.describe()} wrote something that is not a PDF")
    return data


def _run(tool: PdfTool, args: list[str]) -> tuple[int, bytes]:
    """The tool's exit code and error output; on a timeout its whole session is killed.

    Debian's chromium-headless-shell is a shell wrapper that starts the browser as
    its child: killing only the wrapper left the browser printing for minutes.
    """
    try:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
    except OSError as exc:
        raise PdfUnavailable(f"{tool.describe()} failed: {exc}") from exc
    try:
        _, stderr = process.communicate(timeout=_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        # The wrapper is not reaped yet, so the group id is still ours to kill.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise PdfUnavailable(f"{tool.describe()} failed: {exc}") from exc
    return process.returncode, stderr
