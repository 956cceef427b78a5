"""AI stack: N8N, LangGraph runtime, Claude chat, trading dashboard.

N8N keeps its workflows in its own PostgreSQL (n8n-db) and gets that password and its
credential-encryption key as secret files (`*_FILE`, which N8N reads natively). The
other AI services read their API keys and the AI database password from OpenBao through
the `ai-role` AppRole.
"""

from __future__ import annotations

import pulumi_random as random

from stacks.apps import SECRETS_DIR, Fields, build_app_services, datastore_fields
from stacks.context import PlatformContext
from stacks.datastores import credentials

N8N_PORT = 5678


def n8n_fields(context: PlatformContext) -> Fields:
    host = context.spec.host("n8n.ai")
    store = credentials(context)["n8n-db"]
    password_file, key_file = f"{SECRETS_DIR}/db-password", f"{SECRETS_DIR}/n8n-encryption-key"
    encryption_key = random.RandomPassword("n8n-encryption-key", length=48, special=False)
    return Fields(
        env={
            "DB_TYPE": "postgresdb",
            "DB_POSTGRESDB_HOST": store.host,
            "DB_POSTGRESDB_PORT": str(store.port),
            "DB_POSTGRESDB_DATABASE": str(store.database),
            "DB_POSTGRESDB_USER": store.user,
            "DB_POSTGRESDB_PASSWORD_FILE": password_file,
            "N8N_ENCRYPTION_KEY_FILE": key_file,
            "N8N_HOST": host,
            "N8N_PORT": str(N8N_PORT),
            "N8N_PROTOCOL": "https",
            "WEBHOOK_URL": f"https://{host}/",
            "N8N_PROXY_HOPS": "1",
            "N8N_METRICS": "true",
            "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_TEMPLATES_ENABLED": "false",
            "GENERIC_TIMEZONE": "Europe/Amsterdam",
        },
        secret_files={password_file: store.password, key_file: encryption_key.result},
    )


def build(context: PlatformContext) -> None:
    shared_stores = datastore_fields(context, {"DATABASE": "ai-db", "REDIS": "ai-redis"})
    build_app_services(
        context,
        "ai",
        per_service={
            "n8n": n8n_fields(context),
            "langgraph-runtime": shared_stores,
            "claude-chat": shared_stores,
            "trading-dashboard": shared_stores,
        },
    )
