"""Product-specific rules stored in origin_rules: conversion to and from the engine's ProductRule, the
cached database-backed rule source used by the service, and seeding from the bundled data files.

The files are the initial content; after seeding, admins manage rules through the API, so seeding only
fills an empty table (and adds missing HS reference codes).
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import yaml
from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.cache import RULES_PREFIX, Cache
from app.db.models import HsCode, OriginRule
from app.engine.expression import alternatives
from app.engine.parser import parse_rule
from app.engine.request import AgreementCode
from app.engine.rulebook import DATA_DIR, Agreement, ProductRule, RuleBook, most_specific

_RULE_LIST = TypeAdapter(list[ProductRule])


def criteria_of(rule_text: str) -> list[list[str]]:
    """The rule's alternatives as lists of criterion texts (the seed's `criteria` column)."""
    return [[leaf.text() for leaf in alternative] for alternative in alternatives(parse_rule(rule_text))]


def row_values(agreement: str, rule: ProductRule) -> dict[str, Any]:
    return {
        "agreement": agreement,
        "hs_code": rule.hs_from,
        "hs_code_to": rule.hs_to,
        "rule_text": rule.rule,
        "criteria": criteria_of(rule.rule),
        "official_text": rule.text or rule.rule,
        "legal_source": rule.legal_source,
        "valid_from": rule.valid_from,
        "valid_until": rule.valid_until,
        "checked_against": rule.checked_against,
        "note": rule.note,
    }


def product_rule(row: OriginRule) -> ProductRule:
    span = row.hs_code if row.hs_code == row.hs_code_to else f"{row.hs_code}-{row.hs_code_to}"
    return ProductRule(
        hs=span,
        rule=row.rule_text,
        text=row.official_text,
        legal_source=row.legal_source,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        checked_against=row.checked_against,
        note=row.note,
    )


class DbRuleSource:
    """RuleSource over origin_rules with agreement parameters from the data files.

    Rules are cached 12 h in the shared cache and, parsed, for LOCAL_TTL seconds in the process, so the
    hot path neither queries nor parses; an admin change clears both here and the shared cache at once
    (other worker processes follow within LOCAL_TTL)."""

    LOCAL_TTL = 30.0

    def __init__(self, rulebook: RuleBook, sessions: sessionmaker[Session], cache: Cache, ttl_seconds: int) -> None:
        self.eu_member_states = rulebook.eu_member_states
        self._rulebook = rulebook
        self._sessions = sessions
        self._cache = cache
        self._ttl = ttl_seconds
        self._local: dict[str, tuple[float, list[ProductRule]]] = {}

    def agreement(self, code: AgreementCode) -> Agreement:
        return self._rulebook.agreement(code)

    def find_rule(self, agreement: AgreementCode, hs_code: str, on: date) -> ProductRule | None:
        return most_specific(self.candidates(agreement, hs_code), hs_code, on)

    def candidates(self, agreement: AgreementCode, hs_code: str) -> list[ProductRule]:
        """Every stored rule of the agreement whose HS span covers the code, whatever its dates."""
        local = self.local_candidates(agreement, hs_code)
        if local is not None:
            return local
        key = f"{RULES_PREFIX}{agreement}:{hs_code[:6]}"
        cached = self._cache.get(key)
        if cached is not None:
            rules = _RULE_LIST.validate_json(cached)
        else:
            with self._sessions() as session:
                rows = session.scalars(select(OriginRule).where(OriginRule.agreement == agreement)).all()
                rules = [product_rule(row) for row in rows if row.hs_code <= hs_code[: len(row.hs_code)] <= row.hs_code_to]
            self._cache.set(key, _RULE_LIST.dump_json(rules), self._ttl)
        self._local[key] = (time.monotonic() + self.LOCAL_TTL, rules)
        return rules

    def invalidate(self) -> None:
        self._local.clear()
        self._cache.delete_prefix(RULES_PREFIX)

    def local_only(self) -> LocalRules:
        """This source limited to the rules the process holds (see LocalRules)."""
        return LocalRules(self)

    def local_candidates(self, agreement: AgreementCode, hs_code: str) -> list[ProductRule] | None:
        """`candidates` when the process's copy is fresh, else None (the lookup would need I/O)."""
        local = self._local.get(f"{RULES_PREFIX}{agreement}:{hs_code[:6]}")
        return local[1] if local is not None and local[0] > time.monotonic() else None


class RulesNotLocal(Exception):
    """A rule lookup would need the shared cache or the database."""


class LocalRules:
    """RuleSource over the rules a DbRuleSource holds fresh in the process, without any I/O, so the engine
    can run on the event loop; a lookup beyond them raises RulesNotLocal (the caller then runs the engine
    again with the DbRuleSource, in a worker thread: the engine has no side effects)."""

    def __init__(self, source: DbRuleSource) -> None:
        self.eu_member_states = source.eu_member_states
        self._source = source

    def agreement(self, code: AgreementCode) -> Agreement:
        return self._source.agreement(code)

    def find_rule(self, agreement: AgreementCode, hs_code: str, on: date) -> ProductRule | None:
        rules = self._source.local_candidates(agreement, hs_code)
        if rules is None:
            raise RulesNotLocal(agreement, hs_code)
        return most_specific(rules, hs_code, on)


def seed_reference_data(sessions: sessionmaker[Session], rulebook: RuleBook) -> None:
    """Add missing HS reference codes; load the bundled rules into an empty origin_rules table."""
    codes: dict[str, str] = _load_hs_codes()
    with sessions.begin() as session:
        known = set(session.scalars(select(HsCode.code)))
        session.add_all(HsCode(code=code, description=text, chapter=code[:2]) for code, text in codes.items() if code not in known)
        session.flush()
        if session.scalar(select(func.count()).select_from(OriginRule)) == 0:
            session.add_all(
                OriginRule(**row_values(agreement.code, rule)) for agreement in rulebook.agreements() for rule in rulebook.rules(agreement.code)
            )


def _load_hs_codes() -> dict[str, str]:
    with (DATA_DIR / "hs_codes.yaml").open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    return {str(code): str(text) for code, text in document["codes"].items()}

