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
