"""The HTML report in a real browser: headless Chromium (Debian's), driven through chromedriver.

The page comes from a real session over loopback scripted models (see conftest.py). Each
view is saved as a screenshot under the test's tmp_path.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sessiondata import HOSTILE

INSTALL = "apt-get install chromium chromium-driver"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason=f"needs Chromium: {INSTALL}")

# Without the background-networking flags Chromium itself makes (refused) connections.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]
# Installed before the page's own script runs: any alert, confirm or prompt is counted.
SENTINEL = (
    "window.__dialogs = 0; ['alert', 'confirm', 'prompt'].forEach(n => window[n] = () => window.__dialogs++);"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium with a fresh profile, logging every network request it makes."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install -e '.[dev]' (selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="specbench-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SENTINEL})
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: Any, report_session: Path) -> Any:
    """The session's report, freshly loaded, with the network log of the load alone."""
    browser.get_log("performance")  # drop what earlier tests left
    browser.get((report_session / "report.html").as_uri())
    return browser


def test_the_overview_lists_every_run_with_its_checks(page: Any, tmp_path: Path) -> None:
    rows = [_text(page, row) for row in _all(page, "#overview table.overview tbody tr")]

    assert [r.split()[:3] for r in rows] == [
        ["alpha", "bare", "FAILED"],
        ["alpha", "full", "PASSED"],
        ["beta", "bare", "FAILED"],
        ["beta", "full", "PASSED"],
    ]
    assert rows[2].endswith("min_requirements: 1 < 4")
    failed = _all(page, "#overview tbody tr:nth-child(3) .mark.fail")
    page.execute_script("arguments[0].focus()", failed[0])  # a check's detail shows on focus, not only hover
    assert failed[0].find_element("css selector", ".tip").text == "min_requirements 1 < 4"
    _screenshot(page, "overview", tmp_path)


def test_the_charts_are_drawn_and_say_which_model_wrote_more(page: Any, tmp_path: Path) -> None:
    labels = [_text(page, t) for t in _all(page, "#charts figure:first-of-type svg text")]

    assert labels == ["alpha · bare", "3", "alpha · full", "6", "beta · bare", "1", "beta · full", "4"]
    effect = [_text(page, t) for t in _all(page, "#charts figure:nth-of-type(3) svg text")]
    assert effect[2:4] == ["alpha · full", "6 (+3, ×2.00)"]
    _screenshot(page, "charts", tmp_path)


def test_side_by_side_shows_two_trees_aligned_with_unmatched_ones_marked(page: Any, tmp_path: Path) -> None:
    from selenium.webdriver.support.select import Select

    Select(page.find_element("css selector", ".pick-a")).select_by_visible_text("alpha · full")
    Select(page.find_element("css selector", ".pick-b")).select_by_visible_text("beta · full")

    heads = [h.text for h in _all(page, ".sbs-table thead th") if h.is_displayed()]
    assert [h.split("\n")[0] for h in heads] == ["aligned by", "alpha · full", "beta · full"]
    rows = {_text(page, r.find_element("css selector", "th")): r for r in _all(page, ".sbs-table tbody tr")}
    notes = rows["notes (reference feature)"]
    assert [_text(page, c).split(" ")[:3] for c in _visible_cells(notes)] == [
        ["F-0001", "Note", "taking"],
        ["F-0001", "Taking", "notes"],
    ]
    export = rows["export (reference feature)"]
    assert "unmatched" in export.get_attribute("class")
    left, right = (_text(page, c) for c in _visible_cells(export))
    assert left == "no matching feature" and right.startswith("F-0002 Export to CSV")
    feature = _visible_cells(notes)[0].find_element("css selector", "details.feature")
    feature.find_element("css selector", "summary").click()
    feature.find_element("css selector", "ol.reqs summary").click()  # a requirement opens to its criteria
    assert "Given 0, then 0" in _text(page, feature)
    _screenshot(page, "side-by-side", tmp_path)


def test_a_run_opens_as_a_timeline_with_tool_errors_highlighted(page: Any, tmp_path: Path) -> None:
    page.find_element("css selector", "#overview tbody tr:nth-child(3) a").click()  # beta · bare

    run = page.find_element("css selector", "#run-2")
    assert run.get_attribute("open") == "true"
    errors = run.find_elements("css selector", ".timeline li.call.error")
    assert len(errors) == 1
    assert errors[0].text.startswith("create_requirement") and "tool error (bad_arguments)" in errors[0].text
    errors[0].find_element("css selector", "summary").click()  # opens to the arguments and the result
    assert "acceptance_criteria" in errors[0].text and "acceptance_criteria: required" in errors[0].text
    stop = _text(page, run.find_element("css selector", ".timeline li.stop"))
    assert stop == "stopped: final_answer — final answer at turn 3"
    _screenshot(page, "run", tmp_path, run)


def test_a_hostile_title_is_text_and_runs_no_script(page: Any) -> None:
    shown = [c for c in _all(page, ".sbs-table td details.feature summary") if HOSTILE in _text(page, c)]

    assert len(shown) == 2  # alpha's two runs wrote it
    assert page.execute_script("return window.__dialogs") == 0
    assert page.execute_script("return document.scripts.length") == 1  # the page's own
    assert page.execute_script("return document.images.length") == 0  # the hostile <img onerror> is text
    assert page.find_elements("css selector", ".sbs-table b") == []  # and so is its <b>


def test_the_page_makes_no_network_request(page: Any, report_session: Path) -> None:
    page.find_element("css selector", ".pick-b").click()
    requests = [
        event["params"]["request"]["url"]
        for entry in page.get_log("performance")
        if (event := json.loads(entry["message"])["message"])["method"] == "Network.requestWillBeSent"
    ]

    assert requests == [(report_session / "report.html").as_uri()]


def _all(page: Any, selector: str) -> list[Any]:
    return list(page.find_elements("css selector", selector))


def _visible_cells(row: Any) -> list[Any]:
    return [cell for cell in row.find_elements("css selector", "td") if cell.is_displayed()]


def _text(page: Any, element: Any) -> str:
    """The element's text as the DOM holds it (Selenium's .text would drop what is collapsed or hidden)."""
    return str(page.execute_script("return arguments[0].textContent", element)).strip()


def _screenshot(page: Any, view: str, directory: Path, element: Any = None) -> None:
    target = directory / f"{view}.png"
    if element is None:
        element = page.find_element("css selector", f"#{view}")
    page.execute_script("arguments[0].scrollIntoView()", element)
    element.screenshot(str(target))
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
