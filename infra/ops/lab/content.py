"""Keycloak's and OpenBao's planned content, on the lab's own servers.

The replay appliers (`infra.ops.replay`) give the plan's pulumi-keycloak and pulumi-vault
resources to the lab's Keycloak and OpenBao containers (reached on their container
addresses) with the lab plan's own secret values. OpenBao's content is written as Pulumi's
vault provider writes it: logged in as the provisioner AppRole that `bootstrap openbao`
sets up. The lab keeps what a test would substitute (bound CIDRs, the PostgreSQL
container, the public issuer `https://auth.<domain>`, reached through Traefik's alias on
shared-net and trusted through the lab plan's `acmeIssuerCertificate`) and gives each
AppRole the role and secret id the plan computed, since the containers were given those.

A family is applied once per content digest (kept in the lab state): a second `lab up`
converges. OpenBao is initialised by the lab (one unseal key: a lab, not the custodians'
ceremony) and unsealed on every `up`; its unseal key and root token live only in the
root-only state file.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

import docker
import httpx
import hvac
import hvac.exceptions
import requests

from infra.ops import bootstrap
from infra.ops.lab.applier import FamilyApplier, LabApplyError, digest, entries
from infra.ops.lab.state import LabState
from infra.ops.replay.resources import PlannedResource, UnhandledInput, revealed
from infra.plan.document import parse_export
from infra.plan.offline import StackPlan

KEYCLOAK = "keycloak:"
OPENBAO = "vault:"
KEYCLOAK_CONTAINER, KEYCLOAK_NETWORK, KEYCLOAK_PORT = "keycloak", "keycloak-net", 8080
OPENBAO_CONTAINER, OPENBAO_NETWORK, OPENBAO_PORT = "openbao", "shared-net", 8200
KEYCLOAK_ADMIN_PASSWORD = "keycloak-admin-password"
KEYCLOAK_ADMIN = "platform-admin"
OIDC_WAIT_SECONDS = 180
JWT_BACKEND = "vault:jwt/authBackend:AuthBackend"

Progress = Callable[[str], None]


def random_result(document: Mapping[str, Any], name: str) -> str:
    for resource in document["deployment"]["resources"]:
        if resource["type"].startswith("random:") and resource["urn"].endswith(f"::{name}"):
            return str(revealed(resource["outputs"]["result"]))
    raise LabApplyError(f"the plan has no random value {name!r}")


def address(client: docker.DockerClient, container: str, network: str) -> str:
    return client.containers.get(container).attrs["NetworkSettings"]["Networks"][network]["IPAddress"]


def family_digest(document: Mapping[str, Any], prefix: str) -> str:
    return digest([(e.urn, e.inputs) for e in entries(document) if e.type.startswith(prefix)])


def keycloak_content(client: docker.DockerClient, state: LabState, progress: Progress) -> FamilyApplier:
    def apply(document: Mapping[str, Any]) -> None:
        from keycloak import KeycloakAdmin

        from infra.ops.replay.keycloak import KeycloakApplier

        wanted = family_digest(document, KEYCLOAK)
        if state.load().get("keycloak_digest") == wanted:
            progress("Keycloak content unchanged")
            return
        url = f"http://{address(client, KEYCLOAK_CONTAINER, KEYCLOAK_NETWORK)}:{KEYCLOAK_PORT}"
        admin = KeycloakAdmin(
            server_url=url,
            username=KEYCLOAK_ADMIN,
            password=random_result(document, KEYCLOAK_ADMIN_PASSWORD),
            realm_name="master",
            user_realm_name="master",
        )
        secrets = {
            r["inputs"]["clientId"]: str(revealed(r["inputs"]["clientSecret"]))
            for r in document["deployment"]["resources"]
            if r["type"] == "keycloak:openid/client:Client" and "clientSecret" in r["inputs"]
        }
        realm = next(r["inputs"]["realm"] for r in document["deployment"]["resources"] if r["type"] == "keycloak:index/realm:Realm")
        if realm in {r["realm"] for r in admin.get_realms()}:
            admin.delete_realm(realm)  # the content changed: the lab replays it whole
        progress(f"Keycloak realm {realm}")
        KeycloakApplier(admin, lambda client_id: secrets[client_id]).apply(dict(document), parse_export(document))
        state.update(keycloak_digest=wanted)

    return apply


def unsealed_openbao(client: docker.DockerClient, state: LabState, progress: Progress) -> str:
    """OpenBao's address, initialised (once) and unsealed; the root token stays in the state file."""
    addr = f"http://{address(client, OPENBAO_CONTAINER, OPENBAO_NETWORK)}:{OPENBAO_PORT}"
    bao = hvac.Client(url=addr, timeout=30)
    if not bao.sys.is_initialized():
        progress("OpenBao init")
        result = bao.sys.initialize(secret_shares=1, secret_threshold=1)
        state.update(openbao={"unseal_key": result["keys"][0], "root_token": result["root_token"]}, openbao_digest=None)
    material = state.load().get("openbao")
    if material is None:
        raise LabApplyError("OpenBao is initialised but the lab state has no unseal key (run `lab down` and `lab up`)")
    if bao.sys.is_sealed():
        progress("OpenBao unseal")
        bao.sys.submit_unseal_key(material["unseal_key"])
    for _ in range(30):
        if not bao.sys.read_health_status(method="GET", standby_ok=True).get("sealed", True):
            return addr
        time.sleep(1)
    raise LabApplyError("OpenBao stayed sealed after the unseal key was submitted")


