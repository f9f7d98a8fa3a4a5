"""The app in a real browser: ``slsim-viz`` serves it, Debian's Chromium (driven by Playwright;
Playwright's own browser download is not reachable here) opens it and a user's clicks drive it.

Without a browser this skips, saying why. With ``SLSIM_REQUIRE_BROWSER=1`` (set by ``.ci/run``,
which installs Chromium) a missing browser fails instead, so CI cannot pass by skipping.
``SLSIM_SCREENSHOT=docs/img/app.png`` and ``SLSIM_ENSEMBLE_SCREENSHOT=docs/img/ensemble.png``
also write the screenshots there, for the README.
"""

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

REQUIRE_BROWSER = os.environ.get("SLSIM_REQUIRE_BROWSER") == "1"
# Headless on a closed network, as root: no sandbox, GPU, QUIC or background calls home.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
SERVER_START_S = 600  # the first start may fetch the page's scripts with npm
PAGE_LOAD_MS = 120_000
STEP_MS = 60_000


def unavailable(reason: str):
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason}, and SLSIM_REQUIRE_BROWSER=1 requires the browser test to run")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium, and Playwright to drive it; checked before any server starts."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        unavailable("no Chromium: install Debian's 'chromium' package to run the browser test")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("Playwright is not installed (the 'viz' extra)")
    return path


def slsim_viz() -> list[str]:
    script = Path(sys.executable).with_name("slsim-viz")
    return [str(script)] if script.exists() else [sys.executable, "-m", "simulation.viz_cli"]


@pytest.fixture(scope="module")
def ensembles(tmp_path_factory) -> Path:
    """The folder the server keeps its ensembles in."""
    return tmp_path_factory.mktemp("ensembles")


