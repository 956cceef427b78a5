"""The plan against the host's Docker API: features an older engine would ignore are refused."""

from __future__ import annotations

import copy

import pytest

from infra.plan.document import SECRET_SIG
from infra.plan.engine import engine_problems, requirements
from infra.plan.offline import plan_stack
from infra.spec.problems import SpecError
from tests.harness import spec_for

CONTAINER = "docker:index/container:Container"


def document_with(inputs: dict) -> dict:
    return {"version": 3, "deployment": {"resources": [{"urn": "urn:x", "type": CONTAINER, "inputs": inputs}]}}


SUBPATH_MOUNT = {"type": "volume", "source": "v", "target": "/etc/x", "volumeOptions": {"subpath": "etc_x", "noCopy": True}}


def test_a_sub_path_mount_needs_api_1_45_and_is_refused_on_1_41() -> None:
    document = document_with({"name": "traefik", "mounts": [SUBPATH_MOUNT]})
    (problem,) = engine_problems(document, "1.41", "Pulumi.dev.yaml")
    assert problem.key == "platform:dockerApiVersion"
    assert problem.message == (
        "the plan uses volume sub-path mounts (mounts[].volumeOptions.subpath), which needs Docker API 1.45; "
        "the host speaks 1.41 (containers: traefik). An older engine may ignore it silently."
    )
    assert engine_problems(document, "1.45", "Pulumi.dev.yaml") == []


def test_the_platform_plan_needs_nothing_newer_than_debian_stables_engine() -> None:
    document = plan_stack("dev").document
    assert [r.feature.name for r in requirements(document)] == []
    assert engine_problems(document, "1.41", "Pulumi.dev.yaml") == []


def test_plan_stack_refuses_a_stack_whose_plan_needs_a_newer_engine(tmp_path, monkeypatch) -> None:
    import infra.plan.offline as offline

    real_build = offline.build_export

    def with_subpath(run, sealed=True):
        document = copy.deepcopy(real_build(run, sealed))
        for resource in document["deployment"]["resources"]:
            if resource["type"] == CONTAINER and resource["inputs"].get("name") == "traefik":
                resource["inputs"]["mounts"].append(SUBPATH_MOUNT)
        return document

    monkeypatch.setattr(offline, "build_export", with_subpath)
    (tmp_path / "Pulumi.old.yaml").write_text(
        "config:\n  platform:domain: localhost\n  platform:acmeEmail: dev@sevensa.nl\n"
        "  platform:dockerHost: unix:///var/run/docker.sock\n  platform:tls: self-signed\n  platform:dockerApiVersion: '1.41'\n"
    )
    with pytest.raises(SpecError) as error:
        plan_stack("old", project_dir=tmp_path)
    assert [p.key for p in error.value.problems] == ["platform:dockerApiVersion"]


def test_api_version_and_publish_address_are_validated_config() -> None:
    spec = spec_for({"dockerApiVersion": "1.45", "publishAddress": "127.0.0.1"})
    assert (spec.docker_api_version, str(spec.publish_address)) == ("1.45", "127.0.0.1")
    assert spec_for().docker_api_version == "1.41"
    with pytest.raises(SpecError) as error:
        spec_for({"dockerApiVersion": "latest", "publishAddress": "localhost"})
    assert sorted(p.key for p in error.value.problems) == ["platform:dockerApiVersion", "platform:publishAddress"]


def revealed_secrets(value) -> list:
    """Every secret envelope that carries its value (`{sig, value}`) in a document."""
    if isinstance(value, dict):
        own = [value["value"]] if SECRET_SIG in value and "value" in value else []
        return own + [found for item in value.values() for found in revealed_secrets(item)]
    if isinstance(value, list):
        return [found for item in value for found in revealed_secrets(item)]
    return []


def test_the_lab_key_gives_readable_unpredictable_secrets_only_when_asked() -> None:
    lab = revealed_secrets(plan_stack("dev", lab_key=b"k" * 32).document)
    assert lab and not [value for value in lab if str(value).startswith("mock-")]
    assert revealed_secrets(plan_stack("dev").document) == []


PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZ2xhYg==\n-----END CERTIFICATE-----\n"


def test_tls_acme_needs_its_directory_and_ca_and_nothing_else_takes_them() -> None:
    spec = spec_for({"tls": "acme", "acmeCaServer": "https://pebble:14000/dir", "acmeCaCertificate": PEM})
    assert (spec.acme_ca_server, spec.acme_ca_certificate) == ("https://pebble:14000/dir", PEM)
    with pytest.raises(SpecError) as error:
        spec_for({"tls": "acme", "acmeCaServer": "http://pebble/dir", "acmeCaCertificate": "not a pem"})
    assert sorted(p.key for p in error.value.problems) == ["platform:acmeCaCertificate", "platform:acmeCaServer"]
    with pytest.raises(SpecError) as error:
        spec_for({"tls": "self-signed", "acmeCaServer": "https://pebble:14000/dir"})
    assert [(p.key, p.message) for p in error.value.problems] == [("platform:acmeCaServer", "only used with tls: acme")]


def test_the_lab_stack_gets_traefik_certificates_from_pebble_over_acme() -> None:
    from infra.plan.files import files_by_container
    from infra.plan.document import parse_export

    document = plan_stack("lab").document
    traefik = next(r for r in document["deployment"]["resources"] if r["type"] == CONTAINER and r["inputs"]["name"] == "traefik")
    assert "LEGO_CA_CERTIFICATES=/etc/traefik/acme-ca.pem" in traefik["inputs"]["envs"]
    files = files_by_container(parse_export(document))["traefik"]
    assert files["/etc/traefik/acme-ca.pem"]["content"].startswith("-----BEGIN CERTIFICATE-----")
    static = files["/etc/traefik/traefik.yml"]["content"]
    assert "caServer: https://pebble:14000/dir" in static and "certResolver: letsencrypt" in static
    assert [p["ip"] for p in traefik["inputs"]["ports"]] == ["127.0.0.1", "127.0.0.1"]
