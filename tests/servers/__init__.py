"""Real servers for tests and benchmarks: PostgreSQL, Redis, OpenBao (dev), Keycloak.

Each server is a plain context manager usable from any script::

    from tests.servers import running_postgres, running_redis, running_openbao_dev, running_keycloak

and ``tests.servers.fixtures`` (a pytest plugin) wraps them as session-scoped
fixtures ``postgres_server``, ``redis_server``, ``openbao_dev`` and
``keycloak_server``. All listen on 127.0.0.1 only, on free ports, with random
credentials, and leave nothing behind. Importing this package is cheap: client
libraries (psycopg, redis, hvac, python-keycloak, httpx) load on first use.
"""

from ._process import ServerStartError
from .keycloak_server import KeycloakLauncher, KeycloakServer, running_keycloak
from .openbao import OpenBaoDev, running_openbao_dev
from .postgres import PostgresServer, running_postgres
from .redis_server import RedisServer, running_redis

__all__ = [
    "KeycloakLauncher",
    "KeycloakServer",
    "OpenBaoDev",
    "PostgresServer",
    "RedisServer",
    "ServerStartError",
    "running_keycloak",
    "running_openbao_dev",
    "running_postgres",
    "running_redis",
]
