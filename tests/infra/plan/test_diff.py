"""Diff of two export documents: added, removed, changed by property name."""

from __future__ import annotations

import copy

from infra.plan.diff import diff_exports
from infra.plan.document import SECRET_SIG, SECRET_VALUE, parse_export
from tests.harness import plan_config


def test_identical_plans_have_no_diff(prod_plan) -> None:
    resources = prod_plan.resources
    assert diff_exports(resources, resources).empty


def test_config_change_shows_added_and_changed() -> None:
    old = plan_config(stack="prod")
    new = plan_config(
        {"networks": [{"name": "psra-net", "purpose": "renamed purpose"}, {"name": "lab-net", "subnet": "10.50.0.0/24", "internal": True, "purpose": "lab"}]},
        stack="prod",
    )
    result = diff_exports(old.resources, new.resources)
    assert [urn.rsplit("::", 1)[1] for urn in result.added] == ["networks-lab-net"]
    assert result.removed == []
    changed = {urn.rsplit("::", 1)[1]: keys for urn, keys in result.changed.items()}
    assert changed["networks-psra-net"] == ["labels"]


def test_removed_resources_and_secret_ciphertexts(prod_plan) -> None:
    document = copy.deepcopy(prod_plan.document)
    resources = document["deployment"]["resources"]
    dropped = resources.pop()
    resources[-1]["inputs"]["token"] = {SECRET_SIG: SECRET_VALUE, "ciphertext": "v1:aaa"}
    other = copy.deepcopy(document)
    other["deployment"]["resources"][-1]["inputs"]["token"] = {SECRET_SIG: SECRET_VALUE, "ciphertext": "v1:bbb"}
    result = diff_exports(parse_export(document), parse_export(other))
    assert result.empty  # ciphertexts of two encryptions of a secret are not a change
    result = diff_exports(prod_plan.resources, parse_export(document))
    assert result.removed == [dropped["urn"]]
