"""The KV v2 secrets of the seed's secrets matrix, one `kv.SecretV2` per path.

Values the platform owns (data store passwords, client secrets, generated keys) are
written from Pulumi secrets and drift-checked. Values only an operator can supply (external
API keys, SMTP, Slack) get a placeholder once; Pulumi never overwrites them and never reads
them back (`disable_read`), so a real API key never enters Pulumi state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_vault as vault

from components.openbao_engines import OpenBaoEngines
from components.openbao_namespaces import OpenBaoNamespaces
from infra.spec.models import OpenBaoSpec, SecretPathSpec

KV_MAX_VERSIONS = 10
OPERATOR_PLACEHOLDER = {"status": "unset", "set_with": "bao kv put"}


@dataclass(frozen=True)
class OpenBaoSecretsArgs:
    openbao: OpenBaoSpec
    namespaces: OpenBaoNamespaces
    engines: OpenBaoEngines
    values: Mapping[str, pulumi.Input[Mapping[str, str]]] = field(default_factory=dict)
    """seed path -> the record to store (a mapping of field -> value), for non-operator paths."""


def _slug(path: SecretPathSpec) -> str:
    return path.seed_path.replace("/", "-")


class OpenBaoSecrets(pulumi.ComponentResource):
    secrets: dict[str, vault.kv.SecretV2]

    def __init__(self, name: str, args: OpenBaoSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sevensa:platform:OpenBaoSecrets", name, None, opts)
        kv_paths = [p for p in args.openbao.secret_paths if p.engine == "kv-v2"]
        unknown = sorted(set(args.values) - {p.seed_path for p in kv_paths})
        if unknown:
            raise ValueError(f"values given for paths outside the secrets matrix: {', '.join(unknown)}")
        missing = sorted(p.seed_path for p in kv_paths if p.source != "operator" and p.seed_path not in args.values)
        if missing:
            raise ValueError(f"no value for platform-owned secret paths: {', '.join(missing)}")
        self.secrets = {}
        for path in kv_paths:
            mount = args.engines.kv_mounts[(path.namespace, path.mount)]
            operator = path.source == "operator"
            record = OPERATOR_PLACEHOLDER if operator else args.values[path.seed_path]
            self.secrets[path.seed_path] = vault.kv.SecretV2(
                f"{name}-{_slug(path)}",
                mount=mount.path,
                name=path.key,
                data_json=pulumi.Output.secret(pulumi.Output.from_input(record).apply(json.dumps)),
                disable_read=operator,
                custom_metadata=vault.kv.SecretV2CustomMetadataArgs(
                    max_versions=KV_MAX_VERSIONS,
                    data={"seed_path": path.seed_path, "source": path.source, "description": path.description},
                ),
                opts=args.namespaces.opts(path.namespace, self, ignore_changes=["dataJson"] if operator else None),
            )
        self.register_outputs({"paths": sorted(self.secrets)})
