"""OpenBao namespaces, and one explicit `vault.Provider` per namespace.

Every OpenBao resource is created through the provider of the namespace it lives in, so a
resource's namespace is visible in the plan (its provider's `namespace` input) and no
resource depends on a provider-wide default. The tenant providers take their namespace from
the `vault.Namespace` resource, so nothing is created in a namespace before it exists.

The providers hold no token: each logs in (in the root namespace) as the provisioner AppRole
that `cli.py bootstrap openbao` set up, and works with its short-lived token, which carries
only the `platform-provisioner` policy (infra.openbao_policy.provisioner_grants).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_vault as vault

from infra.spec.openbao_policy import PROVISIONER_AUTH_PATH
from infra.spec.security_settings import ProvisionerCredentials

ROOT = ""


@dataclass(frozen=True)
class OpenBaoNamespacesArgs:
    namespaces: tuple[str, ...]
    address: pulumi.Input[str]
    login: ProvisionerCredentials


class OpenBaoNamespaces(pulumi.ComponentResource):
    """`providers[""]` is the root namespace; `providers[ns]` the tenant namespaces."""

    namespaces: dict[str, vault.Namespace]
    providers: dict[str, vault.Provider]

    def __init__(self, name: str, args: OpenBaoNamespacesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sevensa:platform:OpenBaoNamespaces", name, None, opts)
        login = vault.ProviderAuthLoginArgs(
            path=f"auth/{PROVISIONER_AUTH_PATH}/login",
            parameters={"role_id": pulumi.Output.secret(args.login.role_id), "secret_id": pulumi.Output.secret(args.login.secret_id)},
            use_root_namespace=True,
        )
        # providers stay top-level (as Pulumi's default providers are); they are named after the component
        root = vault.Provider(f"{name}-root", address=args.address, auth_login=login)
        self.providers = {ROOT: root}
        self.namespaces = {}
        for namespace in args.namespaces:
            created = vault.Namespace(
                f"{name}-{namespace}", path=namespace, opts=pulumi.ResourceOptions(parent=self, provider=root)
            )
            self.namespaces[namespace] = created
            self.providers[namespace] = vault.Provider(
                f"{name}-{namespace}",
                address=args.address,
                auth_login=login,
                namespace=created.path,
            )
        self.register_outputs({"namespaces": [ns.path for ns in self.namespaces.values()]})

    def opts(self, namespace: str, parent: pulumi.Resource, **kwargs: object) -> pulumi.ResourceOptions:
        """Options for a resource in `namespace` (ROOT for the root namespace)."""
        return pulumi.ResourceOptions(parent=parent, provider=self.providers[namespace], **kwargs)
