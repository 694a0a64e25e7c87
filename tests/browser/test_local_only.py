"""Nothing leaves the machine: a page load asks no host but 127.0.0.1 (issue 21, item 8).

Every request the browser makes while each page loads (and after a reload) is recorded,
icons, fonts and the favicon included; a request to any other host tells a third party
who uses the app and when.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

PAGES = ["", "/documents", "/evaluate"]


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
def test_a_page_load_makes_no_request_outside_127_0_0_1(browser, running_app, locale: str):
    context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 1000})
    page: Page = context.new_page()
    requests: list[str] = []

    def record(request: Request) -> None:
        requests.append(request.url)

    page.on("request", record)
    try:
        for path in PAGES:
            page.goto(f"{running_app.url}{path}")
            expect(page.locator("[data-testid='stSidebar']")).to_be_visible()
            page.wait_for_timeout(1500)  # icons, fonts and the favicon load after the page
            page.reload()
            expect(page.locator("[data-testid='stSidebar']")).to_be_visible()
            page.wait_for_timeout(1500)
    finally:
        context.close()
    hosts = {urlsplit(url).hostname for url in requests if urlsplit(url).scheme != "data"}
    outside = sorted({url for url in requests if urlsplit(url).hostname not in ("127.0.0.1", None)})
    assert requests and hosts <= {"127.0.0.1", None}, outside
