"""Headless Chromium over the built book: no console error on any page, and
every static slider changes the frame it shows."""

from __future__ import annotations

import pytest

from .conftest import chromium_path
from .test_build import toc_files

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# Console messages the book cannot remove, each with its reason. Empty today:
# the build ships its own MathJax, loads no widget manager and sets a theme
# mode and a favicon, so a page logs no error.
ALLOWED = []


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    if exe is None:
        pytest.fail("Debian's chromium is needed for the browser test (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}")
            if m.type in ("error", "warning") and not any(a in m.text for a in ALLOWED) else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(url, wait_until="load")
    page.wait_for_timeout(500)
    return page, problems


@pytest.mark.parametrize("name", toc_files())
def test_page_has_no_console_error(browser, book_server, name):
    page, problems = open_page(browser, f"{book_server}/{name}.html")
    assert page.title(), "the page has no title"
    page.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", [f for f in toc_files() if f.startswith("chapters/")])
def test_every_slider_changes_the_frame(browser, book_server, name):
    page, problems = open_page(browser, f"{book_server}/{name}.html")
    figures = page.locator("figure.gradbook-explorer")
    count = figures.count()
    for i in range(count):
        figure = figures.nth(i)
        figure.scroll_into_view_if_needed()
        img = figure.locator("img.gbx-frame")
        sliders = figure.locator("input[type=range]")
        assert sliders.count() >= 1
        for k in range(sliders.count()):
            slider = sliders.nth(k)
            before_src = img.get_attribute("src")
            before_label = slider.locator("xpath=following-sibling::output").inner_text()
            at_max = slider.input_value() == slider.get_attribute("max")
            slider.focus()
            page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
            page.wait_for_timeout(50)
            after_src = img.get_attribute("src")
            after_label = slider.locator("xpath=following-sibling::output").inner_text()
            assert after_src != before_src, f"figure {i}, slider {k}: the frame did not change"
            assert after_label != before_label, f"figure {i}, slider {k}: the label did not change"
    page.close()
    assert not problems, "\n".join(problems)
