"""The backup rules on the platform's own restic job (its JSON configuration) and on a generic
restic job (env and crontab): password from OpenBao or a sealed file, retention with an
off-site copy that outlives the local one, repository check and restore drill on a schedule."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from infra.audit import audit
from infra.plan.document import parse_export
from tests.harness import Planned
from tests.infra.audit.crafted import compliant_document, container, upload

CONFIG = "/etc/backup/backup.json"


def backup_findings(document: dict[str, Any]) -> list[str]:
    return [f"{f.rule} {f.message}" for f in audit(parse_export(document), "prod").findings if f.rule.startswith("BK-")]


def with_job_config(prod_plan: Planned, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document = copy.deepcopy(prod_plan.document)
    item = upload(container(document, "backup"), CONFIG)
    settings = json.loads(item["content"])
    change(settings)
    item["content"] = json.dumps(settings)
    return document


def test_the_platform_job_passes_every_backup_rule(prod_plan: Planned) -> None:
    assert backup_findings(prod_plan.document) == []


def test_a_job_without_an_off_site_copy_is_reported(prod_plan: Planned) -> None:
    document = with_job_config(prod_plan, lambda s: s["openbao"].update(offsite_key=None))
    assert backup_findings(document) == [
        "BK-02 backup backup copies nothing off-site (platform:backup offsite: true and an offsite_days retention)"
    ]


def test_an_off_site_copy_kept_shorter_than_the_local_one_is_reported(prod_plan: Planned) -> None:
    document = with_job_config(prod_plan, lambda s: s["retention"]["openbao"].update(offsite_days=14))
    assert backup_findings(document) == [
        "BK-02 backup backup keeps openbao 14 days off-site but 30 days locally (the off-site copy must outlive the local one)"
    ]


def test_a_job_without_check_or_drill_schedule_is_reported(prod_plan: Planned) -> None:
    def unscheduled(settings: dict[str, Any]) -> None:
        settings["schedules"] = {"backup": "0 2 * * *"}

    assert sorted(backup_findings(with_job_config(prod_plan, unscheduled))) == [
        "BK-03 backup backup schedules no repository check (restic check --read-data-subset)",
        "BK-03 backup backup schedules no restore test (a restore of the latest snapshot into a scratch database)",
    ]


def test_a_password_not_from_openbao_is_reported(prod_plan: Planned) -> None:
    document = with_job_config(prod_plan, lambda s: s["openbao"].update(role_id_file="/etc/backup/role-id"))
    assert backup_findings(document) == [
        "BK-01 backup backup is given no repository password from OpenBao (AppRole login files) or from a Pulumi secret file (e.g. RESTIC_PASSWORD_FILE)"
    ]


def test_a_generic_restic_job_needs_a_check_and_no_password_in_the_environment() -> None:
    document = compliant_document()
    crontab = upload(container(document, "backup"), "/etc/crontabs/backup")
    crontab["content"] = crontab["content"].replace("0 5 * * 0 restic check --read-data-subset=10%\n", "")
    container(document, "backup")["inputs"]["envs"].append("RESTIC_PASSWORD=hunter2-not-a-file")
    messages = backup_findings(document)
    assert "BK-03 backup backup schedules no repository check (restic check --read-data-subset)" in messages
    assert "BK-01 backup backup gets its repository password from an environment variable (use a file: --password-file)" in messages
