"""The web front end on the live lab, in a real browser, the way an end user reaches it: Traefik on
127.0.0.1:443 (Chromium resolves `*.localhost` to loopback) -> oauth2-proxy's forward-auth ->
Keycloak's login with the OTP enrolment the realm demands of PSRA administrators -> back to the
origin checker, a calculation, its verdict. Screenshots under out/screenshots/lab-*.png.

The browser skips certificate verification: the lab's certificates come from Pebble, whose root
changes each time it starts; `test_certificates_are_issued_through_acme_by_pebble` and the flow
check verify them against that root."""

from __future__ import annotations

import base64
from datetime import date

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from infra.ops.lab import checks, flow, lab
from infra.ops.lab.state import LabState
from tests.web.browser import chromium, save_screenshot
from tests.web.flows import (
    create_declaration,
    fill_and_submit_calculation,
    submit,
    verdict,
)

PSRA = "https://psra.localhost"


def test_a_psra_administrator_logs_in_with_otp_and_checks_an_origin(live_lab: checks.LiveLab) -> None:
    state = LabState(lab.DEFAULT_STACK)
    user = flow.lab_users(live_lab.client, live_lab.document, state)[flow.PSRA_ADMIN]
    with chromium(flags=("--ignore-certificate-errors",)) as driver:
        wait = WebDriverWait(driver, 60)
        driver.get(f"{PSRA}/calculations/new")
        wait.until(expected_conditions.presence_of_element_located((By.ID, "kc-form-login")))
        assert driver.current_url.startswith("https://auth.localhost/realms/sevensa/")
        save_screenshot(driver, "lab-1-keycloak-login")
        driver.find_element(By.ID, "username").send_keys(user.username)
        driver.find_element(By.ID, "password").send_keys(user.password)
        submit(driver, driver.find_element(By.ID, "kc-login"))
        totp = otp_step(driver, wait, user, state)
        save_screenshot(driver, "lab-2-otp")
        driver.find_element(By.ID, "totp" if totp == "enrol" else "otp").send_keys(user.otp.code())
        submit(driver, driver.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]"))
        wait.until(lambda d: d.current_url.startswith(f"{PSRA}/calculations/new"))
        create_declaration(driver, PSRA, date.today())  # the form's materials cite a stored supplier declaration
        save_screenshot(driver, "lab-3-declaration")
        landed = fill_and_submit_calculation(driver, PSRA)
        assert landed.startswith(f"{PSRA}/calculations/") and not landed.endswith("/new")
        assert verdict(driver)
        save_screenshot(driver, "lab-4-verdict")


def otp_step(driver: WebDriver, wait: WebDriverWait, user: flow.LabUser, state: LabState) -> str:
    """`enrol` on the first login (the secret read from Keycloak's manual-entry page, kept in the
    lab state like the password), `code` once enrolled."""
    wait.until(lambda d: d.find_elements(By.ID, "kc-totp-settings-form") or d.find_elements(By.ID, "kc-otp-login-form"))
    if driver.find_elements(By.ID, "kc-otp-login-form"):
        assert user.otp.secret, "Keycloak asks for a code of an enrolment the lab state does not know"
        return "code"
    submit(driver, driver.find_element(By.ID, "mode-manual"))
    shown = driver.find_element(By.ID, "kc-totp-secret-key").text.replace(" ", "")
    user.otp.secret = base64.b32decode(shown + "=" * (-len(shown) % 8)).decode()  # what an authenticator app is given
    flow.remember_otp(state, user)
    return "enrol"
