"""origin.allowUnverifiedRules in the stack config: production refuses calculations that rest on rules data
marked UNVERIFIED (app/RULES.md); other stacks keep the app's default (answer, with a warning)."""

from __future__ import annotations

import json

from app.settings import Settings
from infra.plan.offline import plan_stack
from infra.spec.load import load_stack

SETTING = "PSRA_ORIGIN_ALLOW_UNVERIFIED_RULES"


def _psra_api_env(stack: str) -> dict[str, str]:
    return next(service.env for service in load_stack(stack).services if service.name == "psra-api")


def test_production_refuses_unverified_rules():
    assert _psra_api_env("prod") == {SETTING: "false"}
    assert Settings.model_validate({"origin_allow_unverified_rules": _psra_api_env("prod")[SETTING]}).origin_allow_unverified_rules is False


def test_the_setting_reaches_the_container():
    assert f'"{SETTING}=false"' in json.dumps(plan_stack("prod").document)


def test_dev_keeps_the_default():
    assert SETTING not in _psra_api_env("dev")
    assert Settings().origin_allow_unverified_rules is True
