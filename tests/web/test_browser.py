"""The web pages in a real browser (headless Chromium from Debian via Selenium), against the app in its
own process with users from real Keycloak tokens: a declaration, a calculation with three materials (one
covered by the declaration) through an inline error, the result and its PDF, My calculations, another
user kept out, the admin's audit log, a phone-width screen; and the local mode of `make web`.

Every page is saved as out/screenshots/<name>.png to be looked at."""

from __future__ import annotations

import json
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app.engine.rulebook import default_rulebook
from tests.web.browser import PHONE, SCREENSHOTS, chromium, forward_token, navigation_ms, save_screenshot
from tests.web.conftest import RunningApp
from tests.web.flows import (
    SUPPLIER,
    create_declaration,
    field,
    field_error,
    fill_and_submit_calculation,
    submit,
    submit_calculation,
    type_into,
    verdict,
)
from tests.web.realm import WebRealm

pytestmark = pytest.mark.servers


def _wait_for_file(folder: Path, suffix: str, timeout: float = 20) -> Path:
    def done(_: object) -> Path | bool:
        files = [p for p in folder.iterdir() if p.name.endswith(suffix)]
        return files[0] if files else False

    return WebDriverWait(None, timeout, poll_frequency=0.2).until(done)  # type: ignore[arg-type]


def test_declaration_calculation_result_pdf_and_history(platform_app: RunningApp, web_realm: WebRealm) -> None:
    base, today = platform_app.base_url, date.today()
    downloads = Path(tempfile.mkdtemp(prefix="psra-downloads-"))
    with chromium(downloads) as driver:
        forward_token(driver, web_realm.token("web-alice"))

        create_declaration(driver, base, today)
        assert driver.find_element(By.CSS_SELECTOR, "[role=status]").text == "Declaration stored."
        row = driver.find_element(By.XPATH, f"//tr[td[contains(., '{SUPPLIER}')]]")
        assert "state-expiring" in (row.get_attribute("class") or "")
        assert row.find_element(By.CSS_SELECTOR, ".badge").text == "expires in 40 days"
        save_screenshot(driver, "01-declarations")

        # a wrong product HS code: refused next to the field with what is allowed, nothing typed lost
        fill_and_submit_calculation(driver, base, today, hs_code="8501.10")
        assert field_error(driver, "product_hs_code") == "HS code must be 6, 8 or 10 digits without dots (e.g. 850110), got '8501.10'"
        assert field(driver, "product_hs_code").get_attribute("aria-invalid") == "true"
        assert [field(driver, f"m{i}_value").get_attribute("value") for i in range(3)] == ["30.00", "10.00", "15.00"]
        assert SUPPLIER in field(driver, "m1_proof").find_element(By.CSS_SELECTOR, "option:checked").text
        assert field(driver, "product_fob_price").get_attribute("value") == "120.00"
        save_screenshot(driver, "02-calculation-inline-error")

        submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Add a material']"))  # rows come and go, values stay
        assert driver.switch_to.active_element.get_attribute("id") == "m3_hs_code"
        submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Remove material 4']"))
        assert len(driver.find_elements(By.CSS_SELECTOR, "fieldset.material")) == 3
        assert [field(driver, f"m{i}_hs_code").get_attribute("value") for i in range(3)] == ["850300", "720917", "854449"]

        type_into(field(driver, "product_hs_code"), "850110")
        submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Look up heading and rule']"))
        lookup = driver.find_element(By.ID, "lookup").text
        rule = default_rulebook().find_rule("EU-JP", "850110", today)
        assert rule is not None
        assert "8501\nElectric motors and generators" in lookup and f"Rule that applies under EU-JP: {rule.rule}" in lookup
        save_screenshot(driver, "03-calculation-form")
        submit_calculation(driver)

        assert driver.current_url.startswith(f"{base}/calculations/")
        result_url = driver.current_url
        assert verdict(driver) == "Originating"
        page = driver.find_element(By.TAG_NAME, "main").text
        assert "non-originating value (NOM)\n45.00\nNOM share of the ex-works price\n45.00 %\nlimit\n50.00 %" in page
        assert rule.legal_source in page
        reasons = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert "EU origin proven by a valid LTSD dispatched" in reasons[1] and "originating" in reasons[1]
        assert "CN is neither the EU nor a cumulation partner under EU-JP" in reasons[0]
        chart = driver.find_element(By.CSS_SELECTOR, "img.chart")
        assert driver.execute_script("return arguments[0].naturalWidth", chart) == 640  # the SVG loaded
        save_screenshot(driver, "04-result")
        timings = {"result": navigation_ms(driver)}

        driver.find_element(By.LINK_TEXT, "Download PDF").click()
        pdf = _wait_for_file(downloads, ".pdf")
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "Origin calculation certificate" in text and "ORIGINATING" in text
        assert "NOM share of the ex-works price 45.00 %; limit 50.00 %" in " ".join(text.split()) and "EU origin proven by a valid LTSD" in text

        submit(driver, driver.find_element(By.LINK_TEXT, "My calculations"))
        rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(rows) == 1 and "850110" in rows[0].text and "originating" in rows[0].text
        assert rows[0].find_element(By.TAG_NAME, "a").get_attribute("href") == result_url
        save_screenshot(driver, "05-my-calculations")
        driver.get(f"{base}/calculations?verdict=not_originating")
        assert driver.find_elements(By.CSS_SELECTOR, "tbody tr") == []

        driver.get(f"{base}/admin/audit")  # a psra-user is not an admin
        assert driver.find_element(By.TAG_NAME, "h1").text == "Not allowed"

        driver.set_window_size(*PHONE)
        driver.get(f"{base}/calculations/new")
        timings["new calculation"] = navigation_ms(driver)
        assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]  # no sideways scrolling
        save_screenshot(driver, "06-phone-calculation-form")
        driver.get(result_url)
        assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
        save_screenshot(driver, "07-phone-result")
    (SCREENSHOTS / "navigation-timings-platform.json").write_text(json.dumps(timings, indent=2))

    with chromium() as other:  # web-bob must not see web-alice's certificate, its PDF or its JSON
        forward_token(other, web_realm.token("web-bob"))
        other.get(result_url)
        assert other.find_element(By.TAG_NAME, "h1").text == "No such calculation"
        save_screenshot(other, "08-other-user-refused")
    bob = {"X-Forwarded-Access-Token": web_realm.token("web-bob")}
    for suffix in ("", "/certificate.pdf", "/certificate.json", "/chart.svg"):
        assert httpx.get(result_url + suffix, headers=bob).status_code == 404

    with chromium() as admin:
        forward_token(admin, web_realm.token("web-carol"))
        admin.get(f"{base}/admin/audit?action=calculation.create")
        entries = admin.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert entries and "web-alice" in entries[0].text and "calculation.create" in entries[0].text
        save_screenshot(admin, "09-admin-audit-log")


