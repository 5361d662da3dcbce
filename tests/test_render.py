"""The readable rendering: every portal field on the page, values escaped, a real PDF.

The browser checks run the page in a real headless Chromium (installed by
scripts/ensure-system-packages.sh); they skip, saying why, on a machine without one.
"""

from __future__ import annotations

import io
import subprocess
from decimal import Decimal
from pathlib import Path

import attrs
import lxml.html
import pypdf
import pytest

from gateway.model import Invoice, Item
from gateway.model.samples import example_credit_note, example_documents, example_invoice
from gateway.render import PdfUnavailable, find_pdf_tool, render_html, render_pdf
from gateway.render.html import line_vat
from gateway.render.pdf import chromium_args

HOSTILE = ('<script>document.body.innerHTML="PWNED"</script>'
           '<img src=x onerror="document.title=\'PWNED\'">Pen & "paper" </td></table>')

needs_browser = pytest.mark.skipif(
    find_pdf_tool() is None or find_pdf_tool().kind != "chromium",  # type: ignore[union-attr]
    reason="no headless Chromium on PATH (scripts/ensure-system-packages.sh installs "
           "chromium-headless-shell)",
)


def hostile_invoice() -> Invoice:
    invoice = example_invoice()
    first = invoice.lines[0]
    lines = (attrs.evolve(first, item=Item(name=HOSTILE, description=HOSTILE)),
             *invoice.lines[1:])
    return attrs.evolve(invoice, lines=lines, notes=(HOSTILE,))


def cells(page: str, selector_id: str) -> list[str]:
    tree = lxml.html.fromstring(page)
    return [" ".join(el.text_content().split()) for el in tree.get_element_by_id(selector_id)]


def test_invoice_page_shows_every_field_the_portal_asks_for() -> None:
    invoice = example_invoice()
    page = render_html(invoice)
    tree = lxml.html.fromstring(page)
    text = " ".join(tree.text_content().split())
    assert tree.get_element_by_id("invoice-number").text_content() == "F2024-0001"
    assert tree.get_element_by_id("order-reference").text_content() == "40000695"
    for expected in (
        "Naam Leverancier BV", "30097265", "000018727409", "NL001427507B01",  # supplier ids
        "Naam Overheidsorganisatie", "00000001003227522000",  # buyer OIN
        "2024-03-01", "2024-03-31", "30 dagen netto", "NL87ABNA0123456789", "ABNANL2A",
        "Pak potloden 12 stuks", "12,345", "KGM", "1.1.1",
    ):
        assert expected in text, expected
    # Per-line VAT: 4 x 25.00 at 21 % is 21.00, computed here (the sample states none), so marked.
    first_line = tree.xpath("//table[@id='lines']/tbody/tr[1]/td")
    assert [" ".join(td.text_content().split()) for td in first_line][-2:] == ["S 21 %", "21,00*"]
    vat_rows = tree.xpath("//table[@id='vat']/tbody/tr")
    assert len(vat_rows) == len(invoice.tax_breakdown) == 2
    assert tree.get_element_by_id("total-vat").text_content() == "EUR 63,41"
    assert tree.get_element_by_id("total-payable").text_content() == "EUR 338,00"
    assert "factuur.pdf" in text  # the attachment is named
    assert "<link" not in page
    assert "src=" not in page


def test_credit_note_names_the_invoice_it_corrects() -> None:
    page = render_html(example_credit_note())
    assert "<h1>Creditnota" in page
    assert "F2024-0000" in page


def test_hostile_text_is_shown_as_text_not_markup() -> None:
    page = render_html(hostile_invoice())
    tree = lxml.html.fromstring(page)
    assert tree.xpath("//script") == []
    assert tree.xpath("//img") == []
    assert tree.xpath("//*[@onerror]") == []
    # The table still has all its rows and the text survives literally.
    assert len(tree.xpath("//table[@id='lines']/tbody/tr")) == 3
    assert HOSTILE in tree.xpath("//table[@id='lines']/tbody/tr[1]/td[2]")[0].text_content()


@pytest.mark.parametrize("document", example_documents(), ids=lambda d: type(d).__name__)
def test_every_document_kind_renders(document: object) -> None:
    page = render_html(document)  # type: ignore[arg-type]
    tree = lxml.html.fromstring(page)
    assert tree.xpath("//h1")
    number = getattr(document, "number", None) or getattr(document, "id", None)
    if isinstance(number, str):
        assert number in tree.xpath("string(//h1)")


def test_generic_page_escapes_and_nests() -> None:
    from gateway.model.samples import example_order
    order = example_order()
    hostile = attrs.evolve(order, notes=(HOSTILE,))
    tree = lxml.html.fromstring(render_html(hostile))
    assert tree.xpath("//script") == []
    assert HOSTILE in tree.text_content()
    assert tree.xpath("//div[@class='nested']")  # parties and lines are nested sections


