"""The committed report page opened in a real browser (headless Chromium, Debian's package).

Playwright drives the system browser (``executable_path``; no browser download): every image
loaded, no console or page error, every section and table present, and at a phone's width the
page does not overflow (wide tables scroll inside their own container). Without Playwright the
browser's own ``--dump-dom`` and ``--screenshot`` check the parsed page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from topoexp.report.spec import load_specs

pytestmark = pytest.mark.browser

PAGE = REPO_ROOT / "results" / "index.html"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = 390


def _chromium() -> str:
    for name in (os.environ.get("TOPOEXP_CHROMIUM", ""), "chromium", "chromium-browser"):
        if name and (path := shutil.which(name)):
            return path
    pytest.skip("no Chromium (Debian: apt-get install -y chromium; or set TOPOEXP_CHROMIUM)")


def _specs():
    return load_specs(REPO_ROOT / "conf" / "report")


def _shown(spec):
    """The spec's tables the page shows: an optional one whose source is not committed is
    left out (its claims are not run)."""
    return [t for t in spec.tables if not (t.optional and not (REPO_ROOT / t.source).exists())]


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        # FLAGS[0] is playwright's own headless switch; the rest as given
        launched = p.chromium.launch(executable_path=executable, headless=True, args=FLAGS[1:])
        yield launched
        launched.close()


def _open(browser, width: int, height: int):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"failed to load {r.url}"))
    page.goto(PAGE.as_uri(), wait_until="load")
    return page, errors


def test_page_in_chromium_every_image_section_and_table(browser):
    page, errors = _open(browser, 1280, 900)
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.getAttribute('src'), e.complete, e.naturalWidth])"
    )
    specs = _specs()
    assert len(images) == sum(len(s.figures) for s in specs)
    broken = [src for src, complete, width in images if not (complete and width > 0)]
    assert broken == []
    for spec in specs:
        assert page.locator(f"section#{spec.paper} h2").inner_text() == spec.title
        for table in _shown(spec):
            rows = page.locator(f'table[data-table="{table.id}"] tbody tr').count()
            assert rows > 0, table.id
    for key in ("cells-within", "cells-compared", "claims-reproduced", "claims-checked"):
        assert page.locator(f"#{key}").inner_text().isdigit()
    assert page.locator("table.claims tbody tr").count() > 0
    assert errors == []
    page.close()


def test_page_at_phone_width_scrolls_tables_not_the_page(browser):
    page, errors = _open(browser, PHONE, 844)
    body_width = page.evaluate("document.documentElement.scrollWidth")
    assert body_width <= PHONE, f"the page is {body_width} px wide at a {PHONE} px viewport"
    wraps = page.eval_on_selector_all(
        ".table-wrap", "els => els.map(e => [e.clientWidth, e.scrollWidth])"
    )
    assert wraps and all(client <= PHONE for client, _ in wraps)
    assert any(scroll > client for client, scroll in wraps)  # wide tables scroll inside
    widest = page.eval_on_selector_all("img", "els => Math.max(...els.map(e => e.clientWidth))")
    assert widest <= PHONE
    assert errors == []
    page.close()


def test_dump_dom_and_screenshot_with_the_browser_alone(tmp_path: Path):
    """The same page parsed by ``chromium --headless --dump-dom``, and a phone-width screenshot."""
    executable = _chromium()
    profile = tmp_path / "profile"
    profile.mkdir()
    common = [executable, *FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run(
        [*common, "--dump-dom", PAGE.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for spec in _specs():
        assert f'<section id="{spec.paper}"' in dom
        for table in _shown(spec):
            assert f'data-table="{table.id}"' in dom
    shot = tmp_path / "phone.png"
    subprocess.run(
        [*common, f"--window-size={PHONE},844", f"--screenshot={shot}", PAGE.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
