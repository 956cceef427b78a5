"""`submit`'s wait for the next page, against the answers Chromium gives for a page being replaced.

CI failed once on the live lab's login: while the old page was torn down, chromedriver answered the
old `<html>` node with an inspector error instead of a stale-element error, and Selenium's
`staleness_of` raised it."""

from __future__ import annotations

import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

from tests.web.flows import is_gone


class Element:
    """Just the one call `is_gone` makes, answering as chromedriver did."""

    def __init__(self, answer: Exception | None) -> None:
        self.answer = answer

    def is_enabled(self) -> bool:
        if self.answer is not None:
            raise self.answer
        return True


CHROMIUM_DETACHED = WebDriverException(
    'unknown error: unhandled inspector error: {"code":-32000,"message":"Node with given id does not belong to the document"}'
)


def test_a_live_node_is_not_gone() -> None:
    assert is_gone(Element(None)) is False  # type: ignore[arg-type]


@pytest.mark.parametrize("answer", [StaleElementReferenceException("stale element reference"), CHROMIUM_DETACHED])
def test_a_stale_or_detached_node_is_gone(answer: Exception) -> None:
    assert is_gone(Element(answer)) is True  # type: ignore[arg-type]


def test_any_other_browser_error_is_raised() -> None:
    with pytest.raises(WebDriverException, match="session deleted"):
        is_gone(Element(WebDriverException("invalid session id: session deleted")))  # type: ignore[arg-type]
