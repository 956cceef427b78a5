"""Everything a request needs, built once per process at start-up and closed at shutdown."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.api.readiness import BoundedCheck
from app.cache import Cache, make_cache
from app.db.inserts import AtomicInserts
from app.db.migrate import upgrade
from app.db.models import User
from app.db.rules import DbRuleSource, seed_reference_data
from app.db.session import make_engine, make_sessions
from app.engine.rulebook import RuleBook, default_rulebook
from app.openbao import resolve_connections
from app.security import Principal, TokenVerifier
from app.settings import Settings

log = logging.getLogger(__name__)

# under Docker's health check interval and any client's patience; a reachable PostgreSQL answers SELECT 1 in milliseconds
READINESS_TIMEOUT_SECONDS = 2.0


@dataclass
class UserDirectory:
    """Maps token subjects to users rows, creating a row on a user's first request."""

    sessions: sessionmaker[Session]
    realm: str
    _known: dict[str, uuid.UUID] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def known(self, subject: str) -> uuid.UUID | None:
        return self._known.get(subject)

    def ensure(self, principal: Principal) -> uuid.UUID:
        known = self._known.get(principal.subject)
        if known is not None:
            return known
        user_id = self._find(principal) or self._create(principal)
        with self._lock:
            self._known[principal.subject] = user_id
        return user_id

    def _find(self, principal: Principal) -> uuid.UUID | None:
        with self.sessions() as session:
            return session.scalar(select(User.id).where(User.subject == principal.subject))

    def _create(self, principal: Principal) -> uuid.UUID:
        user = User(subject=principal.subject, username=principal.username, email=principal.email, realm=self.realm)
        try:
            with self.sessions.begin() as session:
                session.add(user)
        except IntegrityError:  # created concurrently by another request
            found = self._find(principal)
            if found is None:
                raise
            return found
        return user.id


@dataclass
class Services:
    settings: Settings
    rulebook: RuleBook
    engine: Engine
    sessions: sessionmaker[Session]
    cache: Cache
    rules: DbRuleSource
    verifier: TokenVerifier
    users: UserDirectory
    inserts: AtomicInserts
    dependencies: dict[str, BoundedCheck]

    async def readiness(self) -> dict[str, bool]:
        """Each dependency's readiness, all checked at once, each answered within its bound."""
        names = list(self.dependencies)
        answers = await asyncio.gather(*(self.dependencies[name].passes() for name in names))
        return dict(zip(names, answers, strict=True))

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Let the cache and the calculation inserts use asyncio I/O on `loop`, the app's event loop."""
        self.cache.attach(loop)
        self.inserts.attach(loop)

    async def aclose(self) -> None:
        """Close what belongs to the event loop (async database and cache connections)."""
        await self.inserts.aclose()
        await self.cache.aclose()

    def close(self) -> None:
        for check in self.dependencies.values():
            check.close()
        self.cache.close()
        self.engine.dispose()


def build_services(settings: Settings) -> Services:
    connections = resolve_connections(settings)
    log.info("connections: %r", connections)
    engine = make_engine(connections.database_url, settings.db_pool_size, settings.db_max_overflow)
    sessions = make_sessions(engine)
    rulebook = default_rulebook()
    if settings.migrate_on_startup:
        upgrade(engine)
        seed_reference_data(sessions, rulebook)
    cache = make_cache(connections.redis_url)
    return Services(
        settings=settings,
        rulebook=rulebook,
        engine=engine,
        sessions=sessions,
        cache=cache,
        rules=DbRuleSource(rulebook, sessions, cache, settings.rules_ttl_seconds),
        verifier=TokenVerifier(settings.oidc_jwks_url, settings.oidc_issuer, settings.oidc_audience, settings.oidc_leeway_seconds),
        users=UserDirectory(sessions, settings.keycloak_realm),
        inserts=AtomicInserts(engine, async_pool_size=settings.db_pool_size),
        dependencies={
            "database": BoundedCheck(partial(database_reachable, engine), READINESS_TIMEOUT_SECONDS),
            "cache": BoundedCheck(cache.ping, READINESS_TIMEOUT_SECONDS),
        },
    )


def database_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        log.warning("database readiness check failed", exc_info=True)
        return False
    return True
