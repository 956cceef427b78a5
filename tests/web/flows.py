"""What a user does on the web pages, as reusable steps for any deployment: the local mode, the browser
tests here, or the live lab at https://psra.localhost once the browser has signed in through Keycloak.

Each step starts from `base_url` and leaves the browser on the page it ends on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait


@dataclass(frozen=True)
class MaterialInput:
    hs_code: str
    origin: str
    value: str
    declaration: str | None = None  # part of the stored declaration's label, e.g. the supplier's name
    dispatch_date: date | None = None


SUPPLIER = "Stahlwerk Nord GmbH"


def three_materials(today: date) -> tuple[MaterialInput, ...]:
    """A DC motor's bill: Chinese parts, and EU steel covered by the supplier's stored LTSD."""
    return (
        MaterialInput("850300", "CN", "30.00"),
        MaterialInput("720917", "DE", "10.00", declaration=SUPPLIER, dispatch_date=today - timedelta(days=10)),
        MaterialInput("854449", "CN", "15.00"),
    )


def type_into(element: WebElement, text: str) -> None:
    element.clear()
    element.send_keys(text)


def set_date(driver: WebDriver, element: WebElement, day: date) -> None:
    """Date inputs take keyboard input in the browser's locale; setting the value is locale-proof."""
    driver.execute_script("arguments[0].value = arguments[1]", element, day.isoformat())


def field(driver: WebDriver, name: str) -> WebElement:
    return driver.find_element(By.ID, name)


def create_declaration(driver: WebDriver, base_url: str, today: date, supplier: str = SUPPLIER) -> None:
    """Store an LTSD for EU-JP valid from 30 days ago to 40 days ahead (so it shows as expiring soon)."""
    driver.get(f"{base_url}/declarations")
    Select(field(driver, "type")).select_by_value("ltsd")
    type_into(field(driver, "supplier_name"), supplier)
    type_into(field(driver, "supplier_country"), "DE")
    driver.find_element(By.ID, "agreement-EU-JP").click()
    type_into(field(driver, "products"), "cold-rolled steel sheet 7209.17")
    set_date(driver, field(driver, "issue_date"), today - timedelta(days=30))
    set_date(driver, field(driver, "valid_from"), today - timedelta(days=30))
    set_date(driver, field(driver, "valid_until"), today + timedelta(days=40))
    submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Store declaration']"))


def fill_calculation(
    driver: WebDriver,
    base_url: str,
    today: date,
    *,
    hs_code: str = "850110",
    materials: Sequence[MaterialInput] | None = None,
    agreement: str = "EU-JP",
    ex_works_price: str = "100.00",
    fob_price: str = "120.00",
) -> None:
    """Open a new calculation and fill it in (adding material rows as needed) without submitting."""
    driver.get(f"{base_url}/calculations/new")
    Select(field(driver, "agreement")).select_by_value(agreement)
    set_date(driver, field(driver, "assessment_date"), today)
    type_into(field(driver, "product_hs_code"), hs_code)
    type_into(field(driver, "product_description"), "DC motor")
    type_into(field(driver, "product_ex_works_price"), ex_works_price)
    type_into(field(driver, "product_fob_price"), fob_price)
    for index, material in enumerate(materials if materials is not None else three_materials(today)):
        if not driver.find_elements(By.ID, f"m{index}_hs_code"):
            submit(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Add a material']"))
        type_into(field(driver, f"m{index}_hs_code"), material.hs_code)
        type_into(field(driver, f"m{index}_origin"), material.origin)
        type_into(field(driver, f"m{index}_value"), material.value)
        if material.declaration is not None:
            proof = Select(field(driver, f"m{index}_proof"))
            option = next(o for o in proof.options if material.declaration in o.text)
            proof.select_by_value(option.get_attribute("value") or "")
        if material.dispatch_date is not None:
            set_date(driver, field(driver, f"m{index}_dispatch_date"), material.dispatch_date)


def submit(driver: WebDriver, button: WebElement, timeout: float = 20) -> None:
    """Click what loads a new page (a form's button, a link) and wait until the old page is gone:
    looking at the answer right after the click races the navigation (it failed under load)."""
    page = driver.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(driver, timeout).until(lambda _: is_gone(page))


NODE_DETACHED = "does not belong to the document"


def is_gone(element: WebElement) -> bool:
    """Whether `element`'s page has been replaced. Selenium's `staleness_of` knows only the stale-
    element error; Chromium answers a node of a page that is being torn down with an inspector error
    instead ("Node with given id does not belong to the document"), which means the same thing."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if NODE_DETACHED in (error.msg or ""):
            return True
        raise
    return False


def submit_calculation(driver: WebDriver) -> None:
    submit(driver, driver.find_element(By.XPATH, "//button[contains(@class, 'primary') and normalize-space()='Calculate origin']"))


def fill_and_submit_calculation(driver: WebDriver, base_url: str, today: date | None = None, **fields: object) -> str:
    """Fill in and submit a calculation; returns the URL the browser lands on (the result's, when accepted)."""
    fill_calculation(driver, base_url, today or date.today(), **fields)  # type: ignore[arg-type]
    submit_calculation(driver)
    return driver.current_url


def verdict(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "verdict-title").text


def field_error(driver: WebDriver, name: str) -> str:
    return driver.find_element(By.ID, f"{name}-error").text
