"""A figure's Download menu gives real PNG and SVG files in a real browser, and "Download this page"
one HTML file with the page's inputs, model and charts."""
from __future__ import annotations

from browser import offline_page, wait_for_app
from test_browser_faults import no_exception


def test_the_masked_word_chart_downloads_as_png_and_svg_and_the_page_as_html(app_server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    errors: list[str] = []
    page = offline_page(context, errors)
    page.goto(app_server.url + "/masked")
    wait_for_app(page, timeout_ms=300_000)
    no_exception(page)
    files = {}
    for fmt in ("PNG", "SVG"):
        page.get_by_role("button", name="⬇ Download figure").first.click()
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name=fmt, exact=True).first.click()
        files[fmt] = (download.value.suggested_filename, open(download.value.path(), "rb").read())
        page.keyboard.press("Escape")
    assert files["PNG"][0].endswith(".png") and files["PNG"][1][:8] == b"\x89PNG\r\n\x1a\n"
    assert files["SVG"][0].endswith(".svg") and files["SVG"][1].lstrip().startswith(b"<svg")
    box = page.get_by_label("Sentence with masks")  # the fill tab reruns alone (a fragment) ...
    box.fill("The report holds the [MASK] sentence.")
    box.press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name="🔗 Share this view").click()  # ... and the menu is built when it opens
    with page.expect_download(timeout=60_000) as download:  # the whole page, as one file
        page.get_by_role("button", name="⬇ Download this page (HTML)").click()
    report = open(download.value.path(), encoding="utf-8").read()
    assert download.value.suggested_filename == "masked-words-nsp.html"
    assert "<td>The report holds the [MASK] sentence.</td>" in report and "<b>embedded</b>" in report
    assert "<th>Sentence with masks</th>" in report and "<th>mlm_text</th>" not in report  # named as the page names it
    assert report.count("Plotly.newPlot") == page.locator(".js-plotly-plot").count() >= 1
    no_exception(page)
    context.close()
