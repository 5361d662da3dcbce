"""Readable renderings of canonical documents, for people rather than machines.

A person who keys an invoice into the supplier portal, or an agency that gets
it by e-mail, needs to read it: :func:`render_html` turns any canonical
document into one self-contained HTML page (inline CSS, print-friendly), and
:func:`render_pdf` prints that page to PDF with whatever tool this machine
has (see :mod:`gateway.render.pdf`). Every value is escaped: a description is
data, never markup.
"""

from gateway.render.html import render_html
from gateway.render.pdf import PdfTool, PdfUnavailable, find_pdf_tool, render_pdf

__all__ = ["PdfTool", "PdfUnavailable", "find_pdf_tool", "render_html", "render_pdf"]