def wait_for_issuer(document: Mapping[str, Any], ca_pem: str, progress: Progress) -> None:
    """OpenBao fetches the issuer's discovery document when its OIDC method is configured, through
    Traefik; until Traefik holds the ACME certificate for the issuer's host, that fails: wait for it
    (asking Traefik on 127.0.0.1 by the issuer's host name, as OpenBao will on shared-net)."""
    from infra.ops.oidc_login import to_loopback

    issuer = next(r["inputs"]["boundIssuer"] for r in document["deployment"]["resources"] if r["type"] == JWT_BACKEND)
    deadline, last = time.monotonic() + OIDC_WAIT_SECONDS, "no answer"
    with httpx.Client(transport=to_loopback(ssl.create_default_context(cadata=ca_pem)), timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get(f"{issuer}/.well-known/openid-configuration")
                if response.status_code == 200 and response.json().get("issuer") == issuer:
                    return
                last = f"HTTP {response.status_code}"
            except (httpx.HTTPError, ValueError) as error:
                last = type(error).__name__
            progress(f"OpenBao OIDC: waiting for the issuer's certificate and discovery document ({last})")
            time.sleep(3)
    raise LabApplyError(f"the issuer {issuer} did not answer with an ACME certificate within {OIDC_WAIT_SECONDS} s ({last})")


def openbao_content(client: docker.DockerClient, plan: StackPlan, state: LabState, progress: Progress) -> FamilyApplier:
    def apply(document: Mapping[str, Any]) -> None:
        from infra.ops.replay.openbao import (
            OpenBaoApplier,
            OpenBaoSubstitutions,
            as_planned,
        )

        addr = unsealed_openbao(client, state, progress)
        wanted = family_digest(document, OPENBAO)
        if state.load().get("openbao_digest") == wanted:
            progress("OpenBao content unchanged")
            return
        if plan.spec.acme_issuer_certificate is None:
            raise LabApplyError("the lab plan has no acmeIssuerCertificate: OpenBao could not trust its OIDC issuer")
        wait_for_issuer(document, plan.spec.acme_issuer_certificate, progress)
        try:
            login = bootstrap.create_provisioner(addr, state.load()["openbao"]["root_token"], plan.spec.openbao)
            token = bootstrap.provisioner_token(addr, login)
        except bootstrap.BootstrapError as error:
            raise LabApplyError(f"OpenBao content: {error}") from error

        def lab_secret(item: PlannedResource, key: str) -> str:
            return str(revealed(item.resource.inputs[key]))

        replay = OpenBaoApplier(
            addr,
            token,
            OpenBaoSubstitutions(secret=lab_secret, bound_cidr=as_planned, planned_approle_ids=True),
        )
        progress("OpenBao content (namespaces, engines, AppRoles, policies, KV)")
        try:
            replay.apply(dict(document), parse_export(document))
        except (hvac.exceptions.VaultError, requests.RequestException, UnhandledInput) as error:
            raise LabApplyError(f"OpenBao refused the plan's content: {type(error).__name__}: {error}") from error
        state.update(openbao_digest=wanted)

    return apply


def content_appliers(plan: StackPlan, state: LabState, progress: Progress) -> dict[str, FamilyApplier]:
    """The appliers `lab up` passes for the resource families that are not Docker's."""
    client = docker.from_env(timeout=600)
    return {KEYCLOAK: keycloak_content(client, state, progress), OPENBAO: openbao_content(client, plan, state, progress)}
