"""Headless Chromium from Debian (chromium + chromium-driver) driven by Selenium: a fresh profile per
browser, downloads into a given folder, nothing fetched from outside (no Selenium Manager, no component
updates, no sync, no QUIC). Full-page PNG screenshots under out/screenshots/ (gitignored)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "out" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=en-US",
)
DESKTOP = (1280, 900)
PHONE = (390, 844)


@contextmanager
def chromium(downloads: Path | None = None, size: tuple[int, int] = DESKTOP, flags: tuple[str, ...] = ()) -> Iterator[webdriver.Chrome]:
    """A browser with a fresh profile, quit and removed afterwards; `flags` are added to the defaults."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            raise RuntimeError(f"{path} is missing: run scripts/install-system-deps.sh (Debian packages chromium, chromium-driver)")
    profile = tempfile.mkdtemp(prefix="psra-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, *flags):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    if downloads is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        if downloads is not None:
            driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def forward_token(driver: webdriver.Chrome, token: str) -> None:
    """Send `token` with every request as oauth2-proxy does behind the platform (X-Forwarded-Access-Token).
    A stand-in for oauth2-proxy's header injection; the app verifies the token like any API token."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"X-Forwarded-Access-Token": token}})


def save_screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """The whole page (not only the viewport) as out/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    content = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    driver.set_window_size(width, min(int(content["height"]) + 140, 8000))
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(width, height)
    return path


def navigation_ms(driver: webdriver.Chrome) -> dict[str, float]:
    """The last navigation's timing (ms from its start): first byte, DOM ready, load event."""
    timing = driver.execute_script("return performance.getEntriesByType('navigation')[0].toJSON()")
    return {
        "response_start": round(timing["responseStart"], 1),
        "dom_content_loaded": round(timing["domContentLoadedEventEnd"], 1),
        "load": round(timing["loadEventEnd"], 1),
    }