@pytest.fixture(scope="module")
def server_url(chromium, ensembles):
    """``slsim-viz --port 0`` running; yields the URL it prints. ``$HOST`` says to listen
    everywhere: the server must not heed it."""
    process = subprocess.Popen([*slsim_viz(), "--port", "0", "--ensembles", str(ensembles)],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "HOST": "0.0.0.0", "SOLARA_HOST": "0.0.0.0"})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        url = None
        deadline = time.monotonic() + SERVER_START_S
        while url is None and time.monotonic() < deadline and process.poll() is None:
            found = [m for line in list(lines) if (m := re.search(r"at (http://\S+/)", line))]
            url = found[0].group(1) if found else None
            time.sleep(0.1)
        assert url, f"slsim-viz printed no URL:\n{''.join(lines)}"
        assert url.startswith("http://127.0.0.1:")
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"slsim-viz did not answer at {url}:\n{''.join(lines)}")
        assert f"Solara server is starting at {url.rstrip('/')}" in "".join(lines)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def page(chromium, tmp_path):
    """A fresh Chromium page (own profile directory) at a projector-like size."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1600, "height": 1000})
        browser_page = context.pages[0] if context.pages else context.new_page()
        browser_page.set_default_timeout(STEP_MS)
        yield browser_page
        context.close()


def open_app(page, url: str) -> None:
    page.goto(url)
    page.get_by_text(re.compile(r"^Week 0 of \d+$")).wait_for(timeout=PAGE_LOAD_MS)


def week(page) -> int:
    return int(re.match(r"Week (\d+)", page.locator(".slsim-week").inner_text()).group(1))


def wait_for_week(page, number: int) -> None:
    page.locator(".slsim-week").get_by_text(re.compile(rf"^Week {number} of")).wait_for()


def image_sources(page) -> list[str]:
    return [image.get_attribute("src") for image in page.locator("img.solara-image").all()]


def assert_no_error_shown(page) -> None:
    alerts = page.locator(".v-alert")
    assert alerts.count() == 0, alerts.all_inner_texts()
    assert page.get_by_text("Traceback").count() == 0


def choose(page, label: str, option: str) -> None:
    page.locator(".v-select").filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_step_watch_and_switch_scenario(server_url, page, tmp_path):
    open_app(page, server_url)
    network_card = page.locator(".slsim-network").nth(1)
    before = image_sources(page)
    trends_before = page.locator("img.slsim-trends").get_attribute("src")
    assert len(before) == 3 and all(before)

    step = page.get_by_role("button", name="Step")
    for number in (1, 2, 3):
        started = time.perf_counter()
        step.click()
        wait_for_week(page, number)
        print(f"week {number}: step and redraw seen in {time.perf_counter() - started:.2f} s")
    page.wait_for_function(
        "before => document.querySelector('img.slsim-trends').src !== before", arg=trends_before)
    after = image_sources(page)
    assert all(old != new for old, new in zip(before, after, strict=True))
    assert_no_error_shown(page)

    # Switch the scenario: both runs restart at week 0 with the new policy on the right.
    options = page.locator(".v-select").filter(has_text="Scenario").locator("option")
    names = [option.get_attribute("value") for option in options.all()]
    current = network_card.locator(".v-card-title").inner_text().removeprefix("Scenario: ")
    target = "recommended_package" if "recommended_package" in names[1:] else names[-1]
    if target != current:
        choose(page, "Scenario", target)
        network_card.get_by_text(f"Scenario: {target}").wait_for()
        wait_for_week(page, 0)

    # Fast-forward a year, 26 weeks a step, for the picture.
    page.get_by_role("slider").first.focus()
    page.keyboard.press("End")
    page.get_by_text("Weeks per step: 26").wait_for()
    step.click()
    wait_for_week(page, 26)
    step.click()
    wait_for_week(page, 52)
    assert_no_error_shown(page)

    page.set_viewport_size({"width": 1600, "height": 1760})  # the whole page, as on a projector
    save_screenshot(page, tmp_path / "app.png", "SLSIM_SCREENSHOT")


def test_a_bad_value_shows_an_error_and_play_still_works(server_url, page):
    open_app(page, server_url)
    seed = page.get_by_label(re.compile(r"^Seed"))
    seed.fill("not-a-seed")
    seed.press("Enter")
    error = page.locator(".v-alert")
    error.wait_for()
    assert "seed" in error.inner_text()

    page.get_by_role("button", name="Step").click()  # the current runs carry on
    wait_for_week(page, 1)

    seed.fill("3")
    seed.press("Enter")
    wait_for_week(page, 0)
    error.wait_for(state="detached")

    page.get_by_role("button", name="Play").click()
    page.wait_for_function(
        "() => /Week ([3-9]|\\d\\d+) of/.test(document.querySelector('.slsim-week').innerText)")
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Play").wait_for()
    page.wait_for_timeout(1000)  # a week under way when Pause was pressed may still finish
    paused_at = week(page)
    page.wait_for_timeout(1000)
    assert week(page) == paused_at >= 3
    assert_no_error_shown(page)


def save_screenshot(page, path: Path, variable: str) -> None:
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))
    assert path.stat().st_size > 50_000
    if copy_to := os.environ.get(variable):
        Path(copy_to).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy_to)


def runs_done(page) -> tuple[int, int]:
    done, planned = re.match(r"(\d+) of (\d+) runs done",
                             page.locator(".slsim-progress").inner_text()).groups()
    return int(done), int(planned)


def test_an_ensemble_runs_with_progress_shows_the_forest_plot_and_opens_the_report(
        server_url, page, ensembles, tmp_path):
    page.goto(server_url + "ensemble")
    page.locator(".slsim-eta").wait_for(timeout=PAGE_LOAD_MS)  # the system's speed, measured
    sliders = page.get_by_role("slider")
    sliders.nth(0).focus()  # the horizon: 1 week, then 4
    page.keyboard.press("Home")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.get_by_text("Horizon: 4 weeks").wait_for()
    sliders.nth(1).focus()  # the replicates: 3
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    page.get_by_text("Replicates (seeds): 3").wait_for()
    page.get_by_text("6 runs: 2 options × 3 seeds").wait_for()
    # An option composed from a lever, at its configured knobs, beside the scenario.
    page.locator(".v-select").filter(has_text="Levers").click()
    page.get_by_role("option", name="protected_time", exact=True).click()
    page.keyboard.press("Escape")
    page.get_by_text("coverage: 0.3 share per year").wait_for()
    page.get_by_role("button", name="Add this option").click()
    page.get_by_text("9 runs: 3 options × 3 seeds").wait_for()
    folder = page.locator(".slsim-folder").inner_text().removeprefix("Run folder: ")
    assert Path(folder).parent == ensembles

    page.get_by_role("button", name="Start").click()
    page.locator(".slsim-progress").get_by_text(re.compile(r"time left")).wait_for()
    seen = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and (not seen or seen[-1] < 9):
        done, planned = runs_done(page)
        assert planned == 9
        if not seen or done != seen[-1]:
            seen.append(done)
        page.wait_for_timeout(250)
    print(f"runs done as seen: {seen}")
    assert seen[-1] == 9 and seen[0] < 9 and seen == sorted(seen)  # the bar advanced to the end
    page.locator(".slsim-forest img").wait_for(timeout=STEP_MS)
    page.get_by_text("slsim-compare " + folder).wait_for()
    open_report = page.get_by_role("button", name="Open the full report")
    open_report.wait_for()
    page.set_viewport_size({"width": 1600, "height": 1500})
    save_screenshot(page, tmp_path / "ensemble.png", "SLSIM_ENSEMBLE_SCREENSHOT")

    with page.context.expect_page() as opened:
        open_report.click()
    report = opened.value
    report.wait_for_load_state()
    assert report.locator("h1").first.inner_text().startswith("Scenario comparison")
    assert report.locator("img").count() >= 2  # the figures travel inside the page
    assert report.get_by_text("composed: protected_time").count() > 0  # by its readable name
