"""The origin engine, without any web or database dependency.

Entry point: `assess(AssessmentRequest, RuleSource) -> AssessmentReport` (app.engine.assess); the
bundled rules data is `default_rulebook()` (app.engine.rulebook). Grammar and semantics: app/RULES.md.
"""