def test_without_a_pdf_tool_the_caller_is_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.delenv("GATEWAY_PDF_TOOL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_pdf_tool() is None
    with pytest.raises(PdfUnavailable, match="no PDF tool found"):
        render_pdf("<p>x</p>")


@needs_browser
def test_pdf_is_a_real_pdf_with_the_invoice_in_its_text(tmp_path: Path) -> None:
    invoice = example_invoice()
    data = render_pdf(render_html(invoice))
    assert data.startswith(b"%PDF-")
    target = tmp_path / "invoice.pdf"
    target.write_bytes(data)
    text = "".join(page.extract_text() for page in pypdf.PdfReader(target).pages)
    assert "F2024-0001" in text
    assert "338,00" in text
    assert "NL87ABNA0123456789" in text


@needs_browser
def test_browser_shows_the_totals_and_runs_no_injected_script(tmp_path: Path) -> None:
    invoice = hostile_invoice()
    page = tmp_path / "invoice.html"
    page.write_text(render_html(invoice), encoding="utf-8")
    tool = find_pdf_tool()
    assert tool is not None
    done = subprocess.run(
        [*chromium_args(tool, tmp_path / "profile"), "--dump-dom", page.as_uri()],
        capture_output=True, timeout=60, check=True,
    )
    dom = lxml.html.fromstring(done.stdout)
    # The DOM after the browser ran: an injected script would have replaced the body.
    assert "PWNED" not in dom.xpath("string(//title)")
    assert invoice.totals.payable == Decimal("338.00")  # hand-checked in test_model_invoice
    assert dom.get_element_by_id("total-payable").text_content() == "EUR 338,00"
    assert HOSTILE in dom.xpath("//table[@id='lines']/tbody/tr[1]/td[2]")[0].text_content()


def test_a_negative_line_allowance_keeps_one_sign() -> None:
    """The model allows negative allowances; a fixed sign before a signed amount showed '--5.00'."""
    from gateway.model import AllowanceCharge

    invoice = example_invoice()
    first = invoice.lines[0]
    allowance = AllowanceCharge(is_charge=False, amount=Decimal("-5.00"), reason="terugboeking")
    line = attrs.evolve(first, allowance_charges=(allowance,),
                        net_amount=first.net_amount + Decimal("5.00"))
    html = render_html(attrs.evolve(invoice, lines=(line, *invoice.lines[1:])))
    assert "--5,00" not in html
    assert "korting -5,00 terugboeking" in " ".join(lxml.html.fromstring(html).text_content()
                                                  .split())


COMPUTED_NOTE = "* berekend door Wissel per regel; het btw-totaal is dat van de factuur"


def line_vat_cells(tree: lxml.html.HtmlElement) -> list[str]:
    return [" ".join(td.text_content().split())
            for td in tree.xpath("//table[@id='lines']/tbody/tr/td[last()]")]


def stated_vat(invoice: Invoice, *which: int) -> Invoice:
    """``invoice`` with the lines at ``which`` (all when none is named) stating their VAT."""
    chosen = set(which or range(len(invoice.lines)))
    return attrs.evolve(invoice, lines=tuple(
        attrs.evolve(line, vat_amount=line_vat(line)) if index in chosen else line
        for index, line in enumerate(invoice.lines)))


def shown_totals(tree: lxml.html.HtmlElement) -> list[str]:
    return [tree.get_element_by_id(name).text_content()
            for name in ("total-exclusive", "total-vat", "total-inclusive", "total-payable")]


def test_line_vat_computed_here_is_marked_and_the_totals_stay_the_documents() -> None:
    invoice = example_invoice()
    assert all(line.vat_amount is None for line in invoice.lines)
    tree = lxml.html.fromstring(render_html(invoice))
    # Rounded per line the sample's VAT adds up to 64.23; the invoice's own total, rounded
    # per rate after its document level allowance and charge, is 63.41.
    assert line_vat_cells(tree) == ["21,00*", "39,90*", "3,33*"]
    assert len(tree.find_class("computed-mark")) == 3
    assert " ".join(tree.get_element_by_id("computed-vat-note").text_content().split()) == (
        COMPUTED_NOTE)
    assert shown_totals(tree) == ["EUR 324,54", "EUR 63,41", "EUR 387,95", "EUR 338,00"]
    assert (invoice.totals.tax_exclusive, invoice.totals.tax_total, invoice.totals.tax_inclusive,
            invoice.totals.payable) == (Decimal("324.54"), Decimal("63.41"),
                                        Decimal("387.95"), Decimal("338.00"))
    breakdown = [" ".join(td.text_content().split())
                 for td in tree.xpath("//table[@id='vat']/tbody/tr/td[4]")]
    assert breakdown == [f"EUR {sub.tax_amount:.2f}".replace(".", ",")
                         for sub in invoice.tax_breakdown]
    assert "64,23" not in tree.text_content(), "no sum of computed figures poses as a total"


def test_line_vat_the_document_states_is_shown_without_mark_or_note() -> None:
    tree = lxml.html.fromstring(render_html(stated_vat(example_invoice())))
    assert line_vat_cells(tree) == ["21,00", "39,90", "3,33"]
    assert tree.find_class("computed-mark") == []
    assert tree.xpath("//*[@id='computed-vat-note']") == []
    assert "berekend door Wissel" not in tree.text_content()
    assert shown_totals(tree) == ["EUR 324,54", "EUR 63,41", "EUR 387,95", "EUR 338,00"]


def test_only_the_lines_without_their_own_vat_are_marked() -> None:
    tree = lxml.html.fromstring(render_html(stated_vat(example_invoice(), 0, 2)))
    assert line_vat_cells(tree) == ["21,00", "39,90*", "3,33"]
    assert tree.xpath("//*[@id='computed-vat-note']")


@needs_browser
def test_the_pdf_marks_computed_line_vat_and_leaves_stated_vat_alone() -> None:
    def pdf_text(invoice: Invoice) -> str:
        reader = pypdf.PdfReader(io.BytesIO(render_pdf(render_html(invoice))))
        return " ".join(" ".join(page.extract_text() for page in reader.pages).split())

    computed = pdf_text(example_invoice())
    assert COMPUTED_NOTE in computed
    assert "21,00*" in computed
    assert "EUR 63,41" in computed
    stated = pdf_text(stated_vat(example_invoice()))
    assert "berekend door Wissel" not in stated
    assert "*" not in stated
    assert "EUR 63,41" in stated
