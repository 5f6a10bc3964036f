"""The demo page against a server with API keys, in Chromium: the page loads without a key, asks
for one once (its first requests, refused together, share the question), then works."""

import pytest

import echo_task
from test_web import served_in_process

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
KEY = "web-page-key-0123456789"


@pytest.fixture
def keyed_server(tmp_path, monkeypatch):
    pytest.importorskip("uvicorn")
    echo_task.register(monkeypatch)
    with served_in_process(echo_task.save_echo_model(tmp_path / "echo"), api_keys=(KEY,)) as url:
        yield url


def test_the_page_asks_for_the_key_once_and_then_uses_it(keyed_server):
    from pathlib import Path

    if not Path("/usr/bin/chromium").is_file():
        pytest.skip("Chromium not found at /usr/bin/chromium (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')")
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept(KEY)

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("dialog", answer)
            page.goto(f"{keyed_server}/")
            page.wait_for_selector("body[data-state=ready]")
            page.fill("#echo-input", "abc")
            page.click("#echo-submit")
            page.wait_for_selector("#echo-result[data-state=done]")
            assert '"length": 3' in page.inner_text("#echo-json")
        finally:
            browser.close()
    assert len(asked) == 1 and "needs an API key" in asked[0], asked