def test_keyboard_only_calculation(platform_app: RunningApp, web_realm: WebRealm) -> None:
    """Tab reaches the fields in order and Enter in a field calculates (the form's default button)."""
    from selenium.webdriver.common.keys import Keys

    with chromium() as driver:
        forward_token(driver, web_realm.token("web-bob"))
        driver.get(f"{platform_app.base_url}/calculations/new")
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        assert driver.switch_to.active_element.text == "Skip to content"
        field(driver, "product_hs_code").send_keys("850110")
        field(driver, "product_hs_code").send_keys(Keys.TAB)
        assert driver.switch_to.active_element.text == "Look up heading and rule"
        for name, value in (("product_ex_works_price", "50"), ("m0_hs_code", "850300"), ("m0_origin", "JP"), ("m0_value", "20")):
            field(driver, name).send_keys(value)
        field(driver, "m0_value").send_keys(Keys.ENTER)
        assert verdict(driver) == "Originating"


def test_local_mode_serves_pages_and_api(local_app: RunningApp) -> None:
    base = local_app.base_url
    with chromium() as driver:
        driver.get(f"{base}/")
        first = navigation_ms(driver)
        banner = driver.find_element(By.CSS_SELECTOR, ".local-banner").text
        assert banner.startswith("LOCAL MODE — one built-in user, no sign-in")
        assert driver.find_element(By.CSS_SELECTOR, ".user").text == "local user (local mode, no sign-in)"
        save_screenshot(driver, "10-local-mode")
        fill_and_submit_calculation(driver, base, materials=())
        assert verdict(driver) == "Originating"
    (SCREENSHOTS / "navigation-timings-local.json").write_text(json.dumps({"first page": first}, indent=2))
    listed = httpx.get(f"{base}/v1/supplier-declarations")  # the JSON API answers as the local user too
    assert listed.status_code == 200 and listed.json() == []


def test_local_mode_refuses_other_bind_addresses() -> None:
    import sys

    refused = subprocess.run([sys.executable, "-m", "app.web", "--host", "0.0.0.0", "--port", "8999"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "refused: the local mode serves 127.0.0.1 only (it signs nobody in); refusing to bind to another address" in " ".join(refused.stderr.split())
