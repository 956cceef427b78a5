"""The provisioner AppRole on a real OpenBao: set up again, it rotates its secret id."""

from __future__ import annotations

import hvac
import hvac.exceptions
import pytest

from infra.ops import bootstrap
from infra.spec.openbao_policy import PROVISIONER_AUTH_PATH, PROVISIONER_POLICY
from tests.harness import spec_for

pytestmark = pytest.mark.servers


def login(addr: str, credentials: bootstrap.ProvisionerLogin) -> dict:
    return hvac.Client(url=addr).auth.approle.login(credentials.role_id, credentials.secret_id, mount_point=PROVISIONER_AUTH_PATH)["auth"]


def test_setting_the_provisioner_up_again_rotates_its_secret_id(own_openbao_dev) -> None:
    openbao = spec_for(stack="prod").openbao
    first = bootstrap.create_provisioner(own_openbao_dev.addr, own_openbao_dev.root_token, openbao)
    assert PROVISIONER_POLICY in login(own_openbao_dev.addr, first)["policies"]
    second = bootstrap.create_provisioner(own_openbao_dev.addr, own_openbao_dev.root_token, openbao)
    assert second.role_id == first.role_id and second.secret_id != first.secret_id
    assert PROVISIONER_POLICY in login(own_openbao_dev.addr, second)["policies"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid"):
        login(own_openbao_dev.addr, first)
    policy = hvac.Client(url=own_openbao_dev.addr, token=own_openbao_dev.root_token).sys.read_policy(PROVISIONER_POLICY)["data"]["rules"]
    assert 'path "sys/policies/acl/platform-provisioner" {\n  capabilities = ["deny"]' in policy


def test_a_token_revoked_twice_is_revoked_once_the_server_refuses_it(openbao_dev) -> None:
    """`revoke_token` ends when the token is gone, whatever the revocation itself answered: revoking
    a token that is already revoked answers 403, and the token's own lookup (403 too) says it is gone."""
    root = hvac.Client(url=openbao_dev.addr, token=openbao_dev.root_token)
    token = root.auth.token.create(policies=["default"], ttl="5m")["auth"]["client_token"]
    bootstrap.revoke_token(openbao_dev.addr, token)
    assert not bootstrap.token_alive(hvac.Client(url=openbao_dev.addr, token=token))
    bootstrap.revoke_token(openbao_dev.addr, token, pause_seconds=0)  # already gone: no error
    assert bootstrap.token_alive(hvac.Client(url=openbao_dev.addr, token=openbao_dev.root_token))


def test_a_token_that_cannot_be_revoked_is_named_after_the_last_attempt() -> None:
    from tests.servers._process import LOOPBACK, free_port

    with pytest.raises(bootstrap.BootstrapError, match=r"revoking the root token failed \(ConnectionError\); revoke it with `bao token revoke -self`"):
        bootstrap.revoke_token(f"http://{LOOPBACK}:{free_port()}", "s.a-token-of-no-server", pause_seconds=0)
