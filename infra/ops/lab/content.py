"""Keycloak's and OpenBao's planned content, on the lab's own servers.

The conformance appliers (`tests/conformance/apply_keycloak.py`, `apply_openbao.py`) replay
the plan's pulumi-keycloak and pulumi-vault resources through the servers' APIs; the lab
hands them its own Keycloak and OpenBao containers (reached on their container addresses)
and the plan's own secret values (the lab plan keeps them readable). A family is applied
once per content digest (kept in the lab state): a second `lab up` converges.

OpenBao is initialised by the lab (one unseal key: a lab, not the custodians' ceremony) and
unsealed on every `up`; its unseal key and root token live only in the root-only state file.
What the lab cannot apply yet is recorded in the state (`content_pending`) and reported as a
failed check, never skipped silently.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import docker
import hvac

from infra.ops.lab.applier import FamilyApplier, LabApplyError, digest, entries
from infra.ops.lab.state import LabState
from infra.plan.document import SECRET_SIG, parse_export

KEYCLOAK = "keycloak:"
OPENBAO = "vault:"
KEYCLOAK_CONTAINER, KEYCLOAK_NETWORK, KEYCLOAK_PORT = "keycloak", "keycloak-net", 8080
OPENBAO_CONTAINER, OPENBAO_NETWORK, OPENBAO_PORT = "openbao", "shared-net", 8200
KEYCLOAK_ADMIN_PASSWORD = "keycloak-admin-password"
KEYCLOAK_ADMIN = "platform-admin"
PENDING = "content_pending"
"""State key: family prefix -> why its content is not applied (read by the check)."""

Progress = Callable[[str], None]


def revealed(value: Any) -> Any:
    """The value of a lab-plan secret (`{sig, value}`); plain values as they are."""
    if isinstance(value, dict) and SECRET_SIG in value:
        if "value" not in value:
            raise LabApplyError("a sealed secret in the lab plan: the lab plan must come from plan_stack(lab_key=...)")
        return value["value"]
    return value


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

        from tests.conformance.apply_keycloak import KeycloakApplier

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
        state.update(**{PENDING: {k: v for k, v in state.load().get(PENDING, {}).items() if k != KEYCLOAK}})

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


def openbao_content(client: docker.DockerClient, state: LabState, progress: Progress) -> FamilyApplier:
    def apply(document: Mapping[str, Any]) -> None:
        unsealed_openbao(client, state, progress)
        reason = (
            "OpenBao runs initialised and unsealed, but the plan's content (namespaces, engines, AppRoles with the "
            "plan's role and secret ids, KV records) is not replayed on it yet"
        )
        state.update(**{PENDING: state.load().get(PENDING, {}) | {OPENBAO: reason}})
        progress(reason)

    return apply


def content_appliers(stack: str, progress: Progress) -> dict[str, FamilyApplier]:
    """The appliers `lab up` passes for the resource families that are not Docker's."""
    client = docker.from_env(timeout=600)
    state = LabState(stack)
    return {KEYCLOAK: keycloak_content(client, state, progress), OPENBAO: openbao_content(client, state, progress)}
